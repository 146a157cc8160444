/*
 * IMAP dates and times (RFC 3501): the `date-time` of APPEND and INTERNALDATE,
 * "17-Jul-1996 02:44:25 -0700", and the `date` of SEARCH BEFORE/ON/SINCE and their SENT
 * forms, "1-Feb-1994".
 *
 * Parsing yields an instant in seconds since the epoch (UTC) plus the zone offset the client
 * wrote, which is what INTERNALDATE must give back. The calendar arithmetic is our own
 * (proleptic Gregorian days from civil dates and back), so nothing depends on the process's
 * locale, its TZ variable, or timegm(), and every function is safe in any thread. The
 * callers strip the double quotes that surround these values in commands.
 */
#ifndef SLUICE_IMAP_DATETIME_H
#define SLUICE_IMAP_DATETIME_H

#include <stdint.h>
#include <time.h>

#include "sluice/result.h"

/* Length of "dd-Mon-yyyy hh:mm:ss +zzzz" without quotes or NUL. */
#define IMAP_DATETIME_LEN 26
/* The widest zone offset accepted, in minutes (UTC+14:00 is the easternmost real zone). */
#define IMAP_ZONE_MAX_MINUTES (14 * 60)

/**
 * @brief Parses an RFC 3501 date-time without its quotes.
 * @param[in]  text         "dd-Mon-yyyy hh:mm:ss +zzzz"; the day may be " d" (space-padded)
 * @param[out] time_r       the instant, seconds since 1970-01-01 00:00:00 UTC
 * @param[out] zone_min_r   the zone offset in minutes east of UTC (-0000 gives 0)
 * @param[out] err          on failure, a sentence for a tagged BAD; may be NULL
 * @return 0; SLUICE_E_PARSE when the text is malformed or out of range: month names other
 *         than Jan..Dec (any case), a day the month does not have (leap years counted),
 *         hours past 23, minutes past 59, seconds past 60 (60 is a leap second), or a zone
 *         beyond +-1400 or with minutes past 59.
 * Years are the four digits RFC 3501 allows, 0000 to 9999.
 */
int imap_datetime_parse(const char *text, time_t *time_r, int *zone_min_r,
                        struct sluice_error *err);

/**
 * @brief Parses an RFC 3501 date ("d-Mon-yyyy" or "dd-Mon-yyyy") without its quotes.
 * @param[out] day_r the day, counted from 1970-01-01 (day 0); earlier days are negative
 * @param[out] err   on failure, a sentence for a tagged BAD; may be NULL
 * @return 0; SLUICE_E_PARSE as for imap_datetime_parse().
 * SEARCH compares this with imap_datetime_day() of a message's date, ignoring time and zone
 * as RFC 3501 says.
 */
int imap_date_parse(const char *text, int64_t *day_r, struct sluice_error *err);

/**
 * @brief Formats an INTERNALDATE value, "dd-Mon-yyyy hh:mm:ss +zzzz" (no quotes).
 * @param[in]  t        the instant
 * @param[in]  zone_min the zone to show it in, minutes east of UTC; an offset beyond
 *                      IMAP_ZONE_MAX_MINUTES is replaced by +0000
 * @param[out] out      IMAP_DATETIME_LEN + 1 bytes; always NUL-terminated
 * Never fails: an instant whose local year would fall outside 0000..9999 is shown as the
 * nearest representable second, so a corrupt stored date still yields valid syntax.
 */
void imap_datetime_format(time_t t, int zone_min, char out[IMAP_DATETIME_LEN + 1]);

/** @brief The local calendar day (days since 1970-01-01) of instant @p t in zone @p zone_min. */
int64_t imap_datetime_day(time_t t, int zone_min);

/** @brief Days since 1970-01-01 of a proleptic Gregorian date; month 1..12, day 1..31. */
int64_t imap_days_from_civil(int64_t year, unsigned month, unsigned day);

/** @brief The proleptic Gregorian date of day @p days since 1970-01-01. */
void imap_civil_from_days(int64_t days, int64_t *year_r, unsigned *month_r, unsigned *day_r);

/*
 * Caveats:
 * - A leap second (ss = 60) counts as the first second of the next minute, as POSIX time
 *   does; formatting never produces :60.
 * - Dates before 1970 are negative instants; they work where time_t is 64 bits (Linux on
 *   every 64-bit architecture). Where time_t is 32 bits, instants it cannot hold are refused.
 */

#endif
