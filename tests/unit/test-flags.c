/*
 * Unit tests for core/imap/flags.c: flag lists of STORE and APPEND (system flags in any
 * case, keywords as atoms, \Recent and unknown backslash flags refused), the canonical
 * written form, and the Maildir info letters including P <-> $Forwarded.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/flags.h"

static struct sluice_pool *flags_test_pool;

static int flags_test_setup(void)
{
	flags_test_pool = pool_create(4096, 0);
	return flags_test_pool == NULL;
}

static int flags_test_teardown(void)
{
	pool_destroy(&flags_test_pool);
	return 0;
}

static int flags_parse(const char *const *tokens, size_t n, struct imap_flagset *set,
                       struct sluice_error *err)
{
	return imap_flags_parse(tokens, n, IMAP_FLAGS_FOR_STORE, flags_test_pool, set, err);
}

/* Writes @p set into @p out as a C string. */
static const char *flags_text(const struct imap_flagset *set, char *out, size_t out_len)
{
	struct buf b = {0};
	CU_ASSERT_EQUAL(imap_flags_write(&b, set), 0);
	snprintf(out, out_len, "%.*s", (int)buf_len(&b), (const char *)buf_head(&b));
	buf_free(&b);
	return out;
}

static void flags_assert_bad(const char *token, const char *msg_part)
{
	struct imap_flagset set;
	struct sluice_error err = SLUICE_ERROR_INIT;
	const char *tokens[] = {"\\Seen", token};
	CU_ASSERT_EQUAL(flags_parse(tokens, 2, &set, &err), SLUICE_E_PARSE);
	CU_ASSERT(strlen(err.msg) > 10);
	if (msg_part != NULL && strstr(err.msg, msg_part) == NULL) {
		fprintf(stderr, "token \"%s\": \"%s\" lacks \"%s\"\n", token, err.msg, msg_part);
		CU_FAIL("error sentence does not name the problem");
	}
}

static void test_flags_parse_system_flags_and_keywords(void)
{
	static const char *const tokens[] = {"\\Seen", "$Forwarded", "Junk"};
	struct imap_flagset set;
	CU_ASSERT_EQUAL_FATAL(flags_parse(tokens, 3, &set, NULL), 0);
	CU_ASSERT_EQUAL(set.flags, IMAP_FLAG_SEEN);
	CU_ASSERT_EQUAL_FATAL(set.keyword_count, 2);
	CU_ASSERT_STRING_EQUAL(set.keywords[0], "$Forwarded");
	CU_ASSERT_STRING_EQUAL(set.keywords[1], "Junk");
}

static void test_flags_system_flag_names_ignore_case(void)
{
	static const char *const tokens[] = {"\\SEEN", "\\answered", "\\fLaGgEd", "\\Deleted",
	                                     "\\draft"};
	struct imap_flagset set;
	CU_ASSERT_EQUAL_FATAL(flags_parse(tokens, 5, &set, NULL), 0);
	CU_ASSERT_EQUAL(set.flags, IMAP_FLAGS_STORABLE);
	CU_ASSERT_EQUAL(set.keyword_count, 0);
	CU_ASSERT_EQUAL(imap_flag_from_name("\\recent"), IMAP_FLAG_RECENT);
	CU_ASSERT_EQUAL(imap_flag_from_name("Seen"), 0);
	CU_ASSERT_EQUAL(imap_flag_from_name("\\Seen2"), 0);
	CU_ASSERT_STRING_EQUAL(imap_flag_name(IMAP_FLAG_DRAFT), "\\Draft");
	CU_ASSERT_PTR_NULL(imap_flag_name(IMAP_FLAG_SEEN | IMAP_FLAG_DRAFT));
}

static void test_flags_empty_list_is_empty_set(void)
{
	struct imap_flagset set = {.flags = 99};
	CU_ASSERT_EQUAL(flags_parse(NULL, 0, &set, NULL), 0);
	CU_ASSERT_EQUAL(set.flags, 0);
	CU_ASSERT_EQUAL(set.keyword_count, 0);
}

static void test_flags_recent_cannot_be_stored_or_appended(void)
{
	static const char *const tokens[] = {"\\Recent"};
	struct imap_flagset set;
	struct sluice_error err = SLUICE_ERROR_INIT;
	CU_ASSERT_EQUAL(
	    imap_flags_parse(tokens, 1, IMAP_FLAGS_FOR_STORE, flags_test_pool, &set, &err),
	    SLUICE_E_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "STORE"));
	CU_ASSERT_EQUAL(
	    imap_flags_parse(tokens, 1, IMAP_FLAGS_FOR_APPEND, flags_test_pool, &set, &err),
	    SLUICE_E_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "APPEND"));
	flags_assert_bad("\\RECENT", "\\Recent");
}

static void test_flags_unknown_backslash_flag_is_bad(void)
{
	flags_assert_bad("\\Foo", "\\Foo is not a system flag");
	flags_assert_bad("\\*", "must be \\Answered");
	flags_assert_bad("\\", NULL);
	flags_assert_bad("\\Seenx", "\\Seenx");
	/* A name that is not safe to echo is not echoed. */
	flags_assert_bad("\\Fo\r\no", "must be \\Answered");
}

static void test_flags_keyword_characters_follow_atom_char(void)
{
	static const char *const bad[] = {"a(b", "a)b", "a{b",  "a%b",         "a*b",  "a\"b",
	                                  "a]b", "a b", "a\tb", "caf\xc3\xa9", "a\x7f"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		flags_assert_bad(bad[i], "keyword may not contain");
		CU_ASSERT_FALSE(imap_keyword_valid(bad[i]));
	}
	flags_assert_bad("", "empty");
	static const char *const good[] = {
	    "$MDNSent", "NonJunk", "a[b", "a+b", "$label1", "x!#&'+,-./:;<=>?@^_`|}~", "Junk"};
	struct imap_flagset set;
	CU_ASSERT_EQUAL(flags_parse(good, sizeof(good) / sizeof(good[0]), &set, NULL), 0);
	CU_ASSERT_EQUAL(set.keyword_count, sizeof(good) / sizeof(good[0]));
}

static void test_flags_keyword_length_is_limited_to_255(void)
{
	char kw[IMAP_KEYWORD_MAX_LEN + 2];
	memset(kw, 'k', sizeof(kw));
	kw[IMAP_KEYWORD_MAX_LEN] = '\0';
	CU_ASSERT(imap_keyword_valid(kw));
	const char *tokens[] = {kw};
	struct imap_flagset set;
	CU_ASSERT_EQUAL(flags_parse(tokens, 1, &set, NULL), 0);
	kw[IMAP_KEYWORD_MAX_LEN] = 'k';
	kw[IMAP_KEYWORD_MAX_LEN + 1] = '\0';
	CU_ASSERT_FALSE(imap_keyword_valid(kw));
	flags_assert_bad(kw, "255");
}

static void test_flags_repeated_keyword_kept_once_with_first_spelling(void)
{
	static const char *const tokens[] = {"Junk", "\\Seen", "junk", "Other",
	                                     "JUNK", "\\seen", "other"};
	struct imap_flagset set;
	char out[128];
	CU_ASSERT_EQUAL_FATAL(flags_parse(tokens, 7, &set, NULL), 0);
	CU_ASSERT_STRING_EQUAL(flags_text(&set, out, sizeof(out)), "(\\Seen Junk Other)");
	CU_ASSERT(imap_keyword_equal("$forwarded", "$Forwarded"));
	CU_ASSERT_FALSE(imap_keyword_equal("Junk", "Junk2"));
	CU_ASSERT(imap_flagset_has_keyword(&set, "JUNK"));
	CU_ASSERT_FALSE(imap_flagset_has_keyword(&set, "Junk2"));
}

static void test_flags_many_repeated_keywords_deduplicate(void)
{
	enum { N = 6000 };
	char(*names)[16] = malloc(N * sizeof(*names));
	const char **tokens = malloc(N * sizeof(*tokens));
	CU_ASSERT_FATAL(names != NULL && tokens != NULL);
	for (int i = 0; i < N; i++) {
		/* Each of 1000 names three times, the repeats in other cases. */
		snprintf(names[i], sizeof(names[i]), "%s%d", i % 3 == 0 ? "kw" : "KW",
		         (i * 7) % 1000);
		tokens[i] = names[i];
	}
	struct imap_flagset set;
	CU_ASSERT_EQUAL_FATAL(flags_parse(tokens, N, &set, NULL), 0);
	CU_ASSERT_EQUAL(set.keyword_count, 1000);
	/* The first spelling of each name is the one kept, in first-seen order. */
	CU_ASSERT_STRING_EQUAL(set.keywords[0], "kw0");
	CU_ASSERT_STRING_EQUAL(set.keywords[1], "KW7");
	free(names);
	free(tokens);
}

static void test_flags_keywords_are_copied_into_the_pool(void)
{
	char kw[] = "Mutable";
	const char *tokens[] = {kw};
	struct imap_flagset set;
	CU_ASSERT_EQUAL_FATAL(flags_parse(tokens, 1, &set, NULL), 0);
	kw[0] = 'X';
	CU_ASSERT_STRING_EQUAL(set.keywords[0], "Mutable");
}

static void test_flags_written_in_canonical_order(void)
{
	const char *kws[] = {"$Forwarded", "kw1"};
	struct imap_flagset set = {IMAP_FLAG_SEEN | IMAP_FLAG_ANSWERED, kws, 2};
	char out[256];
	CU_ASSERT_STRING_EQUAL(flags_text(&set, out, sizeof(out)),
	                       "(\\Answered \\Seen $Forwarded kw1)");
	set.flags = IMAP_FLAGS_STORABLE | IMAP_FLAG_RECENT;
	set.keyword_count = 0;
	CU_ASSERT_STRING_EQUAL(flags_text(&set, out, sizeof(out)),
	                       "(\\Answered \\Flagged \\Deleted \\Seen \\Draft \\Recent)");
	set.flags = 0;
	CU_ASSERT_STRING_EQUAL(flags_text(&set, out, sizeof(out)), "()");
	set.keyword_count = 1;
	CU_ASSERT_STRING_EQUAL(flags_text(&set, out, sizeof(out)), "($Forwarded)");
}

static void test_flags_parse_then_write_round_trips(void)
{
	static const char *const tokens[] = {"\\Draft", "b", "\\Answered", "a"};
	struct imap_flagset set;
	char out[128];
	CU_ASSERT_EQUAL_FATAL(flags_parse(tokens, 4, &set, NULL), 0);
	CU_ASSERT_STRING_EQUAL(flags_text(&set, out, sizeof(out)), "(\\Answered \\Draft b a)");
}

static void test_flags_maildir_letters_in_ascii_order(void)
{
	const char *kws[] = {"$forwarded"};
	struct imap_flagset set = {IMAP_FLAG_SEEN | IMAP_FLAG_ANSWERED | IMAP_FLAG_DRAFT, kws, 1};
	char out[IMAP_MAILDIR_FLAGS_MAX + 1];
	CU_ASSERT_EQUAL(imap_flags_to_maildir(&set, out), 4);
	CU_ASSERT_STRING_EQUAL(out, "DPRS");
	set.flags = IMAP_FLAGS_STORABLE | IMAP_FLAG_RECENT;
	CU_ASSERT_EQUAL(imap_flags_to_maildir(&set, out), 6);
	CU_ASSERT_STRING_EQUAL(out, "DFPRST");
	set.flags = 0;
	set.keyword_count = 0;
	CU_ASSERT_EQUAL(imap_flags_to_maildir(&set, out), 0);
	CU_ASSERT_STRING_EQUAL(out, "");
}

static void test_flags_maildir_letters_read_back(void)
{
	bool passed = true;
	CU_ASSERT_EQUAL(imap_flags_from_maildir("FRS", &passed),
	                IMAP_FLAG_FLAGGED | IMAP_FLAG_ANSWERED | IMAP_FLAG_SEEN);
	CU_ASSERT_FALSE(passed);
	CU_ASSERT_EQUAL(imap_flags_from_maildir("P", &passed), 0);
	CU_ASSERT(passed);
	CU_ASSERT_EQUAL(imap_flags_from_maildir("DT", NULL), IMAP_FLAG_DRAFT | IMAP_FLAG_DELETED);
	/* Dovecot's keyword letters and other programs' extensions are not system flags. */
	CU_ASSERT_EQUAL(imap_flags_from_maildir("abcSZz", &passed), IMAP_FLAG_SEEN);
	CU_ASSERT_FALSE(passed);
	CU_ASSERT_EQUAL(imap_flags_from_maildir("", &passed), 0);

	/* Every combination survives the trip through a file name. */
	const char *kws[] = {IMAP_KEYWORD_FORWARDED};
	for (unsigned f = 0; f <= IMAP_FLAGS_STORABLE; f++) {
		for (size_t k = 0; k <= 1; k++) {
			struct imap_flagset set = {f, kws, k};
			char out[IMAP_MAILDIR_FLAGS_MAX + 1];
			imap_flags_to_maildir(&set, out);
			CU_ASSERT_EQUAL(imap_flags_from_maildir(out, &passed), f);
			CU_ASSERT_EQUAL(passed, k == 1);
		}
	}
}

static void test_flags_bits_are_the_module_abi_bits(void)
{
	CU_ASSERT_EQUAL(IMAP_FLAG_SEEN, SLUICE_FLAG_SEEN);
	CU_ASSERT_EQUAL(IMAP_FLAG_ANSWERED, SLUICE_FLAG_ANSWERED);
	CU_ASSERT_EQUAL(IMAP_FLAG_FLAGGED, SLUICE_FLAG_FLAGGED);
	CU_ASSERT_EQUAL(IMAP_FLAG_DELETED, SLUICE_FLAG_DELETED);
	CU_ASSERT_EQUAL(IMAP_FLAG_DRAFT, SLUICE_FLAG_DRAFT);
	CU_ASSERT_EQUAL(IMAP_FLAG_RECENT & SLUICE_FLAGS_ALL, 0);
}

static void test_flags_keywords_join_into_the_abi_string(void)
{
	static const char *const tokens[] = {"\\Seen", "$Forwarded", "Junk"};
	struct imap_flagset set;
	const char *joined = NULL;
	CU_ASSERT_EQUAL_FATAL(flags_parse(tokens, 3, &set, NULL), 0);
	CU_ASSERT_EQUAL(imap_flagset_keywords_join(&set, flags_test_pool, &joined), 0);
	CU_ASSERT_STRING_EQUAL(joined, "$Forwarded Junk");
	set.keyword_count = 0;
	CU_ASSERT_EQUAL(imap_flagset_keywords_join(&set, flags_test_pool, &joined), 0);
	CU_ASSERT_STRING_EQUAL(joined, "");
}

static void test_flags_from_stored_keywords_drop_what_would_break_syntax(void)
{
	struct imap_flagset set;
	char out[128];
	CU_ASSERT_EQUAL_FATAL(imap_flagset_from_keywords(IMAP_FLAG_SEEN | IMAP_FLAG_RECENT,
	                                                 "$Forwarded  Junk (bad) junk a\\b Work ",
	                                                 flags_test_pool, &set),
	                      0);
	CU_ASSERT_STRING_EQUAL(flags_text(&set, out, sizeof(out)),
	                       "(\\Seen \\Recent $Forwarded Junk Work)");
	CU_ASSERT_EQUAL(imap_flagset_from_keywords(0, "", flags_test_pool, &set), 0);
	CU_ASSERT_EQUAL(set.keyword_count, 0);
	CU_ASSERT_EQUAL(imap_flagset_from_keywords(0, NULL, flags_test_pool, &set), 0);
	CU_ASSERT_EQUAL(set.keyword_count, 0);
}

static CU_TestInfo flags_tests[] = {
    {"system flags and keywords parsed", test_flags_parse_system_flags_and_keywords},
    {"system flag names ignore case", test_flags_system_flag_names_ignore_case},
    {"empty list is an empty set", test_flags_empty_list_is_empty_set},
    {"\\Recent cannot be stored or appended", test_flags_recent_cannot_be_stored_or_appended},
    {"unknown backslash flag is BAD", test_flags_unknown_backslash_flag_is_bad},
    {"keyword characters follow ATOM-CHAR", test_flags_keyword_characters_follow_atom_char},
    {"keyword length limited to 255", test_flags_keyword_length_is_limited_to_255},
    {"repeated keyword kept once, first spelling",
     test_flags_repeated_keyword_kept_once_with_first_spelling},
    {"many repeated keywords deduplicate", test_flags_many_repeated_keywords_deduplicate},
    {"keywords copied into the pool", test_flags_keywords_are_copied_into_the_pool},
    {"written in canonical order", test_flags_written_in_canonical_order},
    {"parse then write", test_flags_parse_then_write_round_trips},
    {"Maildir letters in ASCII order", test_flags_maildir_letters_in_ascii_order},
    {"Maildir letters read back", test_flags_maildir_letters_read_back},
    {"bits are the module ABI bits", test_flags_bits_are_the_module_abi_bits},
    {"keywords join into the ABI string", test_flags_keywords_join_into_the_abi_string},
    {"stored keywords that would break syntax are dropped",
     test_flags_from_stored_keywords_drop_what_would_break_syntax},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo flags_suites[] = {
    {"flags", flags_test_setup, flags_test_teardown, NULL, NULL, flags_tests},
    CU_SUITE_INFO_NULL,
};
