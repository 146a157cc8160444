/*
 * Unit tests for core/mail/bodystructure.c: exact BODY and BODYSTRUCTURE strings for
 * crafted messages and for real-world ones (Python's email test corpus). The expected
 * strings were derived independently: types, parameters and sizes of leaf parts from
 * Python's email package, sizes and line counts of message/rfc822 and other parts by
 * slicing the files at their boundary lines, and the rest from the RFC 3501 grammar.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "mail/bodystructure.h"
#include "mail/mime.h"
#include "util/pool.h"

#define PYTHON_EMAIL_DATA "/usr/lib/python3.11/test/test_email/data"

unsigned char *mail_test_load(struct sluice_pool *pool, const char *path, size_t *len_r);

static struct mime_part *load(struct sluice_pool *pool, const char *path)
{
	size_t len;
	unsigned char *msg = mail_test_load(pool, path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	struct mime_part *root;
	CU_ASSERT_EQUAL_FATAL(mime_parse(msg, len, pool, &root), 0);
	return root;
}

static const char *bs_of(struct sluice_pool *pool, const char *msg, bool extended)
{
	struct mime_part *root;
	CU_ASSERT_EQUAL_FATAL(mime_parse((const unsigned char *)msg, strlen(msg), pool, &root), 0);
	char *bs = mail_bodystructure(root, extended, pool);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bs);
	return bs;
}

static void test_text_part_has_lines_and_other_parts_do_not(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	CU_ASSERT_STRING_EQUAL(
	    bs_of(pool, "Subject: x\r\n\r\nab\r\ncd\r\n", false),
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 8 2)");
	CU_ASSERT_STRING_EQUAL(
	    bs_of(pool, "Subject: x\r\n\r\nab\r\ncd\r\n", true),
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 8 2 "
	    "NIL NIL NIL NIL)");
	CU_ASSERT_STRING_EQUAL(bs_of(pool,
	                             "Content-Type: image/png; name=\"a "
	                             "b.png\"\nContent-Transfer-Encoding: Base64\n\niVBO\n",
	                             false),
	                       "(\"image\" \"png\" (\"name\" \"a b.png\") NIL NIL \"BASE64\" 5)");
	pool_destroy(&pool);
}

static void test_crafted_nested_message_bodystructure(void)
{
	struct sluice_pool *pool = pool_create(4096, 0);
	struct mime_part *root = load(pool, SLUICE_SOURCE_DIR "/tests/data/mail/nested.eml");
	CU_ASSERT_STRING_EQUAL(
	    mail_bodystructure(root, true, pool),
	    "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 41 2 NIL "
	    "NIL NIL NIL)"
	    "(\"message\" \"rfc822\" NIL NIL \"forwarded\" \"7BIT\" 271 "
	    "(NIL \"Inner\" ((\"Dave\" NIL \"dave\" \"example.com\")) ((\"Dave\" NIL \"dave\" "
	    "\"example.com\")) "
	    "((\"Dave\" NIL \"dave\" \"example.com\")) NIL NIL NIL NIL \"<inner-1@example.com>\") "
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 11 1 NIL NIL NIL NIL)"
	    "(\"text\" \"html\" (\"charset\" \"iso-8859-1\") NIL NIL \"7BIT\" 17 1 NIL NIL NIL "
	    "NIL) "
	    "\"alternative\" (\"boundary\" \"inner\") NIL NIL NIL) 14 NIL NIL NIL NIL)"
	    "(\"application\" \"octet-stream\" (\"name*\" \"utf-8''%E2%82%AC.txt\") NIL NIL "
	    "\"BASE64\" 8 "
	    "\"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"attachment\" (\"filename\" \"report.bin\")) (\"en\" "
	    "\"de\") "
	    "\"http://example.org/report.bin\") "
	    "\"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)");
	CU_ASSERT_STRING_EQUAL(
	    mail_bodystructure(root, false, pool),
	    "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 41 2)"
	    "(\"message\" \"rfc822\" NIL NIL \"forwarded\" \"7BIT\" 271 "
	    "(NIL \"Inner\" ((\"Dave\" NIL \"dave\" \"example.com\")) ((\"Dave\" NIL \"dave\" "
	    "\"example.com\")) "
	    "((\"Dave\" NIL \"dave\" \"example.com\")) NIL NIL NIL NIL \"<inner-1@example.com>\") "
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 11 1)"
	    "(\"text\" \"html\" (\"charset\" \"iso-8859-1\") NIL NIL \"7BIT\" 17 1) "
	    "\"alternative\") 14)"
	    "(\"application\" \"octet-stream\" (\"name*\" \"utf-8''%E2%82%AC.txt\") NIL NIL "
	    "\"BASE64\" 8) "
	    "\"mixed\")");
	pool_destroy(&pool);
}

static void test_bare_lf_message_with_unterminated_inner_multipart(void)
{
	struct sluice_pool *pool = pool_create(4096, 0);
	struct mime_part *root = load(pool, SLUICE_SOURCE_DIR "/tests/data/mail/bare-lf.eml");
	CU_ASSERT_STRING_EQUAL(
	    mail_bodystructure(root, false, pool),
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 7 2)"
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 12 1) "
	    "\"alternative\") \"mixed\")");
	pool_destroy(&pool);
}

static void test_hostile_header_values_become_literals(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	/* A description with a quote, and a Content-ID with 8-bit bytes: no way to break out. */
	CU_ASSERT_STRING_EQUAL(
	    bs_of(pool, "Content-Description: a\") NIL (\"x\nContent-ID: <\xff>\n\n", false),
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") {3}\r\n<\xff> \"a\\\") NIL (\\\"x\" "
	    "\"7BIT\" 0 0)");
	pool_destroy(&pool);
}

static const struct {
	const char *file;
	const char *bodystructure;
} python_bodystructures[] = {
    {"msg_01.txt",
     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 37 6 NIL NIL NIL NIL)"},
    {"msg_02.txt",
     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL \"Masthead (Ppp digest, Vol 1 #2)\" "
     "\"7BIT\" 405 14 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL \"Today's "
     "Topics (5 msgs)\" \"7BIT\" 192 7 NIL NIL NIL NIL)((\"message\" \"rfc822\" NIL NIL NIL "
     "\"7BIT\" 235 (\"Fri, 20 Apr 2001 20:16:13 -0400\" \"[Ppp] testing #1\" ((\"Barry A. Warsaw\" "
     "NIL \"barry\" \"digicool.com\")) ((\"Barry A. Warsaw\" NIL \"barry\" \"digicool.com\")) "
     "((\"Barry A. Warsaw\" NIL \"barry\" \"digicool.com\")) ((NIL NIL \"ppp\" \"zzz.org\")) NIL "
     "NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 8 3 NIL NIL NIL "
     "NIL) 12 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" 209 (\"Fri, 20 Apr 2001 "
     "20:16:21 -0400\" NIL ((\"Barry A. Warsaw\" NIL \"barry\" \"digicool.com\")) ((\"Barry A. "
     "Warsaw\" NIL \"barry\" \"digicool.com\")) ((\"Barry A. Warsaw\" NIL \"barry\" "
     "\"digicool.com\")) ((NIL NIL \"ppp\" \"zzz.org\")) NIL NIL NIL NIL) (\"text\" \"plain\" "
     "(\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 8 3 NIL NIL NIL NIL) 11 NIL NIL NIL "
     "NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" 235 (\"Fri, 20 Apr 2001 20:16:25 -0400\" "
     "\"[Ppp] testing #3\" ((\"Barry A. Warsaw\" NIL \"barry\" \"digicool.com\")) ((\"Barry A. "
     "Warsaw\" NIL \"barry\" \"digicool.com\")) ((\"Barry A. Warsaw\" NIL \"barry\" "
     "\"digicool.com\")) ((NIL NIL \"ppp\" \"zzz.org\")) NIL NIL NIL NIL) (\"text\" \"plain\" "
     "(\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 8 3 NIL NIL NIL NIL) 12 NIL NIL NIL "
     "NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" 235 (\"Fri, 20 Apr 2001 20:16:28 -0400\" "
     "\"[Ppp] testing #4\" ((\"Barry A. Warsaw\" NIL \"barry\" \"digicool.com\")) ((\"Barry A. "
     "Warsaw\" NIL \"barry\" \"digicool.com\")) ((\"Barry A. Warsaw\" NIL \"barry\" "
     "\"digicool.com\")) ((NIL NIL \"ppp\" \"zzz.org\")) NIL NIL NIL NIL) (\"text\" \"plain\" "
     "(\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 8 3 NIL NIL NIL NIL) 12 NIL NIL NIL "
     "NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" 237 (\"Fri, 20 Apr 2001 20:16:32 -0400\" "
     "\"[Ppp] testing #5\" ((\"Barry A. Warsaw\" NIL \"barry\" \"digicool.com\")) ((\"Barry A. "
     "Warsaw\" NIL \"barry\" \"digicool.com\")) ((\"Barry A. Warsaw\" NIL \"barry\" "
     "\"digicool.com\")) ((NIL NIL \"ppp\" \"zzz.org\")) NIL NIL NIL NIL) (\"text\" \"plain\" "
     "(\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 10 5 NIL NIL NIL NIL) 14 NIL NIL NIL NIL) "
     "\"digest\" (\"boundary\" \"__--__--\") NIL NIL NIL)(\"text\" \"plain\" (\"charset\" "
     "\"us-ascii\") NIL \"Digest Footer\" \"7BIT\" 118 5 NIL NIL NIL NIL) \"mixed\" (\"boundary\" "
     "\"192.168.1.2.889.32614.987812255.500.21814\") NIL NIL NIL)"},
    {"msg_04.txt", "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 48 2 NIL "
                   "(\"inline\" (\"filename\" \"msg.txt\")) NIL NIL)(\"text\" \"plain\" "
                   "(\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 48 2 NIL (\"inline\" (\"filename\" "
                   "\"msg.txt\")) NIL NIL) \"mixed\" (\"boundary\" \"h90VIIIKmx\") NIL NIL NIL)"},
    {"msg_06.txt", "(\"message\" \"rfc822\" NIL NIL \"forwarded message\" \"7BIT\" 481 (\"Thu, 13 "
                   "Sep 2001 17:28:28 -0400\" \"testing\" ((\"Barry A. Warsaw\" NIL \"barry\" "
                   "\"python.org\")) ((NIL NIL \"barry\" \"python.org\")) ((\"Barry A. Warsaw\" "
                   "NIL \"barry\" \"python.org\")) ((NIL NIL \"barry\" \"python.org\")) NIL NIL "
                   "NIL \"<15265.9468.713530.98441@python.org>\") (\"text\" \"plain\" (\"charset\" "
                   "\"us-ascii\") NIL NIL \"7BIT\" 1 1 NIL NIL NIL NIL) 16 NIL NIL NIL NIL)"},
    {"msg_07.txt", "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 36 3 NIL NIL "
                   "NIL NIL)(\"image\" \"gif\" (\"name\" \"dingusfish.gif\") NIL NIL \"BASE64\" "
                   "4746 NIL (\"attachment\" (\"filename\" \"dingusfish.gif\")) NIL NIL) \"mixed\" "
                   "(\"boundary\" \"BOUNDARY\") NIL NIL NIL)"},
    {"msg_12.txt", "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0 NIL NIL "
                   "NIL NIL)(\"text\" \"html\" (\"charset\" \"iso-8859-1\") NIL NIL \"7BIT\" 0 0 "
                   "NIL NIL NIL NIL)((\"text\" \"plain\" (\"charset\" \"iso-8859-2\") NIL NIL "
                   "\"7BIT\" 0 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"iso-8859-3\") "
                   "NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"ANOTHER\") NIL "
                   "NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0 "
                   "NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"koi8-r\") NIL NIL \"7BIT\" "
                   "0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"BOUNDARY\") NIL NIL NIL)"},
    {"msg_16.txt",
     "((\"text\" \"plain\" (\"charset\" \"ISO-8859-1\") NIL NIL \"7BIT\" 438 13 NIL NIL NIL "
     "NIL)(\"message\" \"delivery-status\" NIL NIL NIL \"7BIT\" 265 NIL NIL NIL NIL)(\"message\" "
     "\"rfc822\" NIL NIL NIL \"7BIT\" 2646 (\"Sun, 23 Sep 2001 20:10:55 -0700\" \"[scr] yeah for "
     "Ians!!\" ((\"Ian T. Henry\" NIL \"henryi\" \"oxy.edu\")) ((NIL NIL \"scr-admin\" "
     "\"socal-raves.org\")) ((\"Ian T. Henry\" NIL \"henryi\" \"oxy.edu\")) ((\"SoCal Raves\" NIL "
     "\"scr\" \"socal-raves.org\")) NIL NIL NIL \"<002001c144a6$8752e060$56104586@oxy.edu>\") "
     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 199 7 NIL NIL NIL NIL) 55 "
     "NIL NIL NIL NIL) \"report\" (\"boundary\" \"Boundary_(ID_PGS2F2a+z+/jL7hupKgRhA)\") NIL NIL "
     "NIL)"},
    {"msg_22.txt",
     "((\"text\" \"plain\" (\"charset\" \"us-ascii\" \"format\" \"flowed\") NIL NIL \"7BIT\" 15 1 "
     "NIL NIL NIL NIL)(\"image\" \"jpeg\" (\"name\" \"wibble.JPG\" \"x-mac-type\" \"4A504547\" "
     "\"x-mac-creator\" \"474B4F4E\") \"<a05001902b7f1c33773e9@[134.84.183.138].0.0>\" NIL "
     "\"BASE64\" 369 NIL (\"attachment\" (\"filename\" \"wibble.JPG\")) NIL NIL)(\"image\" "
     "\"jpeg\" (\"name\" \"wibble2.JPG\" \"x-mac-type\" \"4A504547\" \"x-mac-creator\" "
     "\"474B4F4E\") \"<a05001902b7f1c33773e9@[134.84.183.138].0.1>\" NIL \"BASE64\" 430 NIL "
     "(\"attachment\" (\"filename\" \"wibble2.JPG\")) NIL NIL)(\"text\" \"plain\" (\"charset\" "
     "\"us-ascii\" \"format\" \"flowed\") NIL NIL \"7BIT\" 15 1 NIL NIL NIL NIL) \"mixed\" "
     "(\"boundary\" \"============_-1208892523==_============\") NIL NIL NIL)"},
    {"msg_26.txt", "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 33 2 NIL NIL "
                   "NIL NIL)(\"application\" \"riscos\" (\"name\" \"clock.bmp,69c\" \"type\" "
                   "\"BMP\" \"load\" \"&fff69c4b\" \"exec\" \"&355dd4d1\" \"access\" \"&03\") NIL "
                   "NIL \"BASE64\" 866 NIL (\"attachment\" (\"filename\" \"clock.bmp\")) NIL NIL) "
                   "\"mixed\" (\"boundary\" \"1618492860--2051301190--113853680\") NIL NIL NIL)"},
    {"msg_32.txt", "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 14 1 NIL "
                   "(\"inline\" NIL) NIL NIL)"},
    {"msg_33.txt",
     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"QUOTED-PRINTABLE\" 7 1 NIL "
     "(\"inline\" NIL) NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 7 1 "
     "NIL (\"inline\" NIL) NIL NIL) \"signed\" (\"micalg\" \"pgp-md5\" \"protocol\" "
     "\"application/pgp-signature\" \"boundary\" \"EeQfGwPcQSOJBaQU\") (\"inline\" NIL) NIL NIL)"},
    {"msg_36.txt",
     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 15 1 NIL NIL NIL "
     "NIL)((\"message\" \"external-body\" (\"access-type\" \"mail-server\" \"server\" "
     "\"mailserv@ietf.org\") NIL NIL \"7BIT\" 133 NIL NIL NIL NIL)(\"message\" \"external-body\" "
     "(\"name\" \"draft-ietf-mboned-mix-00.txt\" \"site\" \"ftp.ietf.org\" \"access-type\" "
     "\"anon-ftp\" \"directory\" \"internet-drafts\") NIL NIL \"7BIT\" 68 NIL NIL NIL NIL) "
     "\"alternative\" (\"boundary\" \"OtherAccess\") NIL NIL NIL) \"mixed\" (\"boundary\" "
     "\"NextPart\") NIL NIL NIL)"},
    {"msg_45.txt",
     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 29 1 NIL NIL NIL "
     "NIL)(\"application\" \"pgp-signature\" (\"name\" \"signature.asc\") NIL \"OpenPGP digital "
     "signature\" \"7BIT\" 189 NIL (\"attachment\" (\"filename\" \"signature.asc\")) NIL NIL) "
     "\"signed\" (\"boundary\" \"borderline\" \"protocol\" \"application/pgp-signature\" "
     "\"micalg\" \"pgp-sha1\") NIL NIL NIL)"},
};

static void test_bodystructures_of_real_world_messages(void)
{
	for (size_t i = 0; i < sizeof(python_bodystructures) / sizeof(python_bodystructures[0]);
	     i++) {
		struct sluice_pool *pool = pool_create(4096, 0);
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", PYTHON_EMAIL_DATA,
		         python_bodystructures[i].file);
		struct mime_part *root = load(pool, path);
		char *bs = mail_bodystructure(root, true, pool);
		CU_ASSERT_PTR_NOT_NULL_FATAL(bs);
		if (strcmp(bs, python_bodystructures[i].bodystructure) != 0)
			fprintf(stderr, "\n%s: got %s\n", python_bodystructures[i].file, bs);
		CU_ASSERT_STRING_EQUAL(bs, python_bodystructures[i].bodystructure);
		pool_destroy(&pool);
	}
}

static void test_body_of_real_world_message_omits_extension_data(void)
{
	struct sluice_pool *pool = pool_create(4096, 0);
	struct mime_part *root = load(pool, PYTHON_EMAIL_DATA "/msg_07.txt");
	CU_ASSERT_STRING_EQUAL(
	    mail_bodystructure(root, false, pool),
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 36 3)"
	    "(\"image\" \"gif\" (\"name\" \"dingusfish.gif\") NIL NIL \"BASE64\" 4746) "
	    "\"mixed\")");
	pool_destroy(&pool);
}

static CU_TestInfo mail_bodystructure_tests[] = {
    {"text part has lines and other parts do not", test_text_part_has_lines_and_other_parts_do_not},
    {"crafted nested message bodystructure", test_crafted_nested_message_bodystructure},
    {"bare LF message with unterminated inner multipart",
     test_bare_lf_message_with_unterminated_inner_multipart},
    {"hostile header values become literals", test_hostile_header_values_become_literals},
    {"bodystructures of real-world messages", test_bodystructures_of_real_world_messages},
    {"BODY of real-world message omits extension data",
     test_body_of_real_world_message_omits_extension_data},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mail_bodystructure_suites[] = {
    {"mail_bodystructure", NULL, NULL, NULL, NULL, mail_bodystructure_tests},
    CU_SUITE_INFO_NULL,
};
