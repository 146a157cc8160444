/*
 * Tests of what is particular to the lmdb index module, beyond the index conformance
 * suite: its settings and path template (a user name must never lead the index out of
 * its directory), how it answers damaged data (records overwritten with garbage through
 * the LMDB API itself, a data file that is not LMDB, an index of another format), its
 * limits (a full map, too many readers, keys LMDB cannot hold), the sharing of one
 * environment per directory, read transactions that move between threads, and the
 * space the index takes on disk.
 *
 * The module is loaded as the server loads it; each test works in its own directory
 * under /tmp, removed by the teardown with every handle the test left open.
 */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sluice/index.h>

#include "conf/settings.h"
#include "module-fixture.h"
#include "util/pool.h"

static struct fixture_module lm_module;
static const struct sluice_module *lm_mod;
static const struct sluice_index_ops *lm_ops;

static unsigned log_count(const char *needle)
{
	return fixture_log_count(&lm_module, needle);
}

#define LM_MAX_USERS 16

static struct {
	char dir[64];
	struct sluice_pool *pool;
	struct sluice_index_user *users[LM_MAX_USERS];
	struct sluice_error err;
} fx;

static void lm_setup(void)
{
	memset(&fx, 0, sizeof(fx));
	fixture_tempdir(fx.dir, sizeof(fx.dir), "sluice-lmdb");
	fx.pool = pool_create(1024, 0);
	fixture_log_clear(&lm_module);
}

static void lm_stop(void)
{
	for (size_t i = 0; i < LM_MAX_USERS; i++) {
		if (fx.users[i] != NULL)
			lm_ops->user_close(fx.users[i]);
		fx.users[i] = NULL;
	}
	fixture_module_stop(&lm_module);
}

static void lm_teardown(void)
{
	lm_stop();
	pool_destroy(&fx.pool);
	fixture_remove_tree(fx.dir);
}

/* A settings struct: defaults, then "key=value;..." with %T for the test dir. */
static void *conf_make(const char *settings)
{
	char text[1024];
	size_t n = 0;
	void *conf;

	CU_ASSERT_FATAL(fx.dir[0] != '\0');
	for (const char *p = settings; *p != '\0' && n + 64 < sizeof(text); p++) {
		if (p[0] == '%' && p[1] == 'T') {
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", fx.dir);
			p++;
		} else {
			text[n++] = *p;
		}
	}
	text[n] = '\0';
	CU_ASSERT_EQUAL_FATAL(fixture_conf_new(&lm_module, text, &conf), 0);
	return conf;
}

/* Starts the module with @settings; returns init's result. */
static int lm_start(const char *settings)
{
	return fixture_module_init(&lm_module, conf_make(settings), &fx.err);
}

static struct sluice_user user_named(const char *name, const char *home)
{
	return (struct sluice_user){.name = name, .uid = (uid_t)-1, .gid = (gid_t)-1, .home = home};
}

/* Opens a user and keeps the handle for the teardown; returns user_open's result. */
static int lm_open(const struct sluice_user *u, struct sluice_index_user **iu_r)
{
	struct sluice_index_user *iu = NULL;
	int rc;

	memset(&fx.err, 0, sizeof(fx.err));
	rc = lm_ops->user_open(lm_module.modctx, u, &iu, &fx.err);
	if (rc == 0) {
		size_t i = 0;
		while (i < LM_MAX_USERS && fx.users[i] != NULL)
			i++;
		CU_ASSERT_FATAL(i < LM_MAX_USERS);
		fx.users[i] = iu;
	}
	if (iu_r != NULL)
		*iu_r = iu;
	return rc;
}

static void lm_close(struct sluice_index_user *iu)
{
	for (size_t i = 0; i < LM_MAX_USERS; i++)
		if (fx.users[i] == iu)
			fx.users[i] = NULL;
	lm_ops->user_close(iu);
}

static bool is_dir_with_mode(const char *path, mode_t mode)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == mode;
}

static size_t dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void msg_fill(struct sluice_index_message *m, char *key, size_t key_size, uint32_t uid)
{
	snprintf(key, key_size, "1700000000.M%uP4242Q%u.mail.example.org", uid, uid % 9);
	*m = (struct sluice_index_message){
	    .uid = uid,
	    .flags = SLUICE_FLAG_SEEN,
	    .modseq = uid,
	    .internal_date = 1700000000 + (int64_t)uid,
	    .size = 2000 + uid,
	    .key = key,
	    .keywords = "",
	    .envelope = "(\"Tue, 14 Nov 2023 22:13:20 +0000\" \"Re: the quarterly figures\" "
	                "((\"Alice Example\" NIL \"alice\" \"example.org\")) ((\"Alice "
	                "Example\" NIL \"alice\" \"example.org\")) ((\"Alice Example\" NIL "
	                "\"alice\" \"example.org\")) ((NIL NIL \"bob\" \"example.org\")) NIL NIL "
	                "\"<prev@example.org>\" \"<msg@example.org>\")",
	    .bodystructure =
	        "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"UTF-8\") NIL NIL \"QUOTED-PRINTABLE\" "
	        "1532 40 NIL NIL NIL NIL)",
	};
}

/* Creates @mailbox with messages 1..@n in one write transaction of @iu. */
static void fill_mailbox(struct sluice_index_user *iu, const char *mailbox, uint32_t n)
{
	struct sluice_index_mailbox st = {.uidvalidity = 1, .uidnext = n + 1, .highestmodseq = n};
	struct sluice_index_txn *t;
	char key[128];

	CU_ASSERT_EQUAL_FATAL(lm_ops->txn_begin(iu, true, &t, &fx.err), 0);
	CU_ASSERT_EQUAL_FATAL(lm_ops->mailbox_put(t, mailbox, &st, &fx.err), 0);
	for (uint32_t uid = 1; uid <= n; uid++) {
		struct sluice_index_message m;
		msg_fill(&m, key, sizeof(key), uid);
		CU_ASSERT_EQUAL_FATAL(lm_ops->message_put(t, mailbox, &m, &fx.err), 0);
	}
	CU_ASSERT_EQUAL_FATAL(lm_ops->txn_commit(t, &fx.err), 0);
}

/* The index directory's environment, opened with LMDB itself while the module has it closed. */
struct raw {
	MDB_env *env;
	MDB_txn *txn;
};

static void raw_open(struct raw *r, const char *path)
{
	CU_ASSERT_EQUAL_FATAL(mdb_env_create(&r->env), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_env_set_maxdbs(r->env, 8), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_env_open(r->env, path, 0, 0600), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
}

static void raw_close(struct raw *r)
{
	CU_ASSERT_EQUAL(mdb_txn_commit(r->txn), 0);
	mdb_env_close(r->env);
}

/* Replaces the value of the entry of sub-database @db whose key ends in the 4 bytes of @uid. */
static void raw_replace_by_uid(struct raw *r, const char *db, uint32_t uid, const void *data,
                               size_t size)
{
	uint8_t want[4] = {(uint8_t)(uid >> 24), (uint8_t)(uid >> 16), (uint8_t)(uid >> 8),
	                   (uint8_t)uid};
	MDB_cursor *cur;
	MDB_dbi dbi;
	MDB_val k, v;
	bool done = false;

	CU_ASSERT_EQUAL_FATAL(mdb_dbi_open(r->txn, db, 0, &dbi), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_cursor_open(r->txn, dbi, &cur), 0);
	while (!done && mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
		if (k.mv_size >= 4 && k.mv_size <= 511 &&
		    memcmp((uint8_t *)k.mv_data + k.mv_size - 4, want, 4) == 0) {
			/* The key must not point into the page that the put rewrites. */
			uint8_t kb[511];
			MDB_val nk = {k.mv_size, kb}, nv = {size, (void *)data};

			memcpy(kb, k.mv_data, k.mv_size);
			CU_ASSERT_EQUAL(mdb_put(r->txn, dbi, &nk, &nv, 0), 0);
			done = true;
		}
	}
	mdb_cursor_close(cur);
	CU_ASSERT(done);
}

static void test_settings_have_their_documented_defaults(void)
{
	const struct sluice_setting *s;
	struct {
		const char *path;
		uint64_t map_size;
		unsigned max_readers;
		bool sync;
	} * conf;

	CU_ASSERT_EQUAL(lm_mod->kind, SLUICE_KIND_INDEX);
	CU_ASSERT_STRING_EQUAL(lm_mod->name, "lmdb");
	CU_ASSERT_PTR_NOT_NULL(lm_mod->reload);
	s = settings_find(lm_mod->settings, "path");
	CU_ASSERT_FATAL(s != NULL && s->type == SLUICE_SETTING_STRING);
	CU_ASSERT_STRING_EQUAL(s->default_value, "%h/.sluice-index");
	s = settings_find(lm_mod->settings, "map_size");
	CU_ASSERT_FATAL(s != NULL && s->type == SLUICE_SETTING_SIZE);
	CU_ASSERT_STRING_EQUAL(s->default_value, "8G");
	s = settings_find(lm_mod->settings, "max_readers");
	CU_ASSERT_FATAL(s != NULL && s->type == SLUICE_SETTING_UINT);
	CU_ASSERT_STRING_EQUAL(s->default_value, "126");
	s = settings_find(lm_mod->settings, "sync");
	CU_ASSERT_FATAL(s != NULL && s->type == SLUICE_SETTING_BOOL);
	CU_ASSERT_STRING_EQUAL(s->default_value, "yes");
	/* The core fills the struct from the table: these are the values the module gets. */
	CU_ASSERT_EQUAL_FATAL(lm_mod->conf_size, sizeof(*conf));
	conf = conf_make("");
	CU_ASSERT_STRING_EQUAL(conf->path, "%h/.sluice-index");
	CU_ASSERT_EQUAL(conf->map_size, UINT64_C(8) << 30);
	CU_ASSERT_EQUAL(conf->max_readers, 126);
	CU_ASSERT(conf->sync);
	free(conf);
}

static void test_default_path_is_a_0700_directory_in_the_home(void)
{
	char home[128], idx[160], data[192];
	struct sluice_user u;

	snprintf(home, sizeof(home), "%s/home", fx.dir);
	CU_ASSERT_EQUAL_FATAL(mkdir(home, 0755), 0);
	CU_ASSERT_EQUAL_FATAL(lm_start(""), 0);
	u = user_named("alice", home);
	CU_ASSERT_EQUAL_FATAL(lm_open(&u, NULL), 0);
	snprintf(idx, sizeof(idx), "%s/.sluice-index", home);
	snprintf(data, sizeof(data), "%s/data.mdb", idx);
	CU_ASSERT(is_dir_with_mode(idx, 0700));
	CU_ASSERT_EQUAL(access(data, R_OK | W_OK), 0);
}

static void test_path_template_expands_every_escape(void)
{
	struct sluice_user u;
	char want[256], home[128];

	snprintf(home, sizeof(home), "%s/h", fx.dir);
	CU_ASSERT_EQUAL_FATAL(lm_start("path=%T/%d/%n/%u/100%%/x"), 0);
	u = user_named("bob@example.org", home);
	CU_ASSERT_EQUAL_FATAL(lm_open(&u, NULL), 0);
	snprintf(want, sizeof(want), "%s/example.org/bob/bob@example.org/100%%/x", fx.dir);
	CU_ASSERT(is_dir_with_mode(want, 0700));
	/* Missing parents are made private too. */
	snprintf(want, sizeof(want), "%s/example.org/bob", fx.dir);
	CU_ASSERT(is_dir_with_mode(want, 0700));
	/* Without a domain, %d is empty. */
	u = user_named("carol", home);
	CU_ASSERT_EQUAL_FATAL(lm_open(&u, NULL), 0);
	snprintf(want, sizeof(want), "%s/carol/carol/100%%/x", fx.dir);
	CU_ASSERT(is_dir_with_mode(want, 0700));
	lm_stop();

	CU_ASSERT_EQUAL_FATAL(lm_start("path=~/mail/idx"), 0);
	CU_ASSERT_EQUAL_FATAL(lm_open(&u, NULL), 0);
	snprintf(want, sizeof(want), "%s/mail/idx", home);
	CU_ASSERT(is_dir_with_mode(want, 0700));
}

static void test_user_names_cannot_escape_the_template(void)
{
	static const char *const bad[] = {
	    "../evil",   "..",           ".",        ".hidden", "a/b",     "/etc",           "",
	    "a/../../b", "@example.org", "bob@../x", "bob@.",   "bob@a/b", "x/@example.org",
	};
	char idx[128];

	CU_ASSERT_EQUAL_FATAL(lm_start("path=%T/idx/%d/%n;sync=no"), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sluice_user u = user_named(bad[i], fx.dir);
		struct sluice_index_user *iu = NULL;

		CU_ASSERT_EQUAL(lm_open(&u, &iu), SLUICE_E_PERM);
		CU_ASSERT_PTR_NULL(iu);
		CU_ASSERT_EQUAL(fx.err.code, SLUICE_E_PERM);
		CU_ASSERT(fx.err.msg[0] != '\0' && strchr(fx.err.msg, '/') == NULL);
	}
	/* Nothing was created anywhere, not even the template's own directory. */
	CU_ASSERT_EQUAL(dir_entries(fx.dir), 0);
	lm_stop();

	CU_ASSERT_EQUAL_FATAL(lm_start("path=%T/idx/%u"), 0);
	for (size_t i = 0; i < 7; i++) {
		struct sluice_user u = user_named(bad[i], fx.dir);
		CU_ASSERT_EQUAL(lm_open(&u, NULL), SLUICE_E_PERM);
	}
	/* A dot or slash later in the name is harmless and allowed. */
	{
		struct sluice_user u = user_named("first.last@example.org", fx.dir);
		CU_ASSERT_EQUAL(lm_open(&u, NULL), 0);
	}
	snprintf(idx, sizeof(idx), "%s/idx", fx.dir);
	CU_ASSERT_EQUAL(dir_entries(fx.dir), 1);
	CU_ASSERT_EQUAL(dir_entries(idx), 1);
}

static void test_bad_templates_and_missing_homes_are_config_errors(void)
{
	static const char *const bad[] = {"path=%T/%x", "path=idx/%u", "path=%T/%", "path=~bob/x"};
	struct sluice_user u = user_named("alice", NULL);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(lm_start(bad[i]), SLUICE_E_CONFIG);
		CU_ASSERT(fx.err.msg[0] != '\0');
		CU_ASSERT_PTR_NULL(lm_module.modctx);
		lm_stop();
	}
	CU_ASSERT_EQUAL_FATAL(lm_start(""), 0);
	CU_ASSERT_EQUAL(lm_open(&u, NULL), SLUICE_E_CONFIG);
	u.home = "relative/home";
	CU_ASSERT_EQUAL(lm_open(&u, NULL), SLUICE_E_CONFIG);
	CU_ASSERT_EQUAL(dir_entries(fx.dir), 0);
}

static int corrupt_count_cb(void *ctx, const struct sluice_index_message *m)
{
	unsigned *n = ctx;

	(void)m;
	(*n)++;
	return 0;
}

/* Each garbage value, for message UID 2..: none is a record a correct writer makes. */
static const struct {
	const char *what;
	const char *bytes;
	size_t size;
} garbage[] = {
    {"empty", "", 0},
    {"format only", "\x01", 1},
    {"unknown format", "\x7f\x00\x01\x02\x00\x00\x00\x01k\x00\x00\x00", 12},
    {"truncated varint", "\x01\x80\x80\x80", 4},
    {"varint past 64 bits", "\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f\x00\x00\x00\x00\x00", 16},
    {"flags past 32 bits", "\x01\x80\x80\x80\x80\x10\x01\x01\x00\x00\x00\x01k\x00\x00\x00", 16},
    {"zone past 32 bits", "\x01\x00\x01\x01\x00\xff\xff\xff\xff\x7f\x00\x01k\x00\x00\x00", 16},
    {"string longer than the value", "\x01\x00\x01\x01\x00\x00\x00\x7fkey\x00", 12},
    {"huge string length", "\x01\x00\x01\x01\x00\x00\x00\xff\xff\xff\xff\x0f", 12},
    {"string without its NUL", "\x01\x00\x01\x01\x00\x00\x00\x03keyX\x00\x00", 13},
    {"unknown optional field", "\x01\x00\x01\x01\x00\x00\x08\x01k\x00\x00\x00", 12},
    {"optional field missing", "\x01\x00\x01\x01\x00\x00\x01\x01k\x00\x00\x00", 12},
    {"trailing bytes", "\x01\x00\x01\x01\x00\x00\x00\x01k\x00\x00\x00GARBAGE", 19},
};
#define GARBAGE_COUNT (sizeof(garbage) / sizeof(garbage[0]))

static void test_garbage_records_are_corrupt_not_a_crash(void)
{
	struct sluice_user u = user_named("alice", fx.dir);
	struct sluice_index_user *iu;
	struct sluice_index_txn *t;
	struct sluice_index_message m;
	char path[128];
	struct raw raw;
	unsigned calls = 0;

	CU_ASSERT_EQUAL_FATAL(lm_start("path=%T/%u;sync=no"), 0);
	CU_ASSERT_EQUAL_FATAL(lm_open(&u, &iu), 0);
	fill_mailbox(iu, "INBOX", (uint32_t)GARBAGE_COUNT + 2);
	lm_close(iu);

	/* One process must not open an environment twice: the module has closed it. */
	snprintf(path, sizeof(path), "%s/alice", fx.dir);
	raw_open(&raw, path);
	for (size_t i = 0; i < GARBAGE_COUNT; i++)
		raw_replace_by_uid(&raw, "messages", (uint32_t)i + 2, garbage[i].bytes,
		                   garbage[i].size);
	raw_close(&raw);

	CU_ASSERT_EQUAL_FATAL(lm_open(&u, &iu), 0);
	/* Read transactions decode in the map; write ones from an exact-size copy (ASan). */
	for (int write = 0; write <= 1; write++) {
		CU_ASSERT_EQUAL_FATAL(lm_ops->txn_begin(iu, write, &t, &fx.err), 0);
		CU_ASSERT_EQUAL(lm_ops->message_get(t, "INBOX", 1, &m, &fx.err), 0);
		for (size_t i = 0; i < GARBAGE_COUNT; i++) {
			memset(&fx.err, 0, sizeof(fx.err));
			if (lm_ops->message_get(t, "INBOX", (uint32_t)i + 2, &m, &fx.err) !=
			    SLUICE_E_CORRUPT)
				CU_FAIL(garbage[i].what);
			CU_ASSERT_EQUAL(fx.err.code, SLUICE_E_CORRUPT);
		}
		CU_ASSERT_EQUAL(lm_ops->message_get(t, "INBOX", GARBAGE_COUNT + 2, &m, &fx.err), 0);
		calls = 0;
		CU_ASSERT_EQUAL(
		    lm_ops->message_iterate(t, "INBOX", 0, corrupt_count_cb, &calls, &fx.err),
		    SLUICE_E_CORRUPT);
		CU_ASSERT_EQUAL(calls, 1); /* UID 1, then the damage */
		CU_ASSERT_EQUAL(
		    lm_ops->message_changed_since(t, "INBOX", 1, corrupt_count_cb, &calls, &fx.err),
		    SLUICE_E_CORRUPT);
		/* Expunging or replacing a damaged record cannot find its old entries. */
		if (write) {
			CU_ASSERT_EQUAL(lm_ops->message_expunge(t, "INBOX", 2, 99, &fx.err),
			                SLUICE_E_CORRUPT);
		}
		lm_ops->txn_abort(t);
	}
	CU_ASSERT(log_count("impossible message record") > 0);
}

static void test_random_records_never_crash(void)
{
	struct sluice_user u = user_named("alice", fx.dir);
	struct sluice_index_user *iu;
	struct sluice_index_txn *t;
	char path[128];
	struct raw raw;
	uint8_t buf[64];
	unsigned seed = 12345, ok = 0, corrupt = 0;

	CU_ASSERT_EQUAL_FATAL(lm_start("path=%T/%u;sync=no"), 0);
	CU_ASSERT_EQUAL_FATAL(lm_open(&u, &iu), 0);
	fill_mailbox(iu, "INBOX", 400);
	lm_close(iu);
	snprintf(path, sizeof(path), "%s/alice", fx.dir);
	raw_open(&raw, path);
	for (uint32_t uid = 1; uid <= 400; uid++) {
		size_t size = (size_t)(rand_r(&seed) % sizeof(buf));
		for (size_t i = 0; i < size; i++)
			buf[i] = (uint8_t)rand_r(&seed);
		/* Half start like a real record, so the decoder gets past the first byte. */
		if (size > 0 && uid % 2 == 0)
			buf[0] = 1;
		raw_replace_by_uid(&raw, "messages", uid, buf, size);
	}
	raw_close(&raw);
	CU_ASSERT_EQUAL_FATAL(lm_open(&u, &iu), 0);
	CU_ASSERT_EQUAL_FATAL(lm_ops->txn_begin(iu, true, &t, &fx.err), 0);
	for (uint32_t uid = 1; uid <= 400; uid++) {
		struct sluice_index_message m;
		int rc = lm_ops->message_get(t, "INBOX", uid, &m, &fx.err);

		if (rc == 0) {
			ok++;
			/* Whatever decoded must be usable as C strings. */
			CU_ASSERT(strlen(m.key) + strlen(m.keywords) < sizeof(buf));
		} else {
			corrupt += rc == SLUICE_E_CORRUPT;
		}
	}
	lm_ops->txn_abort(t);
	CU_ASSERT_EQUAL(ok + corrupt, 400);
	CU_ASSERT(corrupt > 300);
}

static void test_damaged_secondary_entries_are_corrupt(void)
{
	struct sluice_user u = user_named("alice", fx.dir);
	struct sluice_index_mailbox st;
	struct sluice_index_user *iu;
	struct sluice_index_txn *t;
	char path[128], key[128];
	struct raw raw;
	MDB_dbi dbi;
	MDB_val k, v;
	unsigned calls = 0;
	uint32_t uid;

	CU_ASSERT_EQUAL_FATAL(lm_start("path=%T/%u;sync=no"), 0);
	CU_ASSERT_EQUAL_FATAL(lm_open(&u, &iu), 0);
	fill_mailbox(iu, "INBOX", 5);
	fill_mailbox(iu, "Sent", 5);
	lm_close(iu);
	snprintf(path, sizeof(path), "%s/alice", fx.dir);
	raw_open(&raw, path);
	/* A key entry of 3 bytes, a MODSEQ entry whose message is gone, a short mailbox. */
	CU_ASSERT_EQUAL_FATAL(mdb_dbi_open(raw.txn, "keys", 0, &dbi), 0);
	k.mv_size =
	    4 + (size_t)snprintf(key + 4, sizeof(key) - 4, "1700000000.M3P4242Q3.mail.example.org");
	memcpy(key, "\0\0\0\1", 4);
	k.mv_data = key;
	v.mv_size = 3;
	v.mv_data = "xyz";
	CU_ASSERT_EQUAL(mdb_put(raw.txn, dbi, &k, &v, 0), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_dbi_open(raw.txn, "messages", 0, &dbi), 0);
	k.mv_size = 8;
	k.mv_data = "\0\0\0\1\0\0\0\4";
	CU_ASSERT_EQUAL(mdb_del(raw.txn, dbi, &k, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_dbi_open(raw.txn, "mailboxes", 0, &dbi), 0);
	k.mv_size = 4;
	k.mv_data = "Sent";
	v.mv_size = 10;
	v.mv_data = "0123456789";
	CU_ASSERT_EQUAL(mdb_put(raw.txn, dbi, &k, &v, 0), 0);
	raw_close(&raw);

	CU_ASSERT_EQUAL_FATAL(lm_open(&u, &iu), 0);
	CU_ASSERT_EQUAL_FATAL(lm_ops->txn_begin(iu, false, &t, &fx.err), 0);
	CU_ASSERT_EQUAL(lm_ops->message_find_key(t, "INBOX", key + 4, &uid, &fx.err),
	                SLUICE_E_CORRUPT);
	CU_ASSERT_EQUAL(
	    lm_ops->message_changed_since(t, "INBOX", 0, corrupt_count_cb, &calls, &fx.err),
	    SLUICE_E_CORRUPT);
	CU_ASSERT_EQUAL(calls, 3);
	CU_ASSERT_EQUAL(lm_ops->mailbox_get(t, "Sent", &st, &fx.err), SLUICE_E_CORRUPT);
	CU_ASSERT_EQUAL(lm_ops->mailbox_get(t, "INBOX", &st, &fx.err), 0);
	lm_ops->txn_abort(t);
}

static void test_damaged_or_foreign_index_is_corrupt_at_open(void)
{
	struct sluice_user u = user_named("alice", fx.dir);
	struct sluice_index_user *iu;
	char path[128], data[160];
	uint8_t junk[16384];
	struct raw raw;
	MDB_dbi dbi;
	MDB_val k = {6, "format"}, v = {4, "\0\0\0\x63"};
	FILE *f;

	CU_ASSERT_EQUAL_FATAL(lm_start("path=%T/%u;sync=no"), 0);
	snprintf(path, sizeof(path), "%s/alice", fx.dir);
	snprintf(data, sizeof(data), "%s/data.mdb", path);
	CU_ASSERT_EQUAL_FATAL(mkdir(path, 0700), 0);
	memset(junk, 0xab, sizeof(junk));
	f = fopen(data, "w");
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL(fwrite(junk, 1, sizeof(junk), f), sizeof(junk));
	fclose(f);
	CU_ASSERT_EQUAL(lm_open(&u, NULL), SLUICE_E_CORRUPT);
	CU_ASSERT(fx.err.msg[0] != '\0' && strstr(fx.err.msg, fx.dir) == NULL);

	/* What the core does next: delete the directory and open again. */
	fixture_remove_tree(path);
	CU_ASSERT_EQUAL_FATAL(lm_open(&u, &iu), 0);
	fill_mailbox(iu, "INBOX", 3);
	lm_close(iu);

	/* An index written in another format is not guessed at. */
	raw_open(&raw, path);
	CU_ASSERT_EQUAL_FATAL(mdb_dbi_open(raw.txn, "meta", 0, &dbi), 0);
	CU_ASSERT_EQUAL(mdb_put(raw.txn, dbi, &k, &v, 0), 0);
	raw_close(&raw);
	CU_ASSERT_EQUAL(lm_open(&u, NULL), SLUICE_E_CORRUPT);
	CU_ASSERT(log_count("format version") > 0);
}

static void test_full_map_is_a_limit_with_a_sentence(void)
{
	struct sluice_user u = user_named("alice", fx.dir);
	struct sluice_index_mailbox st = {.uidvalidity = 1, .uidnext = 1};
	struct sluice_index_user *iu;
	struct sluice_index_txn *t;
	char key[128];
	int rc = 0;
	uint32_t uid;

	CU_ASSERT_EQUAL_FATAL(lm_start("path=%T/%u;map_size=1M"), 0);
	CU_ASSERT_EQUAL_FATAL(lm_open(&u, &iu), 0);
	CU_ASSERT_EQUAL_FATAL(lm_ops->txn_begin(iu, true, &t, &fx.err), 0);
	CU_ASSERT_EQUAL_FATAL(lm_ops->mailbox_put(t, "INBOX", &st, &fx.err), 0);
	memset(&fx.err, 0, sizeof(fx.err));
	for (uid = 1; uid <= 100000 && rc == 0; uid++) {
		struct sluice_index_message m;
		msg_fill(&m, key, sizeof(key), uid);
		rc = lm_ops->message_put(t, "INBOX", &m, &fx.err);
	}
	if (rc == 0)
		rc = lm_ops->txn_commit(t, &fx.err);
	else
		lm_ops->txn_abort(t);
	CU_ASSERT_EQUAL(rc, SLUICE_E_LIMIT);
	CU_ASSERT_EQUAL(fx.err.code, SLUICE_E_LIMIT);
	CU_ASSERT_STRING_EQUAL(fx.err.resp_code, "LIMIT");
	CU_ASSERT_PTR_NOT_NULL(strstr(fx.err.msg, "map_size"));
	CU_ASSERT(uid > 100 && uid < 100000);
	CU_ASSERT(log_count("MDB_MAP_FULL") > 0);
	printf("\n    1 MiB map full after %u records: \"%s\" ", uid - 1, fx.err.msg);

	/* The failed transaction took nothing with it; a small one still fits. */
	fill_mailbox(iu, "Small", 10);
}

static void test_too_many_readers_is_a_limit(void)
{
	struct sluice_user u = user_named("alice", fx.dir);
	struct sluice_index_txn *txns[600];
	struct sluice_index_user *iu;
	size_t n = 0;
	int rc = 0;

	CU_ASSERT_EQUAL_FATAL(lm_start("path=%T/%u;max_readers=1;sync=no"), 0);
	CU_ASSERT_EQUAL_FATAL(lm_open(&u, &iu), 0);
	while (n < 600 && (rc = lm_ops->txn_begin(iu, false, &txns[n], &fx.err)) == 0)
		n++;
	CU_ASSERT_EQUAL(rc, SLUICE_E_LIMIT);
	CU_ASSERT(n >= 1 && n < 600);
	CU_ASSERT(fx.err.msg[0] != '\0');
	while (n > 0)
		lm_ops->txn_abort(txns[--n]);
	/* The slots are free again. */
	CU_ASSERT_EQUAL(lm_ops->txn_begin(iu, false, &txns[0], &fx.err), 0);
	lm_ops->txn_abort(txns[0]);
}

static void test_keys_lmdb_cannot_hold_are_refused(void)
{
	struct sluice_user u = user_named("alice", fx.dir);
	struct sluice_index_mailbox st = {.uidvalidity = 1, .uidnext = 1};
	struct sluice_index_message m = {.uid = 1, .modseq = 1, .keywords = NULL};
	struct sluice_index_user *iu;
	struct sluice_index_txn *t;
	char name[600];
	uint32_t uid;

	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	CU_ASSERT_EQUAL_FATAL(lm_start("path=%T/%u;sync=no"), 0);
	CU_ASSERT_EQUAL_FATAL(lm_open(&u, &iu), 0);
	CU_ASSERT_EQUAL_FATAL(lm_ops->txn_begin(iu, true, &t, &fx.err), 0);
	CU_ASSERT_EQUAL(lm_ops->mailbox_put(t, name, &st, &fx.err), SLUICE_E_LIMIT);
	CU_ASSERT_EQUAL(lm_ops->mailbox_get(t, name, &st, &fx.err), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL_FATAL(lm_ops->mailbox_put(t, "INBOX", &st, &fx.err), 0);
	CU_ASSERT_EQUAL(lm_ops->mailbox_rename(t, "INBOX", name, &fx.err), SLUICE_E_LIMIT);
	m.key = name;
	CU_ASSERT_EQUAL(lm_ops->message_put(t, "INBOX", &m, &fx.err), SLUICE_E_LIMIT);
	CU_ASSERT_EQUAL(lm_ops->message_find_key(t, "INBOX", name, &uid, &fx.err), SLUICE_NOTFOUND);
	m.key = NULL;
	CU_ASSERT(lm_ops->message_put(t, "INBOX", &m, &fx.err) < 0);
	/* A NULL keyword list is stored as none. */
	m.key = "k";
	CU_ASSERT_EQUAL(lm_ops->message_put(t, "INBOX", &m, &fx.err), 0);
	CU_ASSERT_EQUAL(lm_ops->message_get(t, "INBOX", 1, &m, &fx.err), 0);
	CU_ASSERT_STRING_EQUAL(m.keywords, "");
	m.uid = 0;
	CU_ASSERT(lm_ops->message_put(t, "INBOX", &m, &fx.err) < 0);
	CU_ASSERT_EQUAL(lm_ops->txn_commit(t, &fx.err), 0);
}

static void test_one_environment_per_directory_however_reached(void)
{
	char real[128], link[128];
	struct sluice_user a, b;
	struct sluice_index_user *ia, *ib;
	struct sluice_index_txn *t;
	struct sluice_index_mailbox st;

	snprintf(real, sizeof(real), "%s/real", fx.dir);
	snprintf(link, sizeof(link), "%s/link", fx.dir);
	CU_ASSERT_EQUAL_FATAL(mkdir(real, 0700), 0);
	CU_ASSERT_EQUAL_FATAL(symlink(real, link), 0);
	CU_ASSERT_EQUAL_FATAL(lm_start("path=%h/index;sync=no"), 0);
	a = user_named("alice", real);
	b = user_named("alice", link);
	CU_ASSERT_EQUAL_FATAL(lm_open(&a, &ia), 0);
	CU_ASSERT_EQUAL_FATAL(lm_open(&b, &ib), 0);
	CU_ASSERT_EQUAL(log_count(": opened"), 1);
	fill_mailbox(ia, "INBOX", 3);
	CU_ASSERT_EQUAL_FATAL(lm_ops->txn_begin(ib, false, &t, &fx.err), 0);
	CU_ASSERT_EQUAL(lm_ops->mailbox_get(t, "INBOX", &st, &fx.err), 0);
	CU_ASSERT_EQUAL(st.messages, 3);
	lm_ops->txn_abort(t);
	/* Closing one handle must not close (nor unlock) the other's environment. */
	lm_close(ia);
	fill_mailbox(ib, "Sent", 2);
	CU_ASSERT_EQUAL(log_count(": opened"), 1);
}

static void test_recreated_directory_gets_a_fresh_environment(void)
{
	struct sluice_user u = user_named("alice", fx.dir);
	struct sluice_index_user *old, *fresh;
	struct sluice_index_txn *t;
	struct sluice_index_mailbox st;
	char path[128];

	CU_ASSERT_EQUAL_FATAL(lm_start("path=%T/%u;sync=no"), 0);
	CU_ASSERT_EQUAL_FATAL(lm_open(&u, &old), 0);
	fill_mailbox(old, "INBOX", 3);
	/* The core rebuilds a damaged index by deleting it while sessions may hold it. */
	snprintf(path, sizeof(path), "%s/alice", fx.dir);
	fixture_remove_tree(path);
	CU_ASSERT_EQUAL_FATAL(lm_open(&u, &fresh), 0);
	CU_ASSERT_EQUAL(log_count(": opened"), 2);
	CU_ASSERT_EQUAL_FATAL(lm_ops->txn_begin(fresh, false, &t, &fx.err), 0);
	CU_ASSERT_EQUAL(lm_ops->mailbox_get(t, "INBOX", &st, &fx.err), SLUICE_NOTFOUND);
	lm_ops->txn_abort(t);
	fill_mailbox(fresh, "INBOX", 1);
	lm_close(old);
	CU_ASSERT_EQUAL_FATAL(lm_ops->txn_begin(fresh, false, &t, &fx.err), 0);
	CU_ASSERT_EQUAL(lm_ops->mailbox_get(t, "INBOX", &st, &fx.err), 0);
	CU_ASSERT_EQUAL(st.messages, 1);
	lm_ops->txn_abort(t);
}

/* Each of several threads opens the same user at once, writes, and closes. */
struct opener {
	pthread_barrier_t *barrier;
	struct sluice_user user;
	int open_rc, write_rc;
	unsigned id;
};

static void *opener_main(void *arg)
{
	struct opener *o = arg;
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct sluice_index_mailbox st = {.uidvalidity = 1, .uidnext = 1};
	struct sluice_index_user *iu = NULL;
	struct sluice_index_txn *t;
	char name[32];

	pthread_barrier_wait(o->barrier);
	o->open_rc = lm_ops->user_open(lm_module.modctx, &o->user, &iu, &err);
	pthread_barrier_wait(o->barrier);
	if (o->open_rc == 0) {
		snprintf(name, sizeof(name), "box%u", o->id);
		o->write_rc = lm_ops->txn_begin(iu, true, &t, &err);
		if (o->write_rc == 0 &&
		    (o->write_rc = lm_ops->mailbox_put(t, name, &st, &err)) == 0)
			o->write_rc = lm_ops->txn_commit(t, &err);
	}
	pthread_barrier_wait(o->barrier);
	if (iu != NULL)
		lm_ops->user_close(iu);
	return NULL;
}

static void test_concurrent_opens_share_one_environment(void)
{
	pthread_barrier_t barrier;
	struct opener o[8];
	pthread_t th[8];
	struct sluice_user u = user_named("alice", fx.dir);
	struct sluice_index_user *iu;
	struct sluice_index_txn *t;
	struct sluice_index_mailbox st;

	CU_ASSERT_EQUAL_FATAL(lm_start("path=%T/%u;sync=no"), 0);
	pthread_barrier_init(&barrier, NULL, 8);
	for (unsigned i = 0; i < 8; i++) {
		o[i] = (struct opener){.barrier = &barrier, .user = u, .id = i};
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, opener_main, &o[i]), 0);
	}
	for (unsigned i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT_EQUAL(o[i].open_rc, 0);
		CU_ASSERT_EQUAL(o[i].write_rc, 0);
	}
	pthread_barrier_destroy(&barrier);
	CU_ASSERT_EQUAL(log_count(": opened"), 1);
	CU_ASSERT_EQUAL_FATAL(lm_open(&u, &iu), 0);
	CU_ASSERT_EQUAL_FATAL(lm_ops->txn_begin(iu, false, &t, &fx.err), 0);
	CU_ASSERT_EQUAL(lm_ops->mailbox_get(t, "box0", &st, &fx.err), 0);
	CU_ASSERT_EQUAL(lm_ops->mailbox_get(t, "box7", &st, &fx.err), 0);
	lm_ops->txn_abort(t);
}

/* A read transaction used by three threads in turn, as MDB_NOTLS allows. */
struct mover {
	struct sluice_index_user *iu;
	struct sluice_index_txn *t;
	int step, rc;
	uint32_t messages;
};

static void *mover_main(void *arg)
{
	struct mover *mv = arg;
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct sluice_index_mailbox st;

	if (mv->step == 0) {
		mv->rc = lm_ops->txn_begin(mv->iu, false, &mv->t, &err);
	} else if (mv->step == 1) {
		mv->rc = lm_ops->mailbox_get(mv->t, "INBOX", &st, &err);
		mv->messages = st.messages;
	} else {
		lm_ops->txn_abort(mv->t);
		mv->rc = 0;
	}
	return NULL;
}

static void test_read_txn_may_move_between_threads(void)
{
	struct sluice_user u = user_named("alice", fx.dir);
	struct mover mv = {0};
	pthread_t th;

	CU_ASSERT_EQUAL_FATAL(lm_start("path=%T/%u;sync=no"), 0);
	CU_ASSERT_EQUAL_FATAL(lm_open(&u, &mv.iu), 0);
	fill_mailbox(mv.iu, "INBOX", 4);
	for (mv.step = 0; mv.step < 3; mv.step++) {
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, mover_main, &mv), 0);
		pthread_join(th, NULL);
		CU_ASSERT_EQUAL(mv.rc, 0);
		/* The writer on this thread does not wait for the moving reader. */
		if (mv.step == 0)
			fill_mailbox(mv.iu, "INBOX", 6);
	}
	CU_ASSERT_EQUAL(mv.messages, 4);
}

static void test_reload_moves_new_indexes_only(void)
{
	struct sluice_user u = user_named("alice", fx.dir);
	struct sluice_index_user *before, *after;
	char want[160];
	void *conf2, *bad;

	CU_ASSERT_EQUAL_FATAL(lm_start("path=%T/one/%u;sync=no"), 0);
	CU_ASSERT_EQUAL_FATAL(lm_open(&u, &before), 0);
	conf2 = conf_make("path=%T/two/%u;sync=no");
	bad = conf_make("path=relative");
	CU_ASSERT_EQUAL(lm_mod->reload(lm_module.modctx, bad, &fx.err), SLUICE_E_CONFIG);
	free(bad);
	CU_ASSERT_EQUAL_FATAL(lm_mod->reload(lm_module.modctx, conf2, &fx.err), 0);
	CU_ASSERT_EQUAL_FATAL(lm_open(&u, &after), 0);
	snprintf(want, sizeof(want), "%s/two/alice/data.mdb", fx.dir);
	CU_ASSERT_EQUAL(access(want, F_OK), 0);
	fill_mailbox(before, "INBOX", 2);
	fill_mailbox(after, "INBOX", 3);
	free(conf2);
}

/* Sizes on disk of a 100,000-message mailbox, per sub-database; printed, not asserted. */
static void test_sizes_on_disk(void)
{
	const char *env = getenv("SLUICE_PERF_MESSAGES");
	uint32_t n = env != NULL ? (uint32_t)strtoul(env, NULL, 10) : 100000;
	static const char *const dbs[] = {"messages", "keys", "modseqs", "mailboxes"};
	struct sluice_user u = user_named("alice", fx.dir);
	struct sluice_index_user *iu;
	struct sluice_index_message m;
	char path[128], data[160], key[128];
	struct stat st;
	struct raw raw;

	if (n < 100)
		n = 100;
	CU_ASSERT_EQUAL_FATAL(lm_start("path=%T/%u;sync=no"), 0);
	CU_ASSERT_EQUAL_FATAL(lm_open(&u, &iu), 0);
	fill_mailbox(iu, "INBOX", n);
	lm_close(iu);
	msg_fill(&m, key, sizeof(key), n);
	snprintf(path, sizeof(path), "%s/alice", fx.dir);
	snprintf(data, sizeof(data), "%s/data.mdb", path);
	CU_ASSERT_EQUAL_FATAL(stat(data, &st), 0);
	printf("\n    %u messages (key %zu B, envelope %zu B, bodystructure %zu B): data.mdb "
	       "%.1f MiB on disk, %.0f B per message",
	       n, strlen(m.key), strlen(m.envelope), strlen(m.bodystructure),
	       (double)st.st_blocks * 512 / (1 << 20), (double)st.st_blocks * 512 / n);
	raw_open(&raw, path);
	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		MDB_dbi dbi;
		MDB_stat ms;

		CU_ASSERT_EQUAL_FATAL(mdb_dbi_open(raw.txn, dbs[i], 0, &dbi), 0);
		CU_ASSERT_EQUAL_FATAL(mdb_stat(raw.txn, dbi, &ms), 0);
		printf("\n      %-9s %7zu entries, depth %u, %6zu leaf + %4zu branch + %5zu "
		       "overflow pages",
		       dbs[i], ms.ms_entries, ms.ms_depth, ms.ms_leaf_pages, ms.ms_branch_pages,
		       ms.ms_overflow_pages);
		if (strcmp(dbs[i], "messages") == 0)
			CU_ASSERT_EQUAL(ms.ms_entries, n);
	}
	raw_close(&raw);
	printf("\n    ");
}

static int lm_suite_init(void)
{
	if (fixture_module_load(&lm_module, "lmdb.so", SLUICE_KIND_INDEX) < 0)
		return -1;
	lm_mod = lm_module.desc;
	lm_ops = lm_mod->ops;
	return 0;
}

static int lm_suite_cleanup(void)
{
	fixture_module_unload(&lm_module);
	return 0;
}

static CU_TestInfo lm_tests[] = {
    {"settings have their documented defaults", test_settings_have_their_documented_defaults},
    {"default path is a 0700 directory in the home",
     test_default_path_is_a_0700_directory_in_the_home},
    {"path template expands every escape", test_path_template_expands_every_escape},
    {"user names cannot escape the template", test_user_names_cannot_escape_the_template},
    {"bad templates and missing homes are config errors",
     test_bad_templates_and_missing_homes_are_config_errors},
    {"garbage records are CORRUPT, not a crash", test_garbage_records_are_corrupt_not_a_crash},
    {"random records never crash", test_random_records_never_crash},
    {"damaged secondary entries are CORRUPT", test_damaged_secondary_entries_are_corrupt},
    {"damaged or foreign index is CORRUPT at open",
     test_damaged_or_foreign_index_is_corrupt_at_open},
    {"full map is a LIMIT with a sentence", test_full_map_is_a_limit_with_a_sentence},
    {"too many readers is a LIMIT", test_too_many_readers_is_a_limit},
    {"keys LMDB cannot hold are refused", test_keys_lmdb_cannot_hold_are_refused},
    {"one environment per directory, however reached",
     test_one_environment_per_directory_however_reached},
    {"recreated directory gets a fresh environment",
     test_recreated_directory_gets_a_fresh_environment},
    {"concurrent opens share one environment", test_concurrent_opens_share_one_environment},
    {"read txn may move between threads", test_read_txn_may_move_between_threads},
    {"reload moves new indexes only", test_reload_moves_new_indexes_only},
    {"sizes on disk", test_sizes_on_disk},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo lmdb_suites[] = {
    {"lmdb", lm_suite_init, lm_suite_cleanup, lm_setup, lm_teardown, lm_tests},
    CU_SUITE_INFO_NULL,
};
