/* Unit tests for core/util: byte buffers, base64, memory pools, UTF-8 and JSON strings. */
#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/base64.h"
#include "util/buffer.h"
#include "util/json.h"
#include "util/pool.h"

static void test_buffer_keeps_bytes_in_order_across_growth(void)
{
	struct buf b = {0};
	char chunk[700];
	for (int i = 0; i < 10; i++) {
		memset(chunk, 'a' + i, sizeof(chunk));
		CU_ASSERT_EQUAL(buf_append(&b, chunk, sizeof(chunk)), 0);
	}
	CU_ASSERT_EQUAL(buf_len(&b), 7000);
	CU_ASSERT_EQUAL(buf_head(&b)[0], 'a');
	CU_ASSERT_EQUAL(buf_head(&b)[6999], 'j');
	buf_consume(&b, 700);
	CU_ASSERT_EQUAL(buf_head(&b)[0], 'b');
	buf_free(&b);
}

static void test_buffer_releases_memory_when_emptied(void)
{
	struct buf b = {0};
	CU_ASSERT_EQUAL(buf_printf(&b, "%s %d", "hello", 42), 0);
	CU_ASSERT_EQUAL(buf_len(&b), 8);
	CU_ASSERT_NSTRING_EQUAL(buf_head(&b), "hello 42", 8);
	buf_consume(&b, 8);
	CU_ASSERT_PTR_NULL(b.data);
	CU_ASSERT_EQUAL(b.cap, 0);
}

static void test_buffer_reuses_consumed_front(void)
{
	struct buf b = {0};
	unsigned char *p = buf_reserve(&b, 1000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memset(p, 'x', 1000);
	buf_commit(&b, 1000);
	size_t cap = b.cap;
	buf_consume(&b, 900);
	CU_ASSERT_PTR_NOT_NULL(buf_reserve(&b, 900));
	CU_ASSERT_EQUAL(b.cap, cap);
	CU_ASSERT_EQUAL(buf_len(&b), 100);
	buf_free(&b);
}

static void test_base64_round_trips_every_length(void)
{
	unsigned char in[64], out[64];
	char enc[100];
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 37 + 11);
	for (size_t n = 0; n <= sizeof(in); n++) {
		base64_encode(in, n, enc);
		CU_ASSERT_EQUAL(strlen(enc), base64_encoded_len(n));
		CU_ASSERT_EQUAL(base64_decode(enc, strlen(enc), out), (long)n);
		CU_ASSERT_EQUAL(memcmp(in, out, n), 0);
	}
}

static void test_base64_known_vector(void)
{
	unsigned char out[32];
	const char *plain = "\0demo\0demo";
	char enc[32];
	base64_encode((const unsigned char *)plain, 10, enc);
	CU_ASSERT_STRING_EQUAL(enc, "AGRlbW8AZGVtbw==");
	CU_ASSERT_EQUAL(base64_decode(enc, strlen(enc), out), 10);
	CU_ASSERT_EQUAL(memcmp(out, plain, 10), 0);
}

static void test_base64_rejects_malformed_input(void)
{
	unsigned char out[32];
	CU_ASSERT_EQUAL(base64_decode("abc", 3, out), -1);         /* not a multiple of 4 */
	CU_ASSERT_EQUAL(base64_decode("ab!d", 4, out), -1);        /* outside the alphabet */
	CU_ASSERT_EQUAL(base64_decode("a=bc", 4, out), -1);        /* padding in the middle */
	CU_ASSERT_EQUAL(base64_decode("ab==abcd", 8, out), -1);    /* data after padding */
	CU_ASSERT_EQUAL(base64_decode("ab=c", 4, out), -1);        /* data after padding */
	CU_ASSERT_EQUAL(base64_decode("QR==", 4, out), -1);        /* non-zero bits under padding */
	CU_ASSERT_EQUAL(base64_decode("a b=", 4, out), -1);        /* space */
	CU_ASSERT_EQUAL(base64_decode("", 0, out), 0);
}

static void test_pool_allocations_are_zeroed_and_aligned(void)
{
	struct sluice_pool *p = pool_create(256, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (int i = 1; i < 100; i++) {
		unsigned char *m = pool_alloc(p, (size_t)i);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m);
		CU_ASSERT_EQUAL((uintptr_t)m % 16, 0);
		for (int k = 0; k < i; k++)
			CU_ASSERT_EQUAL(m[k], 0);
		memset(m, 0xff, (size_t)i);
	}
	char *s = pool_printf(p, "%s-%d", "user", 7);
	CU_ASSERT_STRING_EQUAL(s, "user-7");
	CU_ASSERT_STRING_EQUAL(pool_strndup(p, "abcdef", 3), "abc");
	pool_destroy(&p);
	CU_ASSERT_PTR_NULL(p);
}

static void test_pool_cap_refuses_instead_of_growing(void)
{
	struct sluice_pool *p = pool_create(1024, 8192);
	int ok = 0;
	while (pool_alloc(p, 1000) != NULL && ok < 100)
		ok++;
	CU_ASSERT(ok > 0 && ok < 10);
	CU_ASSERT(pool_footprint(p) <= 8192);
	pool_destroy(&p);
}

static void test_pool_clear_keeps_one_block(void)
{
	struct sluice_pool *p = pool_create(512, 0);
	for (int i = 0; i < 50; i++)
		pool_alloc(p, 400);
	size_t big = pool_footprint(p);
	pool_clear(p);
	CU_ASSERT(pool_footprint(p) < big);
	CU_ASSERT(pool_footprint(p) < 1024);
	CU_ASSERT_PTR_NOT_NULL(pool_alloc(p, 100));
	pool_destroy(&p);
}

static CU_TestInfo buffer_tests[] = {
	{"bytes stay in order across growth", test_buffer_keeps_bytes_in_order_across_growth},
	{"memory released when emptied", test_buffer_releases_memory_when_emptied},
	{"consumed front space is reused", test_buffer_reuses_consumed_front},
	CU_TEST_INFO_NULL,
};

static CU_TestInfo base64_tests[] = {
	{"round trip of every length", test_base64_round_trips_every_length},
	{"known SASL PLAIN vector", test_base64_known_vector},
	{"malformed input is refused", test_base64_rejects_malformed_input},
	CU_TEST_INFO_NULL,
};

/* What json_string() wrote for @p in, as a C string. */
static const char *json_of(const char *in)
{
	static char out[256];
	struct buf b = {0};

	CU_ASSERT_EQUAL(json_string(&b, in), 0);
	snprintf(out, sizeof(out), "%.*s", (int)buf_len(&b), (const char *)buf_head(&b));
	buf_free(&b);
	return out;
}

static void test_json_string_escapes_what_json_cannot_carry(void)
{
	CU_ASSERT_STRING_EQUAL(json_of("alice"), "\"alice\"");
	CU_ASSERT_STRING_EQUAL(json_of("a\"b\\c"), "\"a\\\"b\\\\c\"");
	CU_ASSERT_STRING_EQUAL(json_of("tab\tnl\n\x7f"), "\"tab\\u0009nl\\u000a\\u007f\"");
	/* UTF-8 passes; bytes that are not UTF-8 become one U+FFFD each. */
	CU_ASSERT_STRING_EQUAL(json_of("J\xc3\xbcrgen"), "\"J\xc3\xbcrgen\"");
	CU_ASSERT_STRING_EQUAL(json_of("x\xff\xc3y"), "\"x\\ufffd\\ufffdy\"");
	CU_ASSERT_STRING_EQUAL(json_of(NULL), "null");
	CU_ASSERT_STRING_EQUAL(json_of(""), "\"\"");
}

static CU_TestInfo json_tests[] = {
	{"strings escape what JSON cannot carry", test_json_string_escapes_what_json_cannot_carry},
	CU_TEST_INFO_NULL,
};

static CU_TestInfo pool_tests[] = {
	{"allocations zeroed and aligned", test_pool_allocations_are_zeroed_and_aligned},
	{"cap refuses instead of growing", test_pool_cap_refuses_instead_of_growing},
	{"clear keeps one block", test_pool_clear_keeps_one_block},
	CU_TEST_INFO_NULL,
};

CU_SuiteInfo util_suites[] = {
	{"buffer", NULL, NULL, NULL, NULL, buffer_tests},
	{"base64", NULL, NULL, NULL, NULL, base64_tests},
	{"pool", NULL, NULL, NULL, NULL, pool_tests},
	{"json", NULL, NULL, NULL, NULL, json_tests},
	CU_SUITE_INFO_NULL,
};

#include "util/utf8.h"

static void test_utf8_accepts_valid_and_refuses_overlong_surrogates_and_beyond(void)
{
	uint32_t cp;
	CU_ASSERT_TRUE(utf8_valid("plain ascii", 11));
	CU_ASSERT_TRUE(utf8_valid("Entw\xc3\xbc" "rfe \xe6\x97\xa5 \xf0\x9f\x93\xa7", 18));
	CU_ASSERT_EQUAL(utf8_decode((const unsigned char *)"\xf0\x9f\x93\xa7", 4, &cp), 4);
	CU_ASSERT_EQUAL(cp, 0x1f4e7);
	CU_ASSERT_FALSE(utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
	CU_ASSERT_FALSE(utf8_valid("\xe0\x80\xaf", 3));     /* overlong, three bytes */
	CU_ASSERT_FALSE(utf8_valid("\xed\xa0\x80", 3));     /* surrogate U+D800 */
	CU_ASSERT_FALSE(utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
	CU_ASSERT_FALSE(utf8_valid("\xc3", 1));             /* truncated */
	CU_ASSERT_FALSE(utf8_valid("\x80", 1));             /* lone continuation */
	CU_ASSERT_EQUAL(utf8_decode((const unsigned char *)"\xe6\x97", 2, &cp), 0);
}

static CU_TestInfo utf8_tests[] = {
	{"valid accepted; overlong, surrogates, beyond U+10FFFF refused",
	 test_utf8_accepts_valid_and_refuses_overlong_surrogates_and_beyond},
	CU_TEST_INFO_NULL,
};

CU_SuiteInfo utf8_suites[] = {
	{"utf8", NULL, NULL, NULL, NULL, utf8_tests},
	CU_SUITE_INFO_NULL,
};
