/*
 * Decoding for SEARCH (RFC 3501 section 6.4.4): header values with RFC 2047 encoded words
 * and part bodies in base64 or quoted-printable, each turned into UTF-8 so that a client's
 * UTF-8 search string can be matched case-insensitively against what the user sees.
 *
 * Charsets are converted with iconv(3). A charset iconv does not know leaves the text
 * as it is: an encoded word then stays undecoded ("=?x-unknown?Q?...?="), a body keeps
 * its bytes. us-ascii and utf-8 are taken as they are, without conversion; bytes that
 * are not valid UTF-8 are matched as themselves. iso-8859-1 is read as windows-1252, its
 * superset, as mail software commonly does. Everything is decoded into pool memory:
 * streaming is not needed because each part is capped by the caller.
 */
#ifndef SLUICE_MAIL_DECODE_H
#define SLUICE_MAIL_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#include "mail/mail-buf.h"

struct mime_part;
struct sluice_pool;

/*
 * Decodes the RFC 2047 encoded words of an unfolded header value into UTF-8. Whitespace
 * between two adjacent encoded words is dropped (RFC 2047 section 6.2), and adjacent words
 * in one charset are converted together, so a character split between them survives.
 * Encoded words are recognised even where RFC 2047 does not allow them (inside quoted
 * strings, next to other text), because mailers put them there.
 * Returns NUL-terminated pool memory with its length in *len_r (may be NULL), or NULL when
 * out of memory.
 */
char *mail_decode_header(const char *value, size_t len, struct sluice_pool *pool, size_t *len_r);

/** Appends base64 data, decoded: characters outside the alphabet (line breaks, garbage)
 *  are skipped and '=' ends a quantum, so concatenated encodings decode too. */
void mail_decode_base64(struct mail_buf *out, const unsigned char *in, size_t len);
/** Appends quoted-printable data, decoded: "=XX" (either case), soft line breaks ("="
 *  before a line end, trailing whitespace allowed); an invalid '=' is kept as is. */
void mail_decode_qp(struct mail_buf *out, const unsigned char *in, size_t len);

/*
 * Converts @p len bytes from @p charset to UTF-8, appending to @p out. Bytes that are
 * invalid in the charset become U+FFFD. Returns false, appending nothing, when the
 * charset is unknown (or NULL, or us-ascii/utf-8, which need no conversion).
 */
bool mail_charset_to_utf8(struct mail_buf *out, const char *charset, const unsigned char *in,
                          size_t len);

/*
 * The text of a leaf part: its body with the transfer encoding undone and, for text parts,
 * converted from its charset to UTF-8.
 * [in]  max_len  parts whose stored body is longer are skipped
 * [out] text_r, len_r  NUL-terminated pool memory
 * Returns 0; 1 when the part was skipped (too long, or a multipart or message/rfc822,
 * whose text is in its children); -1 when out of memory.
 */
int mail_decode_body(const struct mime_part *part, size_t max_len, struct sluice_pool *pool,
                     char **text_r, size_t *len_r);

/*
 * Case-insensitive substring search in UTF-8 text. ASCII letters and, with a built-in
 * table, the letters of Latin-1, Latin Extended-A, parts of Latin Extended-B and
 * Extended Additional, Greek, Cyrillic, Armenian and fullwidth Latin are folded (simple
 * one-to-one case folding). Limits: no folding that changes length (German sharp s does
 * not match "ss"), no Unicode normalisation (a precomposed letter does not match a letter
 * plus combining accent), no locale rules (Turkish dotless i). Invalid UTF-8 bytes match
 * only themselves. An empty needle is found everywhere. Runs in time linear in @p hlen.
 * Thread-safe; it allocates only for needles longer than 64 characters (and returns
 * false if that fails).
 */
bool mail_text_contains(const char *haystack, size_t hlen, const char *needle_utf8);

/*
 * SEARCH HEADER/FROM/SUBJECT...: does a field called @p name (any field when NULL, its name
 * included in what is searched) contain @p needle once decoded?
 * Returns 1 (yes), 0 (no) or -1 (out of memory). Decoded values stay in @p pool.
 */
int mail_header_contains(const unsigned char *hdr, size_t hdr_len, const char *name,
                         const char *needle, struct sluice_pool *pool);

/*
 * SEARCH BODY: does the decoded text of any text part (any text type, and message types other than
 * rfc822), or the header of an encapsulated message, contain @p needle? Parts longer than
 * @p max_part bytes are skipped. Returns 1, 0 or -1 (out of memory). Decoded text stays
 * in @p pool: pass a pool that is cleared per message.
 */
int mail_body_contains(const struct mime_part *root, const char *needle, size_t max_part,
                       struct sluice_pool *pool);

#endif
