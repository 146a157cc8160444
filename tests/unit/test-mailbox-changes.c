/*
 * core/mailbox/changes.c with the real lmdb module: what a QRESYNC or CHANGEDSINCE asks
 * ("what changed since MODSEQ m?") must cost work in proportion to the changes, not to
 * the mailbox. The suite builds an index of 100,000 messages, changes the flags of 10
 * and expunges 5, and counts the index records each question reads, through a copy of
 * the module's ops table whose walks count their callbacks. The counts are asserted; the
 * wall-clock times are printed next to those of a walk over every record (what a server
 * without a MODSEQ order would do), for the record, never asserted.
 *
 * The view (struct mailbox) is made from the index as mailbox_open makes it, without a
 * storage: the changes functions read only the view and the index.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mailbox/mailbox.h"
#include "mailbox/user.h"
#include "module-fixture.h"

#define CH_MESSAGES 100000u
#define CH_CHANGED 10u
#define CH_EXPUNGED 5u

static char ch_dir[256];
static struct fixture_module ch_module;
static const struct sluice_index_ops *ch_real;
static struct sluice_index_ops ch_counting;
static struct sluice_index_user *ch_index;
static struct mail_user ch_user;
static struct sluice_user ch_suser = {.name = "carol", .uid = (uid_t)-1, .gid = (gid_t)-1};

/* Records handed to callbacks by the counting walks since the last reset. */
static unsigned long ch_visited;

struct ch_shim {
	sluice_index_message_cb *cb;
	sluice_index_expunge_cb *xcb;
	void *ctx;
};

static int ch_count_msg(void *ctx, const struct sluice_index_message *msg)
{
	struct ch_shim *sh = ctx;
	ch_visited++;
	return sh->cb(sh->ctx, msg);
}

static int ch_count_expunge(void *ctx, uint32_t uid, uint64_t modseq)
{
	struct ch_shim *sh = ctx;
	ch_visited++;
	return sh->xcb(sh->ctx, uid, modseq);
}

static int ch_iterate(struct sluice_index_txn *txn, const char *mailbox, uint32_t first_uid,
                      sluice_index_message_cb *cb, void *ctx, struct sluice_error *err)
{
	struct ch_shim sh = {.cb = cb, .ctx = ctx};
	return ch_real->message_iterate(txn, mailbox, first_uid, ch_count_msg, &sh, err);
}

static int ch_changed_since(struct sluice_index_txn *txn, const char *mailbox, uint64_t modseq,
                            sluice_index_message_cb *cb, void *ctx, struct sluice_error *err)
{
	struct ch_shim sh = {.cb = cb, .ctx = ctx};
	return ch_real->message_changed_since(txn, mailbox, modseq, ch_count_msg, &sh, err);
}

static int ch_expunged_since(struct sluice_index_txn *txn, const char *mailbox, uint64_t modseq,
                             sluice_index_expunge_cb *cb, void *ctx, struct sluice_error *err)
{
	struct ch_shim sh = {.xcb = cb, .ctx = ctx};
	return ch_real->expunged_since(txn, mailbox, modseq, ch_count_expunge, &sh, err);
}

static double ch_ms(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* The UIDs whose flags change, and those expunged: spread over the whole mailbox. */
static uint32_t ch_changed_uid(unsigned i)
{
	return 1 + i * (CH_MESSAGES / CH_CHANGED) + 17;
}

static uint32_t ch_expunged_uid(unsigned i)
{
	return 5 + i * (CH_MESSAGES / CH_EXPUNGED) + 3;
}

static int ch_setup(void)
{
	char settings[512];
	void *conf = NULL;
	struct sluice_error err = SLUICE_ERROR_INIT;
	if (fixture_tempdir(ch_dir, sizeof(ch_dir), "sluice-changes") != 0)
		return -1;
	snprintf(settings, sizeof(settings), "path=%s/index/%%u;sync=no", ch_dir);
	if (fixture_module_load(&ch_module, "lmdb.so", SLUICE_KIND_INDEX) != 0 ||
	    fixture_conf_new(&ch_module, settings, &conf) != 0 ||
	    fixture_module_init(&ch_module, conf, &err) != 0)
		return -1;
	ch_real = ch_module.desc->ops;
	ch_counting = *ch_real;
	ch_counting.message_iterate = ch_iterate;
	ch_counting.message_changed_since = ch_changed_since;
	ch_counting.expunged_since = ch_expunged_since;
	if (ch_real->user_open(ch_module.modctx, &ch_suser, &ch_index, &err) != 0)
		return -1;
	ch_user.user = ch_suser;
	ch_user.index_ops = &ch_counting;
	ch_user.index = ch_index;
	return 0;
}

static int ch_teardown(void)
{
	if (ch_index != NULL)
		ch_real->user_close(ch_index);
	fixture_module_unload(&ch_module);
	fixture_remove_tree(ch_dir);
	return 0;
}

/*
 * Writes INBOX with CH_MESSAGES messages, MODSEQ n for UID n, in one transaction; then
 * a STORE of CH_CHANGED messages (MODSEQ CH_MESSAGES + 1) and an EXPUNGE of CH_EXPUNGED
 * others (MODSEQ CH_MESSAGES + 2), as the mailbox layer would write them.
 */
static void ch_build_index(void)
{
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct sluice_index_txn *txn;
	struct sluice_index_mailbox st = {
	    .uidvalidity = 7, .uidnext = CH_MESSAGES + 1, .highestmodseq = CH_MESSAGES};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CU_ASSERT_EQUAL_FATAL(ch_real->txn_begin(ch_index, true, &txn, &err), 0);
	CU_ASSERT_EQUAL_FATAL(ch_real->mailbox_put(txn, "INBOX", &st, &err), 0);
	for (uint32_t uid = 1; uid <= CH_MESSAGES; uid++) {
		char key[32];
		snprintf(key, sizeof(key), "1700000000.M%uP1.host:2,", uid);
		struct sluice_index_message m = {.uid = uid,
		                                 .modseq = uid,
		                                 .internal_date = 1700000000,
		                                 .key = key,
		                                 .keywords = ""};
		if (ch_real->message_put(txn, "INBOX", &m, &err) != 0)
			CU_FAIL_FATAL("message_put");
	}
	CU_ASSERT_EQUAL_FATAL(ch_real->txn_commit(txn, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("\n    built an index of %u messages in %.0f ms\n", CH_MESSAGES, ch_ms(&t0, &t1));

	CU_ASSERT_EQUAL_FATAL(ch_real->txn_begin(ch_index, true, &txn, &err), 0);
	for (unsigned i = 0; i < CH_CHANGED; i++) {
		struct sluice_index_message m;
		CU_ASSERT_EQUAL_FATAL(
		    ch_real->message_get(txn, "INBOX", ch_changed_uid(i), &m, &err), 0);
		m.flags = SLUICE_FLAG_SEEN;
		m.modseq = CH_MESSAGES + 1;
		CU_ASSERT_EQUAL_FATAL(ch_real->message_put(txn, "INBOX", &m, &err), 0);
	}
	for (unsigned i = 0; i < CH_EXPUNGED; i++)
		CU_ASSERT_EQUAL_FATAL(ch_real->message_expunge(txn, "INBOX", ch_expunged_uid(i),
		                                               CH_MESSAGES + 2, &err),
		                      0);
	st.highestmodseq = CH_MESSAGES + 2;
	CU_ASSERT_EQUAL_FATAL(ch_real->mailbox_put(txn, "INBOX", &st, &err), 0);
	CU_ASSERT_EQUAL_FATAL(ch_real->txn_commit(txn, &err), 0);
}

static int ch_load_cb(void *ctx, const struct sluice_index_message *msg)
{
	struct mailbox *box = ctx;
	if (box->count == box->cap)
		return 2; /* more records than the test wrote: the walk stops, the test fails */
	struct mailbox_msg *m = &box->msgs[box->count++];
	m->uid = msg->uid;
	m->flags = msg->flags;
	m->key_off = 0;
	m->keywords = NULL;
	m->modseq = msg->modseq;
	return 0;
}

/* The session's view of INBOX, read from the index the way mailbox_open reads it. */
static struct mailbox *ch_view(void)
{
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct sluice_index_txn *txn;
	struct mailbox *box = calloc(1, sizeof(*box));
	CU_ASSERT_PTR_NOT_NULL_FATAL(box);
	box->user = &ch_user;
	box->name = strdup("INBOX");
	box->keys = strdup("");
	box->cap = CH_MESSAGES;
	box->msgs = calloc(box->cap, sizeof(*box->msgs));
	CU_ASSERT_FATAL(box->name != NULL && box->keys != NULL && box->msgs != NULL);
	box->uidvalidity = 7;
	box->highestmodseq = CH_MESSAGES + 2;
	CU_ASSERT_EQUAL_FATAL(ch_counting.txn_begin(ch_index, false, &txn, &err), 0);
	CU_ASSERT_EQUAL(ch_counting.message_iterate(txn, "INBOX", 1, ch_load_cb, box, &err), 0);
	ch_counting.txn_abort(txn);
	return box;
}

static void test_qresync_reads_only_what_changed_in_100000_messages(void)
{
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct timespec t0, t1, t2, t3;
	ch_build_index();

	ch_visited = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct mailbox *box = ch_view();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	unsigned long full = ch_visited;
	CU_ASSERT_EQUAL(full, CH_MESSAGES - CH_EXPUNGED);
	CU_ASSERT_EQUAL(box->count, CH_MESSAGES - CH_EXPUNGED);

	/* The client last saw MODSEQ CH_MESSAGES: everything before it is old news. */
	uint32_t *vanished = NULL, *changed = NULL, nv = 0, nc = 0;
	ch_visited = 0;
	clock_gettime(CLOCK_MONOTONIC, &t2);
	CU_ASSERT_EQUAL(mailbox_vanished_since(box, CH_MESSAGES, NULL, &vanished, &nv, &err), 0);
	unsigned long read_vanished = ch_visited;
	CU_ASSERT_EQUAL(mailbox_changed_since(box, CH_MESSAGES, NULL, &changed, &nc, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &t3);
	unsigned long read_changed = ch_visited - read_vanished;

	CU_ASSERT_EQUAL(read_vanished, CH_EXPUNGED);
	CU_ASSERT_EQUAL(read_changed, CH_CHANGED);
	CU_ASSERT_EQUAL_FATAL(nv, CH_EXPUNGED);
	CU_ASSERT_EQUAL_FATAL(nc, CH_CHANGED);
	for (unsigned i = 0; i < CH_EXPUNGED; i++)
		CU_ASSERT_EQUAL(vanished[i], ch_expunged_uid(i));
	for (unsigned i = 0; i < CH_CHANGED; i++) {
		CU_ASSERT_EQUAL(box->msgs[changed[i]].uid, ch_changed_uid(i));
		CU_ASSERT_EQUAL(box->msgs[changed[i]].modseq, CH_MESSAGES + 1);
	}
	printf("    QRESYNC since MODSEQ %u: read %lu expunge + %lu message records "
	       "(%u vanished, %u changed) in %.3f ms; loading the view read %lu records in "
	       "%.1f ms\n",
	       CH_MESSAGES, read_vanished, read_changed, nv, nc, ch_ms(&t2, &t3), full,
	       ch_ms(&t0, &t1));
	free(vanished);
	free(changed);

	/* A client that is up to date costs nothing at all. */
	ch_visited = 0;
	CU_ASSERT_EQUAL(mailbox_vanished_since(box, CH_MESSAGES + 2, NULL, &vanished, &nv, &err),
	                0);
	CU_ASSERT_EQUAL(mailbox_changed_since(box, CH_MESSAGES + 2, NULL, &changed, &nc, &err), 0);
	CU_ASSERT_EQUAL(ch_visited, 0);
	CU_ASSERT_EQUAL(nv + nc, 0);
	free(vanished);
	free(changed);

	/* known-uids narrow the answer without widening the walk. */
	struct sluice_pool *pool = pool_create(1024, 0);
	struct seqset known;
	seqset_init(&known, pool);
	CU_ASSERT_EQUAL_FATAL(seqset_add(&known, 1, ch_changed_uid(2)), 0);
	seqset_resolve(&known, 0);
	ch_visited = 0;
	CU_ASSERT_EQUAL(mailbox_vanished_since(box, CH_MESSAGES, &known, &vanished, &nv, &err), 0);
	CU_ASSERT_EQUAL(mailbox_changed_since(box, CH_MESSAGES, &known, &changed, &nc, &err), 0);
	CU_ASSERT_EQUAL(ch_visited, CH_CHANGED + CH_EXPUNGED);
	CU_ASSERT_EQUAL(nc, 3); /* UIDs 18, 10018 and 20018 */
	CU_ASSERT_EQUAL(nv, 2); /* UIDs 8 and 20008 */
	free(vanished);
	free(changed);
	pool_destroy(&pool);
	mailbox_close(&box);
}

/* A view older than the index shows what it was shown, and no more. */
static void test_changes_the_view_has_not_taken_in_wait_for_the_refresh(void)
{
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct mailbox *box = ch_view();
	struct sluice_index_txn *txn;
	struct sluice_index_message m;
	uint32_t uid = ch_changed_uid(0) + 1;

	/* Another session stores flags on one message and expunges another. */
	CU_ASSERT_EQUAL_FATAL(ch_real->txn_begin(ch_index, true, &txn, &err), 0);
	CU_ASSERT_EQUAL_FATAL(ch_real->message_get(txn, "INBOX", uid, &m, &err), 0);
	m.flags = SLUICE_FLAG_FLAGGED;
	m.modseq = CH_MESSAGES + 3;
	CU_ASSERT_EQUAL_FATAL(ch_real->message_put(txn, "INBOX", &m, &err), 0);
	CU_ASSERT_EQUAL_FATAL(
	    ch_real->message_expunge(txn, "INBOX", uid + 1, CH_MESSAGES + 4, &err), 0);
	CU_ASSERT_EQUAL_FATAL(ch_real->txn_commit(txn, &err), 0);

	uint32_t *vanished = NULL, *changed = NULL, nv = 0, nc = 0;
	CU_ASSERT_EQUAL(mailbox_changed_since(box, CH_MESSAGES + 2, NULL, &changed, &nc, &err), 0);
	CU_ASSERT_EQUAL(mailbox_vanished_since(box, CH_MESSAGES + 2, NULL, &vanished, &nv, &err),
	                0);
	CU_ASSERT_EQUAL(nc, 0); /* the view still holds the old flags and MODSEQ */
	CU_ASSERT_EQUAL(nv, 0); /* the view still holds the message */
	free(vanished);
	free(changed);
	mailbox_close(&box);

	box = ch_view();
	CU_ASSERT_EQUAL(mailbox_changed_since(box, CH_MESSAGES + 2, NULL, &changed, &nc, &err), 0);
	CU_ASSERT_EQUAL(mailbox_vanished_since(box, CH_MESSAGES + 2, NULL, &vanished, &nv, &err),
	                0);
	CU_ASSERT_EQUAL_FATAL(nc, 1);
	CU_ASSERT_EQUAL(box->msgs[changed[0]].uid, uid);
	CU_ASSERT_EQUAL_FATAL(nv, 1);
	CU_ASSERT_EQUAL(vanished[0], uid + 1);
	CU_ASSERT_EQUAL(mailbox_find_uid(box, uid + 1), -1);
	CU_ASSERT_EQUAL(box->msgs[mailbox_find_uid(box, uid)].uid, uid);
	free(vanished);
	free(changed);
	mailbox_close(&box);
}

static CU_TestInfo mailbox_changes_tests[] = {
    {"QRESYNC reads only what changed in 100,000 messages",
     test_qresync_reads_only_what_changed_in_100000_messages},
    {"changes the view has not taken in wait for the refresh",
     test_changes_the_view_has_not_taken_in_wait_for_the_refresh},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mailbox_changes_suites[] = {
    {"mailbox_changes", ch_setup, ch_teardown, NULL, NULL, mailbox_changes_tests},
    CU_SUITE_INFO_NULL,
};
