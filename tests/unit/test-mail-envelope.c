/*
 * Unit tests for core/mail/envelope.c, address.c and imap-string.c: the choice between
 * NIL, quoted string and literal, RFC 5322 address lists with their broken variants, and
 * exact ENVELOPE strings for real-world messages (Python's email test corpus) whose
 * expected values were checked against Python's own header parsing.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "mail/address.h"
#include "mail/envelope.h"
#include "mail/imap-string.h"
#include "mail/mime.h"
#include "util/pool.h"

#define PYTHON_EMAIL_DATA "/usr/lib/python3.11/test/test_email/data"

unsigned char *mail_test_load(struct sluice_pool *pool, const char *path, size_t *len_r);

static char *write_string(struct sluice_pool *pool, const char *s, size_t len)
{
	struct mail_buf b;
	mail_buf_init(&b, pool, 0);
	imap_write_string(&b, s, len);
	return mail_buf_finish(&b, NULL);
}

static void test_imap_string_picks_nil_quoted_or_literal(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	CU_ASSERT_STRING_EQUAL(write_string(pool, NULL, 0), "NIL");
	CU_ASSERT_STRING_EQUAL(write_string(pool, "", 0), "\"\"");
	CU_ASSERT_STRING_EQUAL(write_string(pool, "NIL", 3), "\"NIL\"");
	CU_ASSERT_STRING_EQUAL(write_string(pool, "a \"b\" \\c", 8), "\"a \\\"b\\\" \\\\c\"");
	CU_ASSERT_STRING_EQUAL(write_string(pool, "a\r\nb", 4), "{4}\r\na\r\nb");
	CU_ASSERT_STRING_EQUAL(write_string(pool, "caf\xc3\xa9", 5), "{5}\r\ncaf\xc3\xa9");
	/* NUL may not appear in any IMAP string: it is sent as 0x80 in a literal. */
	struct mail_buf b;
	mail_buf_init(&b, pool, 0);
	imap_write_string(&b, "a\0b", 3);
	size_t len;
	char *s = mail_buf_finish(&b, &len);
	CU_ASSERT_EQUAL(len, 8);
	CU_ASSERT_EQUAL(memcmp(s,
	                       "{3}\r\na\x80"
	                       "b",
	                       8),
	                0);
	pool_destroy(&pool);
}

/* Renders an address list as "name|route|mailbox|host;" entries, NULL shown as '-'. */
static const char *addrs(struct sluice_pool *pool, const char *value)
{
	struct mail_address *list;
	CU_ASSERT_EQUAL_FATAL(mail_address_parse(value, strlen(value), pool, &list), 0);
	struct mail_buf b;
	mail_buf_init(&b, pool, 0);
	for (const struct mail_address *a = list; a != NULL; a = a->next) {
		mail_buf_printf(&b, "%s|%s|%s|%s;", a->name ? a->name : "-",
		                a->route ? a->route : "-", a->mailbox ? a->mailbox : "-",
		                a->host ? a->host : "-");
	}
	return mail_buf_finish(&b, NULL);
}

static void test_address_forms_of_rfc5322(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	CU_ASSERT_STRING_EQUAL(addrs(pool, "user@example.com"), "-|-|user|example.com;");
	CU_ASSERT_STRING_EQUAL(addrs(pool, "John  Q.  Public <john.q@example.com>"),
	                       "John Q. Public|-|john.q|example.com;");
	CU_ASSERT_STRING_EQUAL(addrs(pool, "\"Doe, John\" <j@x.org>, b@y.org"),
	                       "Doe, John|-|j|x.org;-|-|b|y.org;");
	CU_ASSERT_STRING_EQUAL(addrs(pool, "\"john \\\"jd\\\" doe\"@example.com"),
	                       "-|-|\"john \\\"jd\\\" doe\"|example.com;");
	CU_ASSERT_STRING_EQUAL(addrs(pool, "<@relay1.org,@relay2.org:user@final.org>"),
	                       "-|@relay1.org,@relay2.org|user|final.org;");
	CU_ASSERT_STRING_EQUAL(addrs(pool, "user (Comment Name) @ example . com (last)"),
	                       "last|-|user|example.com;");
	CU_ASSERT_STRING_EQUAL(
	    addrs(pool, "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>"),
	    "Pete|-|pete|silly.test;");
	CU_ASSERT_STRING_EQUAL(addrs(pool, "user@[192.0.2.1]"), "-|-|user|[192.0.2.1];");
	CU_ASSERT_STRING_EQUAL(addrs(pool, "=?utf-8?q?J=C3=B6rg?= <j@x.de>"),
	                       "=?utf-8?q?J=C3=B6rg?=|-|j|x.de;");
	pool_destroy(&pool);
}

static void test_address_groups_have_start_and_end_markers(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	CU_ASSERT_STRING_EQUAL(addrs(pool, "undisclosed-recipients:;"),
	                       "-|-|undisclosed-recipients|-;-|-|-|-;");
	CU_ASSERT_STRING_EQUAL(addrs(pool, "A Group: Ed <ed@x.org>, f@x.org; g@y.org"),
	                       "-|-|A Group|-;Ed|-|ed|x.org;-|-|f|x.org;-|-|-|-;-|-|g|y.org;");
	/* A group that is never closed is closed at the end. */
	CU_ASSERT_STRING_EQUAL(addrs(pool, "team: a@x.org"), "-|-|team|-;-|-|a|x.org;-|-|-|-;");
	pool_destroy(&pool);
}

static void test_broken_addresses_degrade_with_missing_markers(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	CU_ASSERT_STRING_EQUAL(addrs(pool, "localuser"), "-|-|localuser|MISSING_DOMAIN;");
	CU_ASSERT_STRING_EQUAL(addrs(pool, "MAILER DAEMON <>"),
	                       "MAILER DAEMON|-|MISSING_MAILBOX|MISSING_DOMAIN;");
	CU_ASSERT_STRING_EQUAL(addrs(pool, "user@"), "-|-|user|MISSING_DOMAIN;");
	CU_ASSERT_STRING_EQUAL(addrs(pool, "@example.com"), "-|-|MISSING_MAILBOX|example.com;");
	CU_ASSERT_STRING_EQUAL(addrs(pool, " , ,a@b, (just a comment) ,"), "-|-|a|b;");
	CU_ASSERT_STRING_EQUAL(addrs(pool, "Name <unterminated@x.org"),
	                       "Name|-|unterminated|x.org;");
	CU_ASSERT_STRING_EQUAL(addrs(pool, "\"unterminated quote <a@b>"),
	                       "-|-|unterminated quote <a@b>|MISSING_DOMAIN;");
	CU_ASSERT_STRING_EQUAL(addrs(pool, "a@b (comment ends in backslash\\"),
	                       "comment ends in backslash\\|-|a|b;");
	CU_ASSERT_STRING_EQUAL(addrs(pool, "a@b;c@d"), "-|-|a|b;-|-|c|d;");
	CU_ASSERT_STRING_EQUAL(addrs(pool, ""), "");
	pool_destroy(&pool);
}

static const char *envelope_of(struct sluice_pool *pool, const char *msg)
{
	struct mime_part *root;
	CU_ASSERT_EQUAL_FATAL(mime_parse((const unsigned char *)msg, strlen(msg), pool, &root), 0);
	char *env = mail_envelope((const unsigned char *)msg, root->hdr_len, pool);
	CU_ASSERT_PTR_NOT_NULL_FATAL(env);
	return env;
}

static void test_envelope_nil_rules_and_defaults(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	CU_ASSERT_STRING_EQUAL(envelope_of(pool, "\r\nbody"),
	                       "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	/* Empty fields are "" or NIL (for address lists); an empty Sender falls back to From. */
	CU_ASSERT_STRING_EQUAL(
	    envelope_of(pool,
	                "Subject:\r\nSender:\r\nFrom: a@b\r\nTo:\r\nIn-Reply-To: <x@y>\r\n\r\n"),
	    "(NIL \"\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) NIL "
	    "NIL "
	    "NIL \"<x@y>\" NIL)");
	/* The first of duplicated fields counts. */
	CU_ASSERT_STRING_EQUAL(
	    envelope_of(pool, "Subject: one\nsubject: two\nReply-To: r@x\nBcc: b@x\nCc: c@x\n\n"),
	    "(NIL \"one\" NIL NIL ((NIL NIL \"r\" \"x\")) NIL ((NIL NIL \"c\" \"x\")) "
	    "((NIL NIL \"b\" \"x\")) NIL NIL)");
	pool_destroy(&pool);
}

static void test_envelope_uses_literals_for_8bit_and_keeps_raw_text(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	size_t len;
	unsigned char *msg =
	    mail_test_load(pool, SLUICE_SOURCE_DIR "/tests/data/mail/nul-8bit.eml", &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	struct mime_part *root;
	CU_ASSERT_EQUAL_FATAL(mime_parse(msg, len, pool, &root), 0);
	CU_ASSERT_STRING_EQUAL(
	    mail_envelope(msg, root->hdr_len, pool),
	    "(NIL {5}\r\nGr\xfc\xdf"
	    "e (({4}\r\nJ\xf6rg NIL \"joerg\" \"example.de\")) "
	    "(({4}\r\nJ\xf6rg NIL \"joerg\" \"example.de\")) "
	    "(({4}\r\nJ\xf6rg NIL \"joerg\" \"example.de\")) NIL NIL NIL NIL NIL)");
	/* Encoded words stay encoded: RFC 3501 wants the raw header text. */
	CU_ASSERT_STRING_EQUAL(
	    envelope_of(pool, "Subject: =?utf-8?q?caf=C3=A9?=\n  \"x\"\n\n"),
	    "(NIL \"=?utf-8?q?caf=C3=A9?=  \\\"x\\\"\" NIL NIL NIL NIL NIL NIL NIL NIL)");
	pool_destroy(&pool);
}

static const struct {
	const char *file;
	const char *envelope;
} python_envelopes[] = {
    {"msg_01.txt", "(\"Fri, 4 May 2001 14:05:44 -0400\" \"This is a test message\" ((\"John X. "
                   "Doe\" NIL \"bbb\" \"ddd.com\")) ((\"John X. Doe\" NIL \"bbb\" \"ddd.com\")) "
                   "((\"John X. Doe\" NIL \"bbb\" \"ddd.com\")) ((NIL NIL \"bbb\" \"zzz.org\")) "
                   "NIL NIL NIL \"<15090.61304.110929.45684@aaa.zzz.org>\")"},
    {"msg_06.txt",
     "(\"Thu, 13 Sep 2001 17:28:42 -0400\" \"forwarded message from Barry A. Warsaw\" ((\"Barry A. "
     "Warsaw\" NIL \"barry\" \"python.org\")) ((NIL NIL \"barry\" \"python.org\")) ((\"Barry A. "
     "Warsaw\" NIL \"barry\" \"python.org\")) ((NIL NIL \"barry\" \"python.org\")) NIL NIL NIL "
     "\"<15265.9482.641338.555352@python.org>\")"},
    {"msg_15.txt",
     "(NIL \"XX\" ((NIL NIL \"xx\" \"xx.dk\")) ((NIL NIL \"xx\" \"xx.dk\")) ((NIL NIL \"xx\" "
     "\"xx.dk\")) ((NIL NIL \"XX\" \"MISSING_DOMAIN\")) NIL NIL NIL \"<xxxx>\")"},
    {"msg_16.txt", "(\"Sun, 23 Sep 2001 20:14:35 -0700 (PDT)\" \"Delivery Notification: Delivery "
                   "has failed\" ((\"Internet Mail Delivery\" NIL \"postmaster\" \"ucla.edu\")) "
                   "((NIL NIL \"scr-owner\" \"socal-raves.org\")) ((\"Internet Mail Delivery\" NIL "
                   "\"postmaster\" \"ucla.edu\")) ((NIL NIL \"scr-admin\" \"socal-raves.org\")) "
                   "NIL NIL NIL \"<0GK500B04D0B8X@cougar.noc.ucla.edu>\")"},
    {"msg_20.txt",
     "(\"Fri, 4 May 2001 14:05:44 -0400\" \"This is a test message\" ((\"John X. Doe\" NIL \"bbb\" "
     "\"ddd.com\")) ((\"John X. Doe\" NIL \"bbb\" \"ddd.com\")) ((\"John X. Doe\" NIL \"bbb\" "
     "\"ddd.com\")) ((NIL NIL \"bbb\" \"zzz.org\")) ((NIL NIL \"ccc\" \"zzz.org\")) NIL NIL "
     "\"<15090.61304.110929.45684@aaa.zzz.org>\")"},
    {"msg_27.txt",
     "(\"Tue, 4 Jun 2002 21:46:59 -0400\" \"bug "
     "demonstration\t123456789112345678921234567893123456789412345678951234567896123456789712345678"
     "98112345678911234567892123456789112345678911234567892123456789\tmore text\" ((\"Anne P. "
     "Erson\" NIL \"aperson\" \"dom.ain\")) ((\"Anne P. Erson\" NIL \"aperson\" \"dom.ain\")) "
     "((\"Anne P. Erson\" NIL \"aperson\" \"dom.ain\")) ((\"Barney P. Erson\" NIL \"bperson\" "
     "\"dom.ain\")) NIL NIL NIL \"<15613.28051.707126.569693@dom.ain>\")"},
    {"msg_36.txt",
     "(\"Tue, 22 Dec 1998 16:55:06 -0500\" \"I-D ACTION:draft-ietf-mboned-mix-00.txt\" ((NIL NIL "
     "\"Internet-Drafts\" \"ietf.org\")) ((NIL NIL \"Internet-Drafts\" \"ietf.org\")) ((NIL NIL "
     "\"Internet-Drafts\" \"ietf.org\")) ((NIL NIL \"IETF-Announce\" NIL)(NIL NIL NIL NIL)) NIL "
     "NIL NIL NIL)"},
    {"msg_43.txt",
     "(\"Fri, 26 Nov 2004 19:41:44 -0800 (PST)\" \"Banned file: auto__mail.python.bat in mail from "
     "you\" ((\"MAILER DAEMON\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) ((\"MAILER DAEMON\" "
     "NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) ((\"MAILER DAEMON\" NIL \"MISSING_MAILBOX\" "
     "\"MISSING_DOMAIN\")) ((NIL NIL \"webmaster\" \"python.org\")) NIL NIL NIL "
     "\"<edab.7804f5cb8070@python.org>\")"},
    {"msg_46.txt",
     "(\"Mon, 01 Feb 2010 12:21:16 +0100\" \"GroupwiseForwardingTest\" ((\"Sender\" NIL \"sender\" "
     "\"example.net\")) ((\"Sender\" NIL \"sender\" \"example.net\")) ((\"Sender\" NIL \"sender\" "
     "\"example.net\")) ((NIL NIL \"someone\" \"example.com\")) NIL NIL NIL NIL)"},
};

static void test_envelopes_of_real_world_messages(void)
{
	for (size_t i = 0; i < sizeof(python_envelopes) / sizeof(python_envelopes[0]); i++) {
		struct sluice_pool *pool = pool_create(4096, 0);
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", PYTHON_EMAIL_DATA, python_envelopes[i].file);
		size_t len;
		unsigned char *msg = mail_test_load(pool, path, &len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
		struct mime_part *root;
		CU_ASSERT_EQUAL_FATAL(mime_parse(msg, len, pool, &root), 0);
		char *env = mail_envelope(msg, root->hdr_len, pool);
		CU_ASSERT_PTR_NOT_NULL_FATAL(env);
		if (strcmp(env, python_envelopes[i].envelope) != 0)
			fprintf(stderr, "\n%s: got %s\n", python_envelopes[i].file, env);
		CU_ASSERT_STRING_EQUAL(env, python_envelopes[i].envelope);
		pool_destroy(&pool);
	}
}

static CU_TestInfo mail_envelope_tests[] = {
    {"IMAP string picks NIL, quoted or literal", test_imap_string_picks_nil_quoted_or_literal},
    {"address forms of RFC 5322", test_address_forms_of_rfc5322},
    {"address groups have start and end markers", test_address_groups_have_start_and_end_markers},
    {"broken addresses degrade with missing markers",
     test_broken_addresses_degrade_with_missing_markers},
    {"envelope NIL rules and defaults", test_envelope_nil_rules_and_defaults},
    {"envelope uses literals for 8-bit and keeps raw text",
     test_envelope_uses_literals_for_8bit_and_keeps_raw_text},
    {"envelopes of real-world messages", test_envelopes_of_real_world_messages},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mail_envelope_suites[] = {
    {"mail_envelope", NULL, NULL, NULL, NULL, mail_envelope_tests},
    CU_SUITE_INFO_NULL,
};
