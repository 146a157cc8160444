/*
 * Unit tests for core/mail/section.c: the FETCH section grammar with its validation, the
 * partial grammar with overflow checks, RFC 3501 part numbering (including message/rfc822
 * and non-multipart messages), HEADER.FIELDS filtering with folded lines, and partials
 * applied at the edges of both kinds of result.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "mail/mime.h"
#include "mail/section.h"
#include "util/pool.h"

unsigned char *mail_test_load(struct sluice_pool *pool, const char *path, size_t *len_r);

static int parse(struct sluice_pool *pool, const char *spec, struct mail_section *sec)
{
	const char *error = NULL;
	int r = mail_section_parse(spec, strlen(spec), pool, sec, &error);
	if (r != 0)
		CU_ASSERT_PTR_NOT_NULL(error);
	return r;
}

static void test_valid_sections_parse(void)
{
	struct sluice_pool *pool = pool_create(4096, 0);
	struct mail_section sec;
	CU_ASSERT_EQUAL(parse(pool, "", &sec), 0);
	CU_ASSERT_EQUAL(sec.kind, MAIL_SECTION_BODY);
	CU_ASSERT_EQUAL(sec.part_count, 0);
	CU_ASSERT_EQUAL(parse(pool, "header", &sec), 0);
	CU_ASSERT_EQUAL(sec.kind, MAIL_SECTION_HEADER);
	CU_ASSERT_EQUAL(parse(pool, "TEXT", &sec), 0);
	CU_ASSERT_EQUAL(sec.kind, MAIL_SECTION_TEXT);
	CU_ASSERT_EQUAL(parse(pool, "HEADER.FIELDS (From To)", &sec), 0);
	CU_ASSERT_EQUAL(sec.kind, MAIL_SECTION_HEADER_FIELDS);
	CU_ASSERT_EQUAL_FATAL(sec.field_count, 2);
	CU_ASSERT_STRING_EQUAL(sec.fields[0], "From");
	CU_ASSERT_STRING_EQUAL(sec.fields[1], "To");
	CU_ASSERT_EQUAL(parse(pool, "1.2.header.fields.not (\"X-A b\" Message-ID)", &sec), 0);
	CU_ASSERT_EQUAL(sec.kind, MAIL_SECTION_HEADER_FIELDS_NOT);
	CU_ASSERT_EQUAL(sec.part_count, 2);
	CU_ASSERT_STRING_EQUAL(sec.fields[0], "X-A b");
	CU_ASSERT_EQUAL(parse(pool, "1.2.MIME", &sec), 0);
	CU_ASSERT_EQUAL(sec.kind, MAIL_SECTION_MIME);
	CU_ASSERT_EQUAL(sec.parts[0], 1);
	CU_ASSERT_EQUAL(sec.parts[1], 2);
	CU_ASSERT_EQUAL(parse(pool, "3.1.TEXT", &sec), 0);
	CU_ASSERT_EQUAL(sec.kind, MAIL_SECTION_TEXT);
	CU_ASSERT_EQUAL(sec.part_count, 2);
	CU_ASSERT_EQUAL(parse(pool, "4294967295", &sec), 0);
	CU_ASSERT_EQUAL(sec.kind, MAIL_SECTION_BODY);
	CU_ASSERT_EQUAL(sec.parts[0], 4294967295u);
	CU_ASSERT_FALSE(sec.partial);
	pool_destroy(&pool);
}

static void test_invalid_sections_are_bad(void)
{
	static const char *const bad[] = {
	    "0",
	    "01",
	    "1.",
	    ".1",
	    "1..2",
	    "4294967296",
	    "99999999999999999999",
	    "MIME",
	    "1.MIME.1",
	    "HEADER.FIELDS",
	    "HEADER.FIELDS ()",
	    "HEADER.FIELDS (From",
	    "HEADER.FIELDS (From) x",
	    "HEADER.FIELDS ({4}\r\nFrom)",
	    "HEADER.FIELDS (\"From)",
	    "HEADER.FIELDS(From)",
	    "TEXTX",
	    "1.TEXT.2",
	    "HEADERS",
	    "1.2.3 ",
	    "1.0",
	    "BODY",
	    "header.fields.nott (a)",
	};
	struct sluice_pool *pool = pool_create(4096, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mail_section sec;
		int r = parse(pool, bad[i], &sec);
		if (r != MAIL_SECTION_BAD)
			fprintf(stderr, "\naccepted: %s\n", bad[i]);
		CU_ASSERT_EQUAL(r, MAIL_SECTION_BAD);
	}
	/* Too many part numbers. */
	char many[MAIL_SECTION_MAX_PARTS * 2 + 8];
	size_t n = 0;
	for (int i = 0; i <= MAIL_SECTION_MAX_PARTS; i++)
		n += (size_t)sprintf(many + n, i ? ".1" : "1");
	struct mail_section sec;
	CU_ASSERT_EQUAL(parse(pool, many, &sec), MAIL_SECTION_BAD);
	pool_destroy(&pool);
}

static int partial(const char *text, struct mail_section *sec)
{
	const char *error = NULL;
	memset(sec, 0, sizeof(*sec));
	return mail_section_partial_parse(text, strlen(text), sec, &error);
}

static void test_partials_parse_with_overflow_checks(void)
{
	struct mail_section sec;
	CU_ASSERT_EQUAL(partial("<0.10>", &sec), 0);
	CU_ASSERT_TRUE(sec.partial);
	CU_ASSERT_EQUAL(sec.partial_start, 0);
	CU_ASSERT_EQUAL(sec.partial_count, 10);
	CU_ASSERT_EQUAL(partial("<4294967295.4294967295>", &sec), 0);
	CU_ASSERT_EQUAL(sec.partial_start, 4294967295u);
	static const char *const bad[] = {"<0.0>",          "<1>",  "<-1.5>", "<4294967296.1>",
	                                  "<1.4294967296>", "0.10", "<0.10",  "<0.10>x",
	                                  "<.5>",           "<5.>", "",       "<0. 10>",
	                                  "<0.1 >"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(partial(bad[i], &sec), MAIL_SECTION_BAD);
		CU_ASSERT_FALSE(sec.partial);
	}
}

struct fixture {
	struct sluice_pool *pool;
	const unsigned char *msg;
	size_t len;
	struct mime_part *root;
};

static void fixture_load(struct fixture *f, const char *path)
{
	f->pool = pool_create(4096, 0);
	f->msg = mail_test_load(f->pool, path, &f->len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->msg);
	CU_ASSERT_EQUAL_FATAL(mime_parse(f->msg, f->len, f->pool, &f->root), 0);
}

static void fixture_text(struct fixture *f, const char *msg)
{
	f->pool = pool_create(4096, 0);
	f->msg = (const unsigned char *)msg;
	f->len = strlen(msg);
	CU_ASSERT_EQUAL_FATAL(mime_parse(f->msg, f->len, f->pool, &f->root), 0);
}

/* Fetches BODY[spec]<partial> and checks the bytes and the result code. */
static void expect(struct fixture *f, const char *spec, const char *part, int code,
                   const char *bytes)
{
	struct mail_section sec;
	const char *error;
	CU_ASSERT_EQUAL_FATAL(mail_section_parse(spec, strlen(spec), f->pool, &sec, &error), 0);
	if (part != NULL)
		CU_ASSERT_EQUAL_FATAL(mail_section_partial_parse(part, strlen(part), &sec, &error),
		                      0);
	struct mail_section_result out;
	int r = mail_section_fetch(f->msg, f->len, f->root, &sec, &out, f->pool);
	CU_ASSERT_EQUAL(r, code);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out.data);
	if (out.len != strlen(bytes) || memcmp(out.data, bytes, out.len) != 0)
		fprintf(stderr, "\nBODY[%s]%s: got \"%.*s\"\n", spec, part ? part : "",
		        (int)out.len, (const char *)out.data);
	CU_ASSERT_EQUAL(out.len, strlen(bytes));
	CU_ASSERT_EQUAL(memcmp(out.data, bytes, out.len), 0);
	if (out.in_message)
		CU_ASSERT_PTR_EQUAL(out.data, f->msg + out.offset);
}

static void test_part_numbers_in_nested_multiparts_and_messages(void)
{
	struct fixture f;
	fixture_load(&f, SLUICE_SOURCE_DIR "/tests/data/mail/nested.eml");
	expect(&f, "1", NULL, 0, "Hello Bob, caf=C3=A9 time.=\r\n Soft break.");
	expect(&f, "1.MIME", NULL, 0,
	       "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
	       "quoted-printable\r\n\r\n");
	expect(&f, "2.MIME", NULL, 0,
	       "Content-Type: message/rfc822\r\nContent-Description: forwarded\r\n\r\n");
	expect(&f, "2.HEADER", NULL, 0,
	       "From: Dave <dave@example.com>\r\nSubject: Inner\r\nMessage-ID: "
	       "<inner-1@example.com>\r\n"
	       "Content-Type: multipart/alternative; boundary=inner\r\n\r\n");
	expect(&f, "2.HEADER.FIELDS (SUBJECT)", NULL, 0, "Subject: Inner\r\n\r\n");
	expect(&f, "2.1", NULL, 0, "inner plain");
	expect(&f, "2.2", NULL, 0, "<p>inner html</p>");
	expect(&f, "2.2.MIME", NULL, 0, "Content-Type: text/html; charset=iso-8859-1\r\n\r\n");
	expect(&f, "3", NULL, 0, "AAECAwQF");
	/* The body of the message/rfc822 part is the whole encapsulated message. */
	struct mail_section sec;
	const char *error;
	struct mail_section_result out;
	CU_ASSERT_EQUAL(mail_section_parse("2", 1, f.pool, &sec, &error), 0);
	CU_ASSERT_EQUAL(mail_section_fetch(f.msg, f.len, f.root, &sec, &out, f.pool), 0);
	CU_ASSERT_TRUE(out.in_message);
	CU_ASSERT_EQUAL(out.offset, 612);
	CU_ASSERT_EQUAL(out.len, 271);
	CU_ASSERT_EQUAL(mail_section_parse("2.TEXT", 6, f.pool, &sec, &error), 0);
	CU_ASSERT_EQUAL(mail_section_fetch(f.msg, f.len, f.root, &sec, &out, f.pool), 0);
	CU_ASSERT_EQUAL(out.len, 271 - 137);
	CU_ASSERT_NSTRING_EQUAL(out.data, "--inner\r\n", 9);
	pool_destroy(&f.pool);
}

static void test_missing_parts_and_non_message_headers_are_empty(void)
{
	struct fixture f;
	fixture_load(&f, SLUICE_SOURCE_DIR "/tests/data/mail/nested.eml");
	expect(&f, "4", NULL, 1, "");
	expect(&f, "4.MIME", NULL, 1, "");
	expect(&f, "1.1", NULL, 1, "");
	expect(&f, "2.3", NULL, 1, "");
	expect(&f, "2.1.1", NULL, 1, "");
	/* HEADER and TEXT need a message/rfc822 part. */
	expect(&f, "3.HEADER", NULL, 1, "");
	expect(&f, "1.TEXT", NULL, 1, "");
	expect(&f, "2.1.HEADER.FIELDS (From)", NULL, 1, "");
	expect(&f, "4294967295.1", "<0.5>", 1, "");
	pool_destroy(&f.pool);
}

static void test_header_fields_keep_folded_lines_and_end_with_blank_line(void)
{
	struct fixture f;
	fixture_load(&f, SLUICE_SOURCE_DIR "/tests/data/mail/nested.eml");
	expect(&f, "HEADER.FIELDS (x-long \"SUBJECT\" nothing)", NULL, 0,
	       "Subject: Nested\r\n parts test\r\nX-Long: first line\r\n\tsecond line\r\n\r\n");
	expect(&f, "HEADER.FIELDS.NOT (Return-Path To Cc Subject X-Long MIME-Version Content-Type)",
	       NULL, 0,
	       "From: \"Alice Example\" <alice@example.org>\r\nDate: Tue, 02 Jan 2024 10:20:30 "
	       "+0100\r\nMessage-ID: <nested-1@example.org>\r\n\r\n");
	expect(&f, "HEADER.FIELDS (Nothing)", NULL, 0, "\r\n");
	pool_destroy(&f.pool);

	/* A header that ends without a line break still yields whole lines. */
	fixture_text(&f, "A: 1\nB: 2\n continued");
	expect(&f, "HEADER.FIELDS (B)", NULL, 0, "B: 2\n continued\r\n\r\n");
	expect(&f, "HEADER", NULL, 0, "A: 1\nB: 2\n continued");
	expect(&f, "TEXT", NULL, 0, "");
	pool_destroy(&f.pool);
}

static void test_whole_message_header_and_text(void)
{
	struct fixture f;
	fixture_load(&f, SLUICE_SOURCE_DIR "/tests/data/mail/nested.eml");
	struct mail_section sec;
	const char *error;
	struct mail_section_result out;
	CU_ASSERT_EQUAL(mail_section_parse("", 0, f.pool, &sec, &error), 0);
	CU_ASSERT_EQUAL(mail_section_fetch(f.msg, f.len, f.root, &sec, &out, f.pool), 0);
	CU_ASSERT_EQUAL(out.offset, 0);
	CU_ASSERT_EQUAL(out.len, f.len);
	CU_ASSERT_EQUAL(mail_section_parse("HEADER", 6, f.pool, &sec, &error), 0);
	CU_ASSERT_EQUAL(mail_section_fetch(f.msg, f.len, f.root, &sec, &out, f.pool), 0);
	CU_ASSERT_EQUAL(out.len, 376);
	CU_ASSERT_NSTRING_EQUAL(out.data + 372, "\r\n\r\n", 4);
	CU_ASSERT_EQUAL(mail_section_parse("TEXT", 4, f.pool, &sec, &error), 0);
	CU_ASSERT_EQUAL(mail_section_fetch(f.msg, f.len, f.root, &sec, &out, f.pool), 0);
	CU_ASSERT_EQUAL(out.offset, 376);
	CU_ASSERT_EQUAL(out.len, f.len - 376);
	pool_destroy(&f.pool);
}

static void test_non_multipart_messages_have_only_part_one(void)
{
	struct fixture f;
	fixture_text(&f, "Subject: s\n\nbody\n");
	expect(&f, "1", NULL, 0, "body\n");
	expect(&f, "1.MIME", NULL, 0, "Subject: s\n\n");
	expect(&f, "2", NULL, 1, "");
	expect(&f, "1.1", NULL, 1, "");
	pool_destroy(&f.pool);

	fixture_text(&f, "Content-Type: message/rfc822\n\nSubject: inner\n\nhello\n");
	expect(&f, "1", NULL, 0, "Subject: inner\n\nhello\n");
	expect(&f, "1.HEADER", NULL, 0, "Subject: inner\n\n");
	expect(&f, "1.TEXT", NULL, 0, "hello\n");
	expect(&f, "1.1", NULL, 0, "hello\n");
	expect(&f, "1.1.MIME", NULL, 0, "Subject: inner\n\n");
	expect(&f, "1.2", NULL, 1, "");
	expect(&f, "HEADER", NULL, 0, "Content-Type: message/rfc822\n\n");
	pool_destroy(&f.pool);
}

static void test_partials_at_the_edges(void)
{
	struct fixture f;
	fixture_load(&f, SLUICE_SOURCE_DIR "/tests/data/mail/nested.eml");
	expect(&f, "", "<0.10>", 0, "Return-Pat");
	expect(&f, "", "<1225.100>", 0, "ue.\r\n");
	expect(&f, "", "<1229.1>", 0, "\n");
	expect(&f, "", "<1230.5>", 0, "");
	expect(&f, "", "<4294967295.4294967295>", 0, "");
	expect(&f, "3", "<6.4294967295>", 0, "QF");
	expect(&f, "HEADER.FIELDS (Subject)", "<9.6>", 0, "Nested");
	expect(&f, "HEADER.FIELDS (Subject)", "<27.10>", 0, "t\r\n\r\n");
	expect(&f, "HEADER.FIELDS (Subject)", "<32.1>", 0, "");
	pool_destroy(&f.pool);
}

static CU_TestInfo mail_section_tests[] = {
    {"valid sections parse", test_valid_sections_parse},
    {"invalid sections are BAD", test_invalid_sections_are_bad},
    {"partials parse with overflow checks", test_partials_parse_with_overflow_checks},
    {"part numbers in nested multiparts and messages",
     test_part_numbers_in_nested_multiparts_and_messages},
    {"missing parts and non-message headers are empty",
     test_missing_parts_and_non_message_headers_are_empty},
    {"HEADER.FIELDS keep folded lines and end with blank line",
     test_header_fields_keep_folded_lines_and_end_with_blank_line},
    {"whole message, HEADER and TEXT", test_whole_message_header_and_text},
    {"non-multipart messages have only part 1", test_non_multipart_messages_have_only_part_one},
    {"partials at the edges", test_partials_at_the_edges},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mail_section_suites[] = {
    {"mail_section", NULL, NULL, NULL, NULL, mail_section_tests},
    CU_SUITE_INFO_NULL,
};
