/*
 * RFC 5322 dates (section 3.3, with the obsolete forms of section 4.3), for SEARCH
 * SENTBEFORE/SENTON/SENTSINCE and as the INTERNALDATE of a message that has no better one.
 *
 * Accepted: an optional day of week (with or without its comma), one- or two-digit days,
 * month names in any case (only their first three letters are checked), four-digit years
 * and obsolete two- and three-digit ones (00-49 mean 2000-2049, 50-999 mean 1900 onwards),
 * missing seconds, comments and extra whitespace anywhere, numeric zones, the named zones
 * of RFC 5322 (UT, GMT, EST, EDT, CST, CDT, MST, MDT, PST, PDT), and asctime's order
 * ("Mon Jan  5 10:00:00 2001"). Military and unknown zone names, and a missing zone, mean
 * +0000 (RFC 5322 says military zones carry no reliable information). Out-of-range fields
 * (day 31 of April, hour 24, minute 60, zone minutes 60) make the date invalid.
 */
#ifndef SLUICE_MAIL_DATE_H
#define SLUICE_MAIL_DATE_H

#include <stddef.h>
#include <time.h>

/*
 * Parses a Date: header value.
 * [in]  s, len     the unfolded value
 * [out] time_r     the moment, in seconds since the epoch (UTC)
 * [out] tz_min_r   the zone's offset east of UTC in minutes (-0130 gives -90); may be NULL
 * Returns 0, or 1 when the value is not a date. Thread-safe; no locale is involved.
 * The date as the sender saw it (what SENTON compares) is that of *time_r + *tz_min_r * 60
 * read as UTC.
 */
int mail_date_parse(const char *s, size_t len, time_t *time_r, int *tz_min_r);

#endif
