/*
 * Unit tests for core/module/loader.c and host.c: the real loader against the fixture
 * modules of tests/modules/fixtures (each wrong in exactly one way) and against the
 * shipped example module build/modules/denylist.so. Covers every descriptor check and
 * its sentence, settings errors with file:line, init order and unwinding, reload (good,
 * refused by the module, broken settings, blocks added or removed) and the host table.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sluice/sluice.h>

#include "conf/server-conf.h"
#include "module-fixture.h"
#include "module/loader.h"
#include "util/log.h"

#include "../modules/fixtures/good.h"

#define FIXTURE(name) SLUICE_TEST_FIXTURE_DIR "/" name ".so"
#define DENYLIST SLUICE_BUILD_MODULE_DIR "/denylist.so"

/* ---- helpers --------------------------------------------------------------------------- */

static char tmpdir[64];

static int suite_init(void)
{
	/* Modules log at info when they start; keep the test output readable. */
	log_setup(LOG_TARGET_STDERR, SLUICE_LOG_ERROR);
	return fixture_tempdir(tmpdir, sizeof(tmpdir), "sluice-loader");
}

static int suite_cleanup(void)
{
	log_setup(LOG_TARGET_STDERR, SLUICE_LOG_INFO);
	fixture_remove_tree(tmpdir);
	return 0;
}

static const char *write_file(const char *name, const char *text)
{
	static char path[4][256];
	static int next;
	char *p = path[next++ % 4];
	snprintf(p, sizeof(path[0]), "%s/%s", tmpdir, name);
	FILE *f = fopen(p, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
	return p;
}

static bool errs_have(const struct conf_errors *errs, const char *needle)
{
	for (size_t i = 0; i < errs->count; i++)
		if (errs->lines[i] != NULL && strstr(errs->lines[i], needle) != NULL)
			return true;
	return false;
}

/*
 * Loads a server configuration whose module blocks are @p modules. Five fixed lines come
 * first, so the first line of @p modules is line 6 of sluiced.conf.
 */
static struct server_conf *conf_with(const char *modules)
{
	char text[2048];
	struct server_conf *conf = NULL;
	struct conf_errors errs = {0};

	snprintf(text, sizeof(text),
	         "module_path = %s\n"
	         "listener imap {\n"
	         "  port = 10143\n"
	         "  tls = none\n"
	         "}\n"
	         "%s",
	         SLUICE_TEST_FIXTURE_DIR, modules);
	if (server_conf_load(write_file("sluiced.conf", text), &conf, &errs) < 0)
		conf_errors_print(&errs, stderr);
	CU_ASSERT_PTR_NOT_NULL(conf);
	conf_errors_free(&errs);
	return conf;
}

/* Runs module_open() and returns the error sentence ("" on success). */
static const char *open_msg(const char *path, const char *keyword, int *rc_r)
{
	static struct sluice_error err;
	const struct sluice_module *d = NULL;
	void *h = NULL;

	memset(&err, 0, sizeof(err));
	*rc_r = module_open(path, keyword, &d, &h, &err);
	if (*rc_r == 0) {
		CU_ASSERT_PTR_NOT_NULL(d);
		CU_ASSERT_PTR_NOT_NULL(h);
		dlclose(h);
	} else {
		CU_ASSERT_PTR_NULL(d);
		CU_ASSERT_PTR_NULL(h);
	}
	return err.msg;
}

/* ---- descriptor checks ----------------------------------------------------------------- */

static void test_good_module_passes_every_check(void)
{
	int rc;
	const char *msg = open_msg(FIXTURE("good"), "policy", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(msg, "");
}

static void test_missing_file_says_it_does_not_exist(void)
{
	int rc;
	const char *msg = open_msg("/nonexistent/pam.so", "auth", &rc);
	CU_ASSERT_EQUAL(rc, SLUICE_E_IO);
	CU_ASSERT_STRING_EQUAL(msg, "module file /nonexistent/pam.so does not exist");
}

static void test_file_that_is_not_a_shared_object_fails_dlopen(void)
{
	int rc;
	char want[256];
	const char *path = write_file("text.so", "this is not ELF\n");
	const char *msg = open_msg(path, "policy", &rc);
	CU_ASSERT_EQUAL(rc, SLUICE_E_ABI);
	snprintf(want, sizeof(want), "module file %s cannot be loaded: ", path);
	CU_ASSERT_EQUAL(strncmp(msg, want, strlen(want)), 0);
}

static void test_folder_is_not_a_module_file(void)
{
	int rc;
	const char *msg = open_msg(SLUICE_TEST_FIXTURE_DIR, "policy", &rc);
	CU_ASSERT_EQUAL(rc, SLUICE_E_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "is not a regular file"));
}

static void test_object_without_descriptor_is_not_a_module(void)
{
	int rc;
	const char *msg = open_msg(FIXTURE("nosym"), "policy", &rc);
	CU_ASSERT_EQUAL(rc, SLUICE_E_ABI);
	CU_ASSERT_STRING_EQUAL(msg, FIXTURE("nosym") " is not a Sluice module: it exports no "
	                                             "sluice_module_entry");
}

static void test_other_abi_major_is_refused_with_both_versions(void)
{
	int rc;
	const char *msg = open_msg(FIXTURE("badmajor"), "policy", &rc);
	CU_ASSERT_EQUAL(rc, SLUICE_E_ABI);
	char want[256];
	snprintf(want, sizeof(want),
	         "%s was built for module ABI 2.x; this server speaks ABI 1.%d — rebuild it "
	         "against this server's headers",
	         FIXTURE("badmajor"), SLUICE_ABI_MINOR);
	CU_ASSERT_STRING_EQUAL(msg, want);
}

static void test_newer_abi_minor_is_refused(void)
{
	int rc;
	const char *msg = open_msg(FIXTURE("newminor"), "policy", &rc);
	CU_ASSERT_EQUAL(rc, SLUICE_E_ABI);
	char want[256];
	snprintf(want, sizeof(want),
	         "%s was built for module ABI 1.%d, newer than this server's ABI 1.%d",
	         FIXTURE("newminor"), SLUICE_ABI_MINOR + 1, SLUICE_ABI_MINOR);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, want));
}

static void test_short_descriptor_is_refused_on_its_size(void)
{
	int rc;
	char want[256];
	const char *msg = open_msg(FIXTURE("shortdesc"), "policy", &rc);
	CU_ASSERT_EQUAL(rc, SLUICE_E_ABI);
	snprintf(want, sizeof(want),
	         "%s has a descriptor of 8 bytes, but ABI 1.%d descriptors have %zu",
	         FIXTURE("shortdesc"), SLUICE_ABI_MINOR, sizeof(struct sluice_module));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, want));
}

static void test_kind_must_fit_the_block_keyword(void)
{
	int rc;
	const char *msg = open_msg(FIXTURE("wrongkind"), "policy", &rc);
	CU_ASSERT_EQUAL(rc, SLUICE_E_ABI);
	CU_ASSERT_STRING_EQUAL(msg, FIXTURE("wrongkind") " is a password database (passdb) module, "
	                                                 "but 'policy' blocks load only policy "
	                                                 "modules");
	msg = open_msg(FIXTURE("good"), "auth", &rc);
	CU_ASSERT_EQUAL(rc, SLUICE_E_ABI);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg,
	                              "is a policy module, but 'auth' blocks load only password "
	                              "database (passdb) or SASL mechanism modules"));
	/* A passdb module is what an auth block takes. */
	open_msg(FIXTURE("wrongkind"), "auth", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	msg = open_msg(FIXTURE("good"), "mailbox", &rc);
	CU_ASSERT_EQUAL(rc, SLUICE_E_CONFIG);
}

static void test_null_ops_table_is_refused(void)
{
	int rc;
	const char *msg = open_msg(FIXTURE("nullops"), "policy", &rc);
	CU_ASSERT_EQUAL(rc, SLUICE_E_ABI);
	CU_ASSERT_STRING_EQUAL(msg,
	                       FIXTURE("nullops") " has no ops table in its descriptor (a policy "
	                                          "module needs a struct sluice_policy_ops)");
}

static void test_short_ops_table_is_refused(void)
{
	int rc;
	char want[256];
	const char *msg = open_msg(FIXTURE("shortops"), "policy", &rc);
	CU_ASSERT_EQUAL(rc, SLUICE_E_ABI);
	snprintf(
	    want, sizeof(want),
	    "%s has a struct sluice_policy_ops of 4 bytes, smaller than the %zu bytes of ABI 1.%d",
	    FIXTURE("shortops"), sizeof(struct sluice_policy_ops), SLUICE_ABI_MINOR);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, want));
}

/* ---- module sets ----------------------------------------------------------------------- */

/* Calls a policy hook of @p inst for a client at @p ip logged in as @p user (or NULL). */
static int hook(struct module_instance *inst, bool login, const char *ip, const char *user,
                struct sluice_error *err)
{
	const struct sluice_policy_ops *ops = inst->desc->ops;
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	CU_ASSERT_EQUAL(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	struct sluice_peer peer = {.remote = (struct sockaddr *)&ss, .remote_ip = ip};
	struct sluice_policy_conn conn = {.id = 1, .peer = &peer, .user = user};
	memset(err, 0, sizeof(*err));
	return login ? ops->login(inst->modctx, &conn, err)
	             : ops->connect(inst->modctx, &conn, err);
}

static void test_set_loads_settings_inits_reloads_and_destroys(void)
{
	struct server_conf *conf = conf_with("policy good {\n"
	                                     "  limit = 5\n"
	                                     "  wait = 2m\n"
	                                     "}\n"
	                                     "policy denylist {\n"
	                                     "  file = " DENYLIST "\n"
	                                     "  users = bob, mallory\n"
	                                     "}\n");
	struct conf_errors errs = {0};
	struct module_set *set = NULL;
	struct sluice_error err;
	CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
	CU_ASSERT_EQUAL_FATAL(module_set_load(conf, &set, &errs), 0);
	CU_ASSERT_EQUAL_FATAL(set->count, 2);

	struct module_instance *good = &set->items[0], *deny = &set->items[1];
	CU_ASSERT_STRING_EQUAL(good->name, "good");
	CU_ASSERT_STRING_EQUAL(good->keyword, "policy");
	CU_ASSERT_STRING_EQUAL(good->path, FIXTURE("good"));
	CU_ASSERT_STRING_EQUAL(deny->path, DENYLIST);
	CU_ASSERT_EQUAL(good->line, 6);
	CU_ASSERT_FALSE(good->initialized);
	const struct good_settings *gs = good->conf;
	CU_ASSERT_EQUAL(gs->limit, 5);
	CU_ASSERT_EQUAL(gs->wait, 120000);
	CU_ASSERT_STRING_EQUAL(gs->greeting, "hello");
	CU_ASSERT_PTR_EQUAL(module_host_instance(&good->host), good);

	CU_ASSERT_EQUAL_FATAL(module_set_init(set, &errs), 0);
	CU_ASSERT_TRUE(good->initialized && deny->initialized);
	const struct good_state *st = good->modctx;
	CU_ASSERT_EQUAL(st->limit, 5);
	CU_ASSERT_TRUE(st->host_ok);
	CU_ASSERT_TRUE(st->pool_ok);

	struct module_instance *found[4];
	CU_ASSERT_EQUAL(module_set_find(set, SLUICE_KIND_POLICY, found, 4), 2);
	CU_ASSERT_PTR_EQUAL(found[0], good);
	CU_ASSERT_PTR_EQUAL(found[1], deny);
	CU_ASSERT_EQUAL(module_set_find(set, SLUICE_KIND_POLICY, found, 1), 2);
	CU_ASSERT_EQUAL(module_set_find(set, SLUICE_KIND_PASSDB, found, 4), 0);

	/* The denylist refuses listed users (in any case) and nobody's address yet. */
	CU_ASSERT_EQUAL(hook(deny, true, "192.0.2.1", "Bob", &err), SLUICE_E_REFUSED);
	CU_ASSERT_STRING_EQUAL(err.resp_code, "UNAVAILABLE");
	CU_ASSERT_STRING_EQUAL(err.msg, "Access denied by the administrator");
	CU_ASSERT_EQUAL(hook(deny, true, "192.0.2.1", "alice", &err), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(hook(deny, false, "192.0.2.1", NULL, &err), SLUICE_DECLINED);

	/* SIGHUP with new values: both modules take them. */
	struct server_conf *next = conf_with("policy good {\n"
	                                     "  limit = 7\n"
	                                     "}\n"
	                                     "policy denylist {\n"
	                                     "  file = " DENYLIST "\n"
	                                     "  networks = 192.0.2.0/24\n"
	                                     "  message = \"Go away\"\n"
	                                     "}\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(next);
	CU_ASSERT_EQUAL(module_set_reload(set, next, &errs), 0);
	CU_ASSERT_EQUAL(errs.count, 0);
	CU_ASSERT_EQUAL(st->limit, 7);
	CU_ASSERT_EQUAL(st->reloads, 1);
	CU_ASSERT_EQUAL(((const struct good_settings *)good->conf)->limit, 7);
	CU_ASSERT_EQUAL(hook(deny, false, "192.0.2.200", NULL, &err), SLUICE_E_REFUSED);
	CU_ASSERT_STRING_EQUAL(err.msg, "Go away");
	CU_ASSERT_EQUAL(hook(deny, false, "198.51.100.1", NULL, &err), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(hook(deny, true, "198.51.100.1", "bob", &err), SLUICE_DECLINED);

	/* The set holds its own references: dropping ours must not free the settings. */
	server_conf_unref(&conf);
	server_conf_unref(&next);
	CU_ASSERT_EQUAL(((const struct good_settings *)good->conf)->limit, 7);
	module_set_destroy(&set);
	CU_ASSERT_PTR_NULL(set);
	conf_errors_free(&errs);
}

static void test_settings_errors_carry_file_and_line(void)
{
	struct server_conf *conf = conf_with("policy good {\n"
	                                     "  limit = 50\n"
	                                     "  bogus = 1\n"
	                                     "}\n");
	struct conf_errors errs = {0};
	struct module_set *set = (struct module_set *)1;
	CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
	CU_ASSERT_EQUAL(module_set_load(conf, &set, &errs), -1);
	CU_ASSERT_PTR_NULL(set);
	CU_ASSERT_EQUAL(errs.count, 2);
	CU_ASSERT_TRUE(
	    errs_have(&errs, "sluiced.conf:7: 'limit' must be between 1 and 10, not '50'"));
	CU_ASSERT_TRUE(errs_have(&errs,
	                         "sluiced.conf:8: unknown setting 'bogus' in policy good; known "
	                         "settings: limit, greeting, wait, fail_init, fail_reload, file"));
	conf_errors_free(&errs);
	server_conf_unref(&conf);
}

static void test_every_bad_block_is_reported_at_its_line(void)
{
	struct server_conf *conf = conf_with("policy nothere {\n"
	                                     "}\n"
	                                     "policy other {\n"
	                                     "  file = good.so\n"
	                                     "}\n"
	                                     "auth good {\n"
	                                     "}\n");
	struct conf_errors errs = {0};
	struct module_set *set = NULL;
	CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
	/* The relative `file` resolves against sluiced.conf's folder, where good.so is not. */
	CU_ASSERT_EQUAL(module_set_load(conf, &set, &errs), -1);
	CU_ASSERT_EQUAL(errs.count, 3);
	CU_ASSERT_TRUE(
	    errs_have(&errs, "sluiced.conf:6: cannot load policy nothere: module file " FIXTURE(
	                         "nothere") " does not exist"));
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf:8: cannot load policy other: module file "));
	CU_ASSERT_TRUE(errs_have(&errs, "/good.so does not exist"));
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf:11: cannot load auth good: "));
	conf_errors_free(&errs);
	server_conf_unref(&conf);
}

static void test_block_name_must_match_module_name(void)
{
	struct server_conf *conf = conf_with("policy other {\n"
	                                     "  file = " FIXTURE("good") "\n"
	                                                                 "}\n");
	struct conf_errors errs = {0};
	struct module_set *set = NULL;
	CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
	CU_ASSERT_EQUAL(module_set_load(conf, &set, &errs), -1);
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf:6: cannot load policy other: " FIXTURE(
	                                    "good") " is the module 'good', but the block is named "
	                                            "'other'"));
	conf_errors_free(&errs);
	server_conf_unref(&conf);
}

static void test_failed_init_stops_the_modules_already_started(void)
{
	struct server_conf *conf = conf_with("policy denylist {\n"
	                                     "  file = " DENYLIST "\n"
	                                     "}\n"
	                                     "policy good {\n"
	                                     "  fail_init = yes\n"
	                                     "}\n");
	struct conf_errors errs = {0};
	struct module_set *set = NULL;
	CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
	CU_ASSERT_EQUAL_FATAL(module_set_load(conf, &set, &errs), 0);
	CU_ASSERT_EQUAL(module_set_init(set, &errs), -1);
	CU_ASSERT_EQUAL(errs.count, 1);
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf:9: module good: asked to fail"));
	/* The denylist was started first and must have been stopped again (ASan: no leak). */
	CU_ASSERT_FALSE(set->items[0].initialized);
	CU_ASSERT_FALSE(set->items[1].initialized);
	module_set_destroy(&set);
	conf_errors_free(&errs);
	server_conf_unref(&conf);
}

static void test_reload_with_bad_settings_changes_no_module(void)
{
	struct server_conf *conf = conf_with("policy good {\n  limit = 2\n}\n");
	struct conf_errors errs = {0};
	struct module_set *set = NULL;
	CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
	CU_ASSERT_EQUAL_FATAL(module_set_load(conf, &set, &errs), 0);
	CU_ASSERT_EQUAL_FATAL(module_set_init(set, &errs), 0);
	const struct good_state *st = set->items[0].modctx;

	struct server_conf *bad = conf_with("policy good {\n  limit = 3\n  wait = soon\n}\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(bad);
	CU_ASSERT_EQUAL(module_set_reload(set, bad, &errs), -1);
	CU_ASSERT_TRUE(errs_have(&errs,
	                         "sluiced.conf:8: 'wait' must be a duration such as 40s or 2m, "
	                         "not 'soon'"));
	CU_ASSERT_EQUAL(st->reloads, 0);
	CU_ASSERT_EQUAL(st->limit, 2);
	CU_ASSERT_EQUAL(((const struct good_settings *)set->items[0].conf)->limit, 2);
	conf_errors_free(&errs);

	struct server_conf *refused =
	    conf_with("policy good {\n  limit = 4\n  fail_reload = yes\n}\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(refused);
	CU_ASSERT_EQUAL(module_set_reload(set, refused, &errs), -1);
	CU_ASSERT_TRUE(errs_have(&errs,
	                         "sluiced.conf:6: module good kept its old settings: asked to "
	                         "fail the reload"));
	CU_ASSERT_EQUAL(st->limit, 2);
	CU_ASSERT_EQUAL(((const struct good_settings *)set->items[0].conf)->limit, 2);
	conf_errors_free(&errs);

	server_conf_unref(&bad);
	server_conf_unref(&refused);
	server_conf_unref(&conf);
	CU_ASSERT_EQUAL(((const struct good_settings *)set->items[0].conf)->limit, 2);
	module_set_destroy(&set);
}

static void test_added_or_removed_blocks_need_a_restart_but_are_no_error(void)
{
	struct server_conf *conf = conf_with("policy good {\n}\n");
	struct conf_errors errs = {0};
	struct module_set *set = NULL;
	CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
	CU_ASSERT_EQUAL_FATAL(module_set_load(conf, &set, &errs), 0);
	CU_ASSERT_EQUAL_FATAL(module_set_init(set, &errs), 0);

	struct server_conf *other = conf_with("policy denylist {\n  file = " DENYLIST "\n}\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	CU_ASSERT_EQUAL(module_set_reload(set, other, &errs), 0);
	CU_ASSERT_EQUAL(errs.count, 0);
	CU_ASSERT_EQUAL(set->count, 1);
	CU_ASSERT_TRUE(set->items[0].initialized);
	CU_ASSERT_EQUAL(((const struct good_state *)set->items[0].modctx)->reloads, 0);
	server_conf_unref(&other);
	server_conf_unref(&conf);
	module_set_destroy(&set);
}

static void test_host_log_lines_carry_the_module_name(void)
{
	struct server_conf *conf = conf_with("policy good {\n}\n");
	struct conf_errors errs = {0};
	struct module_set *set = NULL;
	char path[128], line[512] = {0};
	CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
	CU_ASSERT_EQUAL_FATAL(module_set_load(conf, &set, &errs), 0);

	snprintf(path, sizeof(path), "%s/log.txt", tmpdir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600), saved = dup(STDERR_FILENO);
	CU_ASSERT_FATAL(fd >= 0 && saved >= 0);
	log_setup(LOG_TARGET_STDERR, SLUICE_LOG_DEBUG);
	dup2(fd, STDERR_FILENO);
	const struct sluice_host *host = &set->items[0].host;
	host->log(host, SLUICE_LOG_WARNING, "limit is %d", 3);
	host->log(host, (enum sluice_log_level)99, "odd level");
	dup2(saved, STDERR_FILENO);
	close(saved);
	log_setup(LOG_TARGET_STDERR, SLUICE_LOG_ERROR);
	CU_ASSERT(pread(fd, line, sizeof(line) - 1, 0) > 0);
	close(fd);
	CU_ASSERT_PTR_NOT_NULL(strstr(line, "warning: good: limit is 3\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(line, "error: good: odd level\n"));
	CU_ASSERT(host->now_ms() > 0);
	module_set_destroy(&set);
	server_conf_unref(&conf);
}

static CU_TestInfo loader_tests[] = {
    {"good module passes every check", test_good_module_passes_every_check},
    {"missing file says it does not exist", test_missing_file_says_it_does_not_exist},
    {"file that is not a shared object fails dlopen",
     test_file_that_is_not_a_shared_object_fails_dlopen},
    {"folder is not a module file", test_folder_is_not_a_module_file},
    {"object without descriptor is not a module", test_object_without_descriptor_is_not_a_module},
    {"other ABI major is refused with both versions",
     test_other_abi_major_is_refused_with_both_versions},
    {"newer ABI minor is refused", test_newer_abi_minor_is_refused},
    {"short descriptor is refused on its size", test_short_descriptor_is_refused_on_its_size},
    {"kind must fit the block keyword", test_kind_must_fit_the_block_keyword},
    {"NULL ops table is refused", test_null_ops_table_is_refused},
    {"short ops table is refused", test_short_ops_table_is_refused},
    {"set loads settings, inits, reloads and destroys",
     test_set_loads_settings_inits_reloads_and_destroys},
    {"settings errors carry file and line", test_settings_errors_carry_file_and_line},
    {"every bad block is reported at its line", test_every_bad_block_is_reported_at_its_line},
    {"block name must match the module name", test_block_name_must_match_module_name},
    {"failed init stops the modules already started",
     test_failed_init_stops_the_modules_already_started},
    {"reload with bad settings or a refusing module changes nothing",
     test_reload_with_bad_settings_changes_no_module},
    {"added or removed blocks need a restart but are no error",
     test_added_or_removed_blocks_need_a_restart_but_are_no_error},
    {"host log lines carry the module name", test_host_log_lines_carry_the_module_name},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo loader_suites[] = {
    {"loader", suite_init, suite_cleanup, NULL, NULL, loader_tests},
    CU_SUITE_INFO_NULL,
};
