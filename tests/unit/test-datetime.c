/*
 * Unit tests for core/imap/datetime.c: RFC 3501 date-time and date parsing at the calendar's
 * edges (leap days, 1970, 2038, 9999), zone handling including -0000, rejection of
 * out-of-range fields, and INTERNALDATE formatting that parses back to the same instant.
 */
#include <CUnit/CUnit.h>
#include <locale.h>
#include <stdint.h>
#include <string.h>

#include "imap/datetime.h"

static void dt_assert(const char *text, int64_t expect_t, int expect_zone)
{
	time_t t = 12345;
	int zone = 999;
	struct sluice_error err = SLUICE_ERROR_INIT;
	int ret = imap_datetime_parse(text, &t, &zone, &err);
	CU_ASSERT_EQUAL(ret, 0);
	if (ret != 0)
		return;
	CU_ASSERT_EQUAL((int64_t)t, expect_t);
	CU_ASSERT_EQUAL(zone, expect_zone);
}

static void dt_assert_bad(const char *text)
{
	time_t t = 12345;
	int zone = 999;
	struct sluice_error err = SLUICE_ERROR_INIT;
	CU_ASSERT_EQUAL(imap_datetime_parse(text, &t, &zone, &err), SLUICE_E_PARSE);
	CU_ASSERT(strlen(err.msg) > 10);
	/* A refused value leaves the outputs alone. */
	CU_ASSERT_EQUAL((int64_t)t, 12345);
	CU_ASSERT_EQUAL(zone, 999);
}

static void date_assert(const char *text, int64_t expect_day)
{
	int64_t day = -424242;
	CU_ASSERT_EQUAL(imap_date_parse(text, &day, NULL), 0);
	CU_ASSERT_EQUAL(day, expect_day);
}

static void date_assert_bad(const char *text)
{
	int64_t day = -424242;
	struct sluice_error err = SLUICE_ERROR_INIT;
	CU_ASSERT_EQUAL(imap_date_parse(text, &day, &err), SLUICE_E_PARSE);
	CU_ASSERT(strlen(err.msg) > 10);
	CU_ASSERT_EQUAL(day, -424242);
}

static void test_datetime_rfc3501_example(void)
{
	dt_assert("17-Jul-1996 02:44:25 -0700", 837596665, -420);
}

static void test_datetime_space_padded_day(void)
{
	dt_assert(" 1-Jan-2024 00:00:00 +0000", 1704067200, 0);
	dt_assert("01-Jan-2024 00:00:00 +0000", 1704067200, 0);
	/* A one-digit day without its space is not date-day-fixed. */
	dt_assert_bad("1-Jan-2024 00:00:00 +0000");
	dt_assert_bad("  -Jan-2024 00:00:00 +0000");
	dt_assert_bad(" a-Jan-2024 00:00:00 +0000");
}

static void test_datetime_epoch_2038_and_9999_edges(void)
{
	dt_assert("01-Jan-1970 00:00:00 +0000", 0, 0);
	dt_assert("31-Dec-1969 23:59:59 +0000", -1, 0);
	dt_assert("01-Jan-1970 01:00:00 +0100", 0, 60);
	dt_assert("19-Jan-2038 03:14:07 +0000", 2147483647, 0);
	dt_assert("19-Jan-2038 03:14:08 +0000", 2147483648LL, 0);
	dt_assert("31-Dec-9999 23:59:59 +0000", 253402300799LL, 0);
	dt_assert("31-Dec-9999 23:59:59 -1400", 253402300799LL + 14 * 3600, -840);
	dt_assert("01-Jan-0001 00:00:00 +0000", -719162LL * 86400, 0);
}

static void test_datetime_leap_days(void)
{
	dt_assert("29-Feb-2024 12:00:00 +0000", 1709208000, 0);
	dt_assert("29-Feb-2000 00:00:00 +0000", (int64_t)imap_days_from_civil(2000, 2, 29) * 86400,
	          0);
	dt_assert_bad("29-Feb-2023 00:00:00 +0000");
	dt_assert_bad("29-Feb-1900 00:00:00 +0000");
	dt_assert_bad("29-Feb-2100 00:00:00 +0000");
	dt_assert_bad("30-Feb-2024 00:00:00 +0000");
	dt_assert_bad("31-Apr-2024 00:00:00 +0000");
	dt_assert_bad("31-Jun-2024 00:00:00 +0000");
	dt_assert_bad("00-Jan-2024 00:00:00 +0000");
	dt_assert_bad("32-Jan-2024 00:00:00 +0000");
	dt_assert("31-Dec-2024 00:00:00 +0000", (int64_t)imap_days_from_civil(2024, 12, 31) * 86400,
	          0);
}

static void test_datetime_month_names_ignore_case(void)
{
	dt_assert("17-jul-1996 02:44:25 -0700", 837596665, -420);
	dt_assert("17-JUL-1996 02:44:25 -0700", 837596665, -420);
	dt_assert("17-jUl-1996 02:44:25 -0700", 837596665, -420);
	dt_assert_bad("17-Jly-1996 02:44:25 -0700");
	dt_assert_bad("17-Ju1-1996 02:44:25 -0700");
	dt_assert_bad("17-July-1996 02:44:25 -0700");
	dt_assert_bad("17-   -1996 02:44:25 -0700");
	dt_assert_bad("17-7-1996 02:44:25 -0700");
}

static void test_datetime_time_fields_in_range(void)
{
	dt_assert("01-Jan-2024 23:59:59 +0000", 1704067200 + 86399, 0);
	dt_assert_bad("01-Jan-2024 24:00:00 +0000");
	dt_assert_bad("01-Jan-2024 00:60:00 +0000");
	dt_assert_bad("01-Jan-2024 00:00:61 +0000");
	dt_assert_bad("01-Jan-2024 99:00:00 +0000");
}

static void test_datetime_leap_second_is_accepted(void)
{
	dt_assert("31-Dec-2016 23:59:60 +0000", 1483228800, 0);
}

static void test_datetime_zones(void)
{
	dt_assert("01-Jan-2024 00:00:00 -0000", 1704067200, 0);
	dt_assert("01-Jan-2024 14:00:00 +1400", 1704067200, 840);
	dt_assert("31-Dec-2023 10:00:00 -1400", 1704067200, -840);
	dt_assert("01-Jan-2024 05:30:00 +0530", 1704067200, 330);
	dt_assert("31-Dec-2023 20:15:00 -0345", 1704067200, -225);
	dt_assert_bad("01-Jan-2024 00:00:00 +1401");
	dt_assert_bad("01-Jan-2024 00:00:00 -1500");
	dt_assert_bad("01-Jan-2024 00:00:00 +0060");
	dt_assert_bad("01-Jan-2024 00:00:00 0000");
	dt_assert_bad("01-Jan-2024 00:00:00 +000");
	dt_assert_bad("01-Jan-2024 00:00:00 +00000");
	dt_assert_bad("01-Jan-2024 00:00:00 UTC");
	dt_assert_bad("01-Jan-2024 00:00:00 GMT+1");
}

static void test_datetime_malformed_text_is_bad(void)
{
	static const char *const bad[] = {
	    "",
	    "17-Jul-1996",
	    "17-Jul-96 02:44:25 -0700",
	    "17-Jul-1996 02:44 -0700",
	    "17-Jul-1996 2:44:25 -0700",
	    "17-Jul-1996T02:44:25 -0700",
	    "17-Jul-1996  02:44:25 -0700",
	    "17-Jul-1996\t02:44:25 -0700",
	    "17/Jul/1996 02:44:25 -0700",
	    "\"17-Jul-1996 02:44:25 -0700\"",
	    "17-Jul-1996 02:44:25 -0700 ",
	    " 17-Jul-1996 02:44:25 -0700",
	    "17-Jul-1996 02.44.25 -0700",
	    "17-Jul-1996 02:44:25 -07:00",
	    "17-Jul-+996 02:44:25 -0700",
	    "17-Jul-1996 02:44:25 -0700\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		dt_assert_bad(bad[i]);
}

static void test_date_parses_one_or_two_digit_days(void)
{
	date_assert("1-Feb-1994", imap_days_from_civil(1994, 2, 1));
	date_assert("01-Feb-1994", imap_days_from_civil(1994, 2, 1));
	date_assert("1-feb-1994", imap_days_from_civil(1994, 2, 1));
	date_assert("1-Jan-1970", 0);
	date_assert("31-Dec-1969", -1);
	date_assert("29-Feb-2024", imap_days_from_civil(2024, 2, 29));
	date_assert("31-Dec-9999", imap_days_from_civil(9999, 12, 31));
}

static void test_date_malformed_text_is_bad(void)
{
	static const char *const bad[] = {
	    "",
	    "001-Feb-1994",
	    " 1-Feb-1994",
	    "1-Feb-1994 ",
	    "1-Feb-94",
	    "1-Feb-19940",
	    "30-Feb-1994",
	    "0-Feb-1994",
	    "1-Fev-1994",
	    "1 Feb 1994",
	    "1-Feb-",
	    "1-Feb",
	    "-Feb-1994",
	    "1-Feb-1994\"",
	    "1-Feb-1994 00:00:00",
	    "29-Feb-2023",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		date_assert_bad(bad[i]);
}

static void dt_assert_format(int64_t t, int zone, const char *expect)
{
	char out[IMAP_DATETIME_LEN + 1];
	memset(out, 'x', sizeof(out));
	imap_datetime_format((time_t)t, zone, out);
	CU_ASSERT_STRING_EQUAL(out, expect);
}

static void test_datetime_format_internaldate(void)
{
	dt_assert_format(837596665, -420, "17-Jul-1996 02:44:25 -0700");
	dt_assert_format(0, 0, "01-Jan-1970 00:00:00 +0000");
	dt_assert_format(-1, 0, "31-Dec-1969 23:59:59 +0000");
	dt_assert_format(1704067200, 330, "01-Jan-2024 05:30:00 +0530");
	dt_assert_format(1704067200, -225, "31-Dec-2023 20:15:00 -0345");
	dt_assert_format(1709208000, 0, "29-Feb-2024 12:00:00 +0000");
	dt_assert_format(2147483648LL, 0, "19-Jan-2038 03:14:08 +0000");
	dt_assert_format(253402300799LL, 0, "31-Dec-9999 23:59:59 +0000");
}

static void test_datetime_format_clamps_what_four_digits_cannot_show(void)
{
	dt_assert_format(253402300800LL, 0, "31-Dec-9999 23:59:59 +0000");
	dt_assert_format(INT64_MAX, 60, "31-Dec-9999 23:59:59 +0100");
	dt_assert_format(INT64_MIN, -60, "01-Jan-0000 00:00:00 -0100");
	/* An impossible zone is shown as UTC rather than as a malformed offset. */
	dt_assert_format(0, 100000, "01-Jan-1970 00:00:00 +0000");
	dt_assert_format(0, -841, "01-Jan-1970 00:00:00 +0000");
}

static void test_datetime_format_parses_back_to_the_same_instant(void)
{
	uint64_t rng = 88172645463325252ULL;
	const int64_t lo = -62135596800LL + 86400, hi = 253402300799LL - 86400;
	for (int i = 0; i < 20000; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		int64_t t = lo + (int64_t)(rng % (uint64_t)(hi - lo));
		int zone =
		    (int)((rng >> 40) % (2 * IMAP_ZONE_MAX_MINUTES + 1)) - IMAP_ZONE_MAX_MINUTES;
		char out[IMAP_DATETIME_LEN + 1];
		time_t back;
		int back_zone;
		imap_datetime_format((time_t)t, zone, out);
		if (imap_datetime_parse(out, &back, &back_zone, NULL) != 0 || (int64_t)back != t ||
		    back_zone != zone) {
			CU_FAIL("a formatted date-time did not parse back to its instant");
			break;
		}
	}
}

static void test_days_from_civil_agrees_with_civil_from_days(void)
{
	CU_ASSERT_EQUAL(imap_days_from_civil(1970, 1, 1), 0);
	CU_ASSERT_EQUAL(imap_days_from_civil(2000, 3, 1), 11017);
	CU_ASSERT_EQUAL(imap_days_from_civil(1, 1, 1), -719162);
	int64_t prev_y = 0;
	unsigned prev_m = 0, prev_d = 0;
	for (int64_t d = -800000; d <= 3000000; d += 1) {
		int64_t y;
		unsigned m, day;
		imap_civil_from_days(d, &y, &m, &day);
		if (imap_days_from_civil(y, m, day) != d || m < 1 || m > 12 || day < 1 ||
		    day > 31) {
			CU_FAIL("civil_from_days and days_from_civil disagree");
			break;
		}
		/* Consecutive days either advance the day or start a month at 1. */
		if (d > -800000 && !(day == prev_d + 1 && m == prev_m && y == prev_y) && day != 1) {
			CU_FAIL("days are not consecutive");
			break;
		}
		prev_y = y;
		prev_m = m;
		prev_d = day;
	}
}

static void test_datetime_day_uses_the_local_calendar(void)
{
	CU_ASSERT_EQUAL(imap_datetime_day(0, 0), 0);
	CU_ASSERT_EQUAL(imap_datetime_day(0, -60), -1);
	CU_ASSERT_EQUAL(imap_datetime_day(86399, 0), 0);
	CU_ASSERT_EQUAL(imap_datetime_day(86399, 1), 1);
	CU_ASSERT_EQUAL(imap_datetime_day(-1, 0), -1);
	/* 17-Jul-1996 02:44:25 -0700 is 17 July locally, 17 July in UTC too. */
	CU_ASSERT_EQUAL(imap_datetime_day(837596665, -420), imap_days_from_civil(1996, 7, 17));
	/* 01-Jan-2024 05:30:00 +0530 is 1 January locally but 31 December in UTC. */
	CU_ASSERT_EQUAL(imap_datetime_day(1704067200 - 1, 330), imap_days_from_civil(2024, 1, 1));
}

static void test_datetime_ignores_the_locale(void)
{
	char out[IMAP_DATETIME_LEN + 1];
	const char *old = setlocale(LC_ALL, NULL);
	char saved[64] = "C";
	if (old != NULL && strlen(old) < sizeof(saved))
		strcpy(saved, old);
	/* Turkish folds 'I' differently; if the locale is missing the test still holds. */
	setlocale(LC_ALL, "tr_TR.UTF-8");
	dt_assert("17-JUL-1996 02:44:25 -0700", 837596665, -420);
	imap_datetime_format(837596665, -420, out);
	CU_ASSERT_STRING_EQUAL(out, "17-Jul-1996 02:44:25 -0700");
	setlocale(LC_ALL, saved);
}

static CU_TestInfo datetime_tests[] = {
    {"RFC 3501 example", test_datetime_rfc3501_example},
    {"space-padded day", test_datetime_space_padded_day},
    {"1970, 2038 and 9999 edges", test_datetime_epoch_2038_and_9999_edges},
    {"leap days", test_datetime_leap_days},
    {"month names ignore case", test_datetime_month_names_ignore_case},
    {"time fields in range", test_datetime_time_fields_in_range},
    {"leap second accepted", test_datetime_leap_second_is_accepted},
    {"zones, -0000 included", test_datetime_zones},
    {"malformed date-time is BAD", test_datetime_malformed_text_is_bad},
    {"date with one or two digit day", test_date_parses_one_or_two_digit_days},
    {"malformed date is BAD", test_date_malformed_text_is_bad},
    {"INTERNALDATE formatting", test_datetime_format_internaldate},
    {"format clamps what four digits cannot show",
     test_datetime_format_clamps_what_four_digits_cannot_show},
    {"format parses back to the same instant",
     test_datetime_format_parses_back_to_the_same_instant},
    {"days_from_civil agrees with civil_from_days",
     test_days_from_civil_agrees_with_civil_from_days},
    {"day uses the local calendar", test_datetime_day_uses_the_local_calendar},
    {"locale is ignored", test_datetime_ignores_the_locale},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo datetime_suites[] = {
    {"datetime", NULL, NULL, NULL, NULL, datetime_tests},
    CU_SUITE_INFO_NULL,
};
