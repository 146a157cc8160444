/*
 * Unit tests for core/imap/seqset.c: the sequence-set grammar of RFC 3501 with its edges
 * (nz-numbers only, 4294967295 as the largest, `*` and `$`), resolution of `*` including the
 * empty mailbox, normalisation, lookups on large sets, and the compact writer.
 */
#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/seqset.h"
#include "util/buffer.h"
#include "util/pool.h"

static struct sluice_pool *seqset_test_pool;

static int seqset_test_setup(void)
{
	seqset_test_pool = pool_create(4096, 0);
	return seqset_test_pool == NULL;
}

static int seqset_test_teardown(void)
{
	pool_destroy(&seqset_test_pool);
	return 0;
}

/* Parses and resolves @p text, then writes the set back; "BAD" when parsing fails. */
static const char *seqset_roundtrip(const char *text, uint32_t star, char *out, size_t out_len)
{
	struct seqset set;
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct buf b = {0};

	pool_clear(seqset_test_pool);
	if (seqset_parse(text, &set, seqset_test_pool, &err) != 0) {
		snprintf(out, out_len, "BAD");
		return out;
	}
	seqset_resolve(&set, star);
	CU_ASSERT_EQUAL(seqset_write_set(&b, &set), 0);
	snprintf(out, out_len, "%.*s", (int)buf_len(&b), (const char *)buf_head(&b));
	buf_free(&b);
	return out;
}

#define CU_ASSERT_SET(text, star, expect)                                                          \
	do {                                                                                       \
		char got_[256];                                                                    \
		CU_ASSERT_STRING_EQUAL(seqset_roundtrip(text, star, got_, sizeof(got_)), expect);  \
	} while (0)

/* Asserts that @p text is refused with a sentence (for the tagged BAD). */
static void seqset_assert_bad(const char *text)
{
	struct seqset set;
	struct sluice_error err = SLUICE_ERROR_INIT;
	int ret = seqset_parse(text, &set, seqset_test_pool, &err);
	CU_ASSERT_EQUAL(ret, SLUICE_E_PARSE);
	CU_ASSERT_EQUAL(err.code, SLUICE_E_PARSE);
	size_t len = strlen(err.msg);
	CU_ASSERT(len > 10 && err.msg[len - 1] == '.');
	if (ret == 0)
		fprintf(stderr, "accepted: \"%s\"\n", text);
}

static void test_seqset_accepts_numbers_ranges_and_lists(void)
{
	CU_ASSERT_SET("1", 10, "1");
	CU_ASSERT_SET("1:5", 10, "1:5");
	CU_ASSERT_SET("2,4:7,9,12:*", 15, "2,4:7,9,12:15");
	CU_ASSERT_SET("1,3,5", 10, "1,3,5");
	CU_ASSERT_SET("4294967295", 10, "4294967295");
	CU_ASSERT_SET("1:4294967295", 10, "1:4294967295");
}

static void test_seqset_reversed_range_is_the_same_range(void)
{
	CU_ASSERT_SET("5:1", 10, "1:5");
	CU_ASSERT_SET("4294967295:4294967294", 10, "4294967294:4294967295");
}

static void test_seqset_star_takes_the_current_maximum(void)
{
	CU_ASSERT_SET("*", 42, "42");
	CU_ASSERT_SET("3:*", 42, "3:42");
	CU_ASSERT_SET("*:3", 42, "3:42");
	CU_ASSERT_SET("*:*", 42, "42");
	CU_ASSERT_SET("1:*", 1, "1");
}

static void test_seqset_star_below_start_swaps_the_range(void)
{
	/* RFC 3501: with UIDs, 5:* when the highest UID is 3 means 3:5. */
	CU_ASSERT_SET("5:*", 3, "3:5");
	CU_ASSERT_SET("*:5", 3, "3:5");
}

static void test_seqset_star_in_empty_mailbox_is_reported(void)
{
	struct seqset set;
	CU_ASSERT_EQUAL_FATAL(seqset_parse("1:*", &set, seqset_test_pool, NULL), 0);
	CU_ASSERT(set.has_star);
	CU_ASSERT_EQUAL(seqset_resolve(&set, 0), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(set.count, 0);
	CU_ASSERT_FALSE(seqset_contains(&set, 1));
	CU_ASSERT_EQUAL(seqset_count(&set), 0);

	/* The ranges without `*` survive, so a UID command still sees them. */
	CU_ASSERT_EQUAL_FATAL(seqset_parse("7,2:*,9", &set, seqset_test_pool, NULL), 0);
	CU_ASSERT_EQUAL(seqset_resolve(&set, 0), SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(seqset_count(&set), 2);
	CU_ASSERT(seqset_contains(&set, 7));
	CU_ASSERT(seqset_contains(&set, 9));

	/* A set without `*` resolves normally against an empty mailbox. */
	CU_ASSERT_EQUAL_FATAL(seqset_parse("1:3", &set, seqset_test_pool, NULL), 0);
	CU_ASSERT_EQUAL(seqset_resolve(&set, 0), 0);
	CU_ASSERT_EQUAL(seqset_max(&set), 3);
}

static void test_seqset_dollar_is_reported_for_substitution(void)
{
	struct seqset set;
	CU_ASSERT_EQUAL_FATAL(seqset_parse("$", &set, seqset_test_pool, NULL), 0);
	CU_ASSERT(set.saved);
	CU_ASSERT_EQUAL(set.count, 0);
	seqset_assert_bad("$,1");
	seqset_assert_bad("1,$");
	seqset_assert_bad("1:$");
	seqset_assert_bad("$$");
	seqset_assert_bad("$:*");
}

static void test_seqset_zero_is_bad(void)
{
	seqset_assert_bad("0");
	seqset_assert_bad("0:5");
	seqset_assert_bad("5:0");
	seqset_assert_bad("1,0");
	seqset_assert_bad("0:*");
}

static void test_seqset_number_past_32_bits_is_bad(void)
{
	seqset_assert_bad("4294967296");
	seqset_assert_bad("1:4294967296");
	seqset_assert_bad("99999999999999999999999999999");
	seqset_assert_bad("18446744073709551617");
}

static void test_seqset_leading_zeros_are_bad(void)
{
	seqset_assert_bad("01");
	seqset_assert_bad("1:007");
	seqset_assert_bad("00");
}

static void test_seqset_malformed_text_is_bad(void)
{
	static const char *const bad[] = {
	    "",     "1,,2",  "1:", ":1",  "1:2:3", ",1",   "1,",   " 1",    "1 ",
	    "1, 2", "1 2",   "a",  "1-3", "*1",    "1*",   "**",   "-1",    "+1",
	    "1:-2", "1::2",  "::", ",",   ":",     "1.5",  "1;2",  "1\t2",  "\x80",
	    "(1)",  "1:*:2", "*,", "1e3", "0x10",  "1,*,", "1,:2", "\"1\"", "1\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		seqset_assert_bad(bad[i]);
}

static void test_seqset_error_sentence_names_the_problem(void)
{
	struct seqset set;
	struct sluice_error err = SLUICE_ERROR_INIT;
	CU_ASSERT_EQUAL(seqset_parse("1, 2", &set, seqset_test_pool, &err), SLUICE_E_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "space"));
	CU_ASSERT_EQUAL(seqset_parse("4294967296", &set, seqset_test_pool, &err), SLUICE_E_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "4294967295"));
	CU_ASSERT_EQUAL(seqset_parse("0", &set, seqset_test_pool, &err), SLUICE_E_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "0 is not valid"));
	/* Control bytes are described, not echoed into the response line. */
	CU_ASSERT_EQUAL(seqset_parse("1\r", &set, seqset_test_pool, &err), SLUICE_E_PARSE);
	CU_ASSERT_PTR_NULL(strchr(err.msg, '\r'));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "0x0D"));
}

static void test_seqset_overlapping_and_adjacent_ranges_merge(void)
{
	CU_ASSERT_SET("1,2,3", 10, "1:3");
	CU_ASSERT_SET("1:3,2:6,8,7", 10, "1:8");
	CU_ASSERT_SET("9,1,5,3", 10, "1,3,5,9");
	CU_ASSERT_SET("10:20,1:30", 100, "1:30");
	CU_ASSERT_SET("5,5,5", 10, "5");
	CU_ASSERT_SET("4294967295,4294967294,1", 10, "1,4294967294:4294967295");
	CU_ASSERT_SET("*,1:*", 4294967295u, "1:4294967295");
}

static void test_seqset_lookups_count_and_bounds(void)
{
	struct seqset set;
	CU_ASSERT_EQUAL_FATAL(seqset_parse("10:20,30,40:*", &set, seqset_test_pool, NULL), 0);
	CU_ASSERT_EQUAL(seqset_resolve(&set, 45), 0);
	CU_ASSERT_FALSE(seqset_contains(&set, 9));
	CU_ASSERT(seqset_contains(&set, 10));
	CU_ASSERT(seqset_contains(&set, 20));
	CU_ASSERT_FALSE(seqset_contains(&set, 21));
	CU_ASSERT(seqset_contains(&set, 30));
	CU_ASSERT_FALSE(seqset_contains(&set, 31));
	CU_ASSERT(seqset_contains(&set, 45));
	CU_ASSERT_FALSE(seqset_contains(&set, 46));
	CU_ASSERT_FALSE(seqset_contains(&set, 0));
	CU_ASSERT_EQUAL(seqset_count(&set), 11 + 1 + 6);
	CU_ASSERT_EQUAL(seqset_min(&set), 10);
	CU_ASSERT_EQUAL(seqset_max(&set), 45);

	CU_ASSERT_EQUAL_FATAL(seqset_parse("1:*", &set, seqset_test_pool, NULL), 0);
	seqset_resolve(&set, UINT32_MAX);
	CU_ASSERT_EQUAL(seqset_count(&set), UINT32_MAX);
	CU_ASSERT(seqset_contains(&set, UINT32_MAX));
}

static void test_seqset_unresolved_set_matches_nothing(void)
{
	struct seqset set;
	CU_ASSERT_EQUAL_FATAL(seqset_parse("1:5", &set, seqset_test_pool, NULL), 0);
	CU_ASSERT_FALSE(seqset_contains(&set, 3));
	CU_ASSERT_EQUAL(seqset_count(&set), 0);
}

static void test_seqset_clamp_drops_numbers_past_the_highest_uid(void)
{
	struct seqset set;
	char out[64];
	struct buf b = {0};
	CU_ASSERT_EQUAL_FATAL(seqset_parse("1:3,10:20,30,4000000000", &set, seqset_test_pool, NULL),
	                      0);
	seqset_resolve(&set, 50);
	seqset_clamp(&set, 15);
	CU_ASSERT_EQUAL(seqset_write_set(&b, &set), 0);
	snprintf(out, sizeof(out), "%.*s", (int)buf_len(&b), (const char *)buf_head(&b));
	CU_ASSERT_STRING_EQUAL(out, "1:3,10:15");
	seqset_clamp(&set, 5);
	CU_ASSERT_EQUAL(seqset_max(&set), 3);
	seqset_clamp(&set, 0);
	CU_ASSERT_EQUAL(set.count, 0);
	buf_free(&b);
}

static void test_seqset_iteration_is_ascending_and_ends_at_the_top(void)
{
	struct seqset set;
	struct seqset_iter it;
	uint32_t n, got[8];
	size_t k = 0;
	CU_ASSERT_EQUAL_FATAL(seqset_parse("*:4294967293,7,3:2", &set, seqset_test_pool, NULL), 0);
	seqset_resolve(&set, UINT32_MAX);
	seqset_iter_init(&it, &set);
	while (k < 8 && seqset_iter_next(&it, &n))
		got[k++] = n;
	CU_ASSERT_EQUAL_FATAL(k, 6);
	CU_ASSERT_EQUAL(got[0], 2);
	CU_ASSERT_EQUAL(got[1], 3);
	CU_ASSERT_EQUAL(got[2], 7);
	CU_ASSERT_EQUAL(got[3], 4294967293u);
	CU_ASSERT_EQUAL(got[5], 4294967295u);
	CU_ASSERT_FALSE(seqset_iter_next(&it, &n));
}

static void test_seqset_built_from_numbers_resolves_like_parsed(void)
{
	struct seqset set;
	seqset_init(&set, seqset_test_pool);
	for (uint32_t i = 100; i > 0; i--)
		CU_ASSERT_EQUAL(seqset_add(&set, i * 2, i * 2), 0);
	CU_ASSERT_EQUAL(seqset_add(&set, SEQSET_STAR, 150), 0);
	CU_ASSERT(set.has_star);
	CU_ASSERT_EQUAL(seqset_resolve(&set, 160), 0);
	/* 100 even numbers and 150..160, which holds six of them. */
	CU_ASSERT_EQUAL(seqset_count(&set), 100 + 11 - 6);
	CU_ASSERT(seqset_contains(&set, 151));
	CU_ASSERT_FALSE(seqset_contains(&set, 149));
	CU_ASSERT(seqset_contains(&set, 148));
}

static void test_seqset_add_set_copies_into_another_pool(void)
{
	struct sluice_pool *other = pool_create(256, 0);
	struct seqset saved, copy;
	CU_ASSERT_EQUAL_FATAL(seqset_parse("9,1:3,5", &saved, other, NULL), 0);
	seqset_resolve(&saved, 0);
	seqset_init(&copy, seqset_test_pool);
	CU_ASSERT_EQUAL(seqset_add_set(&copy, &saved), 0);
	CU_ASSERT_EQUAL(seqset_add_set(&copy, NULL), 0);
	pool_destroy(&other); /* the copy must not point into the saved set's pool */
	seqset_resolve(&copy, 0);
	CU_ASSERT_EQUAL(seqset_count(&copy), 5);
	CU_ASSERT(seqset_contains(&copy, 9) && seqset_contains(&copy, 2));
	CU_ASSERT_FALSE(seqset_contains(&copy, 4));
}

static void seqset_assert_written(const uint32_t *values, size_t n, const char *expect)
{
	struct buf b = {0};
	char out[256];
	CU_ASSERT_EQUAL(buf_append(&b, "[", 1), 0);
	CU_ASSERT_EQUAL(seqset_write(&b, values, n), 0);
	snprintf(out, sizeof(out), "%.*s", (int)buf_len(&b) - 1, (const char *)buf_head(&b) + 1);
	CU_ASSERT_STRING_EQUAL(out, expect);
	buf_free(&b);
}

static void test_seqset_writer_emits_compact_form(void)
{
	static const uint32_t a[] = {1, 2, 3, 7, 9, 10, 11, 12};
	static const uint32_t single[] = {42};
	static const uint32_t dups[] = {1, 1, 2, 2, 3, 5, 5};
	static const uint32_t top[] = {4294967294u, 4294967295u};
	static const uint32_t unsorted[] = {5, 6, 7, 2, 3, 10};
	seqset_assert_written(a, 8, "1:3,7,9:12");
	seqset_assert_written(single, 1, "42");
	seqset_assert_written(NULL, 0, "");
	seqset_assert_written(dups, 7, "1:3,5");
	seqset_assert_written(top, 2, "4294967294:4294967295");
	/* COPYUID pairs source and destination UIDs by position, so order is kept. */
	seqset_assert_written(unsorted, 6, "5:7,2:3,10");
}

static void test_seqset_written_text_parses_back(void)
{
	uint32_t values[1000];
	struct buf b = {0};
	struct seqset set;
	uint32_t x = 1;
	for (size_t i = 0; i < 1000; i++) {
		x += 1 + (uint32_t)((i * 7919) % 3 == 0 ? 5 : 0);
		values[i] = x;
	}
	CU_ASSERT_EQUAL(seqset_write(&b, values, 1000), 0);
	CU_ASSERT_EQUAL(buf_append(&b, "", 1), 0);
	CU_ASSERT_EQUAL_FATAL(
	    seqset_parse((const char *)buf_head(&b), &set, seqset_test_pool, NULL), 0);
	seqset_resolve(&set, x);
	CU_ASSERT_EQUAL(seqset_count(&set), 1000);
	for (size_t i = 0; i < 1000; i++)
		CU_ASSERT(seqset_contains(&set, values[i]));
	buf_free(&b);
}

/* 100,000 disjoint ranges in descending order: sorting must not be quadratic. */
static void test_seqset_handles_100000_ranges(void)
{
	enum { N = 100000 };
	struct buf b = {0};
	struct seqset set;
	for (uint32_t i = N; i > 0; i--)
		CU_ASSERT_FATAL(buf_printf(&b, "%s%u:%u", i == N ? "" : ",", i * 10, i * 10 + 3) ==
		                0);
	CU_ASSERT_EQUAL(buf_append(&b, "", 1), 0);
	CU_ASSERT_EQUAL_FATAL(
	    seqset_parse((const char *)buf_head(&b), &set, seqset_test_pool, NULL), 0);
	CU_ASSERT_EQUAL(set.count, N);
	CU_ASSERT_EQUAL(seqset_resolve(&set, N * 10 + 3), 0);
	CU_ASSERT_EQUAL(set.count, N);
	CU_ASSERT_EQUAL(seqset_count(&set), 4ull * N);
	for (uint32_t i = 1; i <= N; i++) {
		CU_ASSERT(seqset_contains(&set, i * 10 + 2));
		if (seqset_contains(&set, i * 10 + 5))
			CU_FAIL("a gap between ranges was matched");
	}
	CU_ASSERT_EQUAL(seqset_min(&set), 10);
	buf_free(&b);

	/* 100,000 single numbers that touch collapse into one range. */
	uint32_t *values = malloc(N * sizeof(*values));
	CU_ASSERT_PTR_NOT_NULL_FATAL(values);
	for (uint32_t i = 0; i < N; i++)
		values[i] = i + 1;
	memset(&b, 0, sizeof(b));
	seqset_init(&set, seqset_test_pool);
	for (uint32_t i = 0; i < N; i++)
		seqset_add(&set, values[N - 1 - i], values[N - 1 - i]);
	seqset_resolve(&set, N);
	CU_ASSERT_EQUAL(set.count, 1);
	CU_ASSERT_EQUAL(seqset_write(&b, values, N), 0);
	CU_ASSERT_EQUAL(buf_len(&b), strlen("1:100000"));
	buf_free(&b);
	free(values);
}

static void test_seqset_pool_cap_is_a_clean_failure(void)
{
	struct sluice_pool *small = pool_create(256, 1024);
	struct buf b = {0};
	struct seqset set;
	struct sluice_error err = SLUICE_ERROR_INIT;
	CU_ASSERT_PTR_NOT_NULL_FATAL(small);
	for (int i = 1; i <= 2000; i++)
		buf_printf(&b, "%s%d", i == 1 ? "" : ",", i * 2);
	buf_append(&b, "", 1);
	CU_ASSERT_EQUAL(seqset_parse((const char *)buf_head(&b), &set, small, &err),
	                SLUICE_E_NOMEM);
	CU_ASSERT(err.msg[0] != '\0');
	buf_free(&b);
	pool_destroy(&small);
}

static CU_TestInfo seqset_tests[] = {
    {"numbers, ranges and lists are accepted", test_seqset_accepts_numbers_ranges_and_lists},
    {"reversed range is the same range", test_seqset_reversed_range_is_the_same_range},
    {"star takes the current maximum", test_seqset_star_takes_the_current_maximum},
    {"star below the start swaps the range", test_seqset_star_below_start_swaps_the_range},
    {"star in an empty mailbox is reported", test_seqset_star_in_empty_mailbox_is_reported},
    {"dollar is reported for substitution", test_seqset_dollar_is_reported_for_substitution},
    {"zero is BAD", test_seqset_zero_is_bad},
    {"number past 32 bits is BAD", test_seqset_number_past_32_bits_is_bad},
    {"leading zeros are BAD", test_seqset_leading_zeros_are_bad},
    {"malformed text is BAD", test_seqset_malformed_text_is_bad},
    {"error sentence names the problem", test_seqset_error_sentence_names_the_problem},
    {"overlapping and adjacent ranges merge", test_seqset_overlapping_and_adjacent_ranges_merge},
    {"lookups, count and bounds", test_seqset_lookups_count_and_bounds},
    {"unresolved set matches nothing", test_seqset_unresolved_set_matches_nothing},
    {"clamp drops numbers past the highest UID",
     test_seqset_clamp_drops_numbers_past_the_highest_uid},
    {"iteration ascends and ends at 4294967295",
     test_seqset_iteration_is_ascending_and_ends_at_the_top},
    {"built set resolves like a parsed one", test_seqset_built_from_numbers_resolves_like_parsed},
    {"add_set copies into another pool", test_seqset_add_set_copies_into_another_pool},
    {"writer emits the compact form", test_seqset_writer_emits_compact_form},
    {"written text parses back", test_seqset_written_text_parses_back},
    {"100,000 ranges", test_seqset_handles_100000_ranges},
    {"pool cap is a clean failure", test_seqset_pool_cap_is_a_clean_failure},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo seqset_suites[] = {
    {"seqset", seqset_test_setup, seqset_test_teardown, NULL, NULL, seqset_tests},
    CU_SUITE_INFO_NULL,
};
