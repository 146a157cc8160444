/*
 * Tests of the passwd-file passdb module, loaded the way the server loads it: dlopen of
 * build/modules/passwd-file.so, its sluice_module_entry descriptor, a host table whose
 * log collects lines in memory and whose clock the tests move by hand, and a settings
 * struct filled through the module's own settings table (names, types and offsets).
 * Each test writes its passwd file under /tmp and replaces it by rename(2), as an admin
 * should.
 */
#include <CUnit/CUnit.h>
#include <crypt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sluice/passdb.h>

#include "module-fixture.h"
#include "util/pool.h"

static struct fixture_module pwf_module;
static const struct sluice_module *pwf_mod;
static const struct sluice_passdb_ops *pwf_ops;

/* The clock of the test host, which the tests move by hand. */
static _Atomic uint64_t pwf_clock = 1000;

static uint64_t pwf_test_now(void)
{
	return atomic_load(&pwf_clock);
}

static unsigned log_count(const char *needle)
{
	return fixture_log_count(&pwf_module, needle);
}

/* One module instance on one temporary file. */
struct fx {
	char path[64];
	void *conf;
	void *ctx;
	struct sluice_pool *pool;
	struct sluice_error err;
};

/* Replaces the file atomically; usable from any thread (it asserts nothing). */
static int write_file_raw(const char *path, const char *content, size_t len)
{
	char tmp[80];
	FILE *f;
	int ok;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	ok = fwrite(content, 1, len, f) == len;
	ok = fclose(f) == 0 && ok;
	return ok && rename(tmp, path) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *content)
{
	CU_ASSERT_EQUAL_FATAL(write_file_raw(path, content, strlen(content)), 0);
}

static void make_temp_path(char *path, size_t size)
{
	int fd;
	snprintf(path, size, "/tmp/sluice-pwf-XXXXXX");
	fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
}

/* A settings struct as the core would fill it from `path` and `check_interval`. */
static void *conf_new(const char *path, uint64_t check_interval_ms)
{
	char text[256];
	void *conf;

	snprintf(text, sizeof(text), "path=%s;check_interval=%llums", path,
	         (unsigned long long)check_interval_ms);
	CU_ASSERT_EQUAL_FATAL(fixture_conf_new(&pwf_module, text, &conf), 0);
	return conf;
}

/* Writes @content to a new file and starts the module on it; returns init's result. */
static int fx_start(struct fx *fx, const char *content, uint64_t check_interval_ms)
{
	memset(fx, 0, sizeof(*fx));
	make_temp_path(fx->path, sizeof(fx->path));
	write_file(fx->path, content);
	fx->conf = conf_new(fx->path, check_interval_ms);
	fx->pool = pool_create(1024, 0);
	CU_ASSERT_FATAL(fx->pool != NULL);
	fixture_log_clear(&pwf_module);
	return pwf_mod->init(&pwf_module.host, fx->conf, &fx->ctx, &fx->err);
}

static void fx_stop(struct fx *fx)
{
	if (fx->ctx != NULL && pwf_mod->deinit != NULL)
		pwf_mod->deinit(fx->ctx);
	fx->ctx = NULL;
	unlink(fx->path);
	free(fx->conf);
	pool_destroy(&fx->pool);
}

static int login(struct fx *fx, const char *user, const char *password, struct sluice_user *u)
{
	struct sluice_auth_request req = {
	    .user = user,
	    .password = password,
	    .password_len = strlen(password),
	    .mechanism = "LOGIN",
	};
	struct sluice_user scratch;

	memset(&fx->err, 0, sizeof(fx->err));
	return pwf_ops->verify(fx->ctx, &req, fx->pool, u != NULL ? u : &scratch, &fx->err);
}

static void make_hash(const char *prefix, const char *password, char *out, size_t size)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data = calloc(1, sizeof(*data));
	const char *hash;

	CU_ASSERT_FATAL(data != NULL);
	CU_ASSERT_FATAL(crypt_gensalt_rn(prefix, 0, NULL, 0, setting, sizeof(setting)) != NULL);
	hash = crypt_rn(password, setting, data, (int)sizeof(*data));
	CU_ASSERT_FATAL(hash != NULL && hash[0] == '$');
	snprintf(out, size, "%s", hash);
	free(data);
}

/* Checks a scheme end to end: the right password logs in, a near miss does not. */
static void check_scheme(const char *scheme, const char *prefix)
{
	char hash[CRYPT_OUTPUT_SIZE], field[CRYPT_OUTPUT_SIZE + 32], content[1024];
	struct sluice_user u;
	struct fx fx;

	make_hash(prefix, "correct horse", hash, sizeof(hash));
	snprintf(field, sizeof(field), "%s%s", scheme, hash);
	snprintf(content, sizeof(content), "alice:%s:1000:1000::/home/alice\n", field);
	CU_ASSERT_EQUAL_FATAL(fx_start(&fx, content, 1000), 0);
	CU_ASSERT_EQUAL(login(&fx, "alice", "correct horse", &u), 0);
	CU_ASSERT_STRING_EQUAL(u.name, "alice");
	CU_ASSERT_EQUAL(login(&fx, "alice", "correct horsE", NULL), SLUICE_E_AUTH);
	CU_ASSERT_EQUAL(login(&fx, "alice", "correct hors", NULL), SLUICE_E_AUTH);
	CU_ASSERT_EQUAL(login(&fx, "alice", "", NULL), SLUICE_E_AUTH);
	CU_ASSERT_EQUAL(log_count("correct horse"), 0);
	fx_stop(&fx);
}

static void test_descriptor_is_a_passdb_with_its_settings(void)
{
	const struct sluice_setting *path = NULL, *interval = NULL;

	CU_ASSERT_EQUAL(pwf_mod->abi_major, SLUICE_ABI_MAJOR);
	CU_ASSERT_EQUAL(pwf_mod->size, sizeof(struct sluice_module));
	CU_ASSERT_EQUAL(pwf_mod->kind, SLUICE_KIND_PASSDB);
	CU_ASSERT_STRING_EQUAL(pwf_mod->name, "passwd-file");
	CU_ASSERT_EQUAL(pwf_ops->size, sizeof(struct sluice_passdb_ops));
	CU_ASSERT_PTR_NOT_NULL(pwf_ops->lookup);
	CU_ASSERT_PTR_NOT_NULL(pwf_mod->reload);
	for (const struct sluice_setting *s = pwf_mod->settings; s->key != NULL; s++) {
		if (strcmp(s->key, "path") == 0)
			path = s;
		else if (strcmp(s->key, "check_interval") == 0)
			interval = s;
	}
	CU_ASSERT_FATAL(path != NULL && interval != NULL);
	CU_ASSERT_EQUAL(path->type, SLUICE_SETTING_STRING);
	CU_ASSERT_PTR_NULL(path->default_value);
	CU_ASSERT_EQUAL(interval->type, SLUICE_SETTING_DURATION);
	CU_ASSERT_STRING_EQUAL(interval->default_value, "1s");
}

static void test_yescrypt_hash_verifies(void)
{
	check_scheme("{YESCRYPT}", "$y$");
}

static void test_sha512_crypt_hash_verifies(void)
{
	check_scheme("{SHA512-CRYPT}", "$6$");
}

static void test_bcrypt_hash_verifies(void)
{
	check_scheme("{BLF-CRYPT}", "$2b$");
}

static void test_generic_crypt_scheme_verifies(void)
{
	check_scheme("{CRYPT}", "$6$");
}

static void test_bare_crypt_hash_without_scheme_verifies(void)
{
	check_scheme("", "$y$");
}

static void test_scheme_names_ignore_case(void)
{
	check_scheme("{sha512-crypt}", "$6$");
}

static void test_plain_matches_only_the_exact_password(void)
{
	struct fx fx;

	CU_ASSERT_EQUAL_FATAL(fx_start(&fx, "alice:{PLAIN}s3cret pass\n", 1000), 0);
	CU_ASSERT_EQUAL(login(&fx, "alice", "s3cret pass", NULL), 0);
	CU_ASSERT_EQUAL(login(&fx, "alice", "s3cret pas", NULL), SLUICE_E_AUTH);
	CU_ASSERT_EQUAL(login(&fx, "alice", "s3cret pass ", NULL), SLUICE_E_AUTH);
	CU_ASSERT_EQUAL(login(&fx, "alice", "S3cret pass", NULL), SLUICE_E_AUTH);
	CU_ASSERT_EQUAL(login(&fx, "alice", "{PLAIN}s3cret pass", NULL), SLUICE_E_AUTH);
	CU_ASSERT_EQUAL(log_count("s3cret"), 0);
	fx_stop(&fx);
}

static void test_password_with_embedded_nul_never_matches_crypt(void)
{
	char hash[CRYPT_OUTPUT_SIZE], content[512];
	struct sluice_auth_request req = {
	    .user = "alice", .password = "abc\0def", .password_len = 7, .mechanism = "LOGIN"};
	struct sluice_user u;
	struct fx fx;

	/* crypt(3) would only see "abc", which is the real password. */
	make_hash("$6$", "abc", hash, sizeof(hash));
	snprintf(content, sizeof(content), "alice:{SHA512-CRYPT}%s\n", hash);
	CU_ASSERT_EQUAL_FATAL(fx_start(&fx, content, 1000), 0);
	CU_ASSERT_EQUAL(pwf_ops->verify(fx.ctx, &req, fx.pool, &u, &fx.err), SLUICE_E_AUTH);
	fx_stop(&fx);
}

static void test_wrong_password_fails_without_hinting_at_the_user(void)
{
	struct fx fx;

	CU_ASSERT_EQUAL_FATAL(fx_start(&fx, "alice:{PLAIN}right\n", 1000), 0);
	CU_ASSERT_EQUAL(login(&fx, "alice", "wrong-guess", NULL), SLUICE_E_AUTH);
	CU_ASSERT_EQUAL(fx.err.code, SLUICE_E_AUTH);
	CU_ASSERT_STRING_EQUAL(fx.err.msg, "Authentication failed.");
	CU_ASSERT_EQUAL(log_count("wrong-guess"), 0);
	CU_ASSERT_EQUAL(log_count("right"), 0);
	fx_stop(&fx);
}

static void test_unknown_user_is_notfound_and_names_are_case_sensitive(void)
{
	struct sluice_user u;
	struct fx fx;

	CU_ASSERT_EQUAL_FATAL(fx_start(&fx, "alice:{PLAIN}pw\n", 1000), 0);
	CU_ASSERT_EQUAL(login(&fx, "mallory", "pw", NULL), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(login(&fx, "Alice", "pw", NULL), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(login(&fx, "alice ", "pw", NULL), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(pwf_ops->lookup(fx.ctx, "ALICE", fx.pool, &u, &fx.err), SLUICE_NOTFOUND);
	fx_stop(&fx);
}

static void test_empty_password_field_never_logs_in(void)
{
	struct sluice_user u;
	struct fx fx;

	CU_ASSERT_EQUAL_FATAL(fx_start(&fx, "carol::1002:1002::/home/carol\n", 1000), 0);
	CU_ASSERT_EQUAL(login(&fx, "carol", "", NULL), SLUICE_E_AUTH);
	CU_ASSERT_EQUAL(login(&fx, "carol", "anything", NULL), SLUICE_E_AUTH);
	CU_ASSERT_STRING_EQUAL(fx.err.msg, "Authentication failed.");
	CU_ASSERT_EQUAL(pwf_ops->lookup(fx.ctx, "carol", fx.pool, &u, &fx.err), 0);
	CU_ASSERT_EQUAL(u.uid, 1002);
	fx_stop(&fx);
}

static void test_fields_comments_and_line_endings_are_parsed(void)
{
	static const char content[] =
	    "# users of example.org\n"
	    "   # an indented comment\n"
	    "\n"
	    " \t \n"
	    "alice:{PLAIN}pa:1001:1002:Alice A:/home/alice:/bin/sh:quota=1G "
	    "mail=maildir:~/Maildir nodelay\n"
	    "bob:{PLAIN}pb\r\n"
	    "carol:{PLAIN}pc::::/home/carol::userdb_mail=/srv/mail/carol\n"
	    "dave:{PLAIN}pd";
	struct sluice_user u;
	struct fx fx;

	CU_ASSERT_EQUAL_FATAL(fx_start(&fx, content, 1000), 0);
	CU_ASSERT_EQUAL_FATAL(login(&fx, "alice", "pa", &u), 0);
	CU_ASSERT_STRING_EQUAL(u.name, "alice");
	CU_ASSERT_EQUAL(u.uid, 1001);
	CU_ASSERT_EQUAL(u.gid, 1002);
	CU_ASSERT_STRING_EQUAL(u.home, "/home/alice");
	CU_ASSERT_STRING_EQUAL(u.mail, "maildir:~/Maildir");

	CU_ASSERT_EQUAL_FATAL(login(&fx, "bob", "pb", &u), 0);
	CU_ASSERT_EQUAL(u.uid, (uid_t)-1);
	CU_ASSERT_EQUAL(u.gid, (gid_t)-1);
	CU_ASSERT_PTR_NULL(u.home);
	CU_ASSERT_PTR_NULL(u.mail);

	CU_ASSERT_EQUAL_FATAL(login(&fx, "carol", "pc", &u), 0);
	CU_ASSERT_STRING_EQUAL(u.home, "/home/carol");
	CU_ASSERT_STRING_EQUAL(u.mail, "/srv/mail/carol");

	CU_ASSERT_EQUAL(login(&fx, "dave", "pd", NULL), 0);
	CU_ASSERT_EQUAL(login(&fx, "# users of example.org", "", NULL), SLUICE_NOTFOUND);
	fx_stop(&fx);
}

static void test_lookup_fills_the_user_without_a_password(void)
{
	struct sluice_user u;
	struct fx fx;

	CU_ASSERT_EQUAL_FATAL(fx_start(&fx, "alice:{PLAIN}pa:7:8::/home/a::mail=/m/a\n", 1000), 0);
	CU_ASSERT_EQUAL_FATAL(pwf_ops->lookup(fx.ctx, "alice", fx.pool, &u, &fx.err), 0);
	CU_ASSERT_STRING_EQUAL(u.name, "alice");
	CU_ASSERT_EQUAL(u.uid, 7);
	CU_ASSERT_EQUAL(u.gid, 8);
	CU_ASSERT_STRING_EQUAL(u.home, "/home/a");
	CU_ASSERT_STRING_EQUAL(u.mail, "/m/a");
	CU_ASSERT_EQUAL(pwf_ops->lookup(fx.ctx, "bob", fx.pool, &u, &fx.err), SLUICE_NOTFOUND);
	fx_stop(&fx);
}

static void test_malformed_line_fails_init_with_its_line_number(void)
{
	static const struct {
		const char *content;
		unsigned line;
		const char *reason;
	} cases[] = {
	    {"# c\nalice:{PLAIN}a\nbob\n", 3, "too few fields"},
	    {"alice:{PLAIN}a:12x:1\n", 1, "uid"},
	    {"\nalice:{PLAIN}a:1:-5\n", 2, "gid"},
	    {"alice:{PLAIN}a:4294967295\n", 1, "uid"},
	    {"alice:{PLAIN}a:99999999999\n", 1, "uid"},
	    {"alice:{MD5}abcdefghijklmnop\n", 1, "unknown password scheme {MD5}"},
	    {"alice:{SHA512-CRYPT}$2b$05$abcdefghijklmnopqrstuv\n", 1, "must start with $6$"},
	    {"alice:{YESCRYPT}$6$salt$abcdefghijklmnopqrstuv\n", 1, "must start with $y$"},
	    {"alice:{BLF-CRYPT}$y$j9T$abcdefghijklmnopqrstuv\n", 1, "must start with $2b$"},
	    {"alice:abcdefghijklmnopqrstuv\n", 1, "no {SCHEME} prefix"},
	    {"alice:{PLAIN}a\nbob:{PLAIN}b\nalice:{PLAIN}c\n", 3,
	     "duplicate user alice (first on line 1)"},
	    {"alice:{PLAIN}a::::home/alice\n", 1, "absolute"},
	    {"alice:{PLAIN}\n", 1, "{PLAIN} password is empty"},
	    {"alice:{SHA512-CRYPT}\n", 1, "hash is empty"},
	    {"alice:{PLAINabcdefghijklmnopqrstuv\n", 1, "closing"},
	    {"alice:{PLAIN}a\n:{PLAIN}x\n", 2, "user name is empty"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char prefix[96];
		struct fx fx;
		int ret = fx_start(&fx, cases[i].content, 1000);

		snprintf(prefix, sizeof(prefix), "%s:%u: ", fx.path, cases[i].line);
		CU_ASSERT_EQUAL(ret, SLUICE_E_CONFIG);
		CU_ASSERT_PTR_NULL(fx.ctx);
		CU_ASSERT_EQUAL(strncmp(fx.err.msg, prefix, strlen(prefix)), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(fx.err.msg, cases[i].reason));
		/* The reason names the problem, never the secret. */
		CU_ASSERT_PTR_NULL(strstr(fx.err.msg, "abcdefghijklmnop"));
		if (ret != SLUICE_E_CONFIG || strncmp(fx.err.msg, prefix, strlen(prefix)) != 0 ||
		    strstr(fx.err.msg, cases[i].reason) == NULL)
			fprintf(stderr, "\ncase %zu: %s\n", i, fx.err.msg);
		fx_stop(&fx);
	}
}

static void test_nul_byte_in_a_line_is_malformed(void)
{
	static const char content[] = "alice:{PLAIN}a\nbob:{PLAIN}b\0c\ncarol:{PLAIN}c\n";
	char prefix[96];
	struct fx fx;

	/* Written in full: a NUL must not hide the rest of the line, or of the file. */
	CU_ASSERT_EQUAL_FATAL(fx_start(&fx, "", 1000), SLUICE_OK);
	CU_ASSERT_EQUAL_FATAL(write_file_raw(fx.path, content, sizeof(content) - 1), 0);
	snprintf(prefix, sizeof(prefix), "%s:2: ", fx.path);
	pwf_mod->deinit(fx.ctx);
	fx.ctx = NULL;
	CU_ASSERT_EQUAL(pwf_mod->init(&pwf_module.host, fx.conf, &fx.ctx, &fx.err),
	                SLUICE_E_CONFIG);
	CU_ASSERT_EQUAL(strncmp(fx.err.msg, prefix, strlen(prefix)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(fx.err.msg, "NUL"));
	fx_stop(&fx);
}

static void test_init_without_path_or_file_fails(void)
{
	struct sluice_error err = SLUICE_ERROR_INIT;
	void *conf = calloc(1, pwf_mod->conf_size);
	void *ctx = NULL;

	CU_ASSERT_FATAL(conf != NULL);
	CU_ASSERT_EQUAL(pwf_mod->init(&pwf_module.host, conf, &ctx, &err), SLUICE_E_CONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "path"));
	CU_ASSERT_PTR_NULL(ctx);
	free(conf);

	conf = conf_new("/tmp/sluice-pwf-does-not-exist", 1000);
	memset(&err, 0, sizeof(err));
	CU_ASSERT_EQUAL(pwf_mod->init(&pwf_module.host, conf, &ctx, &err), SLUICE_E_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/tmp/sluice-pwf-does-not-exist"));
	CU_ASSERT_PTR_NULL(ctx);
	free(conf);
}

static void test_changed_file_is_read_again(void)
{
	struct sluice_user u;
	struct fx fx;

	CU_ASSERT_EQUAL_FATAL(fx_start(&fx, "alice:{PLAIN}old\n", 0), 0);
	CU_ASSERT_EQUAL(login(&fx, "alice", "old", NULL), 0);
	write_file(fx.path, "alice:{PLAIN}new:5\nbob:{PLAIN}pb\n");
	CU_ASSERT_EQUAL(login(&fx, "alice", "old", NULL), SLUICE_E_AUTH);
	CU_ASSERT_EQUAL(login(&fx, "alice", "new", &u), 0);
	CU_ASSERT_EQUAL(u.uid, 5);
	CU_ASSERT_EQUAL(login(&fx, "bob", "pb", NULL), 0);
	CU_ASSERT_EQUAL(pwf_ops->lookup(fx.ctx, "bob", fx.pool, &u, &fx.err), 0);
	fx_stop(&fx);
}

static void test_changes_are_checked_at_most_every_check_interval(void)
{
	struct fx fx;

	atomic_store(&pwf_clock, 10000);
	CU_ASSERT_EQUAL_FATAL(fx_start(&fx, "alice:{PLAIN}old\n", 1000), 0);
	write_file(fx.path, "alice:{PLAIN}newer\n");
	CU_ASSERT_EQUAL(login(&fx, "alice", "old", NULL), 0);
	atomic_store(&pwf_clock, 10999);
	CU_ASSERT_EQUAL(login(&fx, "alice", "old", NULL), 0);
	atomic_store(&pwf_clock, 11000);
	CU_ASSERT_EQUAL(login(&fx, "alice", "newer", NULL), 0);
	CU_ASSERT_EQUAL(login(&fx, "alice", "old", NULL), SLUICE_E_AUTH);
	fx_stop(&fx);
}

static void test_reread_skips_malformed_lines_and_keeps_the_rest(void)
{
	char line2[96], line4[96];
	struct fx fx;

	CU_ASSERT_EQUAL_FATAL(fx_start(&fx, "alice:{PLAIN}a\nbob:{PLAIN}b\n", 0), 0);
	write_file(fx.path, "alice:{PLAIN}a2\nbroken line\nbob:{PLAIN}b2\ncarol:{MD5}xyz\n"
	                    "alice:{PLAIN}dup\n");
	CU_ASSERT_EQUAL(login(&fx, "alice", "a2", NULL), 0);
	CU_ASSERT_EQUAL(login(&fx, "bob", "b2", NULL), 0);
	CU_ASSERT_EQUAL(login(&fx, "carol", "xyz", NULL), SLUICE_NOTFOUND);
	snprintf(line2, sizeof(line2), "%s:2: ", fx.path);
	snprintf(line4, sizeof(line4), "%s:4: ", fx.path);
	CU_ASSERT_EQUAL(log_count(line2), 1);
	CU_ASSERT_EQUAL(log_count(line4), 1);
	CU_ASSERT_EQUAL(log_count("duplicate user alice"), 1);
	/* An unchanged file is not parsed (nor complained about) again. */
	CU_ASSERT_EQUAL(login(&fx, "alice", "a2", NULL), 0);
	CU_ASSERT_EQUAL(log_count(line2), 1);
	fx_stop(&fx);
}

static void test_unreadable_file_keeps_the_old_users(void)
{
	struct fx fx;

	CU_ASSERT_EQUAL_FATAL(fx_start(&fx, "alice:{PLAIN}a\n", 0), 0);
	CU_ASSERT_EQUAL_FATAL(unlink(fx.path), 0);
	CU_ASSERT_EQUAL(login(&fx, "alice", "a", NULL), 0);
	CU_ASSERT_EQUAL(login(&fx, "alice", "a", NULL), 0);
	/* Logged when it happens, not at every login. */
	CU_ASSERT_EQUAL(log_count("cannot stat"), 1);
	write_file(fx.path, "alice:{PLAIN}back\n");
	CU_ASSERT_EQUAL(login(&fx, "alice", "back", NULL), 0);
	fx_stop(&fx);
}

static void test_unusable_hash_fails_and_logs_user_and_line(void)
{
	char where[96];
	struct fx fx;

	CU_ASSERT_EQUAL_FATAL(fx_start(&fx, "alice:{PLAIN}a\nbob:{CRYPT}$9$qwertyuiop\n", 1000), 0);
	snprintf(where, sizeof(where), "%s:2", fx.path);
	CU_ASSERT_EQUAL(login(&fx, "bob", "pw", NULL), SLUICE_E_AUTH);
	CU_ASSERT_STRING_EQUAL(fx.err.msg, "Authentication failed.");
	CU_ASSERT(log_count("user bob cannot log in") == 1);
	CU_ASSERT(log_count(where) >= 1);
	CU_ASSERT_EQUAL(log_count("qwertyuiop"), 0);
	fx_stop(&fx);
}

static void test_reload_switches_files_and_refuses_a_malformed_one(void)
{
	char other[64], bad[64];
	void *conf2, *conf3, *conf4;
	struct fx fx;

	CU_ASSERT_EQUAL_FATAL(fx_start(&fx, "alice:{PLAIN}a\n", 1000), 0);
	make_temp_path(other, sizeof(other));
	write_file(other, "bob:{PLAIN}b\n");
	conf2 = conf_new(other, 1000);
	CU_ASSERT_EQUAL(pwf_mod->reload(fx.ctx, conf2, &fx.err), 0);
	CU_ASSERT_EQUAL(login(&fx, "bob", "b", NULL), 0);
	CU_ASSERT_EQUAL(login(&fx, "alice", "a", NULL), SLUICE_NOTFOUND);

	make_temp_path(bad, sizeof(bad));
	write_file(bad, "carol:{PLAIN}c\ncarol:{PLAIN}c\n");
	conf3 = conf_new(bad, 1000);
	CU_ASSERT_EQUAL(pwf_mod->reload(fx.ctx, conf3, &fx.err), SLUICE_E_CONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(fx.err.msg, ":2: duplicate user carol"));
	CU_ASSERT_EQUAL(login(&fx, "bob", "b", NULL), 0);
	CU_ASSERT_EQUAL(login(&fx, "carol", "c", NULL), SLUICE_NOTFOUND);

	conf4 = calloc(1, pwf_mod->conf_size);
	CU_ASSERT_EQUAL(pwf_mod->reload(fx.ctx, conf4, &fx.err), SLUICE_E_CONFIG);
	CU_ASSERT_EQUAL(login(&fx, "bob", "b", NULL), 0);

	unlink(other);
	unlink(bad);
	free(conf2);
	free(conf3);
	free(conf4);
	fx_stop(&fx);
}

/* Two versions of a file that differ in size, so every rewrite is a visible change. */
static const char pwf_version_a[] = "alice:{PLAIN}pwA\ncarol:{PLAIN}stable\n";
static const char pwf_version_b[] = "alice:{PLAIN}pwB\ncarol:{PLAIN}stable\nbob:{PLAIN}pwbob\n";

struct race {
	struct fx *fx;
	_Atomic unsigned wrong;
	_Atomic bool written; /* the writer has finished its rewrites */
};

static int race_login(struct race *r, struct sluice_pool *pool, const char *user,
                      const char *password)
{
	struct sluice_auth_request req = {.user = user,
	                                  .password = password,
	                                  .password_len = strlen(password),
	                                  .mechanism = "LOGIN"};
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct sluice_user u;
	int ret = pwf_ops->verify(r->fx->ctx, &req, pool, &u, &err);

	if (ret == 0 && strcmp(u.name, user) != 0)
		atomic_fetch_add(&r->wrong, 1);
	pool_clear(pool);
	return ret;
}

static void *race_verifier(void *arg)
{
	struct race *r = arg;
	struct sluice_pool *pool = pool_create(512, 0);
	int ret;

	/* Keep logging in until the writer is done, so the two really overlap. */
	for (unsigned i = 0; pool != NULL && (i < 100 || !atomic_load(&r->written)); i++) {
		if (race_login(r, pool, "carol", "stable") != 0)
			atomic_fetch_add(&r->wrong, 1);
		ret = race_login(r, pool, "alice", i % 2 ? "pwA" : "pwB");
		if (ret != 0 && ret != SLUICE_E_AUTH)
			atomic_fetch_add(&r->wrong, 1);
		ret = race_login(r, pool, "bob", "pwbob");
		if (ret != 0 && ret != SLUICE_NOTFOUND)
			atomic_fetch_add(&r->wrong, 1);
		if (race_login(r, pool, "mallory", "pwA") != SLUICE_NOTFOUND)
			atomic_fetch_add(&r->wrong, 1);
	}
	pool_destroy(&pool);
	return NULL;
}

static void *race_writer(void *arg)
{
	struct race *r = arg;
	for (unsigned i = 0; i < 300; i++) {
		const char *v = i % 2 ? pwf_version_a : pwf_version_b;
		if (write_file_raw(r->fx->path, v, strlen(v)) < 0)
			atomic_fetch_add(&r->wrong, 1);
	}
	atomic_store(&r->written, true);
	return NULL;
}

static void test_concurrent_verifies_while_the_file_is_rewritten(void)
{
	pthread_t verifiers[4], writer;
	struct race r = {0};
	struct fx fx;

	CU_ASSERT_EQUAL_FATAL(fx_start(&fx, pwf_version_a, 0), 0);
	r.fx = &fx;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&writer, NULL, race_writer, &r), 0);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&verifiers[i], NULL, race_verifier, &r), 0);
	pthread_join(writer, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(verifiers[i], NULL);
	CU_ASSERT_EQUAL(atomic_load(&r.wrong), 0);
	CU_ASSERT(log_count("changed") > 0);

	/* Once the writing stops, the last version is the one that counts. */
	write_file(fx.path, pwf_version_b);
	CU_ASSERT_EQUAL(login(&fx, "alice", "pwB", NULL), 0);
	CU_ASSERT_EQUAL(login(&fx, "bob", "pwbob", NULL), 0);
	fx_stop(&fx);
}

static int pwf_suite_init(void)
{
	if (fixture_module_load(&pwf_module, "passwd-file.so", SLUICE_KIND_PASSDB) < 0)
		return -1;
	pwf_module.host.now_ms = pwf_test_now;
	pwf_mod = pwf_module.desc;
	pwf_ops = pwf_mod->ops;
	return 0;
}

static int pwf_suite_cleanup(void)
{
	fixture_module_unload(&pwf_module);
	return 0;
}

static CU_TestInfo pwf_tests[] = {
    {"descriptor is a passdb with its settings", test_descriptor_is_a_passdb_with_its_settings},
    {"yescrypt hash verifies", test_yescrypt_hash_verifies},
    {"sha512-crypt hash verifies", test_sha512_crypt_hash_verifies},
    {"bcrypt hash verifies", test_bcrypt_hash_verifies},
    {"generic {CRYPT} scheme verifies", test_generic_crypt_scheme_verifies},
    {"bare crypt hash without scheme verifies", test_bare_crypt_hash_without_scheme_verifies},
    {"scheme names ignore case", test_scheme_names_ignore_case},
    {"{PLAIN} matches only the exact password", test_plain_matches_only_the_exact_password},
    {"password with embedded NUL never matches crypt",
     test_password_with_embedded_nul_never_matches_crypt},
    {"wrong password fails without hinting at the user",
     test_wrong_password_fails_without_hinting_at_the_user},
    {"unknown user is NOTFOUND, names are case-sensitive",
     test_unknown_user_is_notfound_and_names_are_case_sensitive},
    {"empty password field never logs in", test_empty_password_field_never_logs_in},
    {"fields, comments and line endings are parsed",
     test_fields_comments_and_line_endings_are_parsed},
    {"lookup fills the user without a password", test_lookup_fills_the_user_without_a_password},
    {"malformed line fails init with its line number",
     test_malformed_line_fails_init_with_its_line_number},
    {"NUL byte in a line is malformed", test_nul_byte_in_a_line_is_malformed},
    {"init without path or file fails", test_init_without_path_or_file_fails},
    {"changed file is read again", test_changed_file_is_read_again},
    {"changes are checked at most every check_interval",
     test_changes_are_checked_at_most_every_check_interval},
    {"re-read skips malformed lines and keeps the rest",
     test_reread_skips_malformed_lines_and_keeps_the_rest},
    {"unreadable file keeps the old users", test_unreadable_file_keeps_the_old_users},
    {"unusable hash fails and logs user and line", test_unusable_hash_fails_and_logs_user_and_line},
    {"reload switches files and refuses a malformed one",
     test_reload_switches_files_and_refuses_a_malformed_one},
    {"concurrent verifies while the file is rewritten",
     test_concurrent_verifies_while_the_file_is_rewritten},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo passwd_file_suites[] = {
    {"passwd-file", pwf_suite_init, pwf_suite_cleanup, NULL, NULL, pwf_tests},
    CU_SUITE_INFO_NULL,
};
