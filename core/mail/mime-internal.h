/*
 * Internal interface between the MIME tree builder (mime.c) and the parser of the
 * Content-* header fields (mime-fields.c). Not for use outside core/mail.
 */
#ifndef SLUICE_MAIL_MIME_INTERNAL_H
#define SLUICE_MAIL_MIME_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

struct mime_part;
struct sluice_pool;

/*
 * Fills the type, parameters and other Content-* fields of @p part from its header
 * (@p hdr, @p hdr_len bytes). @p digest says the part is a child of multipart/digest,
 * whose default type is message/rfc822. Returns 0, or -1 when out of memory.
 */
int mime_fields_parse(struct mime_part *part, const unsigned char *hdr, size_t hdr_len, bool digest,
                      struct sluice_pool *pool);

/*
 * Parses the parameter list that follows a type or disposition ("; a=b; c*0=d ...") in
 * the unfolded value [@p p, @p end). Returns 0 with the joined, decoded parameters (or
 * none), or -1 when out of memory.
 */
int mime_params_parse(const unsigned char *p, const unsigned char *end, struct sluice_pool *pool,
                      struct mime_param **params_r, unsigned *count_r);

/** Resets the part's type to text/plain; charset=us-ascii (RFC 2045 section 5.2). */
int mime_fields_default_text(struct mime_part *part, struct sluice_pool *pool);

#endif
