/*
 * The conformance suite for index modules: every promise of include/sluice/index.h,
 * checked against a module loaded the way the server loads it (dlopen, the
 * sluice_module_entry descriptor, a host table, settings filled from the module's own
 * table). It runs against build/modules/lmdb.so; another index module gets the same
 * tests by pointing SLUICE_INDEX_MODULE at its .so, with SLUICE_INDEX_SETTINGS
 * ("key=value;key=value") for anything it needs beyond defaults. When the module has a
 * string setting called `path`, it is pointed into the test's temporary directory.
 *
 * Each test gets a fresh directory under /tmp, a module instance and one open user,
 * all removed by the teardown even when an assertion ends the test early; transactions
 * begun through txn_begin_ok() are aborted there too, so a failure never leaves a
 * writer lock behind for the next test.
 *
 * The last test measures (100,000 records in one write transaction, a walk over them
 * and a CONDSTORE query that finds 10) and prints the figures; SLUICE_PERF_MESSAGES
 * changes the count, e.g. for runs under valgrind.
 */
#include <CUnit/CUnit.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sluice/index.h>

#include "conf/settings.h"
#include "module-fixture.h"
#include "util/pool.h"

static struct fixture_module ixc_module;
static const struct sluice_module *ixc_mod;
static const struct sluice_index_ops *ixc_ops;

#define IXC_MAX_TXNS 16

/* The fixture of one test. */
static struct {
	bool ready;
	char dir[64];
	struct sluice_pool *pool;
	struct sluice_user user;
	struct sluice_index_user *iu;
	struct sluice_index_txn *open_txns[IXC_MAX_TXNS];
	struct sluice_error err;
} fx;

static void fx_setup(void)
{
	const struct sluice_setting *path = settings_find(ixc_mod->settings, "path");
	const char *settings = getenv("SLUICE_INDEX_SETTINGS");
	void *conf;

	memset(&fx, 0, sizeof(fx));
	if (fixture_tempdir(fx.dir, sizeof(fx.dir), "sluice-ixc") < 0)
		return;
	fx.pool = pool_create(1024, 0);
	if (fx.pool == NULL)
		return;
	/* A `path` of the module goes into the test's directory unless the caller sets one. */
	if (path != NULL && path->type == SLUICE_SETTING_STRING)
		settings = pool_printf(fx.pool, "path=%s/%%u;%s", fx.dir,
		                       settings != NULL ? settings : "");
	if (fixture_conf_new(&ixc_module, settings, &conf) < 0)
		return;
	if (fixture_module_init(&ixc_module, conf, &fx.err) < 0)
		return;
	fx.user = (struct sluice_user){
	    .name = "alice", .uid = (uid_t)-1, .gid = (gid_t)-1, .home = fx.dir};
	if (ixc_ops->user_open(ixc_module.modctx, &fx.user, &fx.iu, &fx.err) < 0)
		return;
	fx.ready = true;
}

static void fx_teardown(void)
{
	for (size_t i = 0; i < IXC_MAX_TXNS; i++)
		if (fx.open_txns[i] != NULL)
			ixc_ops->txn_abort(fx.open_txns[i]);
	if (fx.iu != NULL)
		ixc_ops->user_close(fx.iu);
	fixture_module_stop(&ixc_module);
	pool_destroy(&fx.pool);
	fixture_remove_tree(fx.dir);
	memset(&fx, 0, sizeof(fx));
}

static void txn_track(struct sluice_index_txn *t, struct sluice_index_txn *replace)
{
	for (size_t i = 0; i < IXC_MAX_TXNS; i++) {
		if (fx.open_txns[i] == replace) {
			fx.open_txns[i] = t;
			return;
		}
	}
}

static struct sluice_index_txn *txn_begin_on(struct sluice_index_user *iu, bool write)
{
	struct sluice_index_txn *t = NULL;

	CU_ASSERT_FATAL(fx.ready);
	CU_ASSERT_EQUAL_FATAL(ixc_ops->txn_begin(iu, write, &t, &fx.err), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	txn_track(t, NULL);
	return t;
}

static struct sluice_index_txn *txn_begin_ok(bool write)
{
	return txn_begin_on(fx.iu, write);
}

static int txn_commit(struct sluice_index_txn *t)
{
	txn_track(NULL, t);
	return ixc_ops->txn_commit(t, &fx.err);
}

static void txn_abort(struct sluice_index_txn *t)
{
	txn_track(NULL, t);
	ixc_ops->txn_abort(t);
}

static struct sluice_index_mailbox mbox_state(uint32_t uidvalidity, uint32_t uidnext,
                                              uint64_t highestmodseq)
{
	struct sluice_index_mailbox st = {
	    .uidvalidity = uidvalidity, .uidnext = uidnext, .highestmodseq = highestmodseq};

	for (size_t i = 0; i < sizeof(st.storage_stamp); i++)
		st.storage_stamp[i] = (uint8_t)(uidvalidity + i * 7);
	return st;
}

static void mbox_create(struct sluice_index_txn *t, const char *name, uint32_t uidvalidity)
{
	struct sluice_index_mailbox st = mbox_state(uidvalidity, 1, 1);

	CU_ASSERT_EQUAL_FATAL(ixc_ops->mailbox_put(t, name, &st, &fx.err), 0);
}

static uint32_t mbox_count(struct sluice_index_txn *t, const char *name)
{
	struct sluice_index_mailbox st;

	CU_ASSERT_EQUAL_FATAL(ixc_ops->mailbox_get(t, name, &st, &fx.err), 0);
	return st.messages;
}

/* The fields a test message of @uid has, derived from it so callbacks can check them. */
static void msg_key(char *buf, size_t size, const char *mailbox, uint32_t uid)
{
	snprintf(buf, size, "1700000000.M%uP42Q%u.%s.example.org", uid, uid % 7, mailbox);
}

/* Stores the test message of @uid; asserts nothing, so callbacks may use it. */
static int msg_put_rc(struct sluice_index_txn *t, const char *mailbox, uint32_t uid,
                      uint64_t modseq, uint32_t flags, struct sluice_error *err)
{
	char key[128], env[96];
	struct sluice_index_message m = {
	    .uid = uid,
	    .flags = flags,
	    .modseq = modseq,
	    .internal_date = 1700000000 + (int64_t)uid,
	    .internal_zone = 60,
	    .size = 1000 + (uint64_t)uid,
	    .key = key,
	    .keywords = (uid % 2) != 0 ? "$Forwarded Junk" : "",
	    .envelope = env,
	    .bodystructure = "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 12 1)",
	    .body = NULL,
	};

	msg_key(key, sizeof(key), mailbox, uid);
	snprintf(env, sizeof(env), "(NIL \"subject %u\" NIL NIL NIL NIL NIL NIL NIL NIL)", uid);
	return ixc_ops->message_put(t, mailbox, &m, err);
}

static void msg_put_full(struct sluice_index_txn *t, const char *mailbox, uint32_t uid,
                         uint64_t modseq, uint32_t flags)
{
	CU_ASSERT_EQUAL_FATAL(msg_put_rc(t, mailbox, uid, modseq, flags, &fx.err), 0);
}

static void msg_put(struct sluice_index_txn *t, const char *mailbox, uint32_t uid, uint64_t modseq)
{
	msg_put_full(t, mailbox, uid, modseq, 0);
}

/* True when @m is what msg_put_full() stored for its UID in @mailbox. */
static bool msg_is_intact(const struct sluice_index_message *m, const char *mailbox)
{
	char key[128], env[96];

	msg_key(key, sizeof(key), mailbox, m->uid);
	snprintf(env, sizeof(env), "(NIL \"subject %u\" NIL NIL NIL NIL NIL NIL NIL NIL)", m->uid);
	return m->key != NULL && strcmp(m->key, key) == 0 && m->keywords != NULL &&
	       strcmp(m->keywords, (m->uid % 2) != 0 ? "$Forwarded Junk" : "") == 0 &&
	       m->envelope != NULL && strcmp(m->envelope, env) == 0 && m->body == NULL &&
	       m->bodystructure != NULL && m->internal_date == 1700000000 + (int64_t)m->uid &&
	       m->size == 1000 + (uint64_t)m->uid && m->internal_zone == 60;
}

/* What a walk saw. */
struct seen {
	const char *mailbox;
	uint32_t uids[256];
	uint64_t modseqs[256];
	size_t n;
	size_t stop_after; /* 0: never stop */
	unsigned damaged;  /* records not as msg_put stored them */
};

static int seen_msg(void *ctx, const struct sluice_index_message *m)
{
	struct seen *s = ctx;

	if (s->mailbox != NULL && !msg_is_intact(m, s->mailbox))
		s->damaged++;
	if (s->n < 256) {
		s->uids[s->n] = m->uid;
		s->modseqs[s->n] = m->modseq;
	}
	s->n++;
	return s->stop_after != 0 && s->n >= s->stop_after ? 77 : 0;
}

static int seen_expunge(void *ctx, uint32_t uid, uint64_t modseq)
{
	struct seen *s = ctx;

	if (s->n < 256) {
		s->uids[s->n] = uid;
		s->modseqs[s->n] = modseq;
	}
	s->n++;
	return 0;
}

static void seen_expect_uids(const struct seen *s, const uint32_t *uids, size_t n)
{
	CU_ASSERT_EQUAL(s->n, n);
	for (size_t i = 0; i < n && i < s->n; i++)
		CU_ASSERT_EQUAL(s->uids[i], uids[i]);
}

static void test_descriptor_is_an_index_with_every_op(void)
{
	CU_ASSERT_EQUAL(ixc_mod->abi_major, SLUICE_ABI_MAJOR);
	CU_ASSERT_EQUAL(ixc_mod->size, sizeof(struct sluice_module));
	CU_ASSERT_EQUAL(ixc_mod->kind, SLUICE_KIND_INDEX);
	CU_ASSERT_PTR_NOT_NULL(ixc_mod->init);
	CU_ASSERT_FATAL(ixc_ops->size >= sizeof(struct sluice_index_ops));
	CU_ASSERT_PTR_NOT_NULL(ixc_ops->user_open);
	CU_ASSERT_PTR_NOT_NULL(ixc_ops->user_close);
	CU_ASSERT_PTR_NOT_NULL(ixc_ops->txn_begin);
	CU_ASSERT_PTR_NOT_NULL(ixc_ops->txn_commit);
	CU_ASSERT_PTR_NOT_NULL(ixc_ops->txn_abort);
	CU_ASSERT_PTR_NOT_NULL(ixc_ops->mailbox_get);
	CU_ASSERT_PTR_NOT_NULL(ixc_ops->mailbox_put);
	CU_ASSERT_PTR_NOT_NULL(ixc_ops->mailbox_delete);
	CU_ASSERT_PTR_NOT_NULL(ixc_ops->mailbox_rename);
	CU_ASSERT_PTR_NOT_NULL(ixc_ops->message_put);
	CU_ASSERT_PTR_NOT_NULL(ixc_ops->message_get);
	CU_ASSERT_PTR_NOT_NULL(ixc_ops->message_find_key);
	CU_ASSERT_PTR_NOT_NULL(ixc_ops->message_expunge);
	CU_ASSERT_PTR_NOT_NULL(ixc_ops->message_iterate);
	CU_ASSERT_PTR_NOT_NULL(ixc_ops->message_changed_since);
	CU_ASSERT_PTR_NOT_NULL(ixc_ops->expunged_since);
	CU_ASSERT(fx.ready);
}

static void test_unknown_mailbox_is_notfound_everywhere(void)
{
	struct sluice_index_txn *t = txn_begin_ok(true);
	struct sluice_index_mailbox st;
	struct sluice_index_message m = {.uid = 1, .modseq = 1, .key = "k", .keywords = ""};
	struct seen s = {0};
	uint32_t uid;

	CU_ASSERT_EQUAL(ixc_ops->mailbox_get(t, "INBOX", &st, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(ixc_ops->message_get(t, "INBOX", 1, &m, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(ixc_ops->message_find_key(t, "INBOX", "k", &uid, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(ixc_ops->message_expunge(t, "INBOX", 1, 2, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(ixc_ops->message_iterate(t, "INBOX", 1, seen_msg, &s, &fx.err),
	                SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(ixc_ops->message_changed_since(t, "INBOX", 0, seen_msg, &s, &fx.err),
	                SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(ixc_ops->expunged_since(t, "INBOX", 0, seen_expunge, &s, &fx.err),
	                SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(ixc_ops->mailbox_delete(t, "INBOX", &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(ixc_ops->mailbox_rename(t, "INBOX", "Other", &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(ixc_ops->message_put(t, "INBOX", &m, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(s.n, 0);
	/* Names differ by case and by a trailing level. */
	mbox_create(t, "Lists", 5);
	CU_ASSERT_EQUAL(ixc_ops->mailbox_get(t, "lists", &st, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(ixc_ops->mailbox_get(t, "Lists/debian", &st, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(ixc_ops->mailbox_get(t, "List", &st, &fx.err), SLUICE_NOTFOUND);
	txn_abort(t);
}

static void test_mailbox_state_round_trips_and_input_count_is_ignored(void)
{
	struct sluice_index_mailbox in = mbox_state(0xfedcba98u, 0xfffffffeu, UINT64_MAX - 1), out;
	struct sluice_index_txn *t = txn_begin_ok(true);

	in.messages = 999;
	CU_ASSERT_EQUAL_FATAL(ixc_ops->mailbox_put(t, "Sent/2024 ü", &in, &fx.err), 0);
	CU_ASSERT_EQUAL(txn_commit(t), 0);
	t = txn_begin_ok(false);
	CU_ASSERT_EQUAL_FATAL(ixc_ops->mailbox_get(t, "Sent/2024 ü", &out, &fx.err), 0);
	CU_ASSERT_EQUAL(out.uidvalidity, in.uidvalidity);
	CU_ASSERT_EQUAL(out.uidnext, in.uidnext);
	CU_ASSERT_EQUAL(out.highestmodseq, in.highestmodseq);
	CU_ASSERT_EQUAL(out.messages, 0);
	CU_ASSERT_EQUAL(memcmp(out.storage_stamp, in.storage_stamp, sizeof(in.storage_stamp)), 0);
	txn_abort(t);
}

static void test_mailbox_put_replaces_state_and_keeps_records(void)
{
	struct sluice_index_mailbox st = mbox_state(7, 100, 50), out;
	struct sluice_index_message m;
	struct sluice_index_txn *t = txn_begin_ok(true);

	mbox_create(t, "INBOX", 7);
	msg_put(t, "INBOX", 3, 4);
	CU_ASSERT_EQUAL(txn_commit(t), 0);
	t = txn_begin_ok(true);
	st.messages = 0;
	CU_ASSERT_EQUAL_FATAL(ixc_ops->mailbox_put(t, "INBOX", &st, &fx.err), 0);
	CU_ASSERT_EQUAL(txn_commit(t), 0);
	t = txn_begin_ok(false);
	CU_ASSERT_EQUAL_FATAL(ixc_ops->mailbox_get(t, "INBOX", &out, &fx.err), 0);
	CU_ASSERT_EQUAL(out.uidnext, 100);
	CU_ASSERT_EQUAL(out.highestmodseq, 50);
	CU_ASSERT_EQUAL(out.messages, 1);
	CU_ASSERT_EQUAL(ixc_ops->message_get(t, "INBOX", 3, &m, &fx.err), 0);
	txn_abort(t);
}

static void test_message_record_round_trips_every_field(void)
{
	static const char long_env[] = "(\"Mon, 1 Jan 2024 00:00:00 +0000\" \"a subject that "
	                               "is long enough to need more than one byte of length, "
	                               "with UTF-8: Grüße\" ((\"A\" NIL \"a\" \"b.c\")) NIL NIL "
	                               "NIL NIL NIL NIL \"<id@x>\")";
	struct sluice_index_message a = {
	    .uid = UINT32_MAX,
	    .flags = SLUICE_FLAGS_ALL,
	    .modseq = UINT64_MAX - 1,
	    .internal_date = INT64_MIN,
	    .internal_zone = -720,
	    .size = UINT64_MAX,
	    .key = "1700000000.M1P2.host,S=123",
	    .keywords = "$Forwarded Junk NonJunk",
	    .envelope = long_env,
	    .bodystructure = "",
	    .body = "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0)",
	};
	struct sluice_index_message b = {
	    .uid = 1,
	    .flags = 0,
	    .modseq = 0,
	    .internal_date = INT64_MAX,
	    .internal_zone = 840,
	    .size = 0,
	    .key = "k",
	    .keywords = "",
	    .envelope = NULL,
	    .bodystructure = NULL,
	    .body = NULL,
	};
	struct sluice_index_message out;
	struct sluice_index_txn *t = txn_begin_ok(true);

	mbox_create(t, "INBOX", 1);
	CU_ASSERT_EQUAL_FATAL(ixc_ops->message_put(t, "INBOX", &a, &fx.err), 0);
	CU_ASSERT_EQUAL_FATAL(ixc_ops->message_put(t, "INBOX", &b, &fx.err), 0);
	CU_ASSERT_EQUAL(txn_commit(t), 0);
	t = txn_begin_ok(false);
	CU_ASSERT_EQUAL_FATAL(ixc_ops->message_get(t, "INBOX", UINT32_MAX, &out, &fx.err), 0);
	CU_ASSERT_EQUAL(out.uid, a.uid);
	CU_ASSERT_EQUAL(out.flags, a.flags);
	CU_ASSERT_EQUAL(out.modseq, a.modseq);
	CU_ASSERT_EQUAL(out.internal_date, a.internal_date);
	CU_ASSERT_EQUAL(out.internal_zone, a.internal_zone);
	CU_ASSERT_EQUAL(out.size, a.size);
	CU_ASSERT_STRING_EQUAL(out.key, a.key);
	CU_ASSERT_STRING_EQUAL(out.keywords, a.keywords);
	CU_ASSERT_STRING_EQUAL(out.envelope, a.envelope);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out.bodystructure);
	CU_ASSERT_STRING_EQUAL(out.bodystructure, "");
	CU_ASSERT_STRING_EQUAL(out.body, a.body);
	CU_ASSERT_EQUAL_FATAL(ixc_ops->message_get(t, "INBOX", 1, &out, &fx.err), 0);
	CU_ASSERT_EQUAL(out.uid, 1);
	CU_ASSERT_EQUAL(out.flags, 0);
	CU_ASSERT_EQUAL(out.modseq, 0);
	CU_ASSERT_EQUAL(out.internal_date, INT64_MAX);
	CU_ASSERT_EQUAL(out.internal_zone, 840);
	CU_ASSERT_EQUAL(out.size, 0);
	CU_ASSERT_STRING_EQUAL(out.key, "k");
	CU_ASSERT_STRING_EQUAL(out.keywords, "");
	CU_ASSERT_PTR_NULL(out.envelope);
	CU_ASSERT_PTR_NULL(out.bodystructure);
	CU_ASSERT_PTR_NULL(out.body);
	CU_ASSERT_EQUAL(ixc_ops->message_get(t, "INBOX", 2, &out, &fx.err), SLUICE_NOTFOUND);
	txn_abort(t);
}

static void test_message_count_follows_inserts_replaces_and_expunges(void)
{
	struct sluice_index_mailbox st = mbox_state(1, 1, 1);
	struct sluice_index_txn *t = txn_begin_ok(true);

	mbox_create(t, "A", 1);
	mbox_create(t, "B", 2);
	for (uint32_t uid = 1; uid <= 5; uid++)
		msg_put(t, "A", uid, uid);
	msg_put(t, "B", 1, 1);
	msg_put(t, "A", 6, 6);  /* back to A after B */
	msg_put(t, "A", 3, 30); /* a replace is not a new message */
	CU_ASSERT_EQUAL(mbox_count(t, "A"), 6);
	CU_ASSERT_EQUAL(mbox_count(t, "B"), 1);
	CU_ASSERT_EQUAL(ixc_ops->message_expunge(t, "A", 2, 40, &fx.err), 0);
	CU_ASSERT_EQUAL(ixc_ops->message_expunge(t, "A", 2, 41, &fx.err), SLUICE_NOTFOUND);
	/* A caller's count is ignored, also in the middle of a run of message changes. */
	st.messages = 1000;
	CU_ASSERT_EQUAL_FATAL(ixc_ops->mailbox_put(t, "A", &st, &fx.err), 0);
	CU_ASSERT_EQUAL(mbox_count(t, "A"), 5);
	CU_ASSERT_EQUAL(txn_commit(t), 0);
	t = txn_begin_ok(false);
	CU_ASSERT_EQUAL(mbox_count(t, "A"), 5);
	CU_ASSERT_EQUAL(mbox_count(t, "B"), 1);
	txn_abort(t);
}

static void test_message_put_replaces_the_record_its_key_and_modseq(void)
{
	struct sluice_index_message m = {
	    .uid = 9, .flags = SLUICE_FLAG_SEEN, .modseq = 20, .key = "new-key", .keywords = "X"};
	struct sluice_index_message out;
	struct seen s = {0};
	struct sluice_index_txn *t = txn_begin_ok(true);
	char old_key[128];
	uint32_t uid;

	mbox_create(t, "INBOX", 1);
	msg_put(t, "INBOX", 9, 10);
	msg_put(t, "INBOX", 10, 11);
	CU_ASSERT_EQUAL(txn_commit(t), 0);
	t = txn_begin_ok(true);
	CU_ASSERT_EQUAL_FATAL(ixc_ops->message_put(t, "INBOX", &m, &fx.err), 0);
	CU_ASSERT_EQUAL(txn_commit(t), 0);

	t = txn_begin_ok(false);
	CU_ASSERT_EQUAL_FATAL(ixc_ops->message_get(t, "INBOX", 9, &out, &fx.err), 0);
	CU_ASSERT_EQUAL(out.flags, SLUICE_FLAG_SEEN);
	CU_ASSERT_EQUAL(out.modseq, 20);
	CU_ASSERT_STRING_EQUAL(out.keywords, "X");
	CU_ASSERT_PTR_NULL(out.envelope);
	CU_ASSERT_EQUAL(ixc_ops->message_find_key(t, "INBOX", "new-key", &uid, &fx.err), 0);
	CU_ASSERT_EQUAL(uid, 9);
	msg_key(old_key, sizeof(old_key), "INBOX", 9);
	CU_ASSERT_EQUAL(ixc_ops->message_find_key(t, "INBOX", old_key, &uid, &fx.err),
	                SLUICE_NOTFOUND);
	/* The old MODSEQ 10 is gone: UID 9 appears once, after UID 10. */
	CU_ASSERT_EQUAL(ixc_ops->message_changed_since(t, "INBOX", 0, seen_msg, &s, &fx.err), 0);
	CU_ASSERT_EQUAL_FATAL(s.n, 2);
	CU_ASSERT_EQUAL(s.uids[0], 10);
	CU_ASSERT_EQUAL(s.uids[1], 9);
	CU_ASSERT_EQUAL(s.modseqs[1], 20);
	CU_ASSERT_EQUAL(mbox_count(t, "INBOX"), 2);
	txn_abort(t);

	/* The same record stored again changes nothing. */
	t = txn_begin_ok(true);
	CU_ASSERT_EQUAL_FATAL(ixc_ops->message_put(t, "INBOX", &m, &fx.err), 0);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(ixc_ops->message_changed_since(t, "INBOX", 0, seen_msg, &s, &fx.err), 0);
	CU_ASSERT_EQUAL(s.n, 2);
	CU_ASSERT_EQUAL(ixc_ops->message_find_key(t, "INBOX", "new-key", &uid, &fx.err), 0);
	CU_ASSERT_EQUAL(txn_commit(t), 0);
}

static void test_find_key_is_per_mailbox(void)
{
	struct sluice_index_message m = {.uid = 4, .modseq = 1, .key = "shared", .keywords = ""};
	struct sluice_index_txn *t = txn_begin_ok(true);
	uint32_t uid = 0;

	mbox_create(t, "A", 1);
	mbox_create(t, "B", 1);
	CU_ASSERT_EQUAL_FATAL(ixc_ops->message_put(t, "A", &m, &fx.err), 0);
	m.uid = 8;
	CU_ASSERT_EQUAL_FATAL(ixc_ops->message_put(t, "B", &m, &fx.err), 0);
	CU_ASSERT_EQUAL(txn_commit(t), 0);
	t = txn_begin_ok(false);
	CU_ASSERT_EQUAL(ixc_ops->message_find_key(t, "A", "shared", &uid, &fx.err), 0);
	CU_ASSERT_EQUAL(uid, 4);
	CU_ASSERT_EQUAL(ixc_ops->message_find_key(t, "B", "shared", &uid, &fx.err), 0);
	CU_ASSERT_EQUAL(uid, 8);
	CU_ASSERT_EQUAL(ixc_ops->message_find_key(t, "A", "share", &uid, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(ixc_ops->message_find_key(t, "A", "shared2", &uid, &fx.err),
	                SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(ixc_ops->message_find_key(t, "A", "", &uid, &fx.err), SLUICE_NOTFOUND);
	txn_abort(t);
}

static void test_expunge_removes_the_record_and_remembers_it(void)
{
	struct sluice_index_message out;
	struct seen s = {0};
	struct sluice_index_txn *t = txn_begin_ok(true);
	char key[128];
	uint32_t uid;

	mbox_create(t, "INBOX", 1);
	for (uint32_t u = 1; u <= 3; u++)
		msg_put(t, "INBOX", u, u);
	CU_ASSERT_EQUAL(txn_commit(t), 0);
	t = txn_begin_ok(true);
	CU_ASSERT_EQUAL(ixc_ops->message_expunge(t, "INBOX", 2, 10, &fx.err), 0);
	CU_ASSERT_EQUAL(ixc_ops->message_expunge(t, "INBOX", 4, 10, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(txn_commit(t), 0);

	t = txn_begin_ok(false);
	CU_ASSERT_EQUAL(ixc_ops->message_get(t, "INBOX", 2, &out, &fx.err), SLUICE_NOTFOUND);
	msg_key(key, sizeof(key), "INBOX", 2);
	CU_ASSERT_EQUAL(ixc_ops->message_find_key(t, "INBOX", key, &uid, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(ixc_ops->message_changed_since(t, "INBOX", 0, seen_msg, &s, &fx.err), 0);
	seen_expect_uids(&s, (const uint32_t[]){1, 3}, 2);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(ixc_ops->expunged_since(t, "INBOX", 0, seen_expunge, &s, &fx.err), 0);
	CU_ASSERT_EQUAL_FATAL(s.n, 1);
	CU_ASSERT_EQUAL(s.uids[0], 2);
	CU_ASSERT_EQUAL(s.modseqs[0], 10);
	CU_ASSERT_EQUAL(mbox_count(t, "INBOX"), 2);
	txn_abort(t);
}

static void test_iterate_runs_in_uid_order_from_any_uid(void)
{
	static const uint32_t uids[] = {1, 2, 5, 9, 10, 100, 256, 257, 65536, 4000000000u};
	struct sluice_index_txn *t = txn_begin_ok(true);
	struct seen s = {.mailbox = "INBOX"};

	mbox_create(t, "INBOX", 1);
	/* Inserted out of order; the walk must still be by UID. */
	for (size_t i = sizeof(uids) / sizeof(uids[0]); i-- > 0;)
		msg_put(t, "INBOX", uids[i], 1000 - i);
	CU_ASSERT_EQUAL(txn_commit(t), 0);
	t = txn_begin_ok(false);
	CU_ASSERT_EQUAL(ixc_ops->message_iterate(t, "INBOX", 0, seen_msg, &s, &fx.err), 0);
	seen_expect_uids(&s, uids, 10);
	CU_ASSERT_EQUAL(s.damaged, 0);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(ixc_ops->message_iterate(t, "INBOX", 1, seen_msg, &s, &fx.err), 0);
	CU_ASSERT_EQUAL(s.n, 10);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(ixc_ops->message_iterate(t, "INBOX", 10, seen_msg, &s, &fx.err), 0);
	seen_expect_uids(&s, uids + 4, 6);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(ixc_ops->message_iterate(t, "INBOX", 11, seen_msg, &s, &fx.err), 0);
	seen_expect_uids(&s, uids + 5, 5);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(ixc_ops->message_iterate(t, "INBOX", 4000000000u, seen_msg, &s, &fx.err),
	                0);
	seen_expect_uids(&s, uids + 9, 1);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(ixc_ops->message_iterate(t, "INBOX", 4000000001u, seen_msg, &s, &fx.err),
	                0);
	CU_ASSERT_EQUAL(s.n, 0);
	txn_abort(t);
}

static void test_iterate_stops_with_the_callbacks_value(void)
{
	struct sluice_index_txn *t = txn_begin_ok(true);
	struct seen s = {.stop_after = 3};

	mbox_create(t, "INBOX", 1);
	for (uint32_t uid = 1; uid <= 10; uid++)
		msg_put(t, "INBOX", uid, uid);
	CU_ASSERT_EQUAL(ixc_ops->message_iterate(t, "INBOX", 1, seen_msg, &s, &fx.err), 77);
	CU_ASSERT_EQUAL(s.n, 3);
	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	CU_ASSERT_EQUAL(ixc_ops->message_changed_since(t, "INBOX", 5, seen_msg, &s, &fx.err), 77);
	seen_expect_uids(&s, (const uint32_t[]){6, 7}, 2);
	CU_ASSERT_EQUAL(txn_commit(t), 0);
	t = txn_begin_ok(false);
	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	CU_ASSERT_EQUAL(ixc_ops->message_iterate(t, "INBOX", 4, seen_msg, &s, &fx.err), 77);
	seen_expect_uids(&s, (const uint32_t[]){4}, 1);
	txn_abort(t);
}

/* Walks must not spill into neighbouring mailboxes, whichever side they are on. */
static void test_walks_see_only_their_mailbox(void)
{
	static const char *const names[] = {"A", "B", "C"};
	struct sluice_index_txn *t = txn_begin_ok(true);
	struct seen s = {.mailbox = "B"};

	for (size_t i = 0; i < 3; i++) {
		mbox_create(t, names[i], 1);
		for (uint32_t uid = 1; uid <= 5; uid++)
			msg_put(t, names[i], uid + (uint32_t)i, uid * 10 + i);
		CU_ASSERT_EQUAL(
		    ixc_ops->message_expunge(t, names[i], 1 + (uint32_t)i, 100 + i, &fx.err), 0);
	}
	for (int write = 1; write >= 0; write--) {
		if (!write) {
			CU_ASSERT_EQUAL(txn_commit(t), 0);
			t = txn_begin_ok(false);
		}
		memset(&s, 0, sizeof(s));
		s.mailbox = "B";
		CU_ASSERT_EQUAL(ixc_ops->message_iterate(t, "B", 0, seen_msg, &s, &fx.err), 0);
		seen_expect_uids(&s, (const uint32_t[]){3, 4, 5, 6}, 4);
		CU_ASSERT_EQUAL(s.damaged, 0);
		memset(&s, 0, sizeof(s));
		s.mailbox = "B";
		CU_ASSERT_EQUAL(ixc_ops->message_changed_since(t, "B", 0, seen_msg, &s, &fx.err),
		                0);
		seen_expect_uids(&s, (const uint32_t[]){3, 4, 5, 6}, 4);
		CU_ASSERT_EQUAL(s.damaged, 0);
		memset(&s, 0, sizeof(s));
		CU_ASSERT_EQUAL(ixc_ops->expunged_since(t, "B", 0, seen_expunge, &s, &fx.err), 0);
		seen_expect_uids(&s, (const uint32_t[]){2}, 1);
		memset(&s, 0, sizeof(s));
		CU_ASSERT_EQUAL(ixc_ops->message_iterate(t, "C", 0, seen_msg, &s, &fx.err), 0);
		seen_expect_uids(&s, (const uint32_t[]){4, 5, 6, 7}, 4);
	}
	txn_abort(t);
}

static void test_changed_since_runs_in_modseq_order_and_is_strict(void)
{
	/* UID order and MODSEQ order disagree on purpose, and two share a MODSEQ. */
	static const uint64_t modseqs[] = {0, 50, 30, 40, 30, 10, UINT64_MAX - 1};
	struct sluice_index_txn *t = txn_begin_ok(true);
	struct seen s = {.mailbox = "INBOX"};

	mbox_create(t, "INBOX", 1);
	for (uint32_t uid = 1; uid <= 6; uid++)
		msg_put(t, "INBOX", uid, modseqs[uid]);
	CU_ASSERT_EQUAL(txn_commit(t), 0);
	t = txn_begin_ok(false);
	CU_ASSERT_EQUAL(ixc_ops->message_changed_since(t, "INBOX", 0, seen_msg, &s, &fx.err), 0);
	seen_expect_uids(&s, (const uint32_t[]){5, 2, 4, 3, 1, 6}, 6);
	CU_ASSERT_EQUAL(s.damaged, 0);
	for (size_t i = 1; i < s.n; i++)
		CU_ASSERT(s.modseqs[i - 1] <= s.modseqs[i]);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(ixc_ops->message_changed_since(t, "INBOX", 30, seen_msg, &s, &fx.err), 0);
	seen_expect_uids(&s, (const uint32_t[]){3, 1, 6}, 3);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(ixc_ops->message_changed_since(t, "INBOX", 29, seen_msg, &s, &fx.err), 0);
	seen_expect_uids(&s, (const uint32_t[]){2, 4, 3, 1, 6}, 5);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(
	    ixc_ops->message_changed_since(t, "INBOX", UINT64_MAX - 2, seen_msg, &s, &fx.err), 0);
	seen_expect_uids(&s, (const uint32_t[]){6}, 1);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(
	    ixc_ops->message_changed_since(t, "INBOX", UINT64_MAX - 1, seen_msg, &s, &fx.err), 0);
	CU_ASSERT_EQUAL(s.n, 0);
	CU_ASSERT_EQUAL(
	    ixc_ops->message_changed_since(t, "INBOX", UINT64_MAX, seen_msg, &s, &fx.err), 0);
	CU_ASSERT_EQUAL(s.n, 0);
	txn_abort(t);
}

static void test_expunged_since_runs_in_modseq_order_and_is_strict(void)
{
	struct sluice_index_txn *t = txn_begin_ok(true);
	struct seen s = {0};

	mbox_create(t, "INBOX", 1);
	for (uint32_t uid = 1; uid <= 6; uid++)
		msg_put(t, "INBOX", uid, uid);
	/* One EXPUNGE command expunges several messages at one MODSEQ. */
	CU_ASSERT_EQUAL(ixc_ops->message_expunge(t, "INBOX", 5, 20, &fx.err), 0);
	CU_ASSERT_EQUAL(ixc_ops->message_expunge(t, "INBOX", 2, 20, &fx.err), 0);
	CU_ASSERT_EQUAL(ixc_ops->message_expunge(t, "INBOX", 6, 9, &fx.err), 0);
	CU_ASSERT_EQUAL(ixc_ops->message_expunge(t, "INBOX", 1, 30, &fx.err), 0);
	CU_ASSERT_EQUAL(txn_commit(t), 0);
	t = txn_begin_ok(false);
	CU_ASSERT_EQUAL(ixc_ops->expunged_since(t, "INBOX", 0, seen_expunge, &s, &fx.err), 0);
	CU_ASSERT_EQUAL_FATAL(s.n, 4);
	CU_ASSERT_EQUAL(s.uids[0], 6);
	CU_ASSERT_EQUAL(s.modseqs[0], 9);
	CU_ASSERT_EQUAL(s.modseqs[1], 20);
	CU_ASSERT_EQUAL(s.modseqs[2], 20);
	CU_ASSERT((s.uids[1] == 2 && s.uids[2] == 5) || (s.uids[1] == 5 && s.uids[2] == 2));
	CU_ASSERT_EQUAL(s.uids[3], 1);
	CU_ASSERT_EQUAL(s.modseqs[3], 30);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(ixc_ops->expunged_since(t, "INBOX", 20, seen_expunge, &s, &fx.err), 0);
	seen_expect_uids(&s, (const uint32_t[]){1}, 1);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(ixc_ops->expunged_since(t, "INBOX", 19, seen_expunge, &s, &fx.err), 0);
	CU_ASSERT_EQUAL(s.n, 3);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(ixc_ops->expunged_since(t, "INBOX", 30, seen_expunge, &s, &fx.err), 0);
	CU_ASSERT_EQUAL(s.n, 0);
	txn_abort(t);
}

static void test_rename_keeps_state_records_and_history(void)
{
	struct sluice_index_mailbox st;
	struct sluice_index_message m;
	struct seen s = {.mailbox = "Old"};
	struct sluice_index_txn *t = txn_begin_ok(true);
	char key[128];
	uint32_t uid;

	mbox_create(t, "Old", 77);
	mbox_create(t, "Taken", 78);
	for (uint32_t u = 1; u <= 4; u++)
		msg_put(t, "Old", u, u);
	CU_ASSERT_EQUAL(ixc_ops->message_expunge(t, "Old", 4, 5, &fx.err), 0);
	CU_ASSERT_EQUAL(txn_commit(t), 0);

	t = txn_begin_ok(true);
	msg_put(t, "Old", 7, 7); /* a count not yet written back when the rename comes */
	CU_ASSERT_EQUAL(ixc_ops->mailbox_rename(t, "Old", "Taken", &fx.err), SLUICE_E_EXISTS);
	CU_ASSERT_EQUAL(ixc_ops->mailbox_rename(t, "Old", "Old", &fx.err), SLUICE_E_EXISTS);
	CU_ASSERT_EQUAL(ixc_ops->mailbox_rename(t, "Nope", "New", &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(mbox_count(t, "Old"), 4);
	CU_ASSERT_EQUAL(mbox_count(t, "Taken"), 0);
	CU_ASSERT_EQUAL(ixc_ops->mailbox_rename(t, "Old", "New/Name", &fx.err), 0);
	CU_ASSERT_EQUAL(txn_commit(t), 0);

	t = txn_begin_ok(false);
	CU_ASSERT_EQUAL(ixc_ops->mailbox_get(t, "Old", &st, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL_FATAL(ixc_ops->mailbox_get(t, "New/Name", &st, &fx.err), 0);
	CU_ASSERT_EQUAL(st.uidvalidity, 77);
	CU_ASSERT_EQUAL(st.messages, 4);
	CU_ASSERT_EQUAL(ixc_ops->message_iterate(t, "New/Name", 0, seen_msg, &s, &fx.err), 0);
	seen_expect_uids(&s, (const uint32_t[]){1, 2, 3, 7}, 4);
	CU_ASSERT_EQUAL(s.damaged, 0); /* keys keep the old name: they are the storage's */
	msg_key(key, sizeof(key), "Old", 2);
	CU_ASSERT_EQUAL(ixc_ops->message_find_key(t, "New/Name", key, &uid, &fx.err), 0);
	CU_ASSERT_EQUAL(uid, 2);
	CU_ASSERT_EQUAL(ixc_ops->message_get(t, "New/Name", 3, &m, &fx.err), 0);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(ixc_ops->expunged_since(t, "New/Name", 0, seen_expunge, &s, &fx.err), 0);
	seen_expect_uids(&s, (const uint32_t[]){4}, 1);
	CU_ASSERT_EQUAL(mbox_count(t, "Taken"), 0);
	txn_abort(t);
}

static void test_delete_forgets_records_and_expunges(void)
{
	struct sluice_index_mailbox st;
	struct sluice_index_message m;
	struct seen s = {0};
	struct sluice_index_txn *t = txn_begin_ok(true);
	char key[128];
	uint32_t uid;

	mbox_create(t, "A", 1);
	mbox_create(t, "Trash", 2);
	mbox_create(t, "Z", 3);
	for (const char *const *n = (const char *const[]){"A", "Trash", "Z", NULL}; *n; n++) {
		for (uint32_t u = 1; u <= 50; u++)
			msg_put(t, *n, u, u);
		CU_ASSERT_EQUAL(ixc_ops->message_expunge(t, *n, 50, 60, &fx.err), 0);
	}
	CU_ASSERT_EQUAL(txn_commit(t), 0);

	t = txn_begin_ok(true);
	msg_put(t, "Trash", 51, 61);
	CU_ASSERT_EQUAL(ixc_ops->mailbox_delete(t, "Trash", &fx.err), 0);
	CU_ASSERT_EQUAL(ixc_ops->mailbox_delete(t, "Trash", &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(ixc_ops->mailbox_get(t, "Trash", &st, &fx.err), SLUICE_NOTFOUND);
	mbox_create(t, "Trash", 9);
	CU_ASSERT_EQUAL(txn_commit(t), 0);

	t = txn_begin_ok(false);
	CU_ASSERT_EQUAL(mbox_count(t, "Trash"), 0);
	CU_ASSERT_EQUAL(ixc_ops->message_get(t, "Trash", 1, &m, &fx.err), SLUICE_NOTFOUND);
	msg_key(key, sizeof(key), "Trash", 1);
	CU_ASSERT_EQUAL(ixc_ops->message_find_key(t, "Trash", key, &uid, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(ixc_ops->message_iterate(t, "Trash", 0, seen_msg, &s, &fx.err), 0);
	CU_ASSERT_EQUAL(ixc_ops->message_changed_since(t, "Trash", 0, seen_msg, &s, &fx.err), 0);
	CU_ASSERT_EQUAL(ixc_ops->expunged_since(t, "Trash", 0, seen_expunge, &s, &fx.err), 0);
	CU_ASSERT_EQUAL(s.n, 0);
	for (const char *const *n = (const char *const[]){"A", "Z", NULL}; *n; n++) {
		memset(&s, 0, sizeof(s));
		s.mailbox = *n;
		CU_ASSERT_EQUAL(mbox_count(t, *n), 49);
		CU_ASSERT_EQUAL(ixc_ops->message_iterate(t, *n, 0, seen_msg, &s, &fx.err), 0);
		CU_ASSERT_EQUAL(s.n, 49);
		CU_ASSERT_EQUAL(s.damaged, 0);
		memset(&s, 0, sizeof(s));
		CU_ASSERT_EQUAL(ixc_ops->expunged_since(t, *n, 0, seen_expunge, &s, &fx.err), 0);
		CU_ASSERT_EQUAL(s.n, 1);
	}
	txn_abort(t);
}

static void test_read_txn_does_not_see_a_later_commit(void)
{
	struct sluice_index_txn *w = txn_begin_ok(true), *r, *r2;
	struct sluice_index_message m;
	struct sluice_index_mailbox st;
	struct seen s = {0};

	mbox_create(w, "INBOX", 1);
	msg_put(w, "INBOX", 1, 1);
	CU_ASSERT_EQUAL(txn_commit(w), 0);

	r = txn_begin_ok(false);
	w = txn_begin_ok(true);
	msg_put(w, "INBOX", 2, 2);
	CU_ASSERT_EQUAL(ixc_ops->message_expunge(w, "INBOX", 1, 3, &fx.err), 0);
	mbox_create(w, "New", 2);
	CU_ASSERT_EQUAL(txn_commit(w), 0);

	CU_ASSERT_EQUAL(mbox_count(r, "INBOX"), 1);
	CU_ASSERT_EQUAL(ixc_ops->message_get(r, "INBOX", 1, &m, &fx.err), 0);
	CU_ASSERT_EQUAL(ixc_ops->message_get(r, "INBOX", 2, &m, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(ixc_ops->mailbox_get(r, "New", &st, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(ixc_ops->expunged_since(r, "INBOX", 0, seen_expunge, &s, &fx.err), 0);
	CU_ASSERT_EQUAL(s.n, 0);

	r2 = txn_begin_ok(false);
	CU_ASSERT_EQUAL(mbox_count(r2, "INBOX"), 1);
	CU_ASSERT_EQUAL(ixc_ops->message_get(r2, "INBOX", 1, &m, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(ixc_ops->message_get(r2, "INBOX", 2, &m, &fx.err), 0);
	CU_ASSERT_EQUAL(ixc_ops->mailbox_get(r2, "New", &st, &fx.err), 0);
	txn_abort(r2);
	/* A reader may end with commit as well as with abort. */
	CU_ASSERT_EQUAL(txn_commit(r), 0);
}

static void test_abort_discards_every_change(void)
{
	struct sluice_index_txn *t = txn_begin_ok(true);
	struct sluice_index_message m;
	struct sluice_index_mailbox st;
	struct seen s = {0};

	mbox_create(t, "INBOX", 1);
	msg_put(t, "INBOX", 1, 1);
	CU_ASSERT_EQUAL(txn_commit(t), 0);
	t = txn_begin_ok(true);
	msg_put(t, "INBOX", 2, 2);
	msg_put_full(t, "INBOX", 1, 5, SLUICE_FLAG_DELETED);
	mbox_create(t, "Gone", 2);
	CU_ASSERT_EQUAL(ixc_ops->mailbox_rename(t, "INBOX", "Moved", &fx.err), 0);
	txn_abort(t);

	t = txn_begin_ok(false);
	CU_ASSERT_EQUAL(mbox_count(t, "INBOX"), 1);
	CU_ASSERT_EQUAL(ixc_ops->mailbox_get(t, "Gone", &st, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(ixc_ops->mailbox_get(t, "Moved", &st, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL_FATAL(ixc_ops->message_get(t, "INBOX", 1, &m, &fx.err), 0);
	CU_ASSERT_EQUAL(m.flags, 0);
	CU_ASSERT_EQUAL(m.modseq, 1);
	CU_ASSERT_EQUAL(ixc_ops->message_changed_since(t, "INBOX", 1, seen_msg, &s, &fx.err), 0);
	CU_ASSERT_EQUAL(s.n, 0);
	txn_abort(t);
}

static void test_write_txn_sees_its_own_changes(void)
{
	struct sluice_index_txn *t = txn_begin_ok(true);
	struct sluice_index_message m;
	struct seen s = {.mailbox = "INBOX"};
	char key[128];
	uint32_t uid;

	mbox_create(t, "INBOX", 1);
	msg_put(t, "INBOX", 1, 1);
	msg_put(t, "INBOX", 2, 2);
	CU_ASSERT_EQUAL(mbox_count(t, "INBOX"), 2);
	CU_ASSERT_EQUAL(ixc_ops->message_get(t, "INBOX", 2, &m, &fx.err), 0);
	CU_ASSERT(msg_is_intact(&m, "INBOX"));
	msg_key(key, sizeof(key), "INBOX", 1);
	CU_ASSERT_EQUAL(ixc_ops->message_find_key(t, "INBOX", key, &uid, &fx.err), 0);
	CU_ASSERT_EQUAL(ixc_ops->message_iterate(t, "INBOX", 0, seen_msg, &s, &fx.err), 0);
	CU_ASSERT_EQUAL(s.n, 2);
	CU_ASSERT_EQUAL(s.damaged, 0);
	CU_ASSERT_EQUAL(ixc_ops->message_expunge(t, "INBOX", 1, 3, &fx.err), 0);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(ixc_ops->expunged_since(t, "INBOX", 2, seen_expunge, &s, &fx.err), 0);
	CU_ASSERT_EQUAL(s.n, 1);
	CU_ASSERT_EQUAL(txn_commit(t), 0);
}

static void test_writes_in_a_read_txn_fail(void)
{
	struct sluice_index_txn *t = txn_begin_ok(true);
	struct sluice_index_mailbox st = mbox_state(1, 1, 1);

	mbox_create(t, "INBOX", 1);
	msg_put(t, "INBOX", 1, 1);
	CU_ASSERT_EQUAL(txn_commit(t), 0);
	t = txn_begin_ok(false);
	memset(&fx.err, 0, sizeof(fx.err));
	CU_ASSERT(ixc_ops->mailbox_put(t, "X", &st, &fx.err) < 0);
	CU_ASSERT(fx.err.code < 0 && fx.err.msg[0] != '\0');
	CU_ASSERT(ixc_ops->message_expunge(t, "INBOX", 1, 2, &fx.err) < 0);
	CU_ASSERT(ixc_ops->mailbox_delete(t, "INBOX", &fx.err) < 0);
	CU_ASSERT(ixc_ops->mailbox_rename(t, "INBOX", "Y", &fx.err) < 0);
	CU_ASSERT_EQUAL(mbox_count(t, "INBOX"), 1);
	txn_abort(t);
}

static void test_strings_stay_valid_until_the_txn_ends(void)
{
	struct sluice_index_txn *t = txn_begin_ok(true);
	struct sluice_index_message m1, m2;
	char key1[128];

	mbox_create(t, "INBOX", 1);
	msg_put(t, "INBOX", 1, 1);
	msg_put(t, "INBOX", 2, 2);
	CU_ASSERT_EQUAL_FATAL(ixc_ops->message_get(t, "INBOX", 1, &m1, &fx.err), 0);
	CU_ASSERT_EQUAL_FATAL(ixc_ops->message_get(t, "INBOX", 2, &m2, &fx.err), 0);
	/* Enough writes to move, split and reuse pages under the first records. */
	for (uint32_t uid = 3; uid <= 3000; uid++)
		msg_put(t, "INBOX", uid, uid);
	msg_put_full(t, "INBOX", 1, 9999, SLUICE_FLAG_SEEN);
	CU_ASSERT_EQUAL(ixc_ops->message_expunge(t, "INBOX", 2, 10000, &fx.err), 0);
	msg_key(key1, sizeof(key1), "INBOX", 1);
	CU_ASSERT(msg_is_intact(&m1, "INBOX"));
	CU_ASSERT(msg_is_intact(&m2, "INBOX"));
	CU_ASSERT_EQUAL(m1.modseq, 1);
	CU_ASSERT_STRING_EQUAL(m1.key, key1);
	CU_ASSERT_EQUAL(txn_commit(t), 0);

	t = txn_begin_ok(false);
	CU_ASSERT_EQUAL_FATAL(ixc_ops->message_get(t, "INBOX", 1, &m1, &fx.err), 0);
	CU_ASSERT_EQUAL_FATAL(ixc_ops->message_get(t, "INBOX", 3000, &m2, &fx.err), 0);
	CU_ASSERT(msg_is_intact(&m1, "INBOX"));
	CU_ASSERT(msg_is_intact(&m2, "INBOX"));
	txn_abort(t);
}

/* A callback of a write transaction that writes: bumps each message it is shown. */
struct rewriter {
	struct sluice_index_txn *t;
	const char *mailbox;
	uint64_t next_modseq;
	unsigned calls, damaged, failed;
};

static int rewrite_cb(void *ctx, const struct sluice_index_message *m)
{
	struct rewriter *r = ctx;
	uint32_t uid = m->uid;
	struct sluice_error err = SLUICE_ERROR_INIT;

	if (!msg_is_intact(m, r->mailbox))
		r->damaged++;
	if (++r->calls > 10000)
		return 1; /* a walk that would never end */
	if (msg_put_rc(r->t, r->mailbox, uid, r->next_modseq++, SLUICE_FLAG_SEEN, &err) != 0)
		r->failed++;
	/* The record handed in must survive the callback's own write. */
	if (m->uid != uid || !msg_is_intact(m, r->mailbox))
		r->damaged++;
	if (uid % 10 == 0 && ixc_ops->message_expunge(r->t, r->mailbox, uid + 1, 1, &err) < 0)
		r->failed++;
	return 0;
}

static void test_callbacks_may_write_in_a_write_txn(void)
{
	struct sluice_index_txn *t = txn_begin_ok(true);
	struct rewriter r = {.t = t, .mailbox = "INBOX", .next_modseq = 1000};
	struct seen s = {0};

	mbox_create(t, "INBOX", 1);
	for (uint32_t uid = 1; uid <= 100; uid++)
		msg_put(t, "INBOX", uid, uid);
	CU_ASSERT_EQUAL(ixc_ops->message_iterate(t, "INBOX", 1, rewrite_cb, &r, &fx.err), 0);
	/* UIDs 11, 21, ..., 91 went before the walk reached them. */
	CU_ASSERT_EQUAL(r.calls, 91);
	CU_ASSERT_EQUAL(r.damaged, 0);
	CU_ASSERT_EQUAL(r.failed, 0);
	/* Raising MODSEQs while walking by MODSEQ must not show a message twice. */
	memset(&r, 0, sizeof(r));
	r.t = t;
	r.mailbox = "INBOX";
	r.next_modseq = 5000;
	CU_ASSERT_EQUAL(ixc_ops->message_changed_since(t, "INBOX", 1050, rewrite_cb, &r, &fx.err),
	                0);
	CU_ASSERT_EQUAL(r.calls, 40);
	CU_ASSERT_EQUAL(r.damaged, 0);
	CU_ASSERT_EQUAL(r.failed, 0);
	CU_ASSERT_EQUAL(ixc_ops->message_changed_since(t, "INBOX", 4999, seen_msg, &s, &fx.err), 0);
	CU_ASSERT_EQUAL(s.n, 40);
	CU_ASSERT_EQUAL(txn_commit(t), 0);
}

static void test_two_opens_of_one_user_share_the_index(void)
{
	struct sluice_index_user *second = NULL;
	struct sluice_index_txn *t, *r;
	struct sluice_index_message m;

	CU_ASSERT_FATAL(fx.ready);
	CU_ASSERT_EQUAL_FATAL(ixc_ops->user_open(ixc_module.modctx, &fx.user, &second, &fx.err), 0);
	t = txn_begin_ok(true);
	mbox_create(t, "INBOX", 1);
	msg_put(t, "INBOX", 1, 1);
	CU_ASSERT_EQUAL(txn_commit(t), 0);

	r = txn_begin_on(second, false);
	CU_ASSERT_EQUAL(ixc_ops->message_get(r, "INBOX", 1, &m, &fx.err), 0);
	txn_abort(r);
	/* A reader on one handle while the other writes. */
	r = txn_begin_ok(false);
	t = txn_begin_on(second, true);
	msg_put(t, "INBOX", 2, 2);
	CU_ASSERT_EQUAL(txn_commit(t), 0);
	CU_ASSERT_EQUAL(ixc_ops->message_get(r, "INBOX", 2, &m, &fx.err), SLUICE_NOTFOUND);
	txn_abort(r);

	/* Closing one handle leaves the other working. */
	ixc_ops->user_close(fx.iu);
	fx.iu = second;
	t = txn_begin_ok(true);
	msg_put(t, "INBOX", 3, 3);
	CU_ASSERT_EQUAL(txn_commit(t), 0);
	r = txn_begin_ok(false);
	CU_ASSERT_EQUAL(mbox_count(r, "INBOX"), 3);
	txn_abort(r);
}

static void test_users_do_not_see_each_other(void)
{
	struct sluice_user bob = fx.user;
	struct sluice_index_user *ib = NULL;
	struct sluice_index_mailbox st;
	struct sluice_index_txn *t, *tb;

	CU_ASSERT_FATAL(fx.ready);
	bob.name = "bob";
	CU_ASSERT_EQUAL_FATAL(ixc_ops->user_open(ixc_module.modctx, &bob, &ib, &fx.err), 0);
	t = txn_begin_ok(true);
	mbox_create(t, "INBOX", 1);
	/* Two users write at the same time: separate indexes do not wait for each other. */
	tb = txn_begin_on(ib, true);
	mbox_create(tb, "Bob's", 2);
	CU_ASSERT_EQUAL(txn_commit(tb), 0);
	CU_ASSERT_EQUAL(txn_commit(t), 0);
	tb = txn_begin_on(ib, false);
	CU_ASSERT_EQUAL(ixc_ops->mailbox_get(tb, "INBOX", &st, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(ixc_ops->mailbox_get(tb, "Bob's", &st, &fx.err), 0);
	txn_abort(tb);
	t = txn_begin_ok(false);
	CU_ASSERT_EQUAL(ixc_ops->mailbox_get(t, "Bob's", &st, &fx.err), SLUICE_NOTFOUND);
	txn_abort(t);
	ixc_ops->user_close(ib);
}

/* Readers check that every snapshot is whole while a writer keeps committing. */
struct race {
	struct sluice_index_user *iu;
	atomic_bool stop;
	atomic_uint snapshots, torn, errors;
};

static int count_cb(void *ctx, const struct sluice_index_message *m)
{
	uint32_t *n = ctx;

	if (msg_is_intact(m, "INBOX"))
		(*n)++;
	return 0;
}

static void *reader_main(void *arg)
{
	struct race *race = arg;
	uint32_t last = 0;

	while (!atomic_load(&race->stop)) {
		struct sluice_error err = SLUICE_ERROR_INIT;
		struct sluice_index_mailbox st;
		struct sluice_index_txn *t;
		uint32_t n = 0;

		if (ixc_ops->txn_begin(race->iu, false, &t, &err) < 0) {
			atomic_fetch_add(&race->errors, 1);
			continue;
		}
		if (ixc_ops->mailbox_get(t, "INBOX", &st, &err) == 0) {
			if (ixc_ops->message_iterate(t, "INBOX", 0, count_cb, &n, &err) < 0)
				atomic_fetch_add(&race->errors, 1);
			else if (n != st.messages || st.messages < last)
				atomic_fetch_add(&race->torn, 1);
			last = st.messages;
			atomic_fetch_add(&race->snapshots, 1);
		}
		ixc_ops->txn_abort(t);
	}
	return NULL;
}

static void test_readers_run_while_a_writer_commits(void)
{
	struct race race = {.iu = fx.iu};
	pthread_t readers[4];
	uint32_t uid = 0;

	CU_ASSERT_FATAL(fx.ready);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&readers[i], NULL, reader_main, &race), 0);
	for (int round = 0; round < 40; round++) {
		struct sluice_index_txn *t = txn_begin_ok(true);

		if (round == 0)
			mbox_create(t, "INBOX", 1);
		for (int i = 0; i < 25; i++) {
			uid++;
			msg_put(t, "INBOX", uid, uid);
		}
		if (round % 4 == 3)
			CU_ASSERT_EQUAL(ixc_ops->message_expunge(t, "INBOX", uid - 3, uid, &fx.err),
			                0);
		CU_ASSERT_EQUAL(txn_commit(t), 0);
	}
	atomic_store(&race.stop, true);
	for (int i = 0; i < 4; i++)
		pthread_join(readers[i], NULL);
	CU_ASSERT(atomic_load(&race.snapshots) > 0);
	CU_ASSERT_EQUAL(atomic_load(&race.torn), 0);
	CU_ASSERT_EQUAL(atomic_load(&race.errors), 0);
	printf("\n    %u snapshots read by 4 readers during 40 commits ",
	       atomic_load(&race.snapshots));
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static int perf_count_cb(void *ctx, const struct sluice_index_message *m)
{
	size_t *n = ctx;

	*n += m->key[0] != '\0';
	return 0;
}

/* Measures bulk insert, a full walk and a CONDSTORE query; prints, asserts only results. */
static void test_performance_of_a_large_mailbox(void)
{
	const char *env = getenv("SLUICE_PERF_MESSAGES");
	uint32_t n = env != NULL ? (uint32_t)strtoul(env, NULL, 10) : 100000;
	struct sluice_index_txn *t;
	struct timespec t0;
	double insert_s, commit_s, iter_s, changed_s, get_s;
	size_t count = 0, changed = 0;

	if (n < 100)
		n = 100;
	t = txn_begin_ok(true);
	mbox_create(t, "INBOX", 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint32_t uid = 1; uid <= n; uid++)
		msg_put_full(t, "INBOX", uid, uid, SLUICE_FLAG_SEEN);
	insert_s = seconds_since(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CU_ASSERT_EQUAL_FATAL(txn_commit(t), 0);
	commit_s = seconds_since(&t0);

	t = txn_begin_ok(false);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CU_ASSERT_EQUAL(ixc_ops->message_iterate(t, "INBOX", 0, perf_count_cb, &count, &fx.err), 0);
	iter_s = seconds_since(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CU_ASSERT_EQUAL(
	    ixc_ops->message_changed_since(t, "INBOX", n - 10, perf_count_cb, &changed, &fx.err),
	    0);
	changed_s = seconds_since(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint32_t uid = 1; uid <= n; uid += 97) {
		struct sluice_index_message m;
		CU_ASSERT_EQUAL_FATAL(ixc_ops->message_get(t, "INBOX", uid, &m, &fx.err), 0);
	}
	get_s = seconds_since(&t0);
	CU_ASSERT_EQUAL(count, n);
	CU_ASSERT_EQUAL(changed, 10);
	CU_ASSERT_EQUAL(mbox_count(t, "INBOX"), n);
	txn_abort(t);
	printf("\n    %u records: insert %.0f ms (%.2f us each) + commit %.0f ms; "
	       "iterate %.1f ms (%.0f ns each); changed_since 10 of %u: %.1f us; "
	       "message_get %.2f us each ",
	       n, insert_s * 1e3, insert_s * 1e6 / n, commit_s * 1e3, iter_s * 1e3,
	       iter_s * 1e9 / n, n, changed_s * 1e6, get_s * 1e6 / ((n + 96) / 97));
}

static int ixc_suite_init(void)
{
	const char *path = getenv("SLUICE_INDEX_MODULE");

	if (path == NULL)
		path = "lmdb.so";
	if (fixture_module_load(&ixc_module, path, SLUICE_KIND_INDEX) < 0)
		return -1;
	ixc_mod = ixc_module.desc;
	ixc_ops = ixc_mod->ops;
	return 0;
}

static int ixc_suite_cleanup(void)
{
	fixture_module_unload(&ixc_module);
	return 0;
}

static CU_TestInfo ixc_tests[] = {
    {"descriptor is an index with every op", test_descriptor_is_an_index_with_every_op},
    {"unknown mailbox is NOTFOUND everywhere", test_unknown_mailbox_is_notfound_everywhere},
    {"mailbox state round-trips, input count is ignored",
     test_mailbox_state_round_trips_and_input_count_is_ignored},
    {"mailbox_put replaces state and keeps records",
     test_mailbox_put_replaces_state_and_keeps_records},
    {"message record round-trips every field", test_message_record_round_trips_every_field},
    {"message count follows inserts, replaces and expunges",
     test_message_count_follows_inserts_replaces_and_expunges},
    {"message_put replaces the record, its key and MODSEQ",
     test_message_put_replaces_the_record_its_key_and_modseq},
    {"find_key is per mailbox", test_find_key_is_per_mailbox},
    {"expunge removes the record and remembers it",
     test_expunge_removes_the_record_and_remembers_it},
    {"iterate runs in UID order from any UID", test_iterate_runs_in_uid_order_from_any_uid},
    {"iterate stops with the callback's value", test_iterate_stops_with_the_callbacks_value},
    {"walks see only their mailbox", test_walks_see_only_their_mailbox},
    {"changed_since runs in MODSEQ order and is strict",
     test_changed_since_runs_in_modseq_order_and_is_strict},
    {"expunged_since runs in MODSEQ order and is strict",
     test_expunged_since_runs_in_modseq_order_and_is_strict},
    {"rename keeps state, records and history", test_rename_keeps_state_records_and_history},
    {"delete forgets records and expunges", test_delete_forgets_records_and_expunges},
    {"read txn does not see a later commit", test_read_txn_does_not_see_a_later_commit},
    {"abort discards every change", test_abort_discards_every_change},
    {"write txn sees its own changes", test_write_txn_sees_its_own_changes},
    {"writes in a read txn fail", test_writes_in_a_read_txn_fail},
    {"strings stay valid until the txn ends", test_strings_stay_valid_until_the_txn_ends},
    {"callbacks may write in a write txn", test_callbacks_may_write_in_a_write_txn},
    {"two opens of one user share the index", test_two_opens_of_one_user_share_the_index},
    {"users do not see each other", test_users_do_not_see_each_other},
    {"4 readers run while a writer commits", test_readers_run_while_a_writer_commits},
    {"performance of a large mailbox", test_performance_of_a_large_mailbox},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo index_conformance_suites[] = {
    {"index-conformance", ixc_suite_init, ixc_suite_cleanup, fx_setup, fx_teardown, ixc_tests},
    CU_SUITE_INFO_NULL,
};
