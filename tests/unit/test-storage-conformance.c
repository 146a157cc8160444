/*
 * The conformance suite for storage modules: the promises of include/sluice/storage.h,
 * checked against a module loaded the way the server loads it (dlopen, the
 * sluice_module_entry descriptor, a host table, settings filled from the module's own
 * table with its defaults). It runs against build/modules/maildir.so; another storage
 * module gets the same tests by pointing SLUICE_STORAGE_MODULE at its .so, with
 * SLUICE_STORAGE_SETTINGS ("key=value;key=value") for anything it needs beyond defaults.
 * The user the tests log in has a fresh home under /tmp, so a module whose default mail
 * location lies in the home needs no settings at all.
 *
 * Two tests play another program changing the mail behind the module's back (a delivery
 * agent dropping a message, mutt renaming a file to mark it seen). How that is done depends
 * on the storage, so each module may name a hook in sc_backends[]; a module without one
 * passes those tests with a note.
 *
 * Every handle a test opens is registered in the fixture and closed by the teardown, even
 * when an assertion ends the test early, and the temporary home is removed.
 */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sluice/storage.h>

#include "module-fixture.h"
#include "util/pool.h"

#define SC_MAX_HANDLES 16
#define SC_MAX_LIST 64

static struct fixture_module sc_module;
static const struct sluice_module *sc_mod;
static const struct sluice_storage_ops *sc_ops;

/* One message as a scan reported it, copied out of the callback. */
struct sc_msg {
	char key[256];
	uint32_t flags;
	char keywords[512];
	uint64_t size;
	time_t mtime;
	bool recent;
};

struct sc_scan {
	struct sc_msg *msgs;
	size_t count, cap;
	int stop_after; /* the callback returns 7 after this many messages; 0 = never */
};

struct sc_list {
	char names[SC_MAX_LIST][128];
	uint32_t attrs[SC_MAX_LIST];
	size_t count;
};

/* The fixture of one test. */
static struct {
	bool ready;
	char dir[64];
	struct sluice_pool *pool;
	struct sluice_user user;
	struct sluice_storage_user *su;
	struct sluice_storage_user *users[SC_MAX_HANDLES];
	struct sluice_storage_box *boxes[SC_MAX_HANDLES];
	struct sluice_storage_append *appends[SC_MAX_HANDLES];
	struct sc_scan *scans[SC_MAX_HANDLES];
	struct sc_list list;
	struct sluice_error err;
} fx;

/* What a test does to the storage behind the module's back, for modules that have it. */
struct sc_backend {
	const char *module;
	/* Delivers @p text as a new message, as a delivery agent would. */
	int (*deliver)(const char *home, const char *text);
	/* Marks the message @p key seen without the module, as mutt would. */
	int (*mark_seen)(const char *home, const char *key);
};

/* Maildir: a delivery writes tmp/ then renames into new/; mutt adds S to the info part. */
static int sc_maildir_deliver(const char *home, const char *text)
{
	char tmp[512], dst[512];
	static unsigned n;
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/Maildir/tmp/%ld.P%dQ%u.mda", home, (long)time(NULL),
	         (int)getpid(), ++n);
	snprintf(dst, sizeof(dst), "%s/Maildir/new/%ld.P%dQ%u.mda", home, (long)time(NULL),
	         (int)getpid(), n);
	f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	fputs(text, f);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, dst);
}

static int sc_maildir_mark_seen(const char *home, const char *key)
{
	char dir[512], from[1024], to[1024];
	size_t keylen = strlen(key);
	struct dirent *e;
	int ret = -1;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/Maildir/cur", home);
	d = opendir(dir);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, key, keylen) != 0 || e->d_name[keylen] != ':')
			continue;
		snprintf(from, sizeof(from), "%s/%s", dir, e->d_name);
		snprintf(to, sizeof(to), "%s/%s:2,S", dir, key);
		ret = rename(from, to);
		break;
	}
	closedir(d);
	return ret;
}

static const struct sc_backend sc_backends[] = {
    {"maildir", sc_maildir_deliver, sc_maildir_mark_seen},
};

static const struct sc_backend *sc_backend(void)
{
	for (size_t i = 0; i < sizeof(sc_backends) / sizeof(sc_backends[0]); i++)
		if (strcmp(sc_backends[i].module, sc_mod->name) == 0)
			return &sc_backends[i];
	printf("\n    (no external-change hook for module %s; skipped) ", sc_mod->name);
	return NULL;
}

static void fx_setup(void)
{
	void *conf;

	memset(&fx, 0, sizeof(fx));
	if (fixture_tempdir(fx.dir, sizeof(fx.dir), "sluice-sc") < 0)
		return;
	fx.pool = pool_create(1024, 0);
	if (fx.pool == NULL)
		return;
	if (fixture_conf_new(&sc_module, getenv("SLUICE_STORAGE_SETTINGS"), &conf) < 0)
		return;
	if (fixture_module_init(&sc_module, conf, &fx.err) < 0)
		return;
	fx.user =
	    (struct sluice_user){.name = "alice", .uid = getuid(), .gid = getgid(), .home = fx.dir};
	if (sc_ops->user_open(sc_module.modctx, &fx.user, &fx.su, &fx.err) != 0)
		return;
	fx.ready = true;
}

static void fx_teardown(void)
{
	for (size_t i = 0; i < SC_MAX_HANDLES; i++) {
		if (fx.appends[i] != NULL)
			sc_ops->append_abort(fx.appends[i]);
		if (fx.scans[i] != NULL) {
			free(fx.scans[i]->msgs);
			free(fx.scans[i]);
		}
	}
	for (size_t i = 0; i < SC_MAX_HANDLES; i++)
		if (fx.boxes[i] != NULL)
			sc_ops->mailbox_close(fx.boxes[i]);
	for (size_t i = 0; i < SC_MAX_HANDLES; i++)
		if (fx.users[i] != NULL)
			sc_ops->user_close(fx.users[i]);
	if (fx.su != NULL)
		sc_ops->user_close(fx.su);
	fixture_module_stop(&sc_module);
	pool_destroy(&fx.pool);
	fixture_remove_tree(fx.dir);
	memset(&fx, 0, sizeof(fx));
}

static void track(void **slots, void *p, void *replace)
{
	for (size_t i = 0; i < SC_MAX_HANDLES; i++) {
		if (slots[i] == replace) {
			slots[i] = p;
			return;
		}
	}
	CU_FAIL_FATAL("too many handles in one test");
}

/* A client-safe sentence never names a path. */
static void check_err_clean(void)
{
	CU_ASSERT_PTR_NULL(strstr(fx.err.msg, fx.dir));
	CU_ASSERT_PTR_NULL(strchr(fx.err.msg, '/'));
}

static void expect(int ret, int code)
{
	CU_ASSERT_EQUAL(ret, code);
	if (ret != 0)
		check_err_clean();
	memset(&fx.err, 0, sizeof(fx.err));
}

static struct sluice_storage_box *box_open_ok(const char *name)
{
	struct sluice_storage_box *box = NULL;

	CU_ASSERT_FATAL(fx.ready);
	CU_ASSERT_EQUAL_FATAL(sc_ops->mailbox_open(fx.su, name, &box, &fx.err), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(box);
	track((void **)fx.boxes, box, NULL);
	return box;
}

static void box_close(struct sluice_storage_box *box)
{
	track((void **)fx.boxes, NULL, box);
	sc_ops->mailbox_close(box);
}

static int list_cb(void *ctx, const char *name, uint32_t attrs)
{
	struct sc_list *l = ctx;
	if (l->count < SC_MAX_LIST) {
		snprintf(l->names[l->count], sizeof(l->names[0]), "%s", name);
		l->attrs[l->count] = attrs;
		l->count++;
	}
	return 0;
}

static struct sc_list *list_ok(void)
{
	fx.list.count = 0;
	CU_ASSERT_EQUAL_FATAL(sc_ops->mailbox_list(fx.su, list_cb, &fx.list, &fx.err), 0);
	return &fx.list;
}

/* The attributes of @p name in the last listing, or -1 when it was not listed. */
static long listed(const char *name)
{
	long found = -1;
	for (size_t i = 0; i < fx.list.count; i++) {
		if (strcmp(fx.list.names[i], name) == 0) {
			CU_ASSERT_EQUAL(found, -1); /* listed once */
			found = (long)fx.list.attrs[i];
		}
	}
	return found;
}

static void create_ok(const char *name)
{
	CU_ASSERT_FATAL(fx.ready);
	CU_ASSERT_EQUAL_FATAL(sc_ops->mailbox_create(fx.su, name, &fx.err), 0);
}

static int scan_cb(void *ctx, const struct sluice_storage_message *msg)
{
	struct sc_scan *s = ctx;
	struct sc_msg *m;

	if (s->count == s->cap) {
		size_t cap = s->cap == 0 ? 16 : s->cap * 2;
		struct sc_msg *bigger = realloc(s->msgs, cap * sizeof(*bigger));
		if (bigger == NULL)
			return -1;
		s->msgs = bigger;
		s->cap = cap;
	}
	m = &s->msgs[s->count++];
	snprintf(m->key, sizeof(m->key), "%s", msg->key);
	snprintf(m->keywords, sizeof(m->keywords), "%s", msg->keywords);
	m->flags = msg->flags;
	m->size = msg->size;
	m->mtime = msg->mtime;
	m->recent = msg->recent;
	if (s->stop_after > 0 && s->count == (size_t)s->stop_after)
		return 7;
	return 0;
}

static struct sc_scan *scan_new(void)
{
	struct sc_scan *s = calloc(1, sizeof(*s));
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	track((void **)fx.scans, s, NULL);
	return s;
}

static struct sc_scan *scan_ok(struct sluice_storage_box *box, bool take_new)
{
	struct sc_scan *s = scan_new();
	CU_ASSERT_EQUAL_FATAL(sc_ops->mailbox_scan(box, take_new, scan_cb, s, &fx.err), 0);
	return s;
}

static const struct sc_msg *scan_find(const struct sc_scan *s, const char *key)
{
	for (size_t i = 0; i < s->count; i++)
		if (strcmp(s->msgs[i].key, key) == 0)
			return &s->msgs[i];
	return NULL;
}

static size_t scan_recent(const struct sc_scan *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->count; i++)
		n += s->msgs[i].recent;
	return n;
}

static const char *append_ok(struct sluice_storage_box *box, const char *text, uint32_t flags,
                             const char *keywords, time_t mtime)
{
	struct sluice_storage_append *a = NULL;
	const char *key = NULL;
	size_t len = strlen(text);
	int fd = -1;

	CU_ASSERT_EQUAL_FATAL(sc_ops->append_begin(box, &a, &fd, &fx.err), 0);
	track((void **)fx.appends, a, NULL);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(write(fd, text, len), (ssize_t)len);
	track((void **)fx.appends, NULL, a);
	CU_ASSERT_EQUAL_FATAL(
	    sc_ops->append_commit(a, flags, keywords, mtime, fx.pool, &key, &fx.err), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(key);
	return key;
}

/* Reads a message through message_open and compares it with @p text. */
static void check_body(struct sluice_storage_box *box, const char *key, const char *text)
{
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	int fd = -1;

	CU_ASSERT_EQUAL_FATAL(sc_ops->message_open(box, key, &fd, &fx.err), 0);
	CU_ASSERT_FATAL(fd >= 0);
	while ((n = read(fd, buf + len, sizeof(buf) - len - 1)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	CU_ASSERT_STRING_EQUAL(buf, text);
}

static const char sc_text[] = "From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n";
static const time_t sc_date = 1700000000; /* 2023-11-14 */

/* --- descriptor --- */

static void test_descriptor_is_a_storage_module_with_every_op(void)
{
	CU_ASSERT_EQUAL(sc_mod->abi_major, SLUICE_ABI_MAJOR);
	CU_ASSERT_EQUAL(sc_mod->size, sizeof(struct sluice_module));
	CU_ASSERT_EQUAL(sc_mod->kind, SLUICE_KIND_STORAGE);
	CU_ASSERT_EQUAL(sc_ops->size, sizeof(struct sluice_storage_ops));
	CU_ASSERT_PTR_NOT_NULL(sc_ops->user_open);
	CU_ASSERT_PTR_NOT_NULL(sc_ops->user_close);
	CU_ASSERT_PTR_NOT_NULL(sc_ops->mailbox_list);
	CU_ASSERT_PTR_NOT_NULL(sc_ops->mailbox_create);
	CU_ASSERT_PTR_NOT_NULL(sc_ops->mailbox_delete);
	CU_ASSERT_PTR_NOT_NULL(sc_ops->mailbox_rename);
	CU_ASSERT_PTR_NOT_NULL(sc_ops->mailbox_subscribe);
	CU_ASSERT_PTR_NOT_NULL(sc_ops->mailbox_open);
	CU_ASSERT_PTR_NOT_NULL(sc_ops->mailbox_close);
	CU_ASSERT_PTR_NOT_NULL(sc_ops->mailbox_stamp);
	CU_ASSERT_PTR_NOT_NULL(sc_ops->mailbox_scan);
	CU_ASSERT_PTR_NOT_NULL(sc_ops->message_open);
	CU_ASSERT_PTR_NOT_NULL(sc_ops->message_set_flags);
	CU_ASSERT_PTR_NOT_NULL(sc_ops->message_expunge);
	CU_ASSERT_PTR_NOT_NULL(sc_ops->message_copy);
	CU_ASSERT_PTR_NOT_NULL(sc_ops->append_begin);
	CU_ASSERT_PTR_NOT_NULL(sc_ops->append_commit);
	CU_ASSERT_PTR_NOT_NULL(sc_ops->append_abort);
	CU_ASSERT(fx.ready);
}

/* --- mailboxes --- */

static void test_new_user_has_an_empty_selectable_inbox(void)
{
	struct sluice_storage_box *box;

	CU_ASSERT_FATAL(fx.ready);
	list_ok();
	CU_ASSERT_EQUAL(fx.list.count, 1);
	CU_ASSERT_EQUAL(listed("INBOX"), SLUICE_MAILBOX_HASNOCHILDREN);
	box = box_open_ok("INBOX");
	CU_ASSERT_EQUAL(scan_ok(box, true)->count, 0);
}

static void test_create_makes_parents_and_lists_children(void)
{
	create_ok("Work/Projects/Sluice");
	create_ok("Archive");
	list_ok();
	CU_ASSERT_EQUAL(fx.list.count, 5);
	CU_ASSERT_EQUAL(listed("Work"), SLUICE_MAILBOX_HASCHILDREN);
	CU_ASSERT_EQUAL(listed("Work/Projects"), SLUICE_MAILBOX_HASCHILDREN);
	CU_ASSERT_EQUAL(listed("Work/Projects/Sluice"), SLUICE_MAILBOX_HASNOCHILDREN);
	CU_ASSERT_EQUAL(listed("Archive"), SLUICE_MAILBOX_HASNOCHILDREN);
	CU_ASSERT_EQUAL(listed("INBOX"), SLUICE_MAILBOX_HASNOCHILDREN);
	box_open_ok("Work");
	box_open_ok("Work/Projects/Sluice");
}

static void test_create_of_an_existing_mailbox_is_exists(void)
{
	create_ok("Drafts");
	expect(sc_ops->mailbox_create(fx.su, "Drafts", &fx.err), SLUICE_E_EXISTS);
	expect(sc_ops->mailbox_create(fx.su, "INBOX", &fx.err), SLUICE_E_EXISTS);
}

static void test_unicode_names_round_trip(void)
{
	create_ok("Entwürfe");
	create_ok("台北/日本語");
	create_ok("Smile 😀 & more");
	list_ok();
	CU_ASSERT(listed("Entwürfe") >= 0);
	CU_ASSERT(listed("Smile 😀 & more") >= 0);
	CU_ASSERT_EQUAL(listed("台北"), SLUICE_MAILBOX_HASCHILDREN);
	CU_ASSERT_EQUAL(listed("台北/日本語"), SLUICE_MAILBOX_HASNOCHILDREN);
	box_open_ok("Entwürfe");
}

static void test_delete_keeps_children_and_leaves_noselect_parent(void)
{
	struct sluice_storage_box *box;

	create_ok("Lists/debian");
	box = box_open_ok("Lists");
	append_ok(box, sc_text, 0, "", sc_date);
	box_close(box);
	expect(sc_ops->mailbox_delete(fx.su, "Lists", &fx.err), 0);
	list_ok();
	CU_ASSERT_EQUAL(listed("Lists"), SLUICE_MAILBOX_NOSELECT | SLUICE_MAILBOX_HASCHILDREN);
	CU_ASSERT_EQUAL(listed("Lists/debian"), SLUICE_MAILBOX_HASNOCHILDREN);
	box = NULL;
	expect(sc_ops->mailbox_open(fx.su, "Lists", &box, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_PTR_NULL(box);
	expect(sc_ops->mailbox_delete(fx.su, "Lists", &fx.err), SLUICE_NOTFOUND);
	box_open_ok("Lists/debian");
}

static void test_delete_of_a_leaf_removes_it(void)
{
	create_ok("Trash");
	expect(sc_ops->mailbox_delete(fx.su, "Trash", &fx.err), 0);
	list_ok();
	CU_ASSERT_EQUAL(listed("Trash"), -1);
	CU_ASSERT_EQUAL(fx.list.count, 1);
	/* A mailbox of the same name can be made again, and it starts empty. */
	create_ok("Trash");
	CU_ASSERT_EQUAL(scan_ok(box_open_ok("Trash"), false)->count, 0);
}

static void test_delete_refuses_inbox_and_reports_missing(void)
{
	CU_ASSERT_FATAL(fx.ready);
	expect(sc_ops->mailbox_delete(fx.su, "INBOX", &fx.err), SLUICE_E_PERM);
	expect(sc_ops->mailbox_delete(fx.su, "Nowhere", &fx.err), SLUICE_NOTFOUND);
	list_ok();
	CU_ASSERT(listed("INBOX") >= 0);
}

static void test_rename_moves_children_and_messages(void)
{
	struct sluice_storage_box *box;
	const char *key;

	create_ok("Old/Child");
	box = box_open_ok("Old");
	key = append_ok(box, sc_text, SLUICE_FLAG_SEEN, "", sc_date);
	box_close(box);
	expect(sc_ops->mailbox_rename(fx.su, "Old", "New", &fx.err), 0);
	list_ok();
	CU_ASSERT_EQUAL(listed("Old"), -1);
	CU_ASSERT_EQUAL(listed("Old/Child"), -1);
	CU_ASSERT_EQUAL(listed("New"), SLUICE_MAILBOX_HASCHILDREN);
	CU_ASSERT_EQUAL(listed("New/Child"), SLUICE_MAILBOX_HASNOCHILDREN);
	box = box_open_ok("New");
	check_body(box, key, sc_text);
	CU_ASSERT_EQUAL(scan_ok(box, false)->count, 1);
}

static void test_rename_to_a_new_parent_creates_it(void)
{
	create_ok("Loose");
	expect(sc_ops->mailbox_rename(fx.su, "Loose", "Filed/Away", &fx.err), 0);
	list_ok();
	CU_ASSERT_EQUAL(listed("Loose"), -1);
	CU_ASSERT(listed("Filed") >= 0 && (listed("Filed") & SLUICE_MAILBOX_HASCHILDREN));
	CU_ASSERT_EQUAL(listed("Filed/Away"), SLUICE_MAILBOX_HASNOCHILDREN);
}

static void test_rename_errors(void)
{
	create_ok("A");
	create_ok("B");
	expect(sc_ops->mailbox_rename(fx.su, "A", "B", &fx.err), SLUICE_E_EXISTS);
	expect(sc_ops->mailbox_rename(fx.su, "A", "INBOX", &fx.err), SLUICE_E_EXISTS);
	expect(sc_ops->mailbox_rename(fx.su, "Missing", "C", &fx.err), SLUICE_NOTFOUND);
	list_ok();
	CU_ASSERT(listed("A") >= 0);
	CU_ASSERT(listed("B") >= 0);
	CU_ASSERT_EQUAL(listed("C"), -1);
}

static void test_rename_of_inbox_moves_its_messages(void)
{
	struct sluice_storage_box *inbox, *moved;
	const char *k1, *k2;
	struct sc_scan *s;

	create_ok("Unrelated");
	inbox = box_open_ok("INBOX");
	k1 = append_ok(inbox, sc_text, SLUICE_FLAG_SEEN, "Work", sc_date);
	k2 = append_ok(inbox, "Subject: two\r\n\r\n2\r\n", 0, "", sc_date + 60);
	expect(sc_ops->mailbox_rename(fx.su, "INBOX", "Before", &fx.err), 0);
	CU_ASSERT_EQUAL(scan_ok(inbox, true)->count, 0);
	list_ok();
	CU_ASSERT(listed("INBOX") >= 0);
	CU_ASSERT(listed("Before") >= 0);
	moved = box_open_ok("Before");
	s = scan_ok(moved, true);
	CU_ASSERT_EQUAL_FATAL(s->count, 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(scan_find(s, k1));
	CU_ASSERT_EQUAL(scan_find(s, k1)->flags, SLUICE_FLAG_SEEN);
	CU_ASSERT_STRING_EQUAL(scan_find(s, k1)->keywords, "Work");
	CU_ASSERT_PTR_NOT_NULL(scan_find(s, k2));
	check_body(moved, k1, sc_text);
	/* INBOX still works after giving its messages away. */
	append_ok(inbox, sc_text, 0, "", sc_date);
	CU_ASSERT_EQUAL(scan_ok(inbox, true)->count, 1);
}

static void test_subscriptions_show_in_the_listing(void)
{
	create_ok("Sent");
	create_ok("Lists/x");
	expect(sc_ops->mailbox_subscribe(fx.su, "Sent", true, &fx.err), 0);
	expect(sc_ops->mailbox_subscribe(fx.su, "Sent", true, &fx.err), 0);
	expect(sc_ops->mailbox_subscribe(fx.su, "Lists/x", true, &fx.err), 0);
	expect(sc_ops->mailbox_subscribe(fx.su, "INBOX", true, &fx.err), 0);
	list_ok();
	CU_ASSERT(listed("Sent") & SLUICE_MAILBOX_SUBSCRIBED);
	CU_ASSERT(listed("Lists/x") & SLUICE_MAILBOX_SUBSCRIBED);
	CU_ASSERT(listed("INBOX") & SLUICE_MAILBOX_SUBSCRIBED);
	CU_ASSERT_FALSE(listed("Lists") & SLUICE_MAILBOX_SUBSCRIBED);
	expect(sc_ops->mailbox_subscribe(fx.su, "Sent", false, &fx.err), 0);
	expect(sc_ops->mailbox_subscribe(fx.su, "Sent", false, &fx.err), 0);
	list_ok();
	CU_ASSERT_FALSE(listed("Sent") & SLUICE_MAILBOX_SUBSCRIBED);
	CU_ASSERT(listed("Lists/x") & SLUICE_MAILBOX_SUBSCRIBED);
}

/* RFC 3501: LSUB keeps reporting a subscription whose mailbox does not exist. */
static void test_subscription_without_mailbox_is_listed_as_nonexistent(void)
{
	create_ok("Here");
	expect(sc_ops->mailbox_subscribe(fx.su, "Here", true, &fx.err), 0);
	expect(sc_ops->mailbox_subscribe(fx.su, "Gone/away", true, &fx.err), 0);
	list_ok();
	CU_ASSERT_EQUAL(listed("Gone/away"),
	                (long)(SLUICE_MAILBOX_SUBSCRIBED | SLUICE_MAILBOX_NONEXISTENT));
	CU_ASSERT_FALSE(listed("Here") & SLUICE_MAILBOX_NONEXISTENT);
	CU_ASSERT(listed("Here") & SLUICE_MAILBOX_SUBSCRIBED);
	CU_ASSERT_EQUAL(listed("Gone"), -1);
}

static void test_subscriptions_survive_reopening_the_user(void)
{
	struct sluice_storage_user *again = NULL;

	create_ok("Kept");
	expect(sc_ops->mailbox_subscribe(fx.su, "Kept", true, &fx.err), 0);
	CU_ASSERT_EQUAL_FATAL(sc_ops->user_open(sc_module.modctx, &fx.user, &again, &fx.err), 0);
	track((void **)fx.users, again, NULL);
	fx.list.count = 0;
	CU_ASSERT_EQUAL(sc_ops->mailbox_list(again, list_cb, &fx.list, &fx.err), 0);
	CU_ASSERT(listed("Kept") & SLUICE_MAILBOX_SUBSCRIBED);
}

/* ---- special uses (ABI 1.1) --------------------------------------------------------- */

/* The op, or NULL (with a note) for a module built without it. */
static int (*special_op(void))(struct sluice_storage_user *, const char *, uint32_t,
                               struct sluice_error *)
{
	if (SLUICE_STORAGE_HAS_OP(sc_ops, mailbox_set_special_use))
		return sc_ops->mailbox_set_special_use;
	printf("\n    (module %s keeps no special uses; skipped) ", sc_mod->name);
	return NULL;
}

static uint32_t listed_special(const char *name)
{
	long attrs = listed(name);
	CU_ASSERT(attrs >= 0);
	return attrs < 0 ? 0 : (uint32_t)attrs & SLUICE_MAILBOX_SPECIAL_USE;
}

static void test_special_use_is_listed_and_survives_reopening(void)
{
	struct sluice_storage_user *again = NULL;
	int (*set)(struct sluice_storage_user *, const char *, uint32_t, struct sluice_error *) =
	    special_op();
	if (set == NULL)
		return;
	create_ok("Sent");
	create_ok("Old/Stuff");
	expect(set(fx.su, "Sent", SLUICE_MAILBOX_SPECIAL_SENT, &fx.err), 0);
	expect(set(fx.su, "Old/Stuff",
	           SLUICE_MAILBOX_SPECIAL_ARCHIVE | SLUICE_MAILBOX_SPECIAL_JUNK | SLUICE_FLAG_SEEN,
	           &fx.err),
	       0);
	list_ok();
	CU_ASSERT_EQUAL(listed_special("Sent"), SLUICE_MAILBOX_SPECIAL_SENT);
	/* Bits outside the special uses are ignored, never reported as attributes. */
	CU_ASSERT_EQUAL(listed_special("Old/Stuff"),
	                SLUICE_MAILBOX_SPECIAL_ARCHIVE | SLUICE_MAILBOX_SPECIAL_JUNK);
	CU_ASSERT_EQUAL(listed_special("Old"), 0);
	CU_ASSERT_EQUAL(listed_special("INBOX"), 0);
	CU_ASSERT_EQUAL_FATAL(sc_ops->user_open(sc_module.modctx, &fx.user, &again, &fx.err), 0);
	track((void **)fx.users, again, NULL);
	fx.list.count = 0;
	CU_ASSERT_EQUAL(sc_ops->mailbox_list(again, list_cb, &fx.list, &fx.err), 0);
	CU_ASSERT_EQUAL(listed_special("Sent"), SLUICE_MAILBOX_SPECIAL_SENT);
	/* Setting again replaces; 0 forgets. */
	expect(set(fx.su, "Sent", SLUICE_MAILBOX_SPECIAL_TRASH, &fx.err), 0);
	list_ok();
	CU_ASSERT_EQUAL(listed_special("Sent"), SLUICE_MAILBOX_SPECIAL_TRASH);
	expect(set(fx.su, "Sent", 0, &fx.err), 0);
	list_ok();
	CU_ASSERT_EQUAL(listed_special("Sent"), 0);
}

static void test_special_use_of_a_missing_mailbox_is_notfound(void)
{
	int (*set)(struct sluice_storage_user *, const char *, uint32_t, struct sluice_error *) =
	    special_op();
	if (set == NULL)
		return;
	expect(set(fx.su, "Nowhere", SLUICE_MAILBOX_SPECIAL_SENT, &fx.err), SLUICE_NOTFOUND);
	create_ok("Parent/Child");
	expect(sc_ops->mailbox_delete(fx.su, "Parent", &fx.err), 0);
	/* A parent that exists only through its children is no mailbox to mark. */
	expect(set(fx.su, "Parent", SLUICE_MAILBOX_SPECIAL_SENT, &fx.err), SLUICE_NOTFOUND);
	list_ok();
	CU_ASSERT_EQUAL(listed_special("Parent"), 0);
}

static void test_special_use_follows_rename_and_goes_with_delete(void)
{
	int (*set)(struct sluice_storage_user *, const char *, uint32_t, struct sluice_error *) =
	    special_op();
	if (set == NULL)
		return;
	create_ok("Junk");
	create_ok("Box/Inner");
	expect(set(fx.su, "Junk", SLUICE_MAILBOX_SPECIAL_JUNK, &fx.err), 0);
	expect(set(fx.su, "Box/Inner", SLUICE_MAILBOX_SPECIAL_DRAFTS, &fx.err), 0);
	expect(sc_ops->mailbox_rename(fx.su, "Junk", "Spam", &fx.err), 0);
	expect(sc_ops->mailbox_rename(fx.su, "Box", "Crate", &fx.err), 0);
	list_ok();
	CU_ASSERT_EQUAL(listed_special("Spam"), SLUICE_MAILBOX_SPECIAL_JUNK);
	CU_ASSERT_EQUAL(listed_special("Crate/Inner"), SLUICE_MAILBOX_SPECIAL_DRAFTS);
	CU_ASSERT_EQUAL(listed("Junk"), -1);
	/* A new mailbox under the old name starts without the use. */
	create_ok("Junk");
	list_ok();
	CU_ASSERT_EQUAL(listed_special("Junk"), 0);
	expect(sc_ops->mailbox_delete(fx.su, "Spam", &fx.err), 0);
	create_ok("Spam");
	list_ok();
	CU_ASSERT_EQUAL(listed_special("Spam"), 0);
}

static int list_stop_cb(void *ctx, const char *name, uint32_t attrs)
{
	(void)name, (void)attrs;
	return ++*(int *)ctx == 2 ? 9 : 0;
}

static void test_list_stops_with_the_callbacks_value(void)
{
	int calls = 0;

	create_ok("One");
	create_ok("Two");
	CU_ASSERT_EQUAL(sc_ops->mailbox_list(fx.su, list_stop_cb, &calls, &fx.err), 9);
	CU_ASSERT_EQUAL(calls, 2);
}

static void test_open_of_a_missing_mailbox_is_notfound(void)
{
	struct sluice_storage_box *box = NULL;

	CU_ASSERT_FATAL(fx.ready);
	expect(sc_ops->mailbox_open(fx.su, "Nothing/Here", &box, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_PTR_NULL(box);
}

/* --- messages --- */

static void test_append_is_scanned_with_flags_keywords_size_and_mtime(void)
{
	struct sluice_storage_box *box = box_open_ok("INBOX");
	const char *key;
	const struct sc_msg *m;
	struct sc_scan *s;

	key = append_ok(box, sc_text, SLUICE_FLAG_SEEN | SLUICE_FLAG_FLAGGED, "Junk $Label1",
	                sc_date);
	s = scan_ok(box, true);
	CU_ASSERT_EQUAL_FATAL(s->count, 1);
	m = scan_find(s, key);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->flags, SLUICE_FLAG_SEEN | SLUICE_FLAG_FLAGGED);
	CU_ASSERT_STRING_EQUAL(m->keywords, "Junk $Label1");
	CU_ASSERT_EQUAL(m->size, strlen(sc_text));
	CU_ASSERT_EQUAL(m->mtime, sc_date);
	CU_ASSERT_FALSE(m->recent);
	check_body(box, key, sc_text);
}

static void test_appends_get_distinct_keys(void)
{
	struct sluice_storage_box *box = box_open_ok("INBOX");
	char keys[50][256];

	for (int i = 0; i < 50; i++)
		snprintf(keys[i], sizeof(keys[i]), "%s", append_ok(box, sc_text, 0, "", sc_date));
	for (int i = 0; i < 50; i++)
		for (int j = i + 1; j < 50; j++)
			CU_ASSERT(strcmp(keys[i], keys[j]) != 0);
	CU_ASSERT_EQUAL(scan_ok(box, true)->count, 50);
}

static void test_aborted_append_leaves_nothing(void)
{
	struct sluice_storage_box *box = box_open_ok("INBOX");
	struct sluice_storage_append *a = NULL;
	int fd = -1;

	CU_ASSERT_EQUAL_FATAL(sc_ops->append_begin(box, &a, &fd, &fx.err), 0);
	CU_ASSERT_EQUAL(write(fd, "From: half", 10), 10);
	sc_ops->append_abort(a);
	CU_ASSERT_EQUAL(scan_ok(box, true)->count, 0);
	CU_ASSERT_EQUAL(scan_ok(box, false)->count, 0);
}

static void test_empty_message_can_be_appended(void)
{
	struct sluice_storage_box *box = box_open_ok("INBOX");
	const char *key = append_ok(box, "", 0, "", sc_date);
	struct sc_scan *s = scan_ok(box, true);

	CU_ASSERT_EQUAL_FATAL(s->count, 1);
	CU_ASSERT_EQUAL(scan_find(s, key)->size, 0);
	check_body(box, key, "");
}

static void test_set_flags_round_trips_and_keeps_the_key(void)
{
	struct sluice_storage_box *box = box_open_ok("INBOX");
	const char *key = append_ok(box, sc_text, 0, "", sc_date);
	const struct sc_msg *m;

	expect(sc_ops->message_set_flags(box, key,
	                                 SLUICE_FLAG_SEEN | SLUICE_FLAG_ANSWERED |
	                                     SLUICE_FLAG_DELETED | SLUICE_FLAG_DRAFT |
	                                     SLUICE_FLAG_FLAGGED,
	                                 "$Forwarded Work NonJunk", &fx.err),
	       0);
	m = scan_find(scan_ok(box, true), key);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->flags, SLUICE_FLAGS_ALL);
	CU_ASSERT_PTR_NOT_NULL(strstr(m->keywords, "$Forwarded"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m->keywords, "Work"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m->keywords, "NonJunk"));
	CU_ASSERT_EQUAL(m->mtime, sc_date);
	/* Setting the same again changes nothing; clearing clears. */
	expect(sc_ops->message_set_flags(box, key, SLUICE_FLAGS_ALL, "$Forwarded Work NonJunk",
	                                 &fx.err),
	       0);
	expect(sc_ops->message_set_flags(box, key, 0, "", &fx.err), 0);
	m = scan_find(scan_ok(box, true), key);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->flags, 0);
	CU_ASSERT_STRING_EQUAL(m->keywords, "");
	check_body(box, key, sc_text);
}

static void test_keywords_keep_the_case_first_used(void)
{
	struct sluice_storage_box *box = box_open_ok("INBOX");
	const char *k1 = append_ok(box, sc_text, 0, "ToDo", sc_date);
	const char *k2 = append_ok(box, sc_text, 0, "todo", sc_date);
	struct sc_scan *s = scan_ok(box, true);

	CU_ASSERT_STRING_EQUAL(scan_find(s, k1)->keywords, "ToDo");
	CU_ASSERT_STRING_EQUAL(scan_find(s, k2)->keywords, "ToDo");
}

static void test_flags_are_seen_by_another_session(void)
{
	struct sluice_storage_box *a = box_open_ok("INBOX"), *b = box_open_ok("INBOX");
	const char *key = append_ok(a, sc_text, 0, "", sc_date);
	const struct sc_msg *m;

	CU_ASSERT_EQUAL(scan_ok(b, true)->count, 1);
	expect(sc_ops->message_set_flags(a, key, SLUICE_FLAG_SEEN, "Later", &fx.err), 0);
	m = scan_find(scan_ok(b, true), key);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->flags, SLUICE_FLAG_SEEN);
	CU_ASSERT_STRING_EQUAL(m->keywords, "Later");
	/* b's idea of the file name is stale, but b still finds and changes it. */
	expect(
	    sc_ops->message_set_flags(b, key, SLUICE_FLAG_SEEN | SLUICE_FLAG_FLAGGED, "", &fx.err),
	    0);
	expect(sc_ops->message_set_flags(a, key, SLUICE_FLAG_DELETED, "", &fx.err), 0);
	check_body(b, key, sc_text);
	m = scan_find(scan_ok(b, false), key);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->flags, SLUICE_FLAG_DELETED);
}

static void test_expunge_removes_and_then_is_notfound(void)
{
	struct sluice_storage_box *box = box_open_ok("INBOX");
	const char *k1 = append_ok(box, sc_text, 0, "", sc_date);
	const char *k2 = append_ok(box, sc_text, 0, "", sc_date);
	struct sc_scan *s;
	int fd = -1;

	expect(sc_ops->message_expunge(box, k1, &fx.err), 0);
	s = scan_ok(box, true);
	CU_ASSERT_EQUAL(s->count, 1);
	CU_ASSERT_PTR_NULL(scan_find(s, k1));
	CU_ASSERT_PTR_NOT_NULL(scan_find(s, k2));
	expect(sc_ops->message_expunge(box, k1, &fx.err), SLUICE_NOTFOUND);
	expect(sc_ops->message_open(box, k1, &fd, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(fd, -1);
	expect(sc_ops->message_set_flags(box, k1, SLUICE_FLAG_SEEN, "", &fx.err), SLUICE_NOTFOUND);
}

static void test_unknown_keys_are_notfound(void)
{
	struct sluice_storage_box *box = box_open_ok("INBOX");
	struct sluice_storage_box *other;
	const char *key = NULL;
	int fd = -1;

	create_ok("Other");
	other = box_open_ok("Other");
	append_ok(box, sc_text, 0, "", sc_date);
	expect(sc_ops->message_open(box, "no-such-key", &fd, &fx.err), SLUICE_NOTFOUND);
	expect(sc_ops->message_open(box, "../../etc/passwd", &fd, &fx.err), SLUICE_NOTFOUND);
	expect(sc_ops->message_expunge(box, "no-such-key", &fx.err), SLUICE_NOTFOUND);
	expect(sc_ops->message_set_flags(box, "no-such-key", 0, "", &fx.err), SLUICE_NOTFOUND);
	expect(
	    sc_ops->message_copy(box, "no-such-key", other, 0, "", sc_date, fx.pool, &key, &fx.err),
	    SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(fd, -1);
	CU_ASSERT_EQUAL(scan_ok(other, false)->count, 0);
}

static void test_copy_keeps_bytes_and_sets_flags_and_mtime(void)
{
	struct sluice_storage_box *src = box_open_ok("INBOX"), *dst;
	const char *key, *copy = NULL, *copy2 = NULL;
	const struct sc_msg *m;
	struct sc_scan *s;

	create_ok("Copies");
	dst = box_open_ok("Copies");
	key = append_ok(src, sc_text, SLUICE_FLAG_SEEN, "Orig", sc_date);
	expect(sc_ops->message_copy(src, key, dst, SLUICE_FLAG_SEEN | SLUICE_FLAG_FLAGGED,
	                            "Copied $Forwarded", sc_date, fx.pool, &copy, &fx.err),
	       0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	/* A different INTERNALDATE for the copy must leave the original's alone. */
	expect(sc_ops->message_copy(src, key, dst, 0, "", sc_date + 3600, fx.pool, &copy2, &fx.err),
	       0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(copy2);
	CU_ASSERT(strcmp(copy, copy2) != 0);
	s = scan_ok(dst, true);
	CU_ASSERT_EQUAL_FATAL(s->count, 2);
	m = scan_find(s, copy);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->flags, SLUICE_FLAG_SEEN | SLUICE_FLAG_FLAGGED);
	CU_ASSERT_PTR_NOT_NULL(strstr(m->keywords, "Copied"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m->keywords, "$Forwarded"));
	CU_ASSERT_PTR_NULL(strstr(m->keywords, "Orig"));
	CU_ASSERT_EQUAL(m->mtime, sc_date);
	CU_ASSERT_EQUAL(m->size, strlen(sc_text));
	m = scan_find(s, copy2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->mtime, sc_date + 3600);
	CU_ASSERT_EQUAL(m->flags, 0);
	check_body(dst, copy, sc_text);
	check_body(dst, copy2, sc_text);
	m = scan_find(scan_ok(src, true), key);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->mtime, sc_date);
	CU_ASSERT_EQUAL(m->flags, SLUICE_FLAG_SEEN);
	CU_ASSERT_STRING_EQUAL(m->keywords, "Orig");
}

static void test_copy_then_expunge_is_a_move(void)
{
	struct sluice_storage_box *src = box_open_ok("INBOX"), *dst;
	const char *key, *copy = NULL;

	create_ok("Moved");
	dst = box_open_ok("Moved");
	key = append_ok(src, sc_text, 0, "", sc_date);
	expect(sc_ops->message_copy(src, key, dst, 0, "", sc_date, fx.pool, &copy, &fx.err), 0);
	expect(sc_ops->message_expunge(src, key, &fx.err), 0);
	CU_ASSERT_EQUAL(scan_ok(src, true)->count, 0);
	check_body(dst, copy, sc_text);
	/* The copy can be flagged and expunged in its new home. */
	expect(sc_ops->message_set_flags(dst, copy, SLUICE_FLAG_SEEN, "", &fx.err), 0);
	expect(sc_ops->message_expunge(dst, copy, &fx.err), 0);
	CU_ASSERT_EQUAL(scan_ok(dst, true)->count, 0);
}

static void test_copy_within_one_mailbox(void)
{
	struct sluice_storage_box *box = box_open_ok("INBOX");
	const char *key = append_ok(box, sc_text, 0, "", sc_date), *copy = NULL;

	expect(sc_ops->message_copy(box, key, box, SLUICE_FLAG_SEEN, "", sc_date, fx.pool, &copy,
	                            &fx.err),
	       0);
	CU_ASSERT_EQUAL(scan_ok(box, true)->count, 2);
	check_body(box, copy, sc_text);
}

static void test_stamp_changes_with_every_change(void)
{
	struct sluice_storage_box *box = box_open_ok("INBOX");
	uint8_t s1[32], s2[32], s3[32], s4[32];
	const char *key;

	CU_ASSERT_EQUAL_FATAL(sc_ops->mailbox_stamp(box, s1, &fx.err), 0);
	key = append_ok(box, sc_text, 0, "", sc_date);
	CU_ASSERT_EQUAL_FATAL(sc_ops->mailbox_stamp(box, s2, &fx.err), 0);
	CU_ASSERT(memcmp(s1, s2, 32) != 0);
	expect(sc_ops->message_set_flags(box, key, SLUICE_FLAG_SEEN, "", &fx.err), 0);
	CU_ASSERT_EQUAL_FATAL(sc_ops->mailbox_stamp(box, s3, &fx.err), 0);
	CU_ASSERT(memcmp(s2, s3, 32) != 0);
	expect(sc_ops->message_expunge(box, key, &fx.err), 0);
	CU_ASSERT_EQUAL_FATAL(sc_ops->mailbox_stamp(box, s4, &fx.err), 0);
	CU_ASSERT(memcmp(s3, s4, 32) != 0);
}

static void test_scan_stops_with_the_callbacks_value(void)
{
	struct sluice_storage_box *box = box_open_ok("INBOX");
	struct sc_scan *s = scan_new();

	for (int i = 0; i < 5; i++)
		append_ok(box, sc_text, 0, "", sc_date);
	s->stop_after = 2;
	CU_ASSERT_EQUAL(sc_ops->mailbox_scan(box, true, scan_cb, s, &fx.err), 7);
	CU_ASSERT_EQUAL(s->count, 2);
	CU_ASSERT_EQUAL(scan_ok(box, true)->count, 5);
}

/* --- other programs --- */

static void test_delivery_by_another_program_is_recent_once(void)
{
	const struct sc_backend *b = sc_backend();
	struct sluice_storage_box *one, *two;
	struct sc_scan *s;

	if (b == NULL)
		return;
	one = box_open_ok("INBOX");
	two = box_open_ok("INBOX");
	CU_ASSERT_EQUAL(scan_ok(one, true)->count, 0);
	CU_ASSERT_EQUAL_FATAL(b->deliver(fx.dir, sc_text), 0);
	CU_ASSERT_EQUAL_FATAL(b->deliver(fx.dir, sc_text), 0);
	/* A session that does not take new mail still sees it, not as recent. */
	s = scan_ok(two, false);
	CU_ASSERT_EQUAL(s->count, 2);
	CU_ASSERT_EQUAL(scan_recent(s), 0);
	s = scan_ok(one, true);
	CU_ASSERT_EQUAL_FATAL(s->count, 2);
	CU_ASSERT_EQUAL(scan_recent(s), 2);
	CU_ASSERT_EQUAL(s->msgs[0].size, strlen(sc_text));
	check_body(one, s->msgs[0].key, sc_text);
	s = scan_ok(two, true);
	CU_ASSERT_EQUAL(s->count, 2);
	CU_ASSERT_EQUAL(scan_recent(s), 0);
	CU_ASSERT_EQUAL(scan_recent(scan_ok(one, true)), 0);
}

static void test_flag_change_by_another_program_is_seen(void)
{
	const struct sc_backend *b = sc_backend();
	struct sluice_storage_box *box;
	const char *key;
	const struct sc_msg *m;

	if (b == NULL)
		return;
	box = box_open_ok("INBOX");
	key = append_ok(box, sc_text, SLUICE_FLAG_FLAGGED, "", sc_date);
	CU_ASSERT_EQUAL(scan_ok(box, true)->count, 1);
	CU_ASSERT_EQUAL_FATAL(b->mark_seen(fx.dir, key), 0);
	/* The module's remembered file name is stale now; reading must still work. */
	check_body(box, key, sc_text);
	m = scan_find(scan_ok(box, true), key);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->flags, SLUICE_FLAG_SEEN);
	CU_ASSERT_EQUAL_FATAL(b->mark_seen(fx.dir, key), 0);
	expect(sc_ops->message_set_flags(box, key, SLUICE_FLAG_SEEN | SLUICE_FLAG_ANSWERED, "",
	                                 &fx.err),
	       0);
	m = scan_find(scan_ok(box, true), key);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->flags, SLUICE_FLAG_SEEN | SLUICE_FLAG_ANSWERED);
}

/* --- watching for IDLE (ABI 1.1, optional) --- */

struct sc_paths {
	char paths[8][512];
	size_t n;
	int stop_with; /* the callback returns this after the first path; 0 = never */
};

static int paths_cb(void *ctx, const char *path)
{
	struct sc_paths *p = ctx;
	if (p->n < 8)
		snprintf(p->paths[p->n++], sizeof(p->paths[0]), "%s", path);
	return p->stop_with;
}

static bool sc_has_watch_paths(void)
{
	if (sc_ops->size >= offsetof(struct sluice_storage_ops, mailbox_watch_paths) +
	                        sizeof(sc_ops->mailbox_watch_paths) &&
	    sc_ops->mailbox_watch_paths != NULL)
		return true;
	printf("\n    (module %s names no directories to watch; skipped) ", sc_mod->name);
	return false;
}

/* Events queued on @p fd now; the kernel queues them during the call that changed the file. */
static size_t sc_drain(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	size_t events = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t pos = 0; pos < n;) {
			struct inotify_event ev;
			memcpy(&ev, buf + pos, sizeof(ev));
			pos += (ssize_t)(sizeof(ev) + ev.len);
			events++;
		}
	}
	return events;
}

static int sc_watch(const struct sc_paths *p)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	for (size_t i = 0; i < p->n; i++)
		CU_ASSERT(inotify_add_watch(fd, p->paths[i], IN_CREATE | IN_DELETE | IN_MOVED_FROM |
		                                                 IN_MOVED_TO | IN_ONLYDIR) >= 0);
	return fd;
}

static void test_watch_paths_name_directories_that_see_every_change(void)
{
	struct sluice_storage_box *box, *other;
	struct sc_paths inbox = {0}, sub = {0}, first = {.stop_with = 5};
	const struct sc_backend *b;
	const char *key;
	struct stat st;
	int fd;

	if (!sc_has_watch_paths())
		return;
	create_ok("Sub");
	box = box_open_ok("INBOX");
	other = box_open_ok("Sub");
	CU_ASSERT_EQUAL_FATAL(sc_ops->mailbox_watch_paths(box, paths_cb, &inbox, &fx.err), 0);
	CU_ASSERT_EQUAL_FATAL(sc_ops->mailbox_watch_paths(other, paths_cb, &sub, &fx.err), 0);
	CU_ASSERT_FATAL(inbox.n > 0 && sub.n > 0);
	for (size_t i = 0; i < inbox.n; i++) {
		CU_ASSERT_EQUAL(inbox.paths[i][0], '/');
		CU_ASSERT(stat(inbox.paths[i], &st) == 0 && S_ISDIR(st.st_mode));
		for (size_t j = 0; j < sub.n; j++)
			CU_ASSERT_STRING_NOT_EQUAL(inbox.paths[i], sub.paths[j]);
	}
	CU_ASSERT_EQUAL(sc_ops->mailbox_watch_paths(box, paths_cb, &first, &fx.err), 5);
	CU_ASSERT_EQUAL(first.n, 1);

	fd = sc_watch(&inbox);
	CU_ASSERT_EQUAL(sc_drain(fd), 0);
	key = append_ok(box, sc_text, 0, "", sc_date);
	CU_ASSERT(sc_drain(fd) > 0);
	CU_ASSERT_EQUAL(scan_ok(box, true)->count, 1);
	sc_drain(fd);
	expect(sc_ops->message_set_flags(box, key, SLUICE_FLAG_SEEN, "", &fx.err), 0);
	CU_ASSERT(sc_drain(fd) > 0);
	expect(sc_ops->message_expunge(box, key, &fx.err), 0);
	CU_ASSERT(sc_drain(fd) > 0);
	/* Another mailbox's changes are not this one's. */
	append_ok(other, sc_text, 0, "", sc_date);
	CU_ASSERT_EQUAL(sc_drain(fd), 0);
	b = sc_backend();
	if (b != NULL) {
		CU_ASSERT_EQUAL_FATAL(b->deliver(fx.dir, sc_text), 0);
		CU_ASSERT(sc_drain(fd) > 0);
	}
	close(fd);
}

static int sc_suite_init(void)
{
	const char *path = getenv("SLUICE_STORAGE_MODULE");

	if (path == NULL || path[0] == '\0')
		path = "maildir.so";
	if (fixture_module_load(&sc_module, path, SLUICE_KIND_STORAGE) < 0)
		return -1;
	sc_mod = sc_module.desc;
	sc_ops = sc_mod->ops;
	return 0;
}

static int sc_suite_cleanup(void)
{
	fixture_module_unload(&sc_module);
	return 0;
}

static CU_TestInfo sc_tests[] = {
    {"descriptor is a storage module with every op",
     test_descriptor_is_a_storage_module_with_every_op},
    {"new user has an empty selectable INBOX", test_new_user_has_an_empty_selectable_inbox},
    {"create makes parents and lists children", test_create_makes_parents_and_lists_children},
    {"create of an existing mailbox is EXISTS", test_create_of_an_existing_mailbox_is_exists},
    {"unicode names round-trip", test_unicode_names_round_trip},
    {"delete keeps children and leaves a \\Noselect parent",
     test_delete_keeps_children_and_leaves_noselect_parent},
    {"delete of a leaf removes it", test_delete_of_a_leaf_removes_it},
    {"delete refuses INBOX and reports missing", test_delete_refuses_inbox_and_reports_missing},
    {"rename moves children and messages", test_rename_moves_children_and_messages},
    {"rename to a new parent creates it", test_rename_to_a_new_parent_creates_it},
    {"rename errors: exists, INBOX, missing", test_rename_errors},
    {"rename of INBOX moves its messages", test_rename_of_inbox_moves_its_messages},
    {"subscriptions show in the listing", test_subscriptions_show_in_the_listing},
    {"subscription without mailbox is listed as nonexistent",
     test_subscription_without_mailbox_is_listed_as_nonexistent},
    {"subscriptions survive reopening the user", test_subscriptions_survive_reopening_the_user},
    {"special use is listed and survives reopening",
     test_special_use_is_listed_and_survives_reopening},
    {"special use of a missing mailbox is NOTFOUND",
     test_special_use_of_a_missing_mailbox_is_notfound},
    {"special use follows rename and goes with delete",
     test_special_use_follows_rename_and_goes_with_delete},
    {"list stops with the callback's value", test_list_stops_with_the_callbacks_value},
    {"open of a missing mailbox is NOTFOUND", test_open_of_a_missing_mailbox_is_notfound},
    {"append is scanned with flags, keywords, size, mtime",
     test_append_is_scanned_with_flags_keywords_size_and_mtime},
    {"appends get distinct keys", test_appends_get_distinct_keys},
    {"aborted append leaves nothing", test_aborted_append_leaves_nothing},
    {"empty message can be appended", test_empty_message_can_be_appended},
    {"set_flags round-trips and keeps the key", test_set_flags_round_trips_and_keeps_the_key},
    {"keywords keep the case first used", test_keywords_keep_the_case_first_used},
    {"flags are seen by another session", test_flags_are_seen_by_another_session},
    {"expunge removes, then NOTFOUND", test_expunge_removes_and_then_is_notfound},
    {"unknown keys are NOTFOUND", test_unknown_keys_are_notfound},
    {"copy keeps bytes, sets flags and mtime", test_copy_keeps_bytes_and_sets_flags_and_mtime},
    {"copy then expunge is a move", test_copy_then_expunge_is_a_move},
    {"copy within one mailbox", test_copy_within_one_mailbox},
    {"stamp changes with every change", test_stamp_changes_with_every_change},
    {"scan stops with the callback's value", test_scan_stops_with_the_callbacks_value},
    {"delivery by another program is recent once", test_delivery_by_another_program_is_recent_once},
    {"flag change by another program is seen", test_flag_change_by_another_program_is_seen},
    {"watch paths name directories that see every change",
     test_watch_paths_name_directories_that_see_every_change},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo storage_conformance_suites[] = {
    {"storage-conformance", sc_suite_init, sc_suite_cleanup, fx_setup, fx_teardown, sc_tests},
    CU_SUITE_INFO_NULL,
};
