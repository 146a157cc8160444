/*
 * Unit tests for core/conf/mailbox-conf.c and core/mailbox/special-use.c: the two list-valued
 * settings (default_mailboxes, trash_expiry) and the special-use words. A mistake in either
 * setting must be refused with a sentence that names the setting, never half-applied.
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "conf/mailbox-conf.h"
#include "mailbox/special-use.h"
#include "util/pool.h"

static struct sluice_pool *pool;

static int mc_setup(void)
{
	pool = pool_create(1024, 0);
	return pool == NULL;
}

static int mc_teardown(void)
{
	pool_destroy(&pool);
	return 0;
}

static void test_shipped_default_folders_parse_with_their_uses(void)
{
	const struct mailbox_defaults *d;
	char why[256] = "";
	CU_ASSERT_EQUAL_FATAL(mailbox_defaults_parse("Sent \\Sent, Drafts \\Drafts, Trash \\Trash, "
	                                             "Junk \\Junk, Archive \\Archive",
	                                             pool, &d, why, sizeof(why)),
	                      0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL_FATAL(d->count, 5);
	CU_ASSERT_STRING_EQUAL(d->items[0].name, "Sent");
	CU_ASSERT_EQUAL(d->items[0].special_use, SLUICE_MAILBOX_SPECIAL_SENT);
	CU_ASSERT_STRING_EQUAL(d->items[4].name, "Archive");
	CU_ASSERT_EQUAL(d->items[4].special_use, SLUICE_MAILBOX_SPECIAL_ARCHIVE);
}

static void test_default_folder_names_may_have_spaces_levels_and_no_use(void)
{
	const struct mailbox_defaults *d;
	char why[256] = "";
	CU_ASSERT_EQUAL_FATAL(mailbox_defaults_parse("  Sent Messages  \\sent \\ARCHIVE ,Lists/"
	                                             "Entw\xc3\xbc" "rfe, Notes",
	                                             pool, &d, why, sizeof(why)),
	                      0);
	CU_ASSERT_EQUAL_FATAL(d->count, 3);
	CU_ASSERT_STRING_EQUAL(d->items[0].name, "Sent Messages");
	CU_ASSERT_EQUAL(d->items[0].special_use,
	                SLUICE_MAILBOX_SPECIAL_SENT | SLUICE_MAILBOX_SPECIAL_ARCHIVE);
	CU_ASSERT_STRING_EQUAL(d->items[1].name, "Lists/Entw\xc3\xbc" "rfe");
	CU_ASSERT_EQUAL(d->items[1].special_use, 0);
	CU_ASSERT_STRING_EQUAL(d->items[2].name, "Notes");
}

static void test_none_or_empty_means_no_folders(void)
{
	const struct mailbox_defaults *d = (const void *)1;
	const struct mailbox_expiry_rules *r = (const void *)1;
	char why[256] = "";
	CU_ASSERT_EQUAL(mailbox_defaults_parse("none", pool, &d, why, sizeof(why)), 0);
	CU_ASSERT_PTR_NULL(d);
	CU_ASSERT_EQUAL(mailbox_defaults_parse(" NONE ", pool, &d, why, sizeof(why)), 0);
	CU_ASSERT_PTR_NULL(d);
	CU_ASSERT_EQUAL(mailbox_defaults_parse("", pool, &d, why, sizeof(why)), 0);
	CU_ASSERT_PTR_NULL(d);
	CU_ASSERT_EQUAL(mailbox_expiry_parse("none", pool, &r, why, sizeof(why)), 0);
	CU_ASSERT_PTR_NULL(r);
}

/* Each bad value is refused with a sentence naming the setting and holding @p words. */
static void refused_defaults(const char *text, const char *words)
{
	const struct mailbox_defaults *d;
	char why[256] = "";
	CU_ASSERT_EQUAL(mailbox_defaults_parse(text, pool, &d, why, sizeof(why)), -1);
	CU_ASSERT_PTR_NULL(d);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "'default_mailboxes'"));
	if (strstr(why, words) == NULL)
		fprintf(stderr, "\n  %s -> %s\n", text, why);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, words));
}

static void test_bad_default_folders_are_refused_with_a_reason(void)
{
	refused_defaults("Sent \\Sent,, Trash", "empty entry");
	refused_defaults("Everything \\All", "\\All");
	refused_defaults("Stars \\Flagged", "\\Flagged");
	refused_defaults("Sent \\Sendt", "\\Sendt");
	refused_defaults("INBOX \\Archive", "INBOX");
	refused_defaults("inbox", "INBOX");
	refused_defaults("a/../b", "'a/../b' cannot be used");
	refused_defaults("Sent, Sent \\Sent", "twice");
	refused_defaults("back\\slash", "may not contain");
	refused_defaults("\\Sent", "empty");
}

static void test_trash_expiry_rules_parse(void)
{
	const struct mailbox_expiry_rules *r;
	char why[256] = "";
	CU_ASSERT_EQUAL_FATAL(mailbox_expiry_parse("Trash:7d, Junk : 30d,Deleted Items:1d12h", pool,
	                                           &r, why, sizeof(why)),
	                      0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL_FATAL(r->count, 3);
	CU_ASSERT_STRING_EQUAL(r->items[0].name, "Trash");
	CU_ASSERT_EQUAL(r->items[0].max_age_ms, UINT64_C(7) * 86400 * 1000);
	CU_ASSERT_STRING_EQUAL(r->items[1].name, "Junk");
	CU_ASSERT_EQUAL(r->items[1].max_age_ms, UINT64_C(30) * 86400 * 1000);
	CU_ASSERT_STRING_EQUAL(r->items[2].name, "Deleted Items");
	CU_ASSERT_EQUAL(r->items[2].max_age_ms, UINT64_C(36) * 3600 * 1000);
}

static void refused_expiry(const char *text, const char *words)
{
	const struct mailbox_expiry_rules *r;
	char why[256] = "";
	CU_ASSERT_EQUAL(mailbox_expiry_parse(text, pool, &r, why, sizeof(why)), -1);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "'trash_expiry'"));
	if (strstr(why, words) == NULL)
		fprintf(stderr, "\n  %s -> %s\n", text, why);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, words));
}

static void test_bad_trash_expiry_is_refused_with_a_reason(void)
{
	/* Courier's Trash:7 means days; here it would be seconds, so it is refused. */
	refused_expiry("Trash:7", "needs a unit");
	refused_expiry("Trash 7d", "colon");
	refused_expiry("Trash:", "needs a unit");
	refused_expiry("Trash:soon", "duration");
	refused_expiry("Trash:30m", "at least");
	refused_expiry("INBOX:7d", "INBOX");
	refused_expiry(":7d", "empty");
	refused_expiry("Trash:7d, Trash:9d", "twice");
}

static void test_special_use_words_round_trip(void)
{
	struct buf b = {0};
	CU_ASSERT_EQUAL(special_use_from_word("\\sent", 5), SLUICE_MAILBOX_SPECIAL_SENT);
	CU_ASSERT_EQUAL(special_use_from_word("\\Trash", 6), SLUICE_MAILBOX_SPECIAL_TRASH);
	CU_ASSERT_EQUAL(special_use_from_word("\\Sentx", 6), 0);
	CU_ASSERT_EQUAL(special_use_from_word("Sent", 4), 0);
	CU_ASSERT_EQUAL(special_use_write(&b, SLUICE_MAILBOX_SPECIAL_TRASH |
	                                          SLUICE_MAILBOX_SPECIAL_ARCHIVE | SLUICE_FLAG_SEEN,
	                                  true),
	                2);
	CU_ASSERT_EQUAL(special_use_write(&b, SLUICE_MAILBOX_SPECIAL_JUNK, false), 1);
	buf_append(&b, "", 1);
	CU_ASSERT_STRING_EQUAL((const char *)buf_head(&b), "\\Archive \\Trash \\Junk");
	buf_free(&b);
}

static void test_stored_special_use_wins_over_the_default_by_name(void)
{
	const struct mailbox_defaults *d;
	char why[256] = "";
	CU_ASSERT_EQUAL_FATAL(mailbox_defaults_parse("Sent \\Sent", pool, &d, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(special_use_of(d, "Sent", SLUICE_MAILBOX_HASNOCHILDREN),
	                SLUICE_MAILBOX_SPECIAL_SENT);
	CU_ASSERT_EQUAL(special_use_of(d, "Sent", SLUICE_MAILBOX_SPECIAL_ARCHIVE),
	                SLUICE_MAILBOX_SPECIAL_ARCHIVE);
	CU_ASSERT_EQUAL(special_use_of(d, "sent", 0), 0);
	CU_ASSERT_EQUAL(special_use_of(NULL, "Sent", 0), 0);
}

static CU_TestInfo mailbox_conf_tests[] = {
    {"shipped default folders parse with their uses",
     test_shipped_default_folders_parse_with_their_uses},
    {"default folder names may have spaces, levels and no use",
     test_default_folder_names_may_have_spaces_levels_and_no_use},
    {"none or empty means no folders", test_none_or_empty_means_no_folders},
    {"bad default folders are refused with a reason",
     test_bad_default_folders_are_refused_with_a_reason},
    {"trash expiry rules parse", test_trash_expiry_rules_parse},
    {"bad trash expiry is refused with a reason", test_bad_trash_expiry_is_refused_with_a_reason},
    {"special-use words round-trip", test_special_use_words_round_trip},
    {"stored special use wins over the default by name",
     test_stored_special_use_wins_over_the_default_by_name},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mailbox_conf_suites[] = {
    {"mailbox-conf", mc_setup, mc_teardown, NULL, NULL, mailbox_conf_tests},
    CU_SUITE_INFO_NULL,
};
