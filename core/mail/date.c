/*
 * RFC 5322 date parser (see date.h). It reads the value as a sequence of words and numbers
 * separated by whitespace and comments, which is how the obsolete syntax allows CFWS
 * nearly everywhere, and converts the calendar date with integer arithmetic rather than
 * timegm() so that the result does not depend on the C library or the environment.
 */
#include "mail/date.h"

#include <stdbool.h>
#include <stdint.h>

#include "mail/lex.h"

struct date_lex {
	const unsigned char *p, *end;
};

static void date_skip(struct date_lex *l)
{
	l->p = mail_lex_skip_cfws(l->p, l->end);
}

/* Reads 1 to @p max digits; returns the digit count (0 when there is no number). */
static int date_number(struct date_lex *l, int max, int *n_r)
{
	date_skip(l);
	int n = 0, digits = 0;
	while (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
		if (digits == max)
			return 0;
		n = n * 10 + (*l->p++ - '0');
		digits++;
	}
	*n_r = n;
	return digits;
}

/* Reads a run of letters into @p buf (lowercase, truncated to @p size - 1). */
static size_t date_word(struct date_lex *l, char *buf, size_t size)
{
	date_skip(l);
	size_t n = 0;
	while (l->p < l->end && ((*l->p | 0x20) >= 'a' && (*l->p | 0x20) <= 'z')) {
		if (n + 1 < size)
			buf[n++] = (char)mail_lex_lower(*l->p);
		l->p++;
	}
	buf[n] = '\0';
	return n;
}

static bool date_char(struct date_lex *l, char c)
{
	date_skip(l);
	if (l->p < l->end && *l->p == (unsigned char)c) {
		l->p++;
		return true;
	}
	return false;
}

static int date_month(const char *w)
{
	static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	if (w[0] == '\0' || w[1] == '\0' || w[2] == '\0')
		return 0;
	for (int i = 0; i < 12; i++) {
		if (w[0] == names[i * 3] && w[1] == names[i * 3 + 1] && w[2] == names[i * 3 + 2])
			return i + 1;
	}
	return 0;
}

static bool date_weekday(const char *w)
{
	static const char names[] = "monwedthufrisatsuntue";
	for (int i = 0; i < 7; i++) {
		if (w[0] == names[i * 3] && w[1] == names[i * 3 + 1] && w[2] == names[i * 3 + 2])
			return true;
	}
	return false;
}

static bool date_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to the given civil date (proleptic Gregorian). */
static int64_t date_days(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Named zones: RFC 5322 section 4.3; military letters and unknown names are +0000. */
static int date_named_zone(const char *w)
{
	static const struct {
		const char *name;
		int minutes;
	} zones[] = {
	    {"ut", 0},        {"gmt", 0},       {"utc", 0},       {"z", 0},
	    {"est", -5 * 60}, {"edt", -4 * 60}, {"cst", -6 * 60}, {"cdt", -5 * 60},
	    {"mst", -7 * 60}, {"mdt", -6 * 60}, {"pst", -8 * 60}, {"pdt", -7 * 60},
	};
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		const char *a = zones[i].name, *b = w;
		while (*a != '\0' && *a == *b)
			a++, b++;
		if (*a == '\0' && *b == '\0')
			return zones[i].minutes;
	}
	return 0;
}

/* time-of-day = hour ":" minute [ ":" second ] */
static bool date_time_of_day(struct date_lex *l, int *h, int *mi, int *s)
{
	*s = 0;
	if (date_number(l, 2, h) == 0 || !date_char(l, ':') || date_number(l, 2, mi) == 0)
		return false;
	struct date_lex save = *l;
	if (date_char(l, ':')) {
		if (date_number(l, 2, s) == 0)
			return false;
	} else {
		*l = save;
	}
	return *h <= 23 && *mi <= 59 && *s <= 60;
}

static int date_year(int y, int digits)
{
	if (digits == 2)
		return y < 50 ? 2000 + y : 1900 + y;
	if (digits == 3)
		return 1900 + y;
	return y;
}

int mail_date_parse(const char *s, size_t len, time_t *time_r, int *tz_min_r)
{
	struct date_lex l = {(const unsigned char *)s, (const unsigned char *)s + len};
	char w[16];
	int day = 0, month = 0, year = 0, h, mi, sec, digits;

	struct date_lex save = l;
	if (date_word(&l, w, sizeof(w)) > 0 && date_weekday(w)) {
		(void)date_char(&l, ',');
		save = l;
	}
	l = save;
	if (date_word(&l, w, sizeof(w)) > 0) {
		/* asctime order: month day time year */
		if ((month = date_month(w)) == 0 || date_number(&l, 2, &day) == 0)
			return 1;
		if (!date_time_of_day(&l, &h, &mi, &sec))
			return 1;
		if ((digits = date_number(&l, 4, &year)) < 2)
			return 1;
		year = date_year(year, digits);
	} else {
		l = save;
		if (date_number(&l, 2, &day) == 0)
			return 1;
		(void)date_char(&l, '-'); /* "5-Jan-2001", seen from old mailers */
		if (date_word(&l, w, sizeof(w)) < 3 || (month = date_month(w)) == 0)
			return 1;
		(void)date_char(&l, '-');
		if ((digits = date_number(&l, 9, &year)) < 2)
			return 1;
		year = date_year(year, digits);
		if (!date_time_of_day(&l, &h, &mi, &sec))
			return 1;
	}
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int dim = mdays[month - 1] + (month == 2 && date_leap(year));
	if (day < 1 || day > dim)
		return 1;

	int zone = 0;
	date_skip(&l);
	if (l.p < l.end && (*l.p == '+' || *l.p == '-')) {
		int sign = *l.p++ == '-' ? -1 : 1;
		int hhmm = 0, n = 0;
		while (l.p < l.end && *l.p >= '0' && *l.p <= '9' && n < 4) {
			hhmm = hhmm * 10 + (*l.p++ - '0');
			n++;
		}
		if (n != 4 || hhmm % 100 >= 60)
			return 1;
		zone = sign * (hhmm / 100 * 60 + hhmm % 100);
	} else if (date_word(&l, w, sizeof(w)) > 0) {
		zone = date_named_zone(w);
	}

	int64_t t = date_days(year, month, day) * 86400 + h * 3600 + mi * 60 + sec;
	t -= (int64_t)zone * 60;
	*time_r = (time_t)t;
	if (tz_min_r != NULL)
		*tz_min_r = zone;
	return 0;
}
