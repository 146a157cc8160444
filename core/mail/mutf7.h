/*
 * Modified UTF-7 (RFC 3501 section 5.1.3), the encoding of mailbox names on the wire.
 *
 * Clients send and receive names such as `~peter/mail/&U,BTFw-/&ZeVnLIqe-`; the storage
 * keeps them as UTF-8 (`~peter/mail/台北/日本語`). The decoder is strict on purpose: every
 * valid name has exactly one spelling, so two spellings can never reach two different
 * folders, and a name that decodes also encodes back to the same bytes. It refuses raw
 * 8-bit bytes, unterminated or empty shifts other than `&-`, base64 that is not whole UTF-16
 * units or leaves padding bits set, lone or reversed surrogates, printable ASCII (or `&`)
 * hidden inside base64, two encoded runs back to back (`&AAA-&BBB-` must be one run) and an
 * encoded NUL. The encoder refuses UTF-8 that is malformed, overlong, a surrogate or past
 * U+10FFFF.
 *
 * These functions keep no state and may be called from any thread.
 */
#ifndef SLUICE_MAIL_MUTF7_H
#define SLUICE_MAIL_MUTF7_H

#include <stdbool.h>

#include "sluice/result.h"
#include "util/buffer.h"

/**
 * @brief Decodes a modified UTF-7 name into UTF-8.
 * @param[in]  in  NUL-terminated name as the client sent it
 * @param[out] out where the UTF-8 is appended (not NUL-terminated, as buf never is)
 * @return 0; SLUICE_E_PARSE when @p in is not valid modified UTF-7; SLUICE_E_NOMEM when the
 *         buffer cannot grow. On failure @p out holds what it held before the call.
 */
int mutf7_to_utf8(const char *in, struct buf *out);

/**
 * @brief Encodes a UTF-8 name as modified UTF-7.
 * @param[in]  in  NUL-terminated UTF-8
 * @param[out] out where the modified UTF-7 is appended (not NUL-terminated)
 * @return 0; SLUICE_E_PARSE when @p in is not valid UTF-8; SLUICE_E_NOMEM when the buffer
 *         cannot grow. On failure @p out holds what it held before the call.
 * Printable ASCII other than `&` stays literal, `&` becomes `&-`, and each stretch of other
 * characters (controls included) becomes one base64 run of UTF-16BE.
 */
int utf8_to_mutf7(const char *in, struct buf *out);

/** @brief Whether @p name is valid modified UTF-7 by the rules above; allocates nothing. */
bool mutf7_valid(const char *name);

/*
 * Caveats:
 * - Validity here is only about the encoding. Whether a name is acceptable as a mailbox
 *   (`..`, empty components, the hierarchy delimiter, control characters) is the mailbox
 *   layer's decision.
 */

#endif
