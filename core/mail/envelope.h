/*
 * The ENVELOPE of a message (RFC 3501 sections 2.3.5 and 7.4.2): date, subject, the six
 * address lists, In-Reply-To and Message-ID, built from the message header.
 *
 * Values are the raw header text, unfolded and trimmed, without RFC 2047 decoding, as
 * RFC 3501 asks; each is written by imap_write_string(), so it is a quoted string or,
 * when it holds CR, LF or 8-bit bytes, a literal. A field that is absent is NIL; a field
 * that is present but empty is "". When a header has a field more than once the first
 * one is used. Sender and Reply-To fall back to From when they are absent or hold no
 * address. Address lists follow address.h, including its handling of broken addresses.
 */
#ifndef SLUICE_MAIL_ENVELOPE_H
#define SLUICE_MAIL_ENVELOPE_H

#include <stddef.h>

#include "mail/mail-buf.h"

struct sluice_pool;

/*
 * Returns the ENVELOPE string "(date subject (from) ... message-id)".
 * [in] msg      the header (a message's, or an encapsulated message's)
 * [in] hdr_len  its length, its final blank line included or not
 * [in] pool     where the string is allocated
 * Returns a NUL-terminated pool string, or NULL when the pool refuses memory. Any thread
 * may call it with its own pool.
 */
char *mail_envelope(const unsigned char *msg, size_t hdr_len, struct sluice_pool *pool);

/** Like mail_envelope(), appending to @p out (errors are recorded in it). */
void mail_envelope_write(struct mail_buf *out, const unsigned char *hdr, size_t hdr_len);

#endif
