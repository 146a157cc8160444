/*
 * Unit tests for core/mail/decode.c and text-match.c: RFC 2047 encoded words, quoted-
 * printable and base64 bodies, charset conversion, the case-insensitive UTF-8 matcher and
 * the header and body searches built on them.
 */
#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/decode.h"
#include "mail/mime.h"
#include "util/pool.h"

unsigned char *mail_test_load(struct sluice_pool *pool, const char *path, size_t *len_r);

static const char *hdr(struct sluice_pool *pool, const char *value)
{
	size_t len;
	char *d = mail_decode_header(value, strlen(value), pool, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(len, strlen(d));
	return d;
}

static void test_rfc2047_b_and_q_words_decode_to_utf8(void)
{
	struct sluice_pool *pool = pool_create(4096, 0);
	CU_ASSERT_STRING_EQUAL(hdr(pool, "=?ISO-8859-1?Q?Andr=E9?= Pirard"), "Andr\xc3\xa9 Pirard");
	CU_ASSERT_STRING_EQUAL(hdr(pool, "=?utf-8?B?0JLQu9Cw0LTQuNC80LjRgA==?="),
	                       "\xd0\x92\xd0\xbb\xd0\xb0\xd0\xb4\xd0\xb8\xd0\xbc\xd0\xb8\xd1\x80");
	/* Underscore is a space in Q, but an encoded underscore stays one. */
	CU_ASSERT_STRING_EQUAL(hdr(pool, "=?us-ascii?q?a_b=5Fc?="), "a b_c");
	/* RFC 2231 language suffix, lowercase encoding letter. */
	CU_ASSERT_STRING_EQUAL(hdr(pool, "=?US-ASCII*EN?q?Keith_Moore?="), "Keith Moore");
	CU_ASSERT_STRING_EQUAL(hdr(pool, "plain text only"), "plain text only");
	pool_destroy(&pool);
}

static void test_adjacent_encoded_words_join_without_whitespace(void)
{
	struct sluice_pool *pool = pool_create(4096, 0);
	CU_ASSERT_STRING_EQUAL(hdr(pool, "=?utf-8?q?caf=C3=A9?= \r\n =?utf-8?q?_cr=C3=A8me?="),
	                       "caf\xc3\xa9 cr\xc3\xa8me");
	/* A character split between two words survives because they are converted together. */
	CU_ASSERT_STRING_EQUAL(hdr(pool, "=?utf-8?q?caf=C3?= =?utf-8?q?=A9?="), "caf\xc3\xa9");
	CU_ASSERT_STRING_EQUAL(hdr(pool, "=?iso-8859-1?q?=E9?=  =?koi8-r?b?8A==?="),
	                       "\xc3\xa9\xd0\x9f");
	/* Whitespace between an encoded word and plain text is kept. */
	CU_ASSERT_STRING_EQUAL(hdr(pool, "=?utf-8?q?a?= b =?utf-8?q?c?="), "a b c");
	/* Mailers put encoded words next to text; they are decoded anyway. */
	CU_ASSERT_STRING_EQUAL(hdr(pool, "Re:=?utf-8?q?x?=!"), "Re:x!");
	pool_destroy(&pool);
}

static void test_unknown_charsets_and_broken_words_stay_raw(void)
{
	struct sluice_pool *pool = pool_create(4096, 0);
	CU_ASSERT_STRING_EQUAL(hdr(pool, "=?x-unknown?q?abc?= =?utf-8?q?d?="),
	                       "=?x-unknown?q?abc?= d");
	CU_ASSERT_STRING_EQUAL(hdr(pool, "=?utf-8//TRANSLIT?q?abc?="), "=?utf-8//TRANSLIT?q?abc?=");
	CU_ASSERT_STRING_EQUAL(hdr(pool, "=?utf-8?x?abc?="), "=?utf-8?x?abc?=");
	CU_ASSERT_STRING_EQUAL(hdr(pool, "=?utf-8?q?a b?="), "=?utf-8?q?a b?=");
	CU_ASSERT_STRING_EQUAL(hdr(pool, "=?utf-8?q?unterminated"), "=?utf-8?q?unterminated");
	CU_ASSERT_STRING_EQUAL(hdr(pool, "=?"), "=?");
	CU_ASSERT_STRING_EQUAL(hdr(pool, "a = b =?= c"), "a = b =?= c");
	pool_destroy(&pool);
}

static void test_unclosed_encoded_words_cost_linear_time(void)
{
	struct sluice_pool *pool = pool_create(1 << 16, 0);
	size_t n = 200000;
	char *v = malloc(n * 7 + 1);
	for (size_t i = 0; i < n; i++)
		memcpy(v + i * 7, "=?a?b?X", 7);
	v[n * 7] = '\0';
	clock_t t0 = clock();
	size_t len;
	char *d = mail_decode_header(v, n * 7, pool, &len);
	CU_ASSERT_TRUE((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(len, n * 7);
	CU_ASSERT_EQUAL(memcmp(d, v, len), 0);
	free(v);
	pool_destroy(&pool);
}

static const char *qp(struct sluice_pool *pool, const char *in)
{
	struct mail_buf b;
	mail_buf_init(&b, pool, 0);
	mail_decode_qp(&b, (const unsigned char *)in, strlen(in));
	return mail_buf_finish(&b, NULL);
}

static void test_quoted_printable_soft_breaks_and_bad_escapes(void)
{
	struct sluice_pool *pool = pool_create(4096, 0);
	CU_ASSERT_STRING_EQUAL(qp(pool, "soft=\r\nbreak=\nbare LF= \t\r\nspace"),
	                       "softbreakbare LFspace");
	CU_ASSERT_STRING_EQUAL(qp(pool, "caf=c3=A9 =3D"), "caf\xc3\xa9 =");
	CU_ASSERT_STRING_EQUAL(qp(pool, "keep\r\nhard\r\nbreaks"), "keep\r\nhard\r\nbreaks");
	CU_ASSERT_STRING_EQUAL(qp(pool, "bad =ZZ =4 end="), "bad =ZZ =4 end");
	CU_ASSERT_STRING_EQUAL(qp(pool, "trailing =4"), "trailing =4");
	pool_destroy(&pool);
}

static const char *b64(struct sluice_pool *pool, const char *in, size_t *len_r)
{
	struct mail_buf b;
	mail_buf_init(&b, pool, 0);
	mail_decode_base64(&b, (const unsigned char *)in, strlen(in));
	return mail_buf_finish(&b, len_r);
}

static void test_base64_skips_line_breaks_and_garbage(void)
{
	struct sluice_pool *pool = pool_create(4096, 0);
	size_t len;
	CU_ASSERT_STRING_EQUAL(b64(pool, "SGVs\r\nbG8g!!d29y\n bGQ=\r\n", &len), "Hello world");
	CU_ASSERT_STRING_EQUAL(b64(pool, "SGk=SGk=", &len), "HiHi");
	CU_ASSERT_STRING_EQUAL(b64(pool, "SGk", &len), "Hi");
	CU_ASSERT_STRING_EQUAL(b64(pool, "S", &len), "");
	const char *bin = b64(pool, "AAEC/w==", &len);
	CU_ASSERT_EQUAL(len, 4);
	CU_ASSERT_EQUAL(memcmp(bin, "\x00\x01\x02\xff", 4), 0);
	pool_destroy(&pool);
}

static void test_charset_conversion_replaces_invalid_bytes(void)
{
	struct sluice_pool *pool = pool_create(4096, 0);
	struct mail_buf b;
	mail_buf_init(&b, pool, 0);
	CU_ASSERT_TRUE(mail_charset_to_utf8(&b, "iso-8859-6", (const unsigned char *)"a\xa1z", 3));
	CU_ASSERT_STRING_EQUAL(mail_buf_finish(&b, NULL), "a\xef\xbf\xbdz");
	mail_buf_init(&b, pool, 0);
	/* iso-8859-1 is read as windows-1252: 0x80 is the euro sign. */
	CU_ASSERT_TRUE(
	    mail_charset_to_utf8(&b, "ISO-8859-1", (const unsigned char *)"\x80\xe9", 2));
	CU_ASSERT_STRING_EQUAL(mail_buf_finish(&b, NULL), "\xe2\x82\xac\xc3\xa9");
	mail_buf_init(&b, pool, 0);
	/* A truncated multi-byte character at the end. */
	CU_ASSERT_TRUE(mail_charset_to_utf8(&b, "utf-16le", (const unsigned char *)"a\0b", 3));
	CU_ASSERT_STRING_EQUAL(mail_buf_finish(&b, NULL), "a\xef\xbf\xbd");
	mail_buf_init(&b, pool, 0);
	CU_ASSERT_TRUE(mail_charset_to_utf8(&b, "iso-2022-jp",
	                                    (const unsigned char *)"\x1b$B$3$s\x1b(B!", 11));
	CU_ASSERT_STRING_EQUAL(mail_buf_finish(&b, NULL), "\xe3\x81\x93\xe3\x82\x93!");
	mail_buf_init(&b, pool, 0);
	CU_ASSERT_FALSE(mail_charset_to_utf8(&b, "utf-8", (const unsigned char *)"x", 1));
	CU_ASSERT_FALSE(mail_charset_to_utf8(&b, "no-such-charset", (const unsigned char *)"x", 1));
	CU_ASSERT_FALSE(mail_charset_to_utf8(&b, "../../etc/x", (const unsigned char *)"x", 1));
	CU_ASSERT_EQUAL(b.len, 0);
	pool_destroy(&pool);
}

static void test_text_contains_folds_case_across_scripts(void)
{
	CU_ASSERT_TRUE(mail_text_contains("Hello World", 11, "WORLD"));
	CU_ASSERT_TRUE(mail_text_contains("Hello World", 11, ""));
	CU_ASSERT_FALSE(mail_text_contains("Hello World", 11, "worlds"));
	CU_ASSERT_FALSE(mail_text_contains("Hello World", 5, "world"));
	CU_ASSERT_TRUE(
	    mail_text_contains("un caf\xc3\xa9 cr\xc3\xa8me", 16, "CAF\xc3\x89 CR\xc3\x88ME"));
	/* Greek with accents and final sigma, Cyrillic, Latin Extended-A. */
	CU_ASSERT_TRUE(mail_text_contains("\xce\xa3\xce\x9f\xce\xa6\xce\x8a\xce\x91", 10,
	                                  "\xcf\x83\xce\xbf\xcf\x86\xce\xaf\xce\xb1"));
	CU_ASSERT_TRUE(mail_text_contains("\xcf\x82", 2, "\xce\xa3"));
	CU_ASSERT_TRUE(mail_text_contains("\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2", 12,
	                                  "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"));
	CU_ASSERT_TRUE(
	    mail_text_contains("\xc5\x81\xc3\x93\xc5\x9a", 6, "\xc5\x82\xc3\xb3\xc5\x9b"));
	CU_ASSERT_TRUE(mail_text_contains("\xd0\x81", 2, "\xd1\x91")); /* Cyrillic IO */
	/* Limits stated in decode.h: no length-changing folds. */
	CU_ASSERT_FALSE(mail_text_contains("Stra\xc3\x9f"
	                                   "e",
	                                   7, "STRASSE"));
	/* Invalid UTF-8 bytes match themselves and nothing else. */
	CU_ASSERT_TRUE(mail_text_contains("Gr\xfc\xdf"
	                                  "e",
	                                  5, "gR\xfc\xdf"));
	CU_ASSERT_FALSE(mail_text_contains("Gr\xfc\xdf"
	                                   "e",
	                                   5, "gr\xc3\xbc"));
	CU_ASSERT_TRUE(mail_text_contains("aaab", 4, "aab"));
	CU_ASSERT_TRUE(mail_text_contains("abababca", 8, "ababca"));
}

/* The scan jumps to bytes that can start a match; letters outside ASCII that fold to the
 * needle's first letter, and matches right at either end, must still be found. */
static void test_text_contains_finds_starts_the_fast_scan_could_skip(void)
{
	CU_ASSERT_TRUE(mail_text_contains("xx \xc4\xb0" "stanbul", 12, "istanbul")); /* U+0130 */
	CU_ASSERT_TRUE(mail_text_contains("a \xc5\xbf" "tar", 7, "star"));          /* U+017F */
	CU_ASSERT_TRUE(mail_text_contains("0 \xe2\x84\xaa" "elvin", 10, "KELVIN"));  /* U+212A */
	CU_ASSERT_FALSE(mail_text_contains("\xc4\x80" "stanbul", 9, "istanbul"));   /* U+0100 */
	CU_ASSERT_TRUE(mail_text_contains("Report", 6, "report"));
	CU_ASSERT_TRUE(mail_text_contains("the last word", 13, "WORD"));
	CU_ASSERT_TRUE(mail_text_contains("rrrreport", 9, "report"));
	CU_ASSERT_FALSE(mail_text_contains("repor", 5, "report"));
	/* A needle starting with a digit or a non-letter, and one starting outside ASCII. */
	CU_ASSERT_TRUE(mail_text_contains("invoice #2024-17", 16, "2024-17"));
	CU_ASSERT_TRUE(mail_text_contains("tr\xc3\xa8s \xc3\xa9t\xc3\xa9", 11, "\xc3\x89T\xc3\x89"));
	/* Bytes that are not UTF-8 before a match leave it findable. */
	CU_ASSERT_TRUE(mail_text_contains("\xff\xc3" "Zebra", 7, "zebra"));
}

static void test_text_contains_is_linear_on_hostile_input(void)
{
	size_t n = 4 << 20, m = 3000;
	char *hay = malloc(n);
	char *needle = malloc(m + 1);
	memset(hay, 'a', n);
	memset(needle, 'A', m);
	needle[m - 1] = 'b';
	needle[m] = '\0';
	clock_t t0 = clock();
	CU_ASSERT_FALSE(mail_text_contains(hay, n, needle));
	hay[n - 1] = 'B';
	CU_ASSERT_TRUE(mail_text_contains(hay, n, needle));
	CU_ASSERT_TRUE((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
	free(hay);
	free(needle);
}

static void test_header_and_body_search_on_decoded_text(void)
{
	struct sluice_pool *pool = pool_create(4096, 0);
	size_t len;
	unsigned char *msg =
	    mail_test_load(pool, SLUICE_SOURCE_DIR "/tests/data/mail/encoded.eml", &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	struct mime_part *root;
	CU_ASSERT_EQUAL_FATAL(mime_parse(msg, len, pool, &root), 0);
	CU_ASSERT_EQUAL(mail_header_contains(msg, root->hdr_len, "from", "ANDR\xc3\x89 pir", pool),
	                1);
	CU_ASSERT_EQUAL(mail_header_contains(msg, root->hdr_len, "to",
	                                     "\xd0\xb2\xd0\xbb\xd0\xb0\xd0\xb4", pool),
	                1);
	CU_ASSERT_EQUAL(
	    mail_header_contains(msg, root->hdr_len, "subject", "CAF\xc3\x89 CR\xc3\x88ME", pool),
	    1);
	CU_ASSERT_EQUAL(mail_header_contains(msg, root->hdr_len, "subject", "andr", pool), 0);
	CU_ASSERT_EQUAL(mail_header_contains(msg, root->hdr_len, NULL, "cr\xc3\xa8me", pool), 1);
	CU_ASSERT_EQUAL(mail_header_contains(msg, root->hdr_len, NULL, "content-TYPE", pool), 1);
	CU_ASSERT_EQUAL(mail_header_contains(msg, root->hdr_len, "x-missing", "", pool), 0);
	CU_ASSERT_EQUAL(mail_header_contains(msg, root->hdr_len, "subject", "", pool), 1);

	/* Quoted-printable Latin-1 with a soft break, and base64 KOI8-R. */
	CU_ASSERT_EQUAL(mail_body_contains(root, "R\xc3\x89SUM\xc3\x89 du projet", 1 << 20, pool),
	                1);
	CU_ASSERT_EQUAL(
	    mail_body_contains(
	        root, "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2 \xd0\xbc\xd0\xb8\xd1\x80",
	        1 << 20, pool),
	    1);
	/* Attachments are not text; parts above the size limit are skipped. */
	CU_ASSERT_EQUAL(mail_body_contains(root, "secret needle", 1 << 20, pool), 0);
	CU_ASSERT_EQUAL(mail_body_contains(root, "projet", 10, pool), 0);

	char *text;
	size_t tlen;
	CU_ASSERT_EQUAL(mail_decode_body(root->children, 1 << 20, pool, &text, &tlen), 0);
	CU_ASSERT_STRING_EQUAL(text, "Voil\xc3\xa0 le r\xc3\xa9sum\xc3\xa9 du projet.");
	CU_ASSERT_EQUAL(mail_decode_body(root, 1 << 20, pool, &text, &tlen), 1);
	CU_ASSERT_EQUAL(mail_decode_body(root->children->next->next, 1 << 20, pool, &text, &tlen),
	                0);
	CU_ASSERT_STRING_EQUAL(text, "secret needle");
	pool_destroy(&pool);
}

static void test_body_search_reaches_encapsulated_messages(void)
{
	struct sluice_pool *pool = pool_create(4096, 0);
	size_t len;
	unsigned char *msg =
	    mail_test_load(pool, SLUICE_SOURCE_DIR "/tests/data/mail/nested.eml", &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	struct mime_part *root;
	CU_ASSERT_EQUAL_FATAL(mime_parse(msg, len, pool, &root), 0);
	CU_ASSERT_EQUAL(mail_body_contains(root, "caf\xc3\xa9 time. soft", 1 << 20, pool), 1);
	CU_ASSERT_EQUAL(mail_body_contains(root, "DAVE@example.com", 1 << 20, pool), 1);
	CU_ASSERT_EQUAL(mail_body_contains(root, "inner HTML", 1 << 20, pool), 1);
	CU_ASSERT_EQUAL(mail_body_contains(root, "preamble", 1 << 20, pool), 0);
	CU_ASSERT_EQUAL(mail_body_contains(root, "alice", 1 << 20, pool), 0);
	pool_destroy(&pool);
}

static CU_TestInfo mail_decode_tests[] = {
    {"RFC 2047 B and Q words decode to UTF-8", test_rfc2047_b_and_q_words_decode_to_utf8},
    {"adjacent encoded words join without whitespace",
     test_adjacent_encoded_words_join_without_whitespace},
    {"unknown charsets and broken words stay raw", test_unknown_charsets_and_broken_words_stay_raw},
    {"unclosed encoded words cost linear time", test_unclosed_encoded_words_cost_linear_time},
    {"quoted-printable soft breaks and bad escapes",
     test_quoted_printable_soft_breaks_and_bad_escapes},
    {"base64 skips line breaks and garbage", test_base64_skips_line_breaks_and_garbage},
    {"charset conversion replaces invalid bytes", test_charset_conversion_replaces_invalid_bytes},
    {"text_contains folds case across scripts", test_text_contains_folds_case_across_scripts},
    {"text_contains is linear on hostile input", test_text_contains_is_linear_on_hostile_input},
    {"text_contains finds starts the fast scan could skip",
     test_text_contains_finds_starts_the_fast_scan_could_skip},
    {"header and body search on decoded text", test_header_and_body_search_on_decoded_text},
    {"body search reaches encapsulated messages", test_body_search_reaches_encapsulated_messages},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mail_decode_suites[] = {
    {"mail_decode", NULL, NULL, NULL, NULL, mail_decode_tests},
    CU_SUITE_INFO_NULL,
};
