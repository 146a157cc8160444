/*
 * Unit tests for core/conf/settings.c (typed values from setting tables) and
 * core/conf/server-conf.c (sluiced.conf's keys and blocks, the cross-checks between
 * them, and the shipped etc/ files). Also holds docs/config.md to the settings tables:
 * a key missing from the reference fails here.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sluice/module.h>

#include "conf/conf.h"
#include "conf/server-conf.h"
#include "conf/settings.h"
#include "module-fixture.h"
#include "util/pool.h"

/* ---- helpers --------------------------------------------------------------------------- */

static char tmpdir[64];

static void setup_tmpdir(void)
{
	CU_ASSERT_EQUAL_FATAL(fixture_tempdir(tmpdir, sizeof(tmpdir), "sluice-settings"), 0);
}

static void teardown_tmpdir(void)
{
	fixture_remove_tree(tmpdir);
}

static const char *write_file(const char *name, const char *text)
{
	static char path[8][256];
	static int next;
	char *p = path[next++ % 8];
	snprintf(p, sizeof(path[0]), "%s/%s", tmpdir, name);
	char *slash = strrchr(p, '/');
	*slash = '\0';
	mkdir(p, 0700);
	*slash = '/';
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

/* A struct with one field of each type, and its table. */
struct sample {
	bool flag;
	unsigned count;
	uint64_t size;
	uint64_t wait;
	const char *text;
	unsigned mode;
	const struct sluice_cidr_list *nets;
};

static const char *const mode_choices[] = {"fast", "safe", "slow", NULL};

#define SS struct sample
static const struct sluice_setting sample_table[] = {
    SLUICE_SETTING_BOOL("flag", SS, flag, "yes", "a flag"),
    SLUICE_SETTING_UINT("count", SS, count, "4", 1, 10, "a count"),
    SLUICE_SETTING_SIZE("size", SS, size, "64K", 1024, UINT64_C(1) << 30, "a size"),
    SLUICE_SETTING_DURATION("fetch_wait", SS, wait, "40s", 0, 0, "a wait"),
    SLUICE_SETTING_STRING("text", SS, text, NULL, "some | text"),
    SLUICE_SETTING_ENUM("mode", SS, mode, "safe", mode_choices, "a mode"),
    SLUICE_SETTING_CIDR_LIST("nets", SS, nets, "127.0.0.0/8 ::1", "networks"),
    SLUICE_SETTING_END,
};
#undef SS

/* Parses @p text as the value of @p key of sample_table; returns 0 or -1 with @p why. */
static int parse_one(const char *key, const char *text, struct sample *out, char *why,
                     struct sluice_pool *pool)
{
	const struct sluice_setting *s = settings_find(sample_table, key);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	why[0] = '\0';
	return settings_parse_value(s, text, (char *)out + s->offset, pool, why, 512);
}

/* ---- values ---------------------------------------------------------------------------- */

static void test_bool_accepts_yes_no_true_false_on_off(void)
{
	struct sample v = {0};
	char why[512];
	const char *yes[] = {"yes", "true", "on", "YES", "On"};
	const char *no[] = {"no", "false", "off", "No"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		v.flag = false;
		CU_ASSERT_EQUAL(parse_one("flag", yes[i], &v, why, NULL), 0);
		CU_ASSERT_TRUE(v.flag);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		v.flag = true;
		CU_ASSERT_EQUAL(parse_one("flag", no[i], &v, why, NULL), 0);
		CU_ASSERT_FALSE(v.flag);
	}
	CU_ASSERT_EQUAL(parse_one("flag", "maybe", &v, why, NULL), -1);
	CU_ASSERT_STRING_EQUAL(why,
	                       "'flag' must be yes or no (or true/false, on/off), not 'maybe'");
}

static void test_uint_is_range_checked_and_overflow_safe(void)
{
	struct sample v = {0};
	char why[512];
	CU_ASSERT_EQUAL(parse_one("count", "10", &v, why, NULL), 0);
	CU_ASSERT_EQUAL(v.count, 10);
	CU_ASSERT_EQUAL(parse_one("count", "11", &v, why, NULL), -1);
	CU_ASSERT_STRING_EQUAL(why, "'count' must be between 1 and 10, not '11'");
	CU_ASSERT_EQUAL(v.count, 10); /* a refused value leaves the field alone */
	CU_ASSERT_EQUAL(parse_one("count", "-1", &v, why, NULL), -1);
	CU_ASSERT_STRING_EQUAL(why, "'count' must be a whole number such as 4, not '-1'");
	CU_ASSERT_EQUAL(parse_one("count", "4x", &v, why, NULL), -1);
	CU_ASSERT_EQUAL(parse_one("count", "", &v, why, NULL), -1);
	CU_ASSERT_EQUAL(parse_one("count", "99999999999999999999999", &v, why, NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "too large"));
	CU_ASSERT_EQUAL(parse_one("count", "4294967296", &v, why, NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "too large"));
}

static void test_size_units_are_powers_of_1024(void)
{
	struct sample v = {0};
	char why[512];
	struct {
		const char *text;
		uint64_t bytes;
	} ok[] = {
	    {"2048", 2048},
	    {"2K", 2048},
	    {"2k", 2048},
	    {"2KB", 2048},
	    {"2KiB", 2048},
	    {"64 M", UINT64_C(64) << 20},
	    {"1G", UINT64_C(1) << 30},
	    {"1024B", 1024},
	    {"1gib", UINT64_C(1) << 30},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CU_ASSERT_EQUAL(parse_one("size", ok[i].text, &v, why, NULL), 0);
		CU_ASSERT_EQUAL(v.size, ok[i].bytes);
	}
	CU_ASSERT_EQUAL(parse_one("size", "1.5G", &v, why, NULL), -1);
	CU_ASSERT_STRING_EQUAL(why, "'size' must be a size such as 64K, 10M or 1G, not '1.5G'");
	CU_ASSERT_EQUAL(parse_one("size", "2X", &v, why, NULL), -1);
	CU_ASSERT_EQUAL(parse_one("size", "512", &v, why, NULL), -1);
	CU_ASSERT_STRING_EQUAL(why, "'size' must be between 1K and 1G, not '512'");
	CU_ASSERT_EQUAL(parse_one("size", "2G", &v, why, NULL), -1);
	CU_ASSERT_STRING_EQUAL(why, "'size' must be between 1K and 1G, not '2G'");
	/* 2^24 T = 2^64 bytes: one past what 64 bits hold. */
	CU_ASSERT_EQUAL(parse_one("size", "16777216T", &v, why, NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "does not fit in 64 bits"));
}

static void test_duration_units_and_bare_seconds(void)
{
	struct sample v = {0};
	char why[512];
	struct {
		const char *text;
		uint64_t ms;
	} ok[] = {
	    {"40s", 40000},   {"2m", 120000},     {"90", 90000},
	    {"250ms", 250},   {"1h30m", 5400000}, {"1h 30m", 5400000},
	    {"1d", 86400000}, {"10 S", 10000},    {"0", 0},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CU_ASSERT_EQUAL(parse_one("fetch_wait", ok[i].text, &v, why, NULL), 0);
		CU_ASSERT_EQUAL(v.wait, ok[i].ms);
	}
	CU_ASSERT_EQUAL(parse_one("fetch_wait", "soon", &v, why, NULL), -1);
	CU_ASSERT_STRING_EQUAL(why,
	                       "'fetch_wait' must be a duration such as 40s or 2m, not 'soon'");
	CU_ASSERT_EQUAL(parse_one("fetch_wait", "1h 30", &v, why, NULL), -1);
	CU_ASSERT_EQUAL(parse_one("fetch_wait", "5w", &v, why, NULL), -1);
	CU_ASSERT_EQUAL(parse_one("fetch_wait", "", &v, why, NULL), -1);
	CU_ASSERT_EQUAL(parse_one("fetch_wait", "300000000000000d", &v, why, NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "does not fit in 64 bits"));
}

static void test_duration_range_is_shown_in_units(void)
{
	static const struct sluice_setting s =
	    SLUICE_SETTING_DURATION("autologout", struct sample, wait, NULL, 60000, 0, "");
	uint64_t v;
	char why[256];
	CU_ASSERT_EQUAL(settings_parse_value(&s, "30s", &v, NULL, why, sizeof(why)), -1);
	CU_ASSERT_STRING_EQUAL(why, "'autologout' must be at least 1m, not '30s'");
	CU_ASSERT_EQUAL(settings_parse_value(&s, "1m", &v, NULL, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(v, 60000);
}

static void test_enum_lists_its_choices(void)
{
	struct sample v = {0};
	char why[512];
	CU_ASSERT_EQUAL(parse_one("mode", "slow", &v, why, NULL), 0);
	CU_ASSERT_EQUAL(v.mode, 2);
	CU_ASSERT_EQUAL(parse_one("mode", "FAST", &v, why, NULL), 0);
	CU_ASSERT_EQUAL(v.mode, 0);
	CU_ASSERT_EQUAL(parse_one("mode", "quick", &v, why, NULL), -1);
	CU_ASSERT_STRING_EQUAL(why, "'mode' must be fast, safe or slow, not 'quick'");
}

static void test_string_is_kept_as_written(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	struct sample v = {0};
	char why[512];
	CU_ASSERT_EQUAL(parse_one("text", "  a \"b\" ", &v, why, pool), 0);
	CU_ASSERT_STRING_EQUAL(v.text, "  a \"b\" ");
	pool_destroy(&pool);
}

/*
 * Addresses go into a sockaddr_storage, as accepted sockets have them: GCC cannot prove
 * that sluice_cidr_match() reads only the IPv4 part of a bare sockaddr_in.
 */
static struct sockaddr_storage sa(const char *text)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		CU_ASSERT_EQUAL(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		CU_ASSERT_EQUAL(inet_pton(AF_INET, text, &s4->sin_addr), 1);
	}
	return ss;
}

static void test_cidr_list_parses_validates_and_matches(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	struct sample v = {0};
	char why[512];
	CU_ASSERT_EQUAL_FATAL(
	    parse_one("nets", "10.1.2.3/16, 2001:db8::/32 192.0.2.7 ::ffff:198.51.100.0/120", &v,
	              why, pool),
	    0);
	CU_ASSERT_EQUAL_FATAL(v.nets->count, 4);
	CU_ASSERT_EQUAL(v.nets->items[0].family, AF_INET);
	CU_ASSERT_EQUAL(v.nets->items[0].prefix, 16);
	CU_ASSERT_EQUAL(v.nets->items[0].addr[2], 0); /* bits past the prefix cleared */
	CU_ASSERT_EQUAL(v.nets->items[1].family, AF_INET6);
	CU_ASSERT_EQUAL(v.nets->items[2].prefix, 32);
	CU_ASSERT_EQUAL(v.nets->items[3].family, AF_INET); /* IPv4-mapped stored as IPv4 */
	CU_ASSERT_EQUAL(v.nets->items[3].prefix, 24);

	struct sockaddr_storage in = sa("10.1.200.9"), out = sa("10.2.0.1"),
	                        mapped_net = sa("198.51.100.77"), in6 = sa("2001:db8:1::1"),
	                        mapped = sa("::ffff:10.1.0.1"), out6 = sa("2001:db9::1");
	CU_ASSERT_TRUE(sluice_cidr_match(v.nets, (struct sockaddr *)&in));
	CU_ASSERT_FALSE(sluice_cidr_match(v.nets, (struct sockaddr *)&out));
	CU_ASSERT_TRUE(sluice_cidr_match(v.nets, (struct sockaddr *)&mapped_net));
	CU_ASSERT_TRUE(sluice_cidr_match(v.nets, (struct sockaddr *)&in6));
	CU_ASSERT_TRUE(sluice_cidr_match(v.nets, (struct sockaddr *)&mapped));
	CU_ASSERT_FALSE(sluice_cidr_match(v.nets, (struct sockaddr *)&out6));

	CU_ASSERT_EQUAL(parse_one("nets", "10.0.0.300", &v, why, pool), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "'10.0.0.300' is not one"));
	CU_ASSERT_EQUAL(parse_one("nets", "10.0.0.0/33", &v, why, pool), -1);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(why, "prefix in '10.0.0.0/33' must be a number from 0 to 32"));
	CU_ASSERT_EQUAL(parse_one("nets", "::/129", &v, why, pool), -1);
	CU_ASSERT_EQUAL(parse_one("nets", "10.0.0.0/", &v, why, pool), -1);
	CU_ASSERT_EQUAL(parse_one("nets", "mail.example.org", &v, why, pool), -1);
	CU_ASSERT_EQUAL(parse_one("nets", "", &v, why, pool), 0);
	CU_ASSERT_EQUAL(v.nets->count, 0);
	CU_ASSERT_FALSE(sluice_cidr_match(v.nets, (struct sockaddr *)&in));
	pool_destroy(&pool);
}

/* ---- blocks ---------------------------------------------------------------------------- */

/* Parses @p text and applies sample_table to its first block. */
static int apply_block(const char *text, struct sample *v, struct conf_errors *errs,
                       const char *const *reserved)
{
	struct conf_tree *tree;
	CU_ASSERT_EQUAL_FATAL(conf_parse_string(text, "m.conf", &tree, errs), 0);
	int rc = settings_apply(sample_table, &conf_tree_root(tree)->children[0], v,
	                        conf_tree_pool(tree), reserved, errs);
	conf_tree_free(&tree);
	return rc;
}

static void test_defaults_are_applied_without_a_block(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	struct conf_errors errs = {0};
	struct sample v;
	memset(&v, 0xa5, sizeof(v));
	CU_ASSERT_EQUAL(settings_apply(sample_table, NULL, &v, pool, NULL, &errs), 0);
	CU_ASSERT_TRUE(v.flag);
	CU_ASSERT_EQUAL(v.count, 4);
	CU_ASSERT_EQUAL(v.size, 65536);
	CU_ASSERT_EQUAL(v.wait, 40000);
	CU_ASSERT_PTR_NULL(v.text);
	CU_ASSERT_EQUAL(v.mode, 1);
	CU_ASSERT_EQUAL(v.nets->count, 2);
	pool_destroy(&pool);
}

static void test_block_values_override_defaults(void)
{
	struct conf_errors errs = {0};
	struct sample v;
	CU_ASSERT_EQUAL(apply_block("policy p {\n  count = 7\n  flag = off\n}\n", &v, &errs, NULL),
	                0);
	CU_ASSERT_EQUAL(v.count, 7);
	CU_ASSERT_FALSE(v.flag);
	CU_ASSERT_EQUAL(v.wait, 40000);
	CU_ASSERT_EQUAL(errs.count, 0);
}

static void test_unknown_key_lists_known_settings(void)
{
	struct conf_errors errs = {0};
	struct sample v;
	CU_ASSERT_EQUAL(apply_block("policy denylist {\n  usres = bob\n}\n", &v, &errs, NULL), -1);
	CU_ASSERT_EQUAL(errs.count, 1);
	CU_ASSERT_TRUE(errs_have(&errs,
	                         "m.conf:2: unknown setting 'usres' in policy denylist; known "
	                         "settings: flag, count, size, fetch_wait, text, mode, nets"));
	conf_errors_free(&errs);
}

static void test_duplicate_key_points_to_first(void)
{
	struct conf_errors errs = {0};
	struct sample v;
	CU_ASSERT_EQUAL(apply_block("tls {\n  count = 2\n  count = 3\n}\n", &v, &errs, NULL), -1);
	CU_ASSERT_TRUE(
	    errs_have(&errs, "m.conf:3: 'count' is set twice in tls (first at m.conf:2)"));
	CU_ASSERT_EQUAL(v.count, 2);
	conf_errors_free(&errs);
}

static void test_nested_block_where_value_expected_is_error(void)
{
	struct conf_errors errs = {0};
	struct sample v;
	CU_ASSERT_EQUAL(apply_block("policy p {\n  count {\n  }\n}\n", &v, &errs, NULL), -1);
	CU_ASSERT_TRUE(errs_have(&errs, "m.conf:2: unexpected block 'count' in policy p"));
	conf_errors_free(&errs);
}

static void test_all_block_errors_are_reported_with_their_lines(void)
{
	struct conf_errors errs = {0};
	struct sample v;
	CU_ASSERT_EQUAL(apply_block("policy p {\n  count = 0\n  fetch_wait = soon\n  mode = x\n}\n",
	                            &v, &errs, NULL),
	                -1);
	CU_ASSERT_EQUAL(errs.count, 3);
	CU_ASSERT_TRUE(errs_have(&errs, "m.conf:2: 'count' must be between 1 and 10, not '0'"));
	CU_ASSERT_TRUE(errs_have(&errs, "m.conf:3: 'fetch_wait' must be a duration"));
	CU_ASSERT_TRUE(errs_have(&errs, "m.conf:4: 'mode' must be fast, safe or slow, not 'x'"));
	conf_errors_free(&errs);
}

static void test_reserved_keys_are_skipped_and_listed_as_known(void)
{
	static const char *const reserved[] = {"file", NULL};
	struct conf_errors errs = {0};
	struct sample v;
	CU_ASSERT_EQUAL(apply_block("policy p {\n  file = x.so\n}\n", &v, &errs, reserved), 0);
	CU_ASSERT_EQUAL(apply_block("policy p {\n  bogus = 1\n}\n", &v, &errs, reserved), -1);
	CU_ASSERT_TRUE(errs_have(&errs,
	                         "known settings: flag, count, size, fetch_wait, text, mode, "
	                         "nets, file"));
	conf_errors_free(&errs);
}

static void test_block_of_module_without_settings_rejects_keys(void)
{
	struct conf_tree *tree;
	struct conf_errors errs = {0};
	CU_ASSERT_EQUAL_FATAL(conf_parse_string("auth x {\n  a = 1\n}\n", "m.conf", &tree, &errs),
	                      0);
	CU_ASSERT_EQUAL(settings_apply(NULL, &conf_tree_root(tree)->children[0], NULL,
	                               conf_tree_pool(tree), NULL, &errs),
	                -1);
	CU_ASSERT_TRUE(errs_have(&errs, "m.conf:2: unknown setting 'a' in auth x, which takes no "
	                                "settings"));
	conf_errors_free(&errs);
	conf_tree_free(&tree);
}

static void test_reference_prints_every_key_with_type_default_and_range(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	settings_print_reference(out, "Sample", sample_table);
	fclose(out);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "### Sample\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "| `count` | number | `4` | 1 to 10 | a count |"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "| `size` | size | `64K` | 1K to 1G | a size |"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(text, "| `mode` | choice | `safe` | `fast`, `safe`, `slow` |"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "| `text` | string | (none) |  | some \\| text |"));
	free(text);
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	char *text = NULL;
	size_t cap = 0, len = 0, n;
	char chunk[4096];
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		char *grown = realloc(text, cap = len + n + 1);
		if (grown == NULL)
			break;
		text = grown;
		memcpy(text + len, chunk, n);
		len += n;
		text[len] = '\0';
	}
	fclose(f);
	return text;
}

static void test_config_reference_documents_every_server_setting(void)
{
	const struct sluice_setting *tables[] = {server_settings_table, listener_settings_table,
	                                         tls_settings_table};
	char *doc = read_all(SLUICE_SOURCE_DIR "/docs/config.md");
	char want[128];
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	for (size_t t = 0; t < 3; t++) {
		for (const struct sluice_setting *s = tables[t]; s->key != NULL; s++) {
			snprintf(want, sizeof(want), "| `%s` |", s->key);
			if (strstr(doc, want) == NULL)
				fprintf(stderr, "\ndocs/config.md does not document '%s'\n",
				        s->key);
			CU_ASSERT_PTR_NOT_NULL(strstr(doc, want));
		}
	}
	free(doc);
}

/* ---- the server configuration ---------------------------------------------------------- */

/* Writes @p text as tmpdir/sluiced.conf and loads it. */
static int load(const char *text, struct server_conf **conf, struct conf_errors *errs)
{
	return server_conf_load(write_file("sluiced.conf", text), conf, errs);
}

static const char *minimal = "listener imap {\n  port = 143\n  tls = none\n}\n";

static void test_minimal_config_gets_documented_defaults(void)
{
	struct server_conf *c;
	struct conf_errors errs = {0};
	setup_tmpdir();
	CU_ASSERT_EQUAL_FATAL(load(minimal, &c, &errs), 0);
	CU_ASSERT_EQUAL(c->s.workers, 0);
	CU_ASSERT_EQUAL(c->s.log, 0);
	CU_ASSERT_EQUAL(c->s.log_level, SLUICE_LOG_INFO);
	CU_ASSERT_STRING_EQUAL(c->s.module_path, SLUICE_MODULE_DIR);
	CU_ASSERT_EQUAL(c->s.preauth_timeout, 60000);
	CU_ASSERT_EQUAL(c->s.autologout, 30 * 60000);
	CU_ASSERT_EQUAL(c->s.auth_failure_delay, 2000);
	CU_ASSERT_EQUAL(c->s.shutdown_timeout, 10000);
	CU_ASSERT_EQUAL(c->s.max_literal, UINT64_C(64) << 20);
	CU_ASSERT_EQUAL(c->s.max_line, 65536);
	CU_ASSERT_FALSE(c->s.tls_required);
	CU_ASSERT_TRUE(c->s.copy_keeps_metadata);
	CU_ASSERT_EQUAL(c->s.plaintext_auth_networks->count, 2);
	CU_ASSERT_EQUAL_FATAL(c->listener_count, 1);
	CU_ASSERT_STRING_EQUAL(c->listeners[0].name, "imap");
	CU_ASSERT_STRING_EQUAL(c->listeners[0].address, "127.0.0.1");
	CU_ASSERT_EQUAL(c->listeners[0].port, 143);
	CU_ASSERT_EQUAL(c->listeners[0].tls, LISTENER_TLS_NONE);
	CU_ASSERT_EQUAL(c->listeners[0].line, 1);
	CU_ASSERT_EQUAL(c->tls_count, 0);
	CU_ASSERT_EQUAL(c->module_count, 0);
	CU_ASSERT_PTR_NULL(server_conf_default_tls(c));
	server_conf_unref(&c);
	CU_ASSERT_PTR_NULL(c);
	teardown_tmpdir();
}

static void test_top_level_settings_are_read(void)
{
	struct server_conf *c;
	struct conf_errors errs = {0};
	setup_tmpdir();
	CU_ASSERT_EQUAL_FATAL(load("workers = 8\nlog = syslog\nlog_level = debug\n"
	                           "autologout = 1h\nmax_literal = 1G\ntls_required = yes\n"
	                           "plaintext_auth_networks = 10.0.0.0/8\n",
	                           &c, &errs),
	                      -1); /* no listener yet */
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf: no listener is configured"));
	conf_errors_free(&errs);
	char text[512];
	snprintf(text, sizeof(text),
	         "workers = 8\nlog = syslog\nlog_level = debug\nautologout = 1h\n"
	         "max_literal = 1G\ntls_required = yes\nplaintext_auth_networks = 10.0.0.0/8\n%s",
	         minimal);
	CU_ASSERT_EQUAL_FATAL(load(text, &c, &errs), 0);
	CU_ASSERT_EQUAL(c->s.workers, 8);
	CU_ASSERT_EQUAL(c->s.log, 1);
	CU_ASSERT_EQUAL(c->s.log_level, SLUICE_LOG_DEBUG);
	CU_ASSERT_EQUAL(c->s.autologout, 3600000);
	CU_ASSERT_EQUAL(c->s.max_literal, UINT64_C(1) << 30);
	CU_ASSERT_TRUE(c->s.tls_required);
	CU_ASSERT_EQUAL(c->s.plaintext_auth_networks->count, 1);
	server_conf_unref(&c);
	teardown_tmpdir();
}

static void test_server_setting_limits_are_enforced(void)
{
	struct server_conf *c;
	struct conf_errors errs = {0};
	char text[512];
	setup_tmpdir();
	snprintf(text, sizeof(text),
	         "workers = 5000\nautologout = 500ms\nmax_literal = 2G\nmax_line = 512\n"
	         "log = file\n%s",
	         minimal);
	CU_ASSERT_EQUAL(load(text, &c, &errs), -1);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_EQUAL(errs.count, 5);
	CU_ASSERT_TRUE(
	    errs_have(&errs, "sluiced.conf:1: 'workers' must be at most 1024, not '5000'"));
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf:2: 'autologout' must be at least 1s"));
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf:3: 'max_literal' must be at most 1G"));
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf:4: 'max_line' must be at least 1K"));
	CU_ASSERT_TRUE(
	    errs_have(&errs, "sluiced.conf:5: 'log' must be stderr or syslog, not 'file'"));
	conf_errors_free(&errs);
	teardown_tmpdir();
}

static void test_unknown_top_level_key_and_block_are_errors(void)
{
	struct server_conf *c;
	struct conf_errors errs = {0};
	char text[512];
	setup_tmpdir();
	snprintf(text, sizeof(text), "%sworker = 4\nmailbox x {\n}\n", minimal);
	CU_ASSERT_EQUAL(load(text, &c, &errs), -1);
	CU_ASSERT_TRUE(
	    errs_have(&errs, "sluiced.conf:5: unknown setting 'worker' in the top level"));
	CU_ASSERT_TRUE(errs_have(&errs, "known settings: workers, log,"));
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf:6: unknown block 'mailbox'"));
	conf_errors_free(&errs);
	teardown_tmpdir();
}

static void test_listener_needs_name_and_port_and_an_ip_address(void)
{
	struct server_conf *c;
	struct conf_errors errs = {0};
	setup_tmpdir();
	CU_ASSERT_EQUAL(load("listener {\n  port = 1\n}\nlistener b {\n  tls = none\n}\n"
	                     "listener c {\n  port = 2\n  address = mail.example.org\n}\n"
	                     "listener d {\n  port = 70000\n}\n",
	                     &c, &errs),
	                -1);
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf:1: a listener block needs a name"));
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf:4: listener b has no port"));
	CU_ASSERT_TRUE(
	    errs_have(&errs, "sluiced.conf:9: 'address' must be an IPv4 or IPv6 address"));
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf:12: 'port' must be between 1 and 65535"));
	/* Blocks with errors still count as listeners: no "no listener" on top. */
	CU_ASSERT_FALSE(errs_have(&errs, "no listener is configured"));
	conf_errors_free(&errs);
	teardown_tmpdir();
}

static void test_duplicate_listen_address_points_to_both_lines(void)
{
	struct server_conf *c;
	struct conf_errors errs = {0};
	setup_tmpdir();
	/* Two spellings of one address are one address. */
	CU_ASSERT_EQUAL(load("listener a {\n  address = ::1\n  port = 143\n  tls = none\n}\n"
	                     "listener b {\n  address = 0:0::1\n  port = 143\n  tls = none\n}\n",
	                     &c, &errs),
	                -1);
	CU_ASSERT_EQUAL(errs.count, 1);
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf:6: listener b listens on [0:0::1]:143"));
	CU_ASSERT_TRUE(errs_have(&errs, "listener a at "));
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf:1 already uses"));
	conf_errors_free(&errs);
	CU_ASSERT_EQUAL(load("listener a {\n  address = ::\n  port = 143\n  tls = none\n}\n"
	                     "listener b {\n  address = ::1\n  port = 143\n  tls = none\n}\n",
	                     &c, &errs),
	                -1);
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf:6: listener b listens on [::1]:143, which "
	                                "overlaps listener a ([::]:143)"));
	conf_errors_free(&errs);
	/* Same port on different addresses, or the same address on different ports, is fine. */
	CU_ASSERT_EQUAL(load("listener a {\n  port = 143\n  tls = none\n}\n"
	                     "listener b {\n  address = 127.0.0.2\n  port = 143\n  tls = none\n}\n"
	                     "listener c {\n  port = 144\n  tls = none\n}\n",
	                     &c, &errs),
	                0);
	server_conf_unref(&c);
	teardown_tmpdir();
}

static void test_tls_listener_without_default_tls_block_is_error(void)
{
	struct server_conf *c;
	struct conf_errors errs = {0};
	setup_tmpdir();
	write_file("cert.pem", "x");
	CU_ASSERT_EQUAL(load("listener imap {\n  port = 143\n}\n"
	                     "tls mail.example.org {\n  cert = cert.pem\n}\n",
	                     &c, &errs),
	                -1);
	CU_ASSERT_TRUE(errs_have(&errs,
	                         "sluiced.conf:1: listener imap uses tls = starttls, but there "
	                         "is no default tls block"));
	conf_errors_free(&errs);
	teardown_tmpdir();
}

static void test_tls_paths_resolve_against_their_file_and_must_be_readable(void)
{
	struct server_conf *c;
	struct conf_errors errs = {0};
	char want[256];
	setup_tmpdir();
	write_file("conf.d/cert.pem", "x");
	write_file("conf.d/key.pem", "x");
	write_file("conf.d/tls.conf",
	           "tls {\n  cert = cert.pem\n  key = key.pem\n}\n"
	           "tls *.example.org {\n  cert = cert.pem\n  min_version = TLSv1.3\n}\n");
	CU_ASSERT_EQUAL_FATAL(load("include conf.d/tls.conf\n"
	                           "listener imaps {\n  port = 993\n  tls = implicit\n}\n",
	                           &c, &errs),
	                      0);
	CU_ASSERT_EQUAL_FATAL(c->tls_count, 2);
	snprintf(want, sizeof(want), "%s/conf.d/cert.pem", tmpdir);
	CU_ASSERT_STRING_EQUAL(c->tls[0].cert, want);
	snprintf(want, sizeof(want), "%s/conf.d/key.pem", tmpdir);
	CU_ASSERT_STRING_EQUAL(c->tls[0].key, want);
	CU_ASSERT_PTR_NULL(c->tls[0].hostname);
	CU_ASSERT_EQUAL(c->tls[0].min_version, 0);
	CU_ASSERT_PTR_NOT_NULL(c->tls[0].ciphers);
	CU_ASSERT_PTR_NULL(c->tls[0].ciphersuites);
	CU_ASSERT_STRING_EQUAL(c->tls[1].hostname, "*.example.org");
	CU_ASSERT_PTR_NULL(c->tls[1].key);
	CU_ASSERT_EQUAL(c->tls[1].min_version, 1);
	CU_ASSERT_PTR_EQUAL(server_conf_default_tls(c), &c->tls[0]);
	CU_ASSERT_EQUAL(c->listeners[0].tls, LISTENER_TLS_IMPLICIT);
	server_conf_unref(&c);

	CU_ASSERT_EQUAL(load("tls {\n  key = nokey.pem\n  cert = nocert.pem\n}\n"
	                     "listener imaps {\n  port = 993\n  tls = implicit\n}\n",
	                     &c, &errs),
	                -1);
	snprintf(want, sizeof(want),
	         "sluiced.conf:3: the certificate file %s/nocert.pem cannot be "
	         "read: it does not exist",
	         tmpdir);
	CU_ASSERT_TRUE(errs_have(&errs, want));
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf:2: the private key file"));
	/* The default block was there, only broken: no second complaint about the listener. */
	CU_ASSERT_FALSE(errs_have(&errs, "no default tls block"));
	conf_errors_free(&errs);
	teardown_tmpdir();
}

static void test_tls_block_needs_cert_and_unique_host_name(void)
{
	struct server_conf *c;
	struct conf_errors errs = {0};
	setup_tmpdir();
	write_file("c.pem", "x");
	CU_ASSERT_EQUAL(load("tls {\n}\ntls a.example {\n  cert = c.pem\n}\n"
	                     "tls A.example {\n  cert = c.pem\n}\n",
	                     &c, &errs),
	                -1);
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf:1: the tls block has no certificate"));
	CU_ASSERT_TRUE(
	    errs_have(&errs, "sluiced.conf:6: there is already a tls block for A.example at "));
	conf_errors_free(&errs);
	CU_ASSERT_EQUAL(load("tls x..y {\n  cert = c.pem\n}\ntls {\n  cert = c.pem\n}\n"
	                     "tls {\n  cert = c.pem\n}\n",
	                     &c, &errs),
	                -1);
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf:1: 'x..y' is not a host name"));
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf:7: there is already a default tls block"));
	conf_errors_free(&errs);
	teardown_tmpdir();
}

static void test_module_blocks_are_kept_in_file_order(void)
{
	struct server_conf *c;
	struct conf_errors errs = {0};
	char text[512];
	setup_tmpdir();
	write_file("modules.conf", "auth passwd-file {\n  path = /etc/sluice/passwd\n}\n"
	                           "auth sasl-plain {\n}\n");
	snprintf(text, sizeof(text), "policy denylist {\n}\ninclude modules.conf\n%s", minimal);
	CU_ASSERT_EQUAL_FATAL(load(text, &c, &errs), 0);
	CU_ASSERT_EQUAL_FATAL(c->module_count, 3);
	CU_ASSERT_STRING_EQUAL(c->modules[0].keyword, "policy");
	CU_ASSERT_STRING_EQUAL(c->modules[0].name, "denylist");
	CU_ASSERT_STRING_EQUAL(c->modules[1].name, "passwd-file");
	CU_ASSERT_STRING_EQUAL(c->modules[1].node->children[0].value, "/etc/sluice/passwd");
	CU_ASSERT_STRING_EQUAL(c->modules[2].keyword, "auth");
	CU_ASSERT_STRING_EQUAL(c->modules[2].name, "sasl-plain");
	server_conf_unref(&c);
	teardown_tmpdir();
}

static void test_module_block_needs_a_unique_name(void)
{
	struct server_conf *c;
	struct conf_errors errs = {0};
	char text[512];
	setup_tmpdir();
	snprintf(text, sizeof(text),
	         "%spolicy {\n}\nauth x {\n}\nauth x {\n}\nstorage .hidden {\n}\n", minimal);
	CU_ASSERT_EQUAL(load(text, &c, &errs), -1);
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf:5: a policy block needs the module's name"));
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf:9: auth x is already configured at "));
	CU_ASSERT_TRUE(errs_have(&errs, "sluiced.conf:11: '.hidden' is not a module name"));
	conf_errors_free(&errs);
	teardown_tmpdir();
}

static void test_references_keep_a_config_alive(void)
{
	struct server_conf *c, *second;
	struct conf_errors errs = {0};
	setup_tmpdir();
	CU_ASSERT_EQUAL_FATAL(load(minimal, &c, &errs), 0);
	second = server_conf_ref(c);
	CU_ASSERT_PTR_EQUAL(second, c);
	server_conf_unref(&c);
	CU_ASSERT_PTR_NULL(c);
	/* Still readable through the other reference (ASan would flag a use after free). */
	CU_ASSERT_STRING_EQUAL(second->listeners[0].name, "imap");
	server_conf_unref(&second);
	server_conf_unref(&second); /* NULL is accepted */
	teardown_tmpdir();
}

/*
 * The shipped etc/sluiced.conf and etc/modules.conf must load. Their certificate paths
 * point into /etc/ssl, which a build machine need not have, so the test loads a copy
 * whose cert and key lines point at files it creates; everything else is as shipped.
 */
static void test_shipped_etc_files_load(void)
{
	struct server_conf *c;
	struct conf_errors errs = {0};
	setup_tmpdir();
	char *main_text = read_all(SLUICE_SOURCE_DIR "/etc/sluiced.conf");
	char *mod_text = read_all(SLUICE_SOURCE_DIR "/etc/modules.conf");
	CU_ASSERT_PTR_NOT_NULL_FATAL(main_text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mod_text);
	write_file("modules.conf", mod_text);
	write_file("test.pem", "x");

	char *copy = malloc(strlen(main_text) + 4096), *w = copy;
	unsigned rewritten = 0;
	for (char *line = strtok(main_text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		const char *t = line + strspn(line, " \t");
		if (strncmp(t, "cert =", 6) == 0 || strncmp(t, "key =", 5) == 0) {
			w += sprintf(w, "%.*s = test.pem\n", (int)strcspn(t, " ="), t);
			rewritten++;
		} else {
			w += sprintf(w, "%s\n", line);
		}
	}
	CU_ASSERT(rewritten >= 2);
	CU_ASSERT_EQUAL(server_conf_load(write_file("sluiced.conf", copy), &c, &errs), 0);
	if (errs.count > 0)
		conf_errors_print(&errs, stderr);
	if (c != NULL) {
		CU_ASSERT_EQUAL(c->listener_count, 2);
		CU_ASSERT_EQUAL(c->listeners[0].port, 143);
		CU_ASSERT_EQUAL(c->listeners[0].tls, LISTENER_TLS_STARTTLS);
		CU_ASSERT_STRING_EQUAL(c->listeners[0].address, "0.0.0.0");
		CU_ASSERT_EQUAL(c->listeners[1].port, 993);
		CU_ASSERT_EQUAL(c->listeners[1].tls, LISTENER_TLS_IMPLICIT);
		CU_ASSERT_PTR_NOT_NULL(server_conf_default_tls(c));
		bool passwd = false, plain = false, deny = false;
		for (size_t i = 0; i < c->module_count; i++) {
			passwd |= strcmp(c->modules[i].name, "passwd-file") == 0;
			plain |= strcmp(c->modules[i].name, "sasl-plain") == 0;
			deny |= strcmp(c->modules[i].name, "denylist") == 0;
		}
		CU_ASSERT_TRUE(passwd);
		CU_ASSERT_TRUE(plain);
		CU_ASSERT_FALSE(deny); /* shown, but commented out */
		server_conf_unref(&c);
	}
	conf_errors_free(&errs);
	free(copy);
	free(main_text);
	free(mod_text);
	teardown_tmpdir();
}

static CU_TestInfo settings_tests[] = {
    {"bool accepts yes/no, true/false, on/off", test_bool_accepts_yes_no_true_false_on_off},
    {"uint is range checked and overflow safe", test_uint_is_range_checked_and_overflow_safe},
    {"size units are powers of 1024", test_size_units_are_powers_of_1024},
    {"duration units and bare seconds", test_duration_units_and_bare_seconds},
    {"duration range is shown in units", test_duration_range_is_shown_in_units},
    {"enum lists its choices", test_enum_lists_its_choices},
    {"string is kept as written", test_string_is_kept_as_written},
    {"CIDR list parses, validates and matches", test_cidr_list_parses_validates_and_matches},
    {"defaults are applied without a block", test_defaults_are_applied_without_a_block},
    {"block values override defaults", test_block_values_override_defaults},
    {"unknown key lists the known settings", test_unknown_key_lists_known_settings},
    {"duplicate key points to the first", test_duplicate_key_points_to_first},
    {"nested block where a value is expected is an error",
     test_nested_block_where_value_expected_is_error},
    {"all block errors are reported with their lines",
     test_all_block_errors_are_reported_with_their_lines},
    {"reserved keys are skipped and listed as known",
     test_reserved_keys_are_skipped_and_listed_as_known},
    {"block of a module without settings rejects keys",
     test_block_of_module_without_settings_rejects_keys},
    {"reference prints every key with type, default and range",
     test_reference_prints_every_key_with_type_default_and_range},
    {"docs/config.md documents every server setting",
     test_config_reference_documents_every_server_setting},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo server_conf_tests[] = {
    {"minimal config gets the documented defaults", test_minimal_config_gets_documented_defaults},
    {"top-level settings are read", test_top_level_settings_are_read},
    {"server setting limits are enforced", test_server_setting_limits_are_enforced},
    {"unknown top-level key and block are errors", test_unknown_top_level_key_and_block_are_errors},
    {"listener needs a name, a port and an IP address",
     test_listener_needs_name_and_port_and_an_ip_address},
    {"duplicate listen address points to both lines",
     test_duplicate_listen_address_points_to_both_lines},
    {"TLS listener without a default tls block is an error",
     test_tls_listener_without_default_tls_block_is_error},
    {"tls paths resolve against their file and must be readable",
     test_tls_paths_resolve_against_their_file_and_must_be_readable},
    {"tls block needs a cert and a unique host name",
     test_tls_block_needs_cert_and_unique_host_name},
    {"module blocks are kept in file order", test_module_blocks_are_kept_in_file_order},
    {"module block needs a unique name", test_module_block_needs_a_unique_name},
    {"references keep a config alive", test_references_keep_a_config_alive},
    {"shipped etc/ files load", test_shipped_etc_files_load},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo settings_suites[] = {
    {"settings", NULL, NULL, NULL, NULL, settings_tests},
    {"server-conf", NULL, NULL, NULL, NULL, server_conf_tests},
    CU_SUITE_INFO_NULL,
};
