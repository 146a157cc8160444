/*
 * Unit tests for core/imap/search.c: the search-key grammar of RFC 3501 (every key, OR and
 * NOT nesting, parenthesised lists, sequence and UID sets, CHARSET, and the input that
 * must be BAD), CONDSTORE's MODSEQ key and SEARCHRES's `$`, and the three-valued
 * evaluator on a fake mailbox view of six messages, plus header, date and body keys on
 * messages parsed from memory.
 *
 * Commands are tokenized by the real command parser, so the tests see exactly the
 * argument trees a session hands to SEARCH.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "imap/datetime.h"
#include "imap/parser.h"
#include "imap/search.h"
#include "mail/mime.h"
#include "mailbox/mailbox.h"
#include "util/pool.h"

static struct sluice_pool *search_test_pool;
static struct sluice_error search_test_err;
static const struct seqset *search_test_saved; /* what `$` stands for, or NULL */

static int search_test_setup(void)
{
	search_test_pool = pool_create(4096, 0);
	return search_test_pool == NULL;
}

static int search_test_teardown(void)
{
	pool_destroy(&search_test_pool);
	return 0;
}

/* The fake view: sequence n has UID 10 * n; MODSEQs are not in sequence order. */
#define VIEW_COUNT 6
static const struct search_msg view[VIEW_COUNT] = {
    {.seq = 1, .uid = 10, .flags = SLUICE_FLAG_SEEN, .keywords = "$Forwarded", .modseq = 7},
    {.seq = 2,
     .uid = 20,
     .flags = SLUICE_FLAG_SEEN | SLUICE_FLAG_FLAGGED,
     .keywords = NULL,
     .modseq = 3},
    {.seq = 3, .uid = 30, .flags = SLUICE_FLAG_DELETED, .keywords = "Junk Work", .modseq = 12},
    {.seq = 4,
     .uid = 40,
     .flags = SLUICE_FLAG_ANSWERED | SLUICE_FLAG_DRAFT,
     .keywords = "",
     .modseq = 1},
    {.seq = 5, .uid = 50, .flags = MAILBOX_MSG_RECENT, .keywords = "work", .modseq = 9},
    {.seq = 6,
     .uid = 60,
     .flags = MAILBOX_MSG_RECENT | SLUICE_FLAG_SEEN,
     .keywords = NULL,
     .modseq = 12},
};

/* Parses "SEARCH <args>" (literals allowed, NULs too) into *root_r; the result code. */
static int parse_bytes(const char *args, size_t args_len, struct search_node **root_r)
{
	static char line[65536];
	size_t len = 0;
	memcpy(line, "a SEARCH ", 9);
	len = 9;
	CU_ASSERT_FATAL(args_len + len + 2 <= sizeof(line));
	memcpy(line + len, args, args_len);
	len += args_len;
	memcpy(line + len, "\r\n", 2);
	len += 2;
	struct imap_parser *p = imap_parser_create(NULL);
	size_t used, pos = 0;
	enum imap_parse_result r;
	do {
		r = imap_parser_feed(p, (const unsigned char *)line + pos, len - pos, &used);
		pos += used;
	} while (r == IMAP_PARSE_CONTINUE);
	int ret = SLUICE_E_INTERNAL;
	CU_ASSERT_EQUAL(r, IMAP_PARSE_COMMAND);
	if (r == IMAP_PARSE_COMMAND) {
		const struct imap_command *cmd = imap_parser_command(p);
		search_test_err = (struct sluice_error)SLUICE_ERROR_INIT;
		ret = search_parse(cmd->args, cmd->count, VIEW_COUNT, 60, search_test_saved,
		                   search_test_pool, root_r, &search_test_err);
	}
	imap_parser_destroy(&p);
	return ret;
}

static int parse(const char *args, struct search_node **root_r)
{
	return parse_bytes(args, strlen(args), root_r);
}

/* The sequence numbers of the fake view that match, "?" for unknown: "1 3 5?". */
static const char *run(const char *args, char *out, size_t out_len)
{
	struct search_node *root;
	out[0] = '\0';
	if (parse(args, &root) != 0) {
		snprintf(out, out_len, "BAD");
		return out;
	}
	size_t len = 0;
	for (size_t i = 0; i < VIEW_COUNT; i++) {
		enum search_result r = search_eval(root, &view[i], search_test_pool);
		if (r == SEARCH_YES || r == SEARCH_UNKNOWN)
			len += (size_t)snprintf(out + len, out_len - len, "%s%u%s", len ? " " : "",
			                        view[i].seq, r == SEARCH_UNKNOWN ? "?" : "");
	}
	return out;
}

#define CU_ASSERT_SEARCH(args, expect)                                                             \
	do {                                                                                       \
		char got_[256];                                                                    \
		run(args, got_, sizeof(got_));                                                     \
		CU_ASSERT_STRING_EQUAL(got_, expect);                                              \
		if (strcmp(got_, expect) != 0)                                                     \
			fprintf(stderr, "\n  SEARCH %s: got \"%s\", want \"%s\"\n", args, got_,    \
			        expect);                                                           \
	} while (0)

/* Asserts a BAD answer with a sentence. */
static void assert_bad(const char *args)
{
	struct search_node *root;
	int r = parse(args, &root);
	CU_ASSERT_EQUAL(r, SLUICE_E_PARSE);
	size_t len = strlen(search_test_err.msg);
	CU_ASSERT(len > 10 && search_test_err.msg[len - 1] == '.');
	if (r != SLUICE_E_PARSE)
		fprintf(stderr, "\n  accepted: SEARCH %s\n", args);
}

static void test_search_every_rfc3501_key_parses(void)
{
	static const char *const keys[] = {
	    "ALL",
	    "ANSWERED",
	    "BCC x",
	    "BEFORE 1-Feb-1994",
	    "BODY x",
	    "CC x",
	    "DELETED",
	    "DRAFT",
	    "FLAGGED",
	    "FROM x",
	    "HEADER List-Id x",
	    "KEYWORD $Junk",
	    "LARGER 100",
	    "NEW",
	    "NOT SEEN",
	    "OLD",
	    "ON 1-Feb-1994",
	    "OR SEEN DRAFT",
	    "RECENT",
	    "SEEN",
	    "SENTBEFORE 1-Feb-1994",
	    "SENTON \"1-Feb-1994\"",
	    "SENTSINCE 01-Feb-1994",
	    "SINCE 1-Feb-1994",
	    "SMALLER 5",
	    "SUBJECT \"two words\"",
	    "TEXT {3+}\r\nabc",
	    "TO x",
	    "UID 1:*",
	    "UNANSWERED",
	    "UNDELETED",
	    "UNDRAFT",
	    "UNFLAGGED",
	    "UNKEYWORD $Junk",
	    "UNSEEN",
	    "1:3,5",
	    "*",
	    "(SEEN FLAGGED)",
	    "seen from x",
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct search_node *root;
		int r = parse(keys[i], &root);
		CU_ASSERT_EQUAL(r, 0);
		if (r != 0)
			fprintf(stderr, "\n  refused: SEARCH %s: %s\n", keys[i],
			        search_test_err.msg);
	}
}

static void test_search_flag_keys_match_the_view(void)
{
	CU_ASSERT_SEARCH("ALL", "1 2 3 4 5 6");
	CU_ASSERT_SEARCH("SEEN", "1 2 6");
	CU_ASSERT_SEARCH("UNSEEN", "3 4 5");
	CU_ASSERT_SEARCH("FLAGGED", "2");
	CU_ASSERT_SEARCH("UNFLAGGED", "1 3 4 5 6");
	CU_ASSERT_SEARCH("DELETED", "3");
	CU_ASSERT_SEARCH("UNDELETED", "1 2 4 5 6");
	CU_ASSERT_SEARCH("ANSWERED", "4");
	CU_ASSERT_SEARCH("UNANSWERED", "1 2 3 5 6");
	CU_ASSERT_SEARCH("DRAFT", "4");
	CU_ASSERT_SEARCH("UNDRAFT", "1 2 3 5 6");
}

static void test_search_new_is_recent_and_unseen_old_is_not_recent(void)
{
	CU_ASSERT_SEARCH("RECENT", "5 6");
	CU_ASSERT_SEARCH("NEW", "5");
	CU_ASSERT_SEARCH("OLD", "1 2 3 4");
}

static void test_search_keywords_ignore_case(void)
{
	CU_ASSERT_SEARCH("KEYWORD work", "3 5");
	CU_ASSERT_SEARCH("KEYWORD WORK", "3 5");
	CU_ASSERT_SEARCH("KEYWORD $forwarded", "1");
	CU_ASSERT_SEARCH("KEYWORD Wor", "");
	CU_ASSERT_SEARCH("UNKEYWORD Junk", "1 2 4 5 6");
}

static void test_search_sequence_and_uid_sets(void)
{
	CU_ASSERT_SEARCH("2:4", "2 3 4");
	CU_ASSERT_SEARCH("1,3,5:*", "1 3 5 6");
	CU_ASSERT_SEARCH("*", "6");
	CU_ASSERT_SEARCH("5:100", "5 6");
	CU_ASSERT_SEARCH("7", "");
	CU_ASSERT_SEARCH("UID 20:40", "2 3 4");
	CU_ASSERT_SEARCH("UID *", "6");
	CU_ASSERT_SEARCH("UID 15,41:45,50", "5");
	CU_ASSERT_SEARCH("UID 1:4294967295", "1 2 3 4 5 6");
	CU_ASSERT_SEARCH("UID 61:*", "6"); /* 61:* is 60:61 (RFC 3501 6.4.8) */
}

static void test_search_or_not_and_parentheses_nest(void)
{
	CU_ASSERT_SEARCH("OR FLAGGED DELETED", "2 3");
	CU_ASSERT_SEARCH("NOT SEEN", "3 4 5");
	CU_ASSERT_SEARCH("NOT NOT SEEN", "1 2 6");
	CU_ASSERT_SEARCH("OR (SEEN RECENT) DRAFT", "4 6");
	CU_ASSERT_SEARCH("OR OR FLAGGED DELETED ANSWERED", "2 3 4");
	CU_ASSERT_SEARCH("NOT (OR SEEN RECENT)", "3 4");
	CU_ASSERT_SEARCH("SEEN NOT 1:2", "6");
	CU_ASSERT_SEARCH("((SEEN) (UID 10:20))", "1 2");
	CU_ASSERT_SEARCH("OR NOT KEYWORD work 5 2:3", "2");
}

static void test_search_bad_input_is_bad_with_a_sentence(void)
{
	assert_bad("FOO");
	assert_bad("SEEN BOGUS");
	assert_bad("FROM");
	assert_bad("OR SEEN");
	assert_bad("NOT");
	assert_bad("BEFORE 31-Feb-2024");
	assert_bad("SINCE yesterday");
	assert_bad("ON (1-Feb-1994)");
	assert_bad("LARGER -1");
	assert_bad("LARGER 4294967296");
	assert_bad("SMALLER ten");
	assert_bad("SUBJECT (x)");
	assert_bad("HEADER \"\" x");
	assert_bad("HEADER \"Sub ject\" x");
	assert_bad("HEADER Subject");
	assert_bad("KEYWORD \\Seen");
	assert_bad("UID");
	assert_bad("UID abc");
	assert_bad("1:0");
	assert_bad("1,$");
	assert_bad("()");
	assert_bad("\"SEEN\"");
	struct search_node *root;
	static const char nul[] = "BODY {3+}\r\na\0b";
	CU_ASSERT_EQUAL(parse_bytes(nul, sizeof(nul) - 1, &root), SLUICE_E_PARSE);
	assert_bad("CHARSET");
	assert_bad("CHARSET UTF-8");
}

static void test_search_nesting_and_size_are_bounded(void)
{
	char line[8192];
	size_t len = 0;
	for (int i = 0; i < SEARCH_MAX_DEPTH + 5; i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, "NOT ");
	snprintf(line + len, sizeof(line) - len, "SEEN");
	assert_bad(line);

	static char many[65000];
	len = 0;
	for (int i = 0; i < SEARCH_MAX_NODES + 1; i++)
		len += (size_t)snprintf(many + len, sizeof(many) - len, "%sALL", i ? " " : "");
	assert_bad(many);
}

static void test_search_charset_utf8_and_ascii_only(void)
{
	struct search_node *root;
	CU_ASSERT_EQUAL(parse("CHARSET UTF-8 SUBJECT x", &root), 0);
	CU_ASSERT_EQUAL(parse("CHARSET utf-8 SEEN", &root), 0);
	CU_ASSERT_EQUAL(parse("CHARSET \"US-ASCII\" SEEN", &root), 0);
	CU_ASSERT_EQUAL(parse("CHARSET ISO-8859-1 SEEN", &root), SLUICE_NOTFOUND);
	CU_ASSERT_STRING_EQUAL(search_test_err.resp_code, "BADCHARSET (US-ASCII UTF-8)");
	CU_ASSERT_EQUAL(parse("CHARSET KOI8-R FROM x", &root), SLUICE_NOTFOUND);
}

static void test_search_cheap_keys_run_first_and_decide_alone(void)
{
	struct search_node *root;
	CU_ASSERT_EQUAL_FATAL(parse("BODY x SINCE 1-Jan-2000 FROM y SEEN", &root), 0);
	const struct search_node *c = root->children;
	CU_ASSERT_EQUAL(root->cost, SEARCH_COST_BODY);
	CU_ASSERT_EQUAL(c->op, SEARCH_FLAG);
	CU_ASSERT_EQUAL(c->next->op, SEARCH_SINCE);
	CU_ASSERT_EQUAL(c->next->next->op, SEARCH_HEADER);
	CU_ASSERT_EQUAL(c->next->next->next->op, SEARCH_BODY);
	/* Unseen messages fail on the flag without reading anything; the others need more. */
	CU_ASSERT_SEARCH("BODY x SEEN", "1? 2? 6?");
	CU_ASSERT_SEARCH("OR BODY x SEEN", "1 2 3? 4? 5? 6");
	CU_ASSERT_SEARCH("NOT BODY x", "1? 2? 3? 4? 5? 6?");
}

static void test_search_internal_date_is_compared_in_its_own_zone(void)
{
	struct search_node *root;
	/* 2024-01-01 23:30 at -0100 is 2024-01-02 00:30 UTC: its day is the 1st. */
	struct search_msg m = {.seq = 1, .uid = 1, .have_record = true};
	m.internal_date = (imap_days_from_civil(2024, 1, 2) * 86400) + 30 * 60;
	m.internal_zone = -60;
	CU_ASSERT_EQUAL_FATAL(parse("ON 1-Jan-2024", &root), 0);
	CU_ASSERT_EQUAL(search_eval(root, &m, search_test_pool), SEARCH_YES);
	CU_ASSERT_EQUAL_FATAL(parse("BEFORE 2-Jan-2024", &root), 0);
	CU_ASSERT_EQUAL(search_eval(root, &m, search_test_pool), SEARCH_YES);
	CU_ASSERT_EQUAL_FATAL(parse("SINCE 2-Jan-2024", &root), 0);
	CU_ASSERT_EQUAL(search_eval(root, &m, search_test_pool), SEARCH_NO);
	CU_ASSERT_EQUAL_FATAL(parse("SINCE 1-Jan-2024", &root), 0);
	CU_ASSERT_EQUAL(search_eval(root, &m, search_test_pool), SEARCH_YES);
	m.have_record = false;
	CU_ASSERT_EQUAL(search_eval(root, &m, search_test_pool), SEARCH_UNKNOWN);
}

static void test_search_larger_and_smaller_are_strict(void)
{
	struct search_node *root;
	struct search_msg m = {.seq = 1, .uid = 1, .have_size = true, .size = 100};
	CU_ASSERT_EQUAL_FATAL(parse("LARGER 99", &root), 0);
	CU_ASSERT_EQUAL(search_eval(root, &m, search_test_pool), SEARCH_YES);
	CU_ASSERT_EQUAL_FATAL(parse("LARGER 100", &root), 0);
	CU_ASSERT_EQUAL(search_eval(root, &m, search_test_pool), SEARCH_NO);
	CU_ASSERT_EQUAL_FATAL(parse("SMALLER 100", &root), 0);
	CU_ASSERT_EQUAL(search_eval(root, &m, search_test_pool), SEARCH_NO);
	CU_ASSERT_EQUAL_FATAL(parse("SMALLER 101", &root), 0);
	CU_ASSERT_EQUAL(search_eval(root, &m, search_test_pool), SEARCH_YES);
	m.have_size = false;
	CU_ASSERT_EQUAL(search_eval(root, &m, search_test_pool), SEARCH_UNKNOWN);
}

static const char test_message[] = "From: =?utf-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.org>\r\n"
                                   "To: demo@example.org\r\n"
                                   "Subject: =?iso-8859-1?B?U2No9m5lIEdy/N9l?=\r\n"
                                   "Date: Mon, 1 Jan 2024 23:30:00 -0100\r\n"
                                   "X-Empty:\r\n"
                                   "MIME-Version: 1.0\r\n"
                                   "Content-Type: multipart/mixed; boundary=b\r\n"
                                   "\r\n"
                                   "--b\r\n"
                                   "Content-Type: text/plain; charset=utf-8\r\n"
                                   "Content-Transfer-Encoding: base64\r\n"
                                   "\r\n"
                                   "VGhlIHNlY3JldCB3b3JkIGlzIHF1aXp6aWNhbC4K\r\n"
                                   "--b\r\n"
                                   "Content-Type: text/plain; charset=iso-8859-1\r\n"
                                   "Content-Transfer-Encoding: quoted-printable\r\n"
                                   "\r\n"
                                   "Gr=FC=DFe aus K=F6ln\r\n"
                                   "--b--\r\n";

static enum search_result eval_message(const char *args)
{
	struct search_node *root;
	struct mime_part *part;
	if (parse(args, &root) != 0)
		return SEARCH_ERROR;
	CU_ASSERT_EQUAL_FATAL(mime_parse((const unsigned char *)test_message,
	                                 sizeof(test_message) - 1, search_test_pool, &part),
	                      0);
	struct search_msg m = {.seq = 1, .uid = 1, .root = part};
	return search_eval(root, &m, search_test_pool);
}

static void test_search_header_and_body_keys_match_decoded_text(void)
{
	CU_ASSERT_EQUAL(eval_message("FROM {7+}\r\nmüller"), SEARCH_YES);
	CU_ASSERT_EQUAL(eval_message("FROM JM@EXAMPLE"), SEARCH_YES);
	CU_ASSERT_EQUAL(eval_message("SUBJECT {15+}\r\nschöne grüße"), SEARCH_YES);
	CU_ASSERT_EQUAL(eval_message("TO nobody"), SEARCH_NO);
	CU_ASSERT_EQUAL(eval_message("CC demo"), SEARCH_NO);
	CU_ASSERT_EQUAL(eval_message("HEADER X-Empty \"\""), SEARCH_YES);
	CU_ASSERT_EQUAL(eval_message("HEADER x-empty \"\""), SEARCH_YES);
	CU_ASSERT_EQUAL(eval_message("HEADER X-Missing \"\""), SEARCH_NO);
	CU_ASSERT_EQUAL(eval_message("BODY QUIZZICAL"), SEARCH_YES);
	CU_ASSERT_EQUAL(eval_message("BODY {5+}\r\nköln"), SEARCH_YES);
	CU_ASSERT_EQUAL(eval_message("BODY {7+}\r\nmüller"), SEARCH_NO);
	CU_ASSERT_EQUAL(eval_message("TEXT {7+}\r\nmüller"), SEARCH_YES);
	CU_ASSERT_EQUAL(eval_message("TEXT quizzical"), SEARCH_YES);
	CU_ASSERT_EQUAL(eval_message("TEXT absent"), SEARCH_NO);
}

static void test_search_sent_dates_use_the_senders_day(void)
{
	CU_ASSERT_EQUAL(eval_message("SENTON 1-Jan-2024"), SEARCH_YES);
	CU_ASSERT_EQUAL(eval_message("SENTON 2-Jan-2024"), SEARCH_NO);
	CU_ASSERT_EQUAL(eval_message("SENTBEFORE 2-Jan-2024"), SEARCH_YES);
	CU_ASSERT_EQUAL(eval_message("SENTBEFORE 1-Jan-2024"), SEARCH_NO);
	CU_ASSERT_EQUAL(eval_message("SENTSINCE 1-Jan-2024"), SEARCH_YES);
	CU_ASSERT_EQUAL(eval_message("SENTSINCE 2-Jan-2024"), SEARCH_NO);
}

static void test_search_modseq_is_at_least_the_value(void)
{
	CU_ASSERT_SEARCH("MODSEQ 9", "3 5 6");
	CU_ASSERT_SEARCH("MODSEQ 0", "1 2 3 4 5 6");
	CU_ASSERT_SEARCH("MODSEQ 13", "");
	CU_ASSERT_SEARCH("MODSEQ \"/flags/\\\\Seen\" all 7 SEEN", "1 6");
	CU_ASSERT_SEARCH("NOT MODSEQ \"/flags/$Junk\" priv 4", "2 4");
	CU_ASSERT_SEARCH("OR MODSEQ 12 UID 40", "3 4 6");

	struct search_node *root;
	CU_ASSERT_EQUAL_FATAL(parse("SEEN (OR DRAFT MODSEQ 5)", &root), 0);
	CU_ASSERT_TRUE(search_has_modseq(root));
	CU_ASSERT_EQUAL_FATAL(parse("SEEN (OR DRAFT UID 5)", &root), 0);
	CU_ASSERT_FALSE(search_has_modseq(root));

	assert_bad("MODSEQ");
	assert_bad("MODSEQ x");
	assert_bad("MODSEQ -1");
	assert_bad("MODSEQ 01");
	assert_bad("MODSEQ 9223372036854775808");
	assert_bad("MODSEQ \"/other/x\" all 1");
	assert_bad("MODSEQ \"/flags/\\\\Seen\" everyone 1");
	assert_bad("MODSEQ \"/flags/\\\\Seen\" all");
}

static void test_search_dollar_is_the_saved_uids(void)
{
	struct seqset saved;
	seqset_init(&saved, search_test_pool);
	CU_ASSERT_EQUAL_FATAL(seqset_add(&saved, 20, 20), 0);
	CU_ASSERT_EQUAL_FATAL(seqset_add(&saved, 40, 55), 0);
	CU_ASSERT_EQUAL_FATAL(seqset_add(&saved, 70, 70), 0);
	seqset_resolve(&saved, 0);
	search_test_saved = &saved;
	/* As a sequence set or after UID, `$` names the same messages: by their UIDs. */
	CU_ASSERT_SEARCH("$", "2 4 5");
	CU_ASSERT_SEARCH("UID $", "2 4 5");
	CU_ASSERT_SEARCH("$ SEEN", "2");
	CU_ASSERT_SEARCH("NOT $", "1 3 6");
	struct seqset empty;
	seqset_init(&empty, search_test_pool);
	seqset_resolve(&empty, 0);
	search_test_saved = &empty;
	CU_ASSERT_SEARCH("$", "");
	search_test_saved = NULL;
	CU_ASSERT_SEARCH("OR $ 1", "1");
}

static CU_TestInfo search_tests[] = {
    {"every RFC 3501 key parses", test_search_every_rfc3501_key_parses},
    {"flag keys match the view", test_search_flag_keys_match_the_view},
    {"NEW is RECENT UNSEEN, OLD is NOT RECENT",
     test_search_new_is_recent_and_unseen_old_is_not_recent},
    {"keywords ignore case", test_search_keywords_ignore_case},
    {"sequence and UID sets", test_search_sequence_and_uid_sets},
    {"OR, NOT and parentheses nest", test_search_or_not_and_parentheses_nest},
    {"bad input is BAD with a sentence", test_search_bad_input_is_bad_with_a_sentence},
    {"nesting and size are bounded", test_search_nesting_and_size_are_bounded},
    {"CHARSET: UTF-8 and US-ASCII only", test_search_charset_utf8_and_ascii_only},
    {"cheap keys run first and decide alone", test_search_cheap_keys_run_first_and_decide_alone},
    {"INTERNALDATE compared in its own zone",
     test_search_internal_date_is_compared_in_its_own_zone},
    {"LARGER and SMALLER are strict", test_search_larger_and_smaller_are_strict},
    {"header and body keys match decoded text",
     test_search_header_and_body_keys_match_decoded_text},
    {"SENT* use the sender's day", test_search_sent_dates_use_the_senders_day},
    {"MODSEQ is at least the value", test_search_modseq_is_at_least_the_value},
    {"$ is the saved UIDs", test_search_dollar_is_the_saved_uids},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo search_suites[] = {
    {"search", search_test_setup, search_test_teardown, NULL, NULL, search_tests},
    CU_SUITE_INFO_NULL,
};
