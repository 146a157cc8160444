/*
 * IMAP dates (see datetime.h). The day arithmetic is Howard Hinnant's days-from-civil
 * algorithm: it counts in 400-year eras of 146097 days with March as the first month, which
 * puts the leap day at the end of the year and makes every step plain integer division. The
 * parser reads fixed positions instead of using sscanf or strptime, both of which accept
 * more than RFC 3501 allows (signs, spaces, locale month names).
 */
#include "imap/datetime.h"

#include <stdbool.h>
#include <stddef.h>

static const char imap_months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Seconds of 0000-01-01 00:00:00 and 9999-12-31 23:59:59, the span four digits can show. */
#define IMAP_FIRST_SECOND (-62167219200LL)
#define IMAP_LAST_SECOND (253402300799LL)

int64_t imap_days_from_civil(int64_t year, unsigned month, unsigned day)
{
	int64_t y = year - (month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = month > 2 ? month - 3 : month + 9;
	int64_t doy = (153 * mp + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void imap_civil_from_days(int64_t days, int64_t *year_r, unsigned *month_r, unsigned *day_r)
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	unsigned month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*day_r = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*month_r = month;
	*year_r = yoe + era * 400 + (month <= 2);
}

static bool imap_is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned imap_month_days(int64_t year, unsigned month)
{
	static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return month == 2 && imap_is_leap(year) ? 29 : days[month - 1];
}

static bool imap_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads exactly @p n digits at @p p; false if any of them is not a digit. */
static bool imap_digits(const char *p, unsigned n, unsigned *value_r)
{
	unsigned v = 0;
	for (unsigned i = 0; i < n; i++) {
		if (!imap_digit(p[i]))
			return false;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	*value_r = v;
	return true;
}

static char imap_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Month number 1..12 of a three-letter name in any case, or 0. */
static unsigned imap_month(const char *p)
{
	for (unsigned m = 0; m < 12; m++) {
		if (imap_lower(p[0]) == imap_lower(imap_months[m][0]) &&
		    imap_lower(p[1]) == imap_lower(imap_months[m][1]) &&
		    imap_lower(p[2]) == imap_lower(imap_months[m][2]))
			return m + 1;
	}
	return 0;
}

static int imap_date_bad(struct sluice_error *err, const char *sentence)
{
	return sluice_error_set(err, SLUICE_E_PARSE, NULL, "%s", sentence);
}

/*
 * Reads "-Mon-yyyy" at @p p after a day already read, checks the day against the month and
 * gives the day number. The caller has checked that the nine bytes are there.
 */
static int imap_parse_month_year(const char *p, unsigned day, int64_t *days_r,
                                 struct sluice_error *err)
{
	unsigned year;
	if (p[0] != '-' || p[4] != '-')
		return imap_date_bad(err, "A date is written as in 1-Feb-1994.");
	unsigned month = imap_month(p + 1);
	if (month == 0)
		return imap_date_bad(err, "The month of a date must be one of Jan, Feb, Mar, Apr, "
		                          "May, Jun, Jul, Aug, Sep, Oct, Nov or Dec.");
	if (!imap_digits(p + 5, 4, &year))
		return imap_date_bad(err, "The year of a date has four digits.");
	if (day < 1 || day > imap_month_days(year, month))
		return imap_date_bad(err, "The date names a day its month does not have.");
	*days_r = imap_days_from_civil(year, month, day);
	return 0;
}

int imap_date_parse(const char *text, int64_t *day_r, struct sluice_error *err)
{
	unsigned day = 0;
	size_t digits = 0;
	while (digits < 3 && imap_digit(text[digits]))
		day = day * 10 + (unsigned)(text[digits++] - '0');
	if (digits == 0 || digits > 2)
		return imap_date_bad(err, "A date starts with a day of one or two digits, as in "
		                          "1-Feb-1994.");
	const char *rest = text + digits;
	/* Nine more bytes "-Mon-yyyy", checked one by one so a short string stops at its NUL. */
	for (size_t i = 0; i < 9; i++)
		if (rest[i] == '\0')
			return imap_date_bad(err, "A date is written as in 1-Feb-1994.");
	if (rest[9] != '\0')
		return imap_date_bad(err,
		                     "A date is written as in 1-Feb-1994, with nothing after.");
	return imap_parse_month_year(rest, day, day_r, err);
}

int imap_datetime_parse(const char *text, time_t *time_r, int *zone_min_r, struct sluice_error *err)
{
	const char *usage = "A date-time is written as in \"17-Jul-1996 02:44:25 -0700\".";
	unsigned day, hour, min, sec, zh, zm;
	int64_t days;

	for (size_t i = 0; i < IMAP_DATETIME_LEN; i++)
		if (text[i] == '\0')
			return imap_date_bad(err, usage);
	if (text[IMAP_DATETIME_LEN] != '\0')
		return imap_date_bad(err, usage);

	/* date-day-fixed is " d" or "dd" (RFC 3501). */
	if (text[0] == ' ' && imap_digit(text[1]))
		day = (unsigned)(text[1] - '0');
	else if (!imap_digits(text, 2, &day))
		return imap_date_bad(err, "The day of a date-time has two digits or a space and "
		                          "a digit.");
	int ret = imap_parse_month_year(text + 2, day, &days, err);
	if (ret < 0)
		return ret;

	if (text[11] != ' ' || text[14] != ':' || text[17] != ':' || text[20] != ' ' ||
	    !imap_digits(text + 12, 2, &hour) || !imap_digits(text + 15, 2, &min) ||
	    !imap_digits(text + 18, 2, &sec))
		return imap_date_bad(err, usage);
	if (hour > 23)
		return imap_date_bad(err, "The hour of a date-time must be 00 to 23.");
	if (min > 59)
		return imap_date_bad(err, "The minutes of a date-time must be 00 to 59.");
	if (sec > 60)
		return imap_date_bad(err, "The seconds of a date-time must be 00 to 60.");

	if ((text[21] != '+' && text[21] != '-') || !imap_digits(text + 22, 2, &zh) ||
	    !imap_digits(text + 24, 2, &zm))
		return imap_date_bad(err, "The zone of a date-time is a sign and four digits, "
		                          "as in -0700.");
	if (zm > 59 || zh * 60 + zm > IMAP_ZONE_MAX_MINUTES)
		return imap_date_bad(err, "The zone of a date-time must lie between -1400 and "
		                          "+1400.");
	int zone = (int)(zh * 60 + zm) * (text[21] == '-' ? -1 : 1);

	int64_t t = days * 86400 + (int64_t)hour * 3600 + (int64_t)min * 60 + (int64_t)sec -
	            (int64_t)zone * 60;
	if ((int64_t)(time_t)t != t)
		return imap_date_bad(err, "The date-time is outside what this server can store.");
	*time_r = (time_t)t;
	*zone_min_r = zone;
	return 0;
}

static int64_t imap_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t imap_datetime_day(time_t t, int zone_min)
{
	return imap_floor_div((int64_t)t + (int64_t)zone_min * 60, 86400);
}

static void imap_put_digits(char *p, unsigned value, unsigned n)
{
	for (unsigned i = n; i > 0; i--) {
		p[i - 1] = (char)('0' + value % 10);
		value /= 10;
	}
}

void imap_datetime_format(time_t t, int zone_min, char out[IMAP_DATETIME_LEN + 1])
{
	if (zone_min > IMAP_ZONE_MAX_MINUTES || zone_min < -IMAP_ZONE_MAX_MINUTES)
		zone_min = 0;
	/* Clamp before adding the zone so that extreme instants cannot overflow. */
	int64_t local = (int64_t)t;
	if (local < IMAP_FIRST_SECOND - 86400)
		local = IMAP_FIRST_SECOND - 86400;
	if (local > IMAP_LAST_SECOND + 86400)
		local = IMAP_LAST_SECOND + 86400;
	local += (int64_t)zone_min * 60;
	if (local < IMAP_FIRST_SECOND)
		local = IMAP_FIRST_SECOND;
	if (local > IMAP_LAST_SECOND)
		local = IMAP_LAST_SECOND;

	int64_t days = imap_floor_div(local, 86400);
	unsigned secs = (unsigned)(local - days * 86400);
	int64_t year;
	unsigned month, day;
	imap_civil_from_days(days, &year, &month, &day);
	unsigned zone = (unsigned)(zone_min < 0 ? -zone_min : zone_min);

	imap_put_digits(out, day, 2);
	out[2] = '-';
	out[3] = imap_months[month - 1][0];
	out[4] = imap_months[month - 1][1];
	out[5] = imap_months[month - 1][2];
	out[6] = '-';
	imap_put_digits(out + 7, (unsigned)year, 4);
	out[11] = ' ';
	imap_put_digits(out + 12, secs / 3600, 2);
	out[14] = ':';
	imap_put_digits(out + 15, secs / 60 % 60, 2);
	out[17] = ':';
	imap_put_digits(out + 18, secs % 60, 2);
	out[20] = ' ';
	out[21] = zone_min < 0 ? '-' : '+';
	imap_put_digits(out + 22, zone / 60, 2);
	imap_put_digits(out + 24, zone % 60, 2);
	out[IMAP_DATETIME_LEN] = '\0';
}
