/*
 * Unit tests for core/mail/date.c: RFC 5322 dates with their obsolete forms, named and
 * numeric zones, and the values that must be refused. Expected times were computed with
 * Python's calendar.timegm().
 */
#include <CUnit/CUnit.h>
#include <string.h>
#include <time.h>

#include "mail/date.h"

static void check(const char *s, long long want, int want_tz)
{
	time_t t = 0;
	int tz = 12345;
	int r = mail_date_parse(s, strlen(s), &t, &tz);
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_EQUAL((long long)t, want);
	CU_ASSERT_EQUAL(tz, want_tz);
}

static void test_rfc5322_dates(void)
{
	check("Fri, 4 May 2001 14:05:44 -0400", 988999544, -240);
	check("Tue, 22 Dec 1998 16:55:06 -0500", 914363706, -300);
	check("Fri, 20 Apr 2001 20:18:00 -0400 (EDT)", 987812280, -240);
	check("Tue, 29 Feb 2000 12:00:00 -0130", 951831000, -90);
	check("Thu, 1 Jan 1960 00:00:00 +0000", -315619200, 0);
	check("Sat, 31 Dec 2016 23:59:60 +0000", 1483228800, 0);
}

static void test_obsolete_and_lenient_forms(void)
{
	/* No day of week, no seconds, extra whitespace and comments. */
	check("  4   May  2001  14:05  +0000 ", 988985100, 0);
	check("(c) Fri (x) ,4 (y) May 2001 14 : 05 : 44 (z) -0400 (EDT)", 988999544, -240);
	check("Fri 4 may 2001 14:05:44 -0400", 988999544, -240);
	check("4 MAYO 2001 14:05:44 -0400", 988999544, -240);
	check("4-May-2001 14:05:44 -0400", 988999544, -240);
	/* Two- and three-digit years. */
	check("1 Jan 99 00:00:00 GMT", 915148800, 0);
	check("1 Jan 49 00:00:00 UT", 2493072000LL, 0);
	check("1 Jan 101 00:00:00 +0000", 978307200, 0);
	/* Named, military, unknown and missing zones. */
	check("Wed, 4 Jul 2001 12:00:00 PDT", 994273200, -420);
	check("Wed, 4 Jul 2001 12:00:00 pdt", 994273200, -420);
	check("Wed, 4 Jul 2001 19:00:00 Z", 994273200, 0);
	check("Wed, 4 Jul 2001 19:00:00 A", 994273200, 0);
	check("Wed, 4 Jul 2001 19:00:00 XYZT", 994273200, 0);
	check("Wed, 4 Jul 2001 19:00:00", 994273200, 0);
	/* asctime() order. */
	check("Fri Jan  5 10:00:00 2001", 978688800, 0);
}

static void test_invalid_dates_are_refused(void)
{
	static const char *const bad[] = {
	    "",
	    "garbage",
	    "Fri, 31 Apr 2001 10:00:00 +0000",
	    "29 Feb 2001 10:00:00 +0000",
	    "0 Jan 2001 10:00:00 +0000",
	    "1 Jan 2001 24:00:00 +0000",
	    "1 Jan 2001 10:60 +0000",
	    "1 Jan 2001 10:00:61 +0000",
	    "1 Jan 2001 10:00 +0160",
	    "1 Jan 2001 10:00 +01",
	    "1 Foo 2001 10:00 +0000",
	    "1 Jan 2001",
	    "123 Jan 2001 10:00 +0000",
	    "1 Jan 7 10:00 +0000",
	    "1 Jan 2001 10:",
	    "Fri, (unterminated comment",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		time_t t;
		CU_ASSERT_EQUAL(mail_date_parse(bad[i], strlen(bad[i]), &t, NULL), 1);
	}
}

static CU_TestInfo mail_date_tests[] = {
    {"RFC 5322 dates", test_rfc5322_dates},
    {"obsolete and lenient forms", test_obsolete_and_lenient_forms},
    {"invalid dates are refused", test_invalid_dates_are_refused},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mail_date_suites[] = {
    {"mail_date", NULL, NULL, NULL, NULL, mail_date_tests},
    CU_SUITE_INFO_NULL,
};
