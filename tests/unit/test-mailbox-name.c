/* Unit tests for core/mailbox/name.c: what a client may call a mailbox, and LIST patterns. */
#include <CUnit/CUnit.h>
#include <string.h>

#include "mailbox/name.h"

static const char *canon(const char *imap, char delim, struct buf *b)
{
	struct sluice_error err = SLUICE_ERROR_INIT;
	if (mailbox_name_from_imap(imap, delim, b, &err) != 0)
		return NULL;
	return (const char *)buf_head(b);
}

static void test_names_become_canonical_utf8_with_slashes(void)
{
	struct buf b = {0};
	CU_ASSERT_STRING_EQUAL(canon("Lists.debian", '.', &b), "Lists/debian");
	CU_ASSERT_STRING_EQUAL(canon("Lists/debian", '/', &b), "Lists/debian");
	CU_ASSERT_STRING_EQUAL(canon("Entw&APw-rfe", '.', &b), "Entw\xc3\xbc" "rfe");
	CU_ASSERT_STRING_EQUAL(canon("~peter/mail/&U,BTFw-/&ZeVnLIqe-", '/', &b),
			       "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	buf_free(&b);
}

static void test_inbox_is_case_insensitive_only_as_first_level(void)
{
	struct buf b = {0};
	CU_ASSERT_STRING_EQUAL(canon("inbox", '.', &b), "INBOX");
	CU_ASSERT_STRING_EQUAL(canon("InBoX.Sub", '.', &b), "INBOX/Sub");
	CU_ASSERT_STRING_EQUAL(canon("Archive.inbox", '.', &b), "Archive/inbox");
	CU_ASSERT_STRING_EQUAL(canon("INBOXES", '.', &b), "INBOXES");
	buf_free(&b);
}

static void test_names_that_could_escape_or_confuse_are_refused(void)
{
	struct buf b = {0};
	struct sluice_error err = SLUICE_ERROR_INIT;
	CU_ASSERT_PTR_NULL(canon("..", '/', &b));
	CU_ASSERT_PTR_NULL(canon("a/../b", '/', &b));
	CU_ASSERT_PTR_NULL(canon("a/./b", '/', &b));
	CU_ASSERT_PTR_NULL(canon("a..b", '.', &b)); /* empty level */
	CU_ASSERT_PTR_NULL(canon(".hidden", '.', &b));
	CU_ASSERT_PTR_NULL(canon("trailing.", '.', &b));
	CU_ASSERT_PTR_NULL(canon("a/b", '.', &b)); /* '/' is not a name character with '.' */
	CU_ASSERT_PTR_NULL(canon("tab\there", '.', &b));
	CU_ASSERT_PTR_NULL(canon("caf\xc3\xa9", '.', &b)); /* raw 8-bit is not modified UTF-7 */
	CU_ASSERT_PTR_NULL(canon("&Jjo", '.', &b));         /* unterminated shift */
	CU_ASSERT_PTR_NULL(canon("", '.', &b));
	CU_ASSERT_EQUAL(mailbox_name_from_imap("a..b", '.', &b, &err), SLUICE_E_PARSE);
	CU_ASSERT_STRING_EQUAL(err.resp_code, "CANNOT");
	CU_ASSERT(strlen(err.msg) > 10);
	CU_ASSERT_PTR_NULL(b.data);
}

static void test_canonical_names_convert_back(void)
{
	struct buf b = {0};
	CU_ASSERT_EQUAL(mailbox_name_to_imap("Lists/debian", '.', &b), 0);
	CU_ASSERT_STRING_EQUAL((const char *)buf_head(&b), "Lists.debian");
	CU_ASSERT_EQUAL(mailbox_name_to_imap("Entw\xc3\xbcrfe/2024", '/', &b), 0);
	CU_ASSERT_STRING_EQUAL((const char *)buf_head(&b), "Entw&APw-rfe/2024");
	buf_free(&b);
}

static void test_list_patterns(void)
{
	CU_ASSERT_TRUE(mailbox_pattern_match("*", "Lists.debian.devel", '.'));
	CU_ASSERT_TRUE(mailbox_pattern_match("%", "Lists", '.'));
	CU_ASSERT_FALSE(mailbox_pattern_match("%", "Lists.debian", '.'));
	CU_ASSERT_TRUE(mailbox_pattern_match("Lists.%", "Lists.debian", '.'));
	CU_ASSERT_FALSE(mailbox_pattern_match("Lists.%", "Lists.debian.devel", '.'));
	CU_ASSERT_TRUE(mailbox_pattern_match("Lists*", "Lists.debian.devel", '.'));
	CU_ASSERT_TRUE(mailbox_pattern_match("inbox", "INBOX", '.'));
	CU_ASSERT_TRUE(mailbox_pattern_match("INBOX.%", "inbox.Sent", '.'));
	CU_ASSERT_FALSE(mailbox_pattern_match("Sent", "sent", '.')); /* only INBOX ignores case */
	CU_ASSERT_TRUE(mailbox_pattern_match("*o*o*o*", "foo.boo.zoo", '.'));
	CU_ASSERT_FALSE(mailbox_pattern_match("", "INBOX", '.'));
}

static void test_pattern_with_many_wildcards_stays_fast(void)
{
	char pattern[600], name[600];
	for (int i = 0; i < 300; i++) {
		pattern[2 * i] = '*';
		pattern[2 * i + 1] = 'a';
	}
	pattern[599] = 'b';
	pattern[599] = '\0';
	memset(name, 'a', 599);
	name[599] = '\0';
	/* A backtracking matcher would take ages here; the table-driven one is quadratic. */
	CU_ASSERT_TRUE(mailbox_pattern_match(pattern, name, '.'));
}

static void test_names_written_as_astrings(void)
{
	struct buf b = {0};
	mailbox_name_write(&b, "INBOX");
	buf_append(&b, "|", 1);
	mailbox_name_write(&b, "My \"mail\"");
	buf_append(&b, "|", 1);
	mailbox_name_write(&b, "NIL");
	buf_append(&b, "|", 1);
	mailbox_name_write(&b, "a%b");
	buf_append(&b, "", 1);
	CU_ASSERT_STRING_EQUAL((const char *)buf_head(&b), "INBOX|\"My \\\"mail\\\"\"|\"NIL\"|\"a%b\"");
	buf_free(&b);
}

static CU_TestInfo mailbox_name_tests[] = {
	{"names become canonical UTF-8 with slashes", test_names_become_canonical_utf8_with_slashes},
	{"INBOX is case-insensitive only as first level", test_inbox_is_case_insensitive_only_as_first_level},
	{"names that could escape or confuse are refused", test_names_that_could_escape_or_confuse_are_refused},
	{"canonical names convert back", test_canonical_names_convert_back},
	{"LIST patterns", test_list_patterns},
	{"pattern with many wildcards stays fast", test_pattern_with_many_wildcards_stays_fast},
	{"names written as astrings", test_names_written_as_astrings},
	CU_TEST_INFO_NULL,
};

CU_SuiteInfo mailbox_name_suites[] = {
	{"mailbox-name", NULL, NULL, NULL, NULL, mailbox_name_tests},
	CU_SUITE_INFO_NULL,
};
