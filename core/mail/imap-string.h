/*
 * Writing values as IMAP strings (RFC 3501 section 9: nstring, quoted, literal). Every
 * string that ENVELOPE and BODYSTRUCTURE take from a message goes through
 * imap_write_string(), so the choice between NIL, a quoted string and a literal is made
 * in exactly one place and a hostile header can never break the response's syntax.
 */
#ifndef SLUICE_MAIL_IMAP_STRING_H
#define SLUICE_MAIL_IMAP_STRING_H

#include <stddef.h>
#include <string.h>

#include "mail/mail-buf.h"

/*
 * Appends @p s (@p len bytes) to @p out as an IMAP string:
 * - NIL when @p s is NULL;
 * - a quoted string when every byte is a 7-bit TEXT-CHAR (no NUL, CR or LF), with '"'
 *   and '\' escaped;
 * - otherwise a literal "{n}\r\n" followed by the bytes. NUL bytes, which no IMAP string
 *   may carry (CHAR8 excludes them), are sent as 0x80.
 */
void imap_write_string(struct mail_buf *out, const void *s, size_t len);

/** imap_write_string() for a NUL-terminated string or NULL. */
static inline void imap_write_cstring(struct mail_buf *out, const char *s)
{
	imap_write_string(out, s, s != NULL ? strlen(s) : 0);
}

#endif
