/*
 * Unit tests for core/mail/mutf7.c: RFC 3501's example, round trips of many Unicode strings
 * (non-BMP included), and the strictness that gives every mailbox name one spelling.
 */
#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mail/mutf7.h"

/* Runs @p fn on @p in and returns its output as a C string in @p out, or NULL on failure. */
static const char *mutf7_run(int (*fn)(const char *, struct buf *), const char *in, char *out,
                             size_t out_len)
{
	struct buf b = {0};
	int ret = fn(in, &b);
	if (ret != 0) {
		CU_ASSERT_EQUAL(ret, SLUICE_E_PARSE);
		CU_ASSERT_EQUAL(buf_len(&b), 0);
		buf_free(&b);
		return NULL;
	}
	snprintf(out, out_len, "%.*s", (int)buf_len(&b), (const char *)buf_head(&b));
	buf_free(&b);
	return out;
}

static void mutf7_assert_pair(const char *utf8, const char *mutf7)
{
	char out[512];
	const char *enc = mutf7_run(utf8_to_mutf7, utf8, out, sizeof(out));
	CU_ASSERT_PTR_NOT_NULL_FATAL(enc);
	CU_ASSERT_STRING_EQUAL(enc, mutf7);
	const char *dec = mutf7_run(mutf7_to_utf8, mutf7, out, sizeof(out));
	CU_ASSERT_PTR_NOT_NULL_FATAL(dec);
	CU_ASSERT_STRING_EQUAL(dec, utf8);
	CU_ASSERT(mutf7_valid(mutf7));
}

static void mutf7_assert_rejected(const char *mutf7)
{
	char out[512];
	CU_ASSERT_FALSE(mutf7_valid(mutf7));
	CU_ASSERT_PTR_NULL(mutf7_run(mutf7_to_utf8, mutf7, out, sizeof(out)));
}

static void test_mutf7_rfc3501_example(void)
{
	mutf7_assert_pair(
	    "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	    "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
}

static void test_mutf7_ampersand_is_written_ampersand_dash(void)
{
	mutf7_assert_pair("&", "&-");
	mutf7_assert_pair("Tom & Jerry", "Tom &- Jerry");
	mutf7_assert_pair("&&", "&-&-");
	mutf7_assert_pair("", "");
}

static void test_mutf7_known_encodings(void)
{
	mutf7_assert_pair("Entw\xc3\xbcrfe", "Entw&APw-rfe");
	mutf7_assert_pair("\xc3\xa9", "&AOk-");
	/* U+1F600, a surrogate pair D83D DE00 in UTF-16. */
	mutf7_assert_pair("\xf0\x9f\x98\x80", "&2D3eAA-");
	/* Controls are not printable, so they are encoded rather than written raw. */
	mutf7_assert_pair("a\tb", "a&AAk-b");
	mutf7_assert_pair("\x7f", "&AH8-");
	/* The ',' of modified base64 stands where RFC 2045 has '/'. */
	mutf7_assert_pair("\xef\xbf\xbf", "&,,8-");
	/* A literal '-' straight after a run is fine. */
	mutf7_assert_pair("\xc3\xa9-", "&AOk--");
	/* Runs separated by printable text stay separate; after "&-" a run may follow. */
	mutf7_assert_pair("\xc3\xa9&\xc3\xa9", "&AOk-&-&AOk-");
}

/* Appends the UTF-8 of @p cp to @p s at *len. */
static void mutf7_put(char *s, size_t *len, uint32_t cp)
{
	if (cp < 0x80) {
		s[(*len)++] = (char)cp;
	} else if (cp < 0x800) {
		s[(*len)++] = (char)(0xc0 | (cp >> 6));
		s[(*len)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		s[(*len)++] = (char)(0xe0 | (cp >> 12));
		s[(*len)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[(*len)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		s[(*len)++] = (char)(0xf0 | (cp >> 18));
		s[(*len)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		s[(*len)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[(*len)++] = (char)(0x80 | (cp & 0x3f));
	}
}

static void mutf7_assert_round_trip(const char *utf8)
{
	char enc[1024], dec[1024];
	const char *e = mutf7_run(utf8_to_mutf7, utf8, enc, sizeof(enc));
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	for (const char *p = e; *p != '\0'; p++)
		CU_ASSERT((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
	CU_ASSERT(mutf7_valid(e));
	const char *d = mutf7_run(mutf7_to_utf8, e, dec, sizeof(dec));
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_STRING_EQUAL(d, utf8);
}

static void test_mutf7_round_trips_named_strings(void)
{
	static const char *const names[] = {
	    "INBOX",
	    "Sent Items",
	    "\xd0\x9a\xd0\xbe\xd1\x80\xd0\xb7\xd0\xb8\xd0\xbd\xd0\xb0", /* Корзина */
	    "\xe5\x9e\x83\xe5\x9c\xbe\xe9\x82\xae\xe4\xbb\xb6",         /* 垃圾邮件 */
	    "Gel\xc3\xb6schte Elemente",                                /* Gelöschte */
	    "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d",                         /* Hebrew */
	    "\xf0\x9f\x93\xa7 Mail \xf0\x9f\x93\xa8\xf0\x9f\x93\xa9",   /* emoji */
	    "a\xf0\x9f\x98\x80"
	    "b\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
	    "c",                     /* mixed */
	    "\xf4\x8f\xbf\xbf",      /* U+10FFFF */
	    "\xee\x80\x80",          /* U+E000 */
	    "\xc2\x80\xc2\xa0~&-,+", /* odd ASCII */
	    "Lists/debian.devel/\xc3\xa9t\xc3\xa9",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		mutf7_assert_round_trip(names[i]);
}

/* Thousands of generated strings: every code point class, every run length and alignment. */
static void test_mutf7_round_trips_generated_strings(void)
{
	char s[256];
	uint32_t cp = 0x80, rng = 12345;
	for (int iter = 0; iter < 4000; iter++) {
		size_t len = 0;
		rng = rng * 1103515245u + 12345u;
		unsigned parts = 1 + (rng >> 16) % 6;
		for (unsigned k = 0; k < parts; k++) {
			rng = rng * 1103515245u + 12345u;
			switch ((rng >> 16) % 4) {
			case 0:
				s[len++] = (char)(0x20 + (rng >> 8) % 0x5f);
				break;
			case 1:
				mutf7_put(s, &len, 1 + (rng >> 8) % 0x7f);
				break;
			default:
				/* Walk the code space, skipping surrogates. */
				cp += 0x3b1 + (rng >> 20) % 0x100;
				if (cp > 0x10ffff)
					cp = 0x80 + cp % 0x100;
				if (cp >= 0xd800 && cp <= 0xdfff)
					cp = 0xe000;
				mutf7_put(s, &len, cp);
			}
		}
		s[len] = '\0';
		mutf7_assert_round_trip(s);
	}
}

static void test_mutf7_rejects_raw_8bit_and_controls(void)
{
	mutf7_assert_rejected("caf\xc3\xa9");
	mutf7_assert_rejected("\xff");
	mutf7_assert_rejected("a\tb");
	mutf7_assert_rejected("a\x7f");
	mutf7_assert_rejected("a\r\nb");
}

static void test_mutf7_rejects_unterminated_and_empty_shifts(void)
{
	mutf7_assert_rejected("&");
	mutf7_assert_rejected("a&");
	mutf7_assert_rejected("&AOk");
	mutf7_assert_rejected("&U,BTFw");
	/* An empty run other than "&-" does not exist; "&-" itself is '&'. */
	mutf7_assert_rejected("&&-");
}

static void test_mutf7_rejects_adjacent_runs(void)
{
	mutf7_assert_rejected("&U,BTFw-&ZeVnLIqe-");
	mutf7_assert_rejected("&AOk-&AOk-");
	CU_ASSERT(mutf7_valid("&U,BTFw-&-"));
	CU_ASSERT(mutf7_valid("&-&U,BTFw-"));
}

static void test_mutf7_rejects_encoded_printable_ascii(void)
{
	mutf7_assert_rejected("&AGE-");    /* 'a' */
	mutf7_assert_rejected("&ACY-");    /* '&' is "&-", never base64 */
	mutf7_assert_rejected("&ACA-");    /* space */
	mutf7_assert_rejected("&AH4-");    /* '~' */
	mutf7_assert_rejected("&AOkAYQ-"); /* "éa": the 'a' hides in the run */
	mutf7_assert_rejected("&AAA-");    /* NUL */
}

static void test_mutf7_rejects_bad_base64(void)
{
	mutf7_assert_rejected("&AOl-");  /* padding bits set */
	mutf7_assert_rejected("&AOkA-"); /* a spare sextet */
	mutf7_assert_rejected("&AO-");   /* less than one UTF-16 unit */
	mutf7_assert_rejected("&A-");
	mutf7_assert_rejected("&AO/-");  /* '/' is not modified base64 */
	mutf7_assert_rejected("&AOk=-"); /* no '=' padding */
	mutf7_assert_rejected("&AO k-");
}

static void test_mutf7_rejects_broken_surrogates(void)
{
	mutf7_assert_rejected("&2D0-");    /* high surrogate alone */
	mutf7_assert_rejected("&3gA-");    /* low surrogate alone */
	mutf7_assert_rejected("&3gDYPQ-"); /* low then high */
	mutf7_assert_rejected("&2D3YPQ-"); /* two highs */
	mutf7_assert_rejected("&2D0-x&3gA-");
}

static void test_mutf7_encoder_rejects_malformed_utf8(void)
{
	static const char *const bad[] = {
	    "\xc0\xaf",         /* overlong '/' */
	    "\xe0\x80\xaf",     /* overlong '/' */
	    "\xf0\x80\x80\xaf", /* overlong '/' */
	    "\xed\xa0\x80",     /* surrogate D800 */
	    "\xed\xbf\xbf",     /* surrogate DFFF */
	    "\xf4\x90\x80\x80", /* U+110000 */
	    "\xe6\x97",         /* truncated */
	    "a\x80",            /* stray continuation */
	    "\xff",
	    "\xc3\xa9\xc3",
	};
	char out[64];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_PTR_NULL(mutf7_run(utf8_to_mutf7, bad[i], out, sizeof(out)));
}

static void test_mutf7_failure_leaves_buffer_as_it_was(void)
{
	struct buf b = {0};
	CU_ASSERT_EQUAL(buf_append(&b, "prefix:", 7), 0);
	CU_ASSERT_EQUAL(mutf7_to_utf8("ok&AOk-then&AGE-", &b), SLUICE_E_PARSE);
	CU_ASSERT_EQUAL(buf_len(&b), 7);
	CU_ASSERT_EQUAL(utf8_to_mutf7("\xc3\xa9\xc3\xa9\xff", &b), SLUICE_E_PARSE);
	CU_ASSERT_EQUAL(buf_len(&b), 7);
	CU_ASSERT_EQUAL(mutf7_to_utf8("&AOk-", &b), 0);
	CU_ASSERT_EQUAL(buf_len(&b), 9);
	CU_ASSERT_EQUAL(memcmp(buf_head(&b), "prefix:\xc3\xa9", 9), 0);
	buf_free(&b);
}

static CU_TestInfo mutf7_tests[] = {
    {"RFC 3501 example both ways", test_mutf7_rfc3501_example},
    {"ampersand is written &-", test_mutf7_ampersand_is_written_ampersand_dash},
    {"known encodings", test_mutf7_known_encodings},
    {"named strings round-trip", test_mutf7_round_trips_named_strings},
    {"generated strings round-trip", test_mutf7_round_trips_generated_strings},
    {"raw 8-bit and controls rejected", test_mutf7_rejects_raw_8bit_and_controls},
    {"unterminated and empty shifts rejected", test_mutf7_rejects_unterminated_and_empty_shifts},
    {"adjacent runs rejected", test_mutf7_rejects_adjacent_runs},
    {"encoded printable ASCII rejected", test_mutf7_rejects_encoded_printable_ascii},
    {"bad base64 rejected", test_mutf7_rejects_bad_base64},
    {"broken surrogates rejected", test_mutf7_rejects_broken_surrogates},
    {"encoder rejects malformed UTF-8", test_mutf7_encoder_rejects_malformed_utf8},
    {"failure leaves the buffer as it was", test_mutf7_failure_leaves_buffer_as_it_was},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mutf7_suites[] = {
    {"mutf7", NULL, NULL, NULL, NULL, mutf7_tests},
    CU_SUITE_INFO_NULL,
};
