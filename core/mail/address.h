/*
 * RFC 5322 address lists (section 3.4, with the obsolete syntax of section 4.4) as ENVELOPE
 * needs them: each mailbox split into display name, source route, local part and domain,
 * and groups marked by a start and an end entry as RFC 3501 represents them.
 *
 * The parser takes raw (unfolded) header text and never fails. What it does with input
 * that is not an address list:
 * - a mailbox without '@' keeps its text as the local part, with domain "MISSING_DOMAIN";
 * - an empty local part ("<@example.com>", "<>") becomes "MISSING_MAILBOX", an empty
 *   domain ("user@") "MISSING_DOMAIN": RFC 3501 reserves a NIL host for group markers, so
 *   a mailbox must always have one;
 * - an unterminated '<', quoted string or comment runs to the end of the value;
 * - a group that is never closed with ';' is closed at the end; a stray ';' separates
 *   addresses like ','; a ':' inside a group is ordinary text;
 * - empty entries (",,", a lone comment) are skipped.
 * Display names keep their raw text (RFC 2047 encoded words are not decoded), with quotes
 * removed and whitespace runs collapsed to one space; when an address has no display name,
 * its last comment is used instead ("user@example.com (User Name)"), as common practice
 * is. Quoted local parts keep their quotes ("\"john doe\"@example.com"), so mailbox@host
 * is always a valid address again.
 */
#ifndef SLUICE_MAIL_ADDRESS_H
#define SLUICE_MAIL_ADDRESS_H

#include <stddef.h>

struct sluice_pool;

enum mail_address_kind {
	MAIL_ADDRESS_MAILBOX,
	MAIL_ADDRESS_GROUP_START, /* mailbox holds the group's name; host is NULL */
	MAIL_ADDRESS_GROUP_END,   /* every field is NULL */
};

struct mail_address {
	struct mail_address *next;
	enum mail_address_kind kind;
	const char *name;    /* display name, or NULL */
	const char *route;   /* obsolete source route "@a,@b", or NULL */
	const char *mailbox; /* local part, or the group name */
	const char *host;    /* domain */
};

/*
 * Parses an address list.
 * [in]  value, len  the unfolded header value
 * [out] list_r      the first address, or NULL when there is none; pool memory
 * Returns 0, or -1 when out of memory.
 */
int mail_address_parse(const char *value, size_t len, struct sluice_pool *pool,
                       struct mail_address **list_r);

#endif
