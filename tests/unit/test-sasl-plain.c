/*
 * Tests of the sasl-plain module (RFC 4616 PLAIN), loaded as the server loads it: dlopen
 * of build/modules/sasl-plain.so and its sluice_module_entry descriptor, with a host
 * table whose pool functions are the core's. Each test runs one exchange in a fresh
 * pool and checks what the mechanism hands back or why it refuses the message.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/sasl.h>

#include "module-fixture.h"
#include "util/pool.h"

static struct fixture_module plain_module;
static const struct sluice_module *plain_mod;
static const struct sluice_sasl_ops *plain_ops;

/* One exchange: its pool, its state and the last step's results. */
struct exchange {
	struct sluice_pool *pool;
	void *state;
	struct sluice_sasl_step out;
	struct sluice_error err;
};

static void exchange_begin(struct exchange *x)
{
	memset(x, 0, sizeof(*x));
	x->pool = pool_create(512, 0);
	CU_ASSERT_FATAL(x->pool != NULL);
}

static int exchange_step(struct exchange *x, const void *in, size_t in_len)
{
	memset(&x->err, 0, sizeof(x->err));
	return plain_ops->step(plain_module.modctx, x->pool, &x->state, in, in_len, &x->out,
	                       &x->err);
}

static void exchange_end(struct exchange *x)
{
	pool_destroy(&x->pool);
}

/* Runs a one-message exchange (SASL-IR) and returns the step's result. */
static int run_message(struct exchange *x, const void *msg, size_t len)
{
	exchange_begin(x);
	return exchange_step(x, msg, len);
}

/* Asserts that @msg is refused as malformed with a sentence mentioning @what. */
static void expect_parse_error(const void *msg, size_t len, const char *what)
{
	struct exchange x;

	CU_ASSERT_EQUAL(run_message(&x, msg, len), SLUICE_E_PARSE);
	CU_ASSERT_EQUAL(x.err.code, SLUICE_E_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(x.err.msg, what));
	CU_ASSERT_PTR_NULL(x.out.authcid);
	CU_ASSERT_PTR_NULL(x.out.password);
	exchange_end(&x);
}

static void test_descriptor_is_the_plain_mechanism(void)
{
	CU_ASSERT_EQUAL(plain_mod->abi_major, SLUICE_ABI_MAJOR);
	CU_ASSERT_EQUAL(plain_mod->size, sizeof(struct sluice_module));
	CU_ASSERT_EQUAL(plain_mod->kind, SLUICE_KIND_SASL);
	CU_ASSERT_STRING_EQUAL(plain_mod->name, "sasl-plain");
	CU_ASSERT_EQUAL(plain_ops->size, sizeof(struct sluice_sasl_ops));
	CU_ASSERT_STRING_EQUAL(plain_ops->mechanism, "PLAIN");
	CU_ASSERT_EQUAL(plain_ops->flags & SLUICE_SASL_PLAINTEXT, SLUICE_SASL_PLAINTEXT);
	CU_ASSERT(plain_mod->settings == NULL || plain_mod->settings[0].key == NULL);
}

static void test_no_initial_response_gets_an_empty_challenge(void)
{
	static const char msg[] = "\0alice\0secret";
	struct exchange x;

	exchange_begin(&x);
	CU_ASSERT_EQUAL(exchange_step(&x, NULL, 0), SLUICE_CONTINUE);
	CU_ASSERT_PTR_NOT_NULL(x.out.challenge);
	CU_ASSERT_EQUAL(x.out.challenge_len, 0);
	CU_ASSERT_PTR_NULL(x.out.authcid);
	CU_ASSERT_EQUAL(exchange_step(&x, msg, sizeof(msg) - 1), 0);
	CU_ASSERT_STRING_EQUAL(x.out.authcid, "alice");
	CU_ASSERT_STRING_EQUAL(x.out.password, "secret");
	exchange_end(&x);
}

static void test_empty_authzid_gives_null(void)
{
	static const char msg[] = "\0alice\0secret";
	struct exchange x;

	CU_ASSERT_EQUAL(run_message(&x, msg, sizeof(msg) - 1), 0);
	CU_ASSERT_PTR_NULL(x.out.authzid);
	CU_ASSERT_STRING_EQUAL(x.out.authcid, "alice");
	CU_ASSERT_STRING_EQUAL(x.out.password, "secret");
	CU_ASSERT_EQUAL(x.out.password_len, 6);
	exchange_end(&x);
}

static void test_authzid_is_returned(void)
{
	static const char msg[] = "admin\0alice\0pass word";
	struct exchange x;

	CU_ASSERT_EQUAL(run_message(&x, msg, sizeof(msg) - 1), 0);
	CU_ASSERT_STRING_EQUAL(x.out.authzid, "admin");
	CU_ASSERT_STRING_EQUAL(x.out.authcid, "alice");
	CU_ASSERT_STRING_EQUAL(x.out.password, "pass word");
	CU_ASSERT_EQUAL(x.out.password_len, 9);
	exchange_end(&x);
}

static void test_credentials_are_copies_in_the_pool(void)
{
	char msg[] = "\0alice\0secret";
	struct exchange x;

	CU_ASSERT_EQUAL(run_message(&x, msg, sizeof(msg) - 1), 0);
	/* The client's buffer is the core's to reuse: the results must not point into it. */
	memset(msg, 'x', sizeof(msg));
	CU_ASSERT_STRING_EQUAL(x.out.authcid, "alice");
	CU_ASSERT_STRING_EQUAL(x.out.password, "secret");
	exchange_end(&x);
}

static void test_valid_utf8_is_accepted(void)
{
	/* Two-, three- and four-byte characters, including U+10FFFF. */
	static const char msg[] = "\0j\xc3\xbcrgen\0\xe2\x82\xac\xf0\x9f\x94\x91\xf4\x8f\xbf\xbf";
	struct exchange x;

	CU_ASSERT_EQUAL(run_message(&x, msg, sizeof(msg) - 1), 0);
	CU_ASSERT_STRING_EQUAL(x.out.authcid, "j\xc3\xbcrgen");
	CU_ASSERT_EQUAL(x.out.password_len, 11);
	exchange_end(&x);
}

static void test_missing_nuls_are_refused(void)
{
	expect_parse_error("alice", 5, "exactly two NUL");
	expect_parse_error("alice\0secret", 12, "exactly two NUL");
}

static void test_three_nuls_are_refused(void)
{
	expect_parse_error("a\0alice\0se\0cret", 15, "exactly two NUL");
}

static void test_nul_at_the_very_end_is_refused(void)
{
	expect_parse_error("\0alice\0secret\0", 14, "exactly two NUL");
	expect_parse_error("alice\0secret\0", 13, "empty password");
}

static void test_empty_authcid_is_refused(void)
{
	expect_parse_error("admin\0\0secret", 13, "empty user name");
}

static void test_empty_password_is_refused(void)
{
	expect_parse_error("\0alice\0", 7, "empty password");
}

static void test_zero_length_message_is_refused(void)
{
	expect_parse_error("", 0, "empty");
}

static void test_parts_over_255_bytes_are_refused(void)
{
	char msg[800];
	struct exchange x;

	/* 255 bytes each is the most a part may have, and must be accepted. */
	memset(msg, 'a', sizeof(msg));
	msg[255] = '\0';
	msg[511] = '\0';
	CU_ASSERT_EQUAL_FATAL(run_message(&x, msg, 511 + 256), 0);
	CU_ASSERT_EQUAL(strlen(x.out.authcid), 255);
	CU_ASSERT_EQUAL(x.out.password_len, 255);
	exchange_end(&x);

	/* authzid of 256 */
	memset(msg, 'a', sizeof(msg));
	msg[256] = '\0';
	msg[262] = '\0';
	expect_parse_error(msg, 270, "255 bytes");
	/* authcid of 256 */
	memset(msg, 'a', sizeof(msg));
	msg[0] = '\0';
	msg[257] = '\0';
	expect_parse_error(msg, 265, "255 bytes");
	/* password of 256 */
	memset(msg, 'a', sizeof(msg));
	msg[0] = '\0';
	msg[6] = '\0';
	expect_parse_error(msg, 7 + 256, "255 bytes");
}

static void test_invalid_utf8_is_refused(void)
{
	/* Overlong "/" (C0 AF) and overlong NUL (C0 80) in the user name. */
	expect_parse_error("\0a\xc0\xaf\0pw", 7, "UTF-8");
	expect_parse_error("\0a\xc0\x80\0pw", 7, "UTF-8");
	/* Overlong three-byte form of U+007F and four-byte form of U+FFFF. */
	expect_parse_error("\0a\0p\xe0\x81\xbf", 7, "UTF-8");
	expect_parse_error("\0a\0p\xf0\x8f\xbf\xbf", 8, "UTF-8");
	/* A lone continuation byte, in the authzid. */
	expect_parse_error("\x80\0alice\0pw", 10, "UTF-8");
	/* A truncated sequence at the end of the password. */
	expect_parse_error("\0alice\0pw\xe2\x82", 11, "UTF-8");
	/* UTF-16 surrogates U+D800 and U+DFFF. */
	expect_parse_error("\0alice\0\xed\xa0\x80", 10, "UTF-8");
	expect_parse_error("\0alice\0\xed\xbf\xbf", 10, "UTF-8");
	/* Beyond U+10FFFF, and bytes that never occur in UTF-8. */
	expect_parse_error("\0alice\0\xf4\x90\x80\x80", 11, "UTF-8");
	expect_parse_error("\0alice\0\xff", 8, "UTF-8");
}

static void test_second_response_after_credentials_is_refused(void)
{
	static const char msg[] = "\0alice\0secret";
	struct exchange x;

	CU_ASSERT_EQUAL(run_message(&x, msg, sizeof(msg) - 1), 0);
	CU_ASSERT_EQUAL(exchange_step(&x, msg, sizeof(msg) - 1), SLUICE_E_PARSE);
	CU_ASSERT_PTR_NULL(x.out.authcid);
	exchange_end(&x);
}

static void test_empty_response_after_challenge_is_refused(void)
{
	struct exchange x;

	exchange_begin(&x);
	CU_ASSERT_EQUAL(exchange_step(&x, NULL, 0), SLUICE_CONTINUE);
	CU_ASSERT_EQUAL(exchange_step(&x, "", 0), SLUICE_E_PARSE);
	exchange_end(&x);
}

static void test_nothing_is_logged(void)
{
	/* The mechanism sees passwords: it should have nothing to log at all. */
	CU_ASSERT_EQUAL(fixture_log_lines(&plain_module), 0);
}

static int plain_suite_init(void)
{
	struct sluice_error err = SLUICE_ERROR_INIT;

	if (fixture_module_load(&plain_module, "sasl-plain.so", SLUICE_KIND_SASL) < 0)
		return -1;
	if (fixture_module_init(&plain_module, NULL, &err) != 0) {
		fprintf(stderr, "sasl-plain init: %s\n", err.msg);
		fixture_module_unload(&plain_module);
		return -1;
	}
	plain_mod = plain_module.desc;
	plain_ops = plain_mod->ops;
	return 0;
}

static int plain_suite_cleanup(void)
{
	fixture_module_unload(&plain_module);
	return 0;
}

static CU_TestInfo plain_tests[] = {
    {"descriptor is the PLAIN mechanism", test_descriptor_is_the_plain_mechanism},
    {"no initial response gets an empty challenge",
     test_no_initial_response_gets_an_empty_challenge},
    {"empty authzid gives NULL", test_empty_authzid_gives_null},
    {"authzid is returned", test_authzid_is_returned},
    {"credentials are copies in the pool", test_credentials_are_copies_in_the_pool},
    {"valid UTF-8 is accepted", test_valid_utf8_is_accepted},
    {"missing NULs are refused", test_missing_nuls_are_refused},
    {"three NULs are refused", test_three_nuls_are_refused},
    {"NUL at the very end is refused", test_nul_at_the_very_end_is_refused},
    {"empty authcid is refused", test_empty_authcid_is_refused},
    {"empty password is refused", test_empty_password_is_refused},
    {"zero-length message is refused", test_zero_length_message_is_refused},
    {"parts over 255 bytes are refused", test_parts_over_255_bytes_are_refused},
    {"invalid UTF-8 is refused", test_invalid_utf8_is_refused},
    {"second response after credentials is refused",
     test_second_response_after_credentials_is_refused},
    {"empty response after the challenge is refused",
     test_empty_response_after_challenge_is_refused},
    {"nothing is logged", test_nothing_is_logged},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo sasl_plain_suites[] = {
    {"sasl-plain", plain_suite_init, plain_suite_cleanup, NULL, NULL, plain_tests},
    CU_SUITE_INFO_NULL,
};
