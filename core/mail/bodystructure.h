/*
 * FETCH BODY and BODYSTRUCTURE (RFC 3501 sections 7.4.2 and 9: body, body-type-1part,
 * body-type-mpart, body-fields, body-ext-*) from a parsed MIME tree.
 *
 * Types and subtypes are lowercase, encodings uppercase; sizes are the body's bytes as
 * stored and line counts those of mime.h. With extension data (BODYSTRUCTURE), every
 * part carries all of md5, disposition, language and location (NIL when absent), and
 * every multipart its parameters, disposition, language and location. Parameters from
 * RFC 2231 syntax are shown decoded ("name" "value") when the value is printable ASCII,
 * and otherwise in RFC 2231 form ("name*" "charset'lang'%XX...") so that the client can
 * still decode them. Degraded parts (mime.h): an opaque part is shown as
 * application/octet-stream with its declared parameters, and a multipart without any part
 * as containing one empty text/plain part, which keeps the output inside the grammar.
 */
#ifndef SLUICE_MAIL_BODYSTRUCTURE_H
#define SLUICE_MAIL_BODYSTRUCTURE_H

#include <stdbool.h>

struct mime_part;
struct sluice_pool;

/*
 * Returns the BODY (@p extended false) or BODYSTRUCTURE (@p extended true) string of the
 * message whose tree is @p root, e.g. ("text" "plain" ("charset" "us-ascii") NIL NIL
 * "7BIT" 12 1 NIL NIL NIL NIL). The message the tree points into must still be mapped
 * (message/rfc822 parts need the encapsulated header for their ENVELOPE).
 * Returns a NUL-terminated pool string, or NULL when the pool refuses memory.
 */
char *mail_bodystructure(const struct mime_part *root, bool extended, struct sluice_pool *pool);

#endif
