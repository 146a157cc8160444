/*
 * Mailbox change notification (core/mailbox/notify.c) with the real event loop running on a
 * thread of its own, the real timer and a real inotify instance on temporary directories.
 * The storage module is a small table of this file whose mailbox_watch_paths reports the
 * directories a test chose, so each test decides what is watched. Every wait is bounded.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailbox/notify.h"
#include "module-fixture.h"
#include "net/event.h"

static pthread_t loop_thread;
static bool loop_running;
static char tn_dir[64];

/* Counts the wake-ups of one subscriber. */
struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int wakes;
};

static void waiter_init(struct waiter *w)
{
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->wakes = 0;
}

static void waiter_destroy(struct waiter *w)
{
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
}

static void wake_cb(void *ctx)
{
	struct waiter *w = ctx;
	pthread_mutex_lock(&w->lock);
	w->wakes++;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Waits until @p w was woken at least @p n times or @p ms passed; returns the count. */
static int wakes_after(struct waiter *w, int n, int ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->lock);
	while (w->wakes < n)
		if (pthread_cond_timedwait(&w->cond, &w->lock, &until) == ETIMEDOUT)
			break;
	int got = w->wakes;
	pthread_mutex_unlock(&w->lock);
	return got;
}

/* ---- a storage that names the directories a test chose ---------------------------------- */

struct fake_box {
	const char *paths[3];
	int calls;
};

static int fake_watch_paths(struct sluice_storage_box *sbox, sluice_storage_path_cb *cb, void *ctx,
                            struct sluice_error *err)
{
	struct fake_box *b = (struct fake_box *)sbox;
	(void)err;
	b->calls++;
	for (size_t i = 0; i < 3 && b->paths[i] != NULL; i++) {
		int r = cb(ctx, b->paths[i]);
		if (r != 0)
			return r;
	}
	return 0;
}

static const struct sluice_storage_ops fake_ops = {
    .size = sizeof(struct sluice_storage_ops),
    .mailbox_watch_paths = fake_watch_paths,
};

/* The same table as a module built against ABI 1.0 would have it: the op is beyond its size. */
static const struct sluice_storage_ops fake_ops_1_0 = {
    .size = SLUICE_STORAGE_OPS_SIZE_1_0,
    .mailbox_watch_paths = fake_watch_paths,
};

static struct sluice_storage_box *as_box(struct fake_box *b)
{
	return (struct sluice_storage_box *)b;
}

static struct notify_sub *subscribe(const char *user, const char *mailbox,
                                    const struct sluice_storage_ops *ops, struct fake_box *box,
                                    struct waiter *w)
{
	struct notify_sub *sub = NULL;
	struct sluice_error err = SLUICE_ERROR_INIT;
	CU_ASSERT_EQUAL(notify_subscribe(user, mailbox, ops, as_box(box), wake_cb, w, &sub, &err),
	                0);
	CU_ASSERT_PTR_NOT_NULL(sub);
	return sub;
}

/* A fresh directory below the suite's folder. */
static const char *subdir(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", tn_dir, name);
	CU_ASSERT_FATAL(mkdir(buf, 0700) == 0 || errno == EEXIST);
	return buf;
}

static void touch(const char *dir, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("x", f);
	fclose(f);
}

static void counts_are(size_t mailboxes, size_t watches)
{
	size_t m, w;
	notify_counts(&m, &w);
	CU_ASSERT_EQUAL(m, mailboxes);
	CU_ASSERT_EQUAL(w, watches);
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_change_wakes_the_mailboxs_subscribers_only(void)
{
	struct waiter a, b, other_box, other_user;
	struct fake_box none = {.calls = 0};
	waiter_init(&a);
	waiter_init(&b);
	waiter_init(&other_box);
	waiter_init(&other_user);
	struct notify_sub *sa = subscribe("demo", "INBOX", &fake_ops, &none, &a);
	struct notify_sub *sb = subscribe("demo", "INBOX", &fake_ops, &none, &b);
	struct notify_sub *sc = subscribe("demo", "Lists/debian", &fake_ops, &none, &other_box);
	struct notify_sub *sd = subscribe("demo2", "INBOX", &fake_ops, &none, &other_user);
	counts_are(3, 0);
	CU_ASSERT_EQUAL(none.calls, 3); /* asked once per new mailbox entry, not per subscriber */

	notify_mailbox_changed("demo", "INBOX");
	CU_ASSERT_EQUAL(wakes_after(&a, 1, 1000), 1);
	CU_ASSERT_EQUAL(wakes_after(&b, 1, 1000), 1);
	CU_ASSERT_EQUAL(wakes_after(&other_box, 1, 200), 0);
	CU_ASSERT_EQUAL(wakes_after(&other_user, 1, 1), 0);

	notify_unsubscribe(&sb);
	CU_ASSERT_PTR_NULL(sb);
	notify_mailbox_changed("demo", "INBOX");
	CU_ASSERT_EQUAL(wakes_after(&a, 2, 1000), 2);
	CU_ASSERT_EQUAL(wakes_after(&b, 2, 200), 1);

	notify_unsubscribe(&sa);
	notify_unsubscribe(&sc);
	notify_unsubscribe(&sd);
	counts_are(0, 0);
	notify_mailbox_changed("demo", "INBOX"); /* nobody listens: nothing to do */
	waiter_destroy(&a);
	waiter_destroy(&b);
	waiter_destroy(&other_box);
	waiter_destroy(&other_user);
}

static void test_outside_changes_in_watched_directories_wake(void)
{
	char newd[128], curd[128], from[256], to[256];
	struct fake_box box = {
	    .paths = {subdir(newd, sizeof(newd), "new"), subdir(curd, sizeof(curd), "cur")}};
	struct waiter w;
	waiter_init(&w);
	struct notify_sub *sub = subscribe("demo", "INBOX", &fake_ops, &box, &w);
	counts_are(1, 2);

	touch(newd, "1.delivered"); /* a delivery agent */
	CU_ASSERT_EQUAL(wakes_after(&w, 1, 1000), 1);
	snprintf(from, sizeof(from), "%s/1.delivered", newd);
	snprintf(to, sizeof(to), "%s/1.delivered:2,S", curd);
	CU_ASSERT_EQUAL(rename(from, to), 0); /* a mail reader taking it and marking it seen */
	CU_ASSERT_EQUAL(wakes_after(&w, 2, 1000), 2);
	CU_ASSERT_EQUAL(unlink(to), 0); /* and deleting it */
	CU_ASSERT_EQUAL(wakes_after(&w, 3, 1000), 3);

	notify_unsubscribe(&sub);
	counts_are(0, 0);
	touch(newd, "2.after");
	CU_ASSERT_EQUAL(wakes_after(&w, 4, 200), 3);
	waiter_destroy(&w);
}

static void test_a_burst_is_coalesced(void)
{
	char dir[128];
	struct fake_box box = {.paths = {subdir(dir, sizeof(dir), "burst")}};
	struct waiter w;
	waiter_init(&w);
	struct notify_sub *sub = subscribe("demo", "Burst", &fake_ops, &box, &w);
	for (int i = 0; i < 200; i++) {
		char name[32];
		snprintf(name, sizeof(name), "%d.msg", i);
		touch(dir, name);
		notify_mailbox_changed("demo", "Burst");
	}
	CU_ASSERT(wakes_after(&w, 1, 1000) >= 1);
	/* Let every event of the burst arrive, then count: a few wake-ups, not 400. */
	struct waiter never;
	waiter_init(&never);
	wakes_after(&never, 1, 300);
	int n = wakes_after(&w, 1, 1);
	CU_ASSERT(n >= 1 && n <= 20);
	notify_unsubscribe(&sub);
	waiter_destroy(&never);
	waiter_destroy(&w);
}

static void test_storage_of_abi_1_0_is_not_asked_and_still_notified(void)
{
	char dir[128];
	struct fake_box box = {.paths = {subdir(dir, sizeof(dir), "old")}};
	struct waiter w;
	waiter_init(&w);
	struct notify_sub *sub = subscribe("demo", "INBOX", &fake_ops_1_0, &box, &w);
	CU_ASSERT_EQUAL(box.calls, 0);
	counts_are(1, 0);
	notify_mailbox_changed("demo", "INBOX");
	CU_ASSERT_EQUAL(wakes_after(&w, 1, 1000), 1);
	notify_unsubscribe(&sub);

	/* No storage at all is the same. */
	sub = subscribe("demo", "INBOX", NULL, NULL, &w);
	notify_mailbox_changed("demo", "INBOX");
	CU_ASSERT_EQUAL(wakes_after(&w, 2, 1000), 2);
	notify_unsubscribe(&sub);
	waiter_destroy(&w);
}

/* Two logins that share one Maildir share the kernel's watch: each keeps hearing alone. */
static void test_two_mailboxes_on_one_directory_share_a_watch(void)
{
	char dir[128];
	struct fake_box one = {.paths = {subdir(dir, sizeof(dir), "shared")}}, two = one;
	struct waiter a, b;
	waiter_init(&a);
	waiter_init(&b);
	struct notify_sub *sa = subscribe("alice", "INBOX", &fake_ops, &one, &a);
	struct notify_sub *sb = subscribe("alias", "INBOX", &fake_ops, &two, &b);
	counts_are(2, 1);
	touch(dir, "1");
	CU_ASSERT_EQUAL(wakes_after(&a, 1, 1000), 1);
	CU_ASSERT_EQUAL(wakes_after(&b, 1, 1000), 1);
	notify_unsubscribe(&sa);
	counts_are(1, 1);
	touch(dir, "2");
	CU_ASSERT_EQUAL(wakes_after(&b, 2, 1000), 2);
	notify_unsubscribe(&sb);
	counts_are(0, 0);
	waiter_destroy(&a);
	waiter_destroy(&b);
}

static void test_removed_directory_wakes_and_drops_its_watch(void)
{
	char dir[128];
	struct fake_box box = {.paths = {subdir(dir, sizeof(dir), "doomed")}};
	struct waiter w;
	waiter_init(&w);
	struct notify_sub *sub = subscribe("demo", "Doomed", &fake_ops, &box, &w);
	counts_are(1, 1);
	CU_ASSERT_EQUAL_FATAL(rmdir(dir), 0);
	CU_ASSERT_EQUAL(wakes_after(&w, 1, 1000), 1);
	/* The kernel drops the watch; the entry stays until its subscriber leaves. */
	size_t m = 0, watches = 1;
	for (int i = 0; i < 100 && watches != 0; i++) {
		struct waiter pause;
		waiter_init(&pause);
		wakes_after(&pause, 1, 10);
		waiter_destroy(&pause);
		notify_counts(&m, &watches);
	}
	CU_ASSERT_EQUAL(m, 1);
	CU_ASSERT_EQUAL(watches, 0);
	notify_unsubscribe(&sub);
	counts_are(0, 0);
	waiter_destroy(&w);
}

/* ---- suite ----------------------------------------------------------------------------- */

static void *loop_main(void *arg)
{
	(void)arg;
	ev_run();
	return NULL;
}

static int tn_suite_init(void)
{
	if (fixture_tempdir(tn_dir, sizeof(tn_dir), "sluice-notify") < 0)
		return -1;
	if (ev_init(1) < 0 || notify_init() < 0)
		return -1;
	if (pthread_create(&loop_thread, NULL, loop_main, NULL) != 0)
		return -1;
	loop_running = true;
	return 0;
}

static int tn_suite_cleanup(void)
{
	notify_shutdown();
	if (loop_running) {
		ev_stop();
		pthread_join(loop_thread, NULL);
		loop_running = false;
	}
	ev_shutdown();
	fixture_remove_tree(tn_dir);
	return 0;
}

static CU_TestInfo tn_tests[] = {
    {"a change wakes the mailbox's subscribers only",
     test_change_wakes_the_mailboxs_subscribers_only},
    {"outside changes in watched directories wake",
     test_outside_changes_in_watched_directories_wake},
    {"a burst is coalesced", test_a_burst_is_coalesced},
    {"storage of ABI 1.0 is not asked and still notified",
     test_storage_of_abi_1_0_is_not_asked_and_still_notified},
    {"two mailboxes on one directory share a watch",
     test_two_mailboxes_on_one_directory_share_a_watch},
    {"a removed directory wakes and drops its watch",
     test_removed_directory_wakes_and_drops_its_watch},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo notify_suites[] = {
    {"notify", tn_suite_init, tn_suite_cleanup, NULL, NULL, tn_tests},
    CU_SUITE_INFO_NULL,
};
