/*
 * FETCH BODY[section]<partial> (RFC 3501 section 6.4.5): parsing the section text found
 * between the brackets, and producing the bytes it names from a message and its MIME tree.
 *
 * A section is "" (the whole message), HEADER, HEADER.FIELDS (names), HEADER.FIELDS.NOT
 * (names) or TEXT, optionally preceded by part numbers ("1.2.HEADER"), or part numbers
 * alone ("3.1", the body of that part), or part numbers followed by MIME (that part's
 * MIME header). Part numbering follows RFC 3501: a message that is not multipart has just
 * part 1, its body; a message/rfc822 part's numbers continue into the encapsulated message.
 *
 * What the bytes are is either a range of the message itself (no copy) or, for
 * HEADER.FIELDS and HEADER.FIELDS.NOT, a buffer made of the matching header fields (each
 * with its continuation lines, as stored) followed by the blank line RFC 3501 requires.
 * A part that does not exist, or HEADER/TEXT after a part that is not message/rfc822,
 * yields an empty string, which is what RFC 3501 servers answer; the result code tells
 * the caller it happened.
 */
#ifndef SLUICE_MAIL_SECTION_H
#define SLUICE_MAIL_SECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mime_part;
struct sluice_pool;

/** Part numbers accepted in one section; MIME nesting is capped well below this. */
#define MAIL_SECTION_MAX_PARTS 128
/** Header names accepted in one HEADER.FIELDS list. */
#define MAIL_SECTION_MAX_FIELDS 256

enum mail_section_kind {
	MAIL_SECTION_BODY,   /* "": the whole message; after part numbers, that part's body */
	MAIL_SECTION_HEADER, /* the header, its blank line included */
	MAIL_SECTION_HEADER_FIELDS,
	MAIL_SECTION_HEADER_FIELDS_NOT,
	MAIL_SECTION_TEXT, /* the body of the message */
	MAIL_SECTION_MIME, /* the MIME header of a part */
};

struct mail_section {
	enum mail_section_kind kind;
	uint32_t *parts; /* part numbers, each >= 1 */
	unsigned part_count;
	const char **fields; /* HEADER.FIELDS names, as sent */
	unsigned field_count;
	bool partial; /* a <start.count> was given */
	uint32_t partial_start, partial_count;
};

/* Result codes of mail_section_parse() and mail_section_partial_parse(). */
#define MAIL_SECTION_BAD (-1)   /* the text is not a valid section: answer BAD */
#define MAIL_SECTION_NOMEM (-2) /* the pool refused memory */

/*
 * Parses the text between '[' and ']' of BODY[...] or BODY.PEEK[...].
 * [in]  spec, len  the text, without the brackets
 * [in]  pool       where part numbers and field names are allocated
 * [out] sec_r      the section, with no partial
 * [out] error_r    on MAIL_SECTION_BAD, a sentence for the client (static)
 * Returns 0, MAIL_SECTION_BAD or MAIL_SECTION_NOMEM. Keywords are case-insensitive; field
 * names are atoms or quoted strings (no literals: the command parser delivers the whole
 * BODY[...] as one atom).
 */
int mail_section_parse(const char *spec, size_t len, struct sluice_pool *pool,
                       struct mail_section *sec_r, const char **error_r);

/*
 * Parses a partial "<start.count>" (angle brackets included) into @p sec.
 * Returns 0 or MAIL_SECTION_BAD (numbers beyond 32 bits, count 0, bad syntax), with a
 * sentence in *error_r.
 */
int mail_section_partial_parse(const char *text, size_t len, struct mail_section *sec,
                               const char **error_r);

struct mail_section_result {
	const unsigned char *data; /* the bytes (pool or message memory); never NULL */
	size_t len;
	bool in_message; /* data lies inside the message: offset says where */
	size_t offset;
};

/*
 * Produces the bytes @p sec names, its partial applied.
 * [in]  msg, len  the message @p root was parsed from
 * [out] out       the bytes; pool memory or a range of @p msg
 * Returns 0; 1 when the part does not exist or cannot have the requested section (out is
 * then an empty string, which is what the client gets); -1 when the pool refuses memory.
 */
int mail_section_fetch(const unsigned char *msg, size_t len, const struct mime_part *root,
                       const struct mail_section *sec, struct mail_section_result *out,
                       struct sluice_pool *pool);

/*
 * Finds the part that part numbers name, following RFC 3501's numbering; NULL when there
 * is none. For a message/rfc822 part this is the part itself (its body is the whole
 * encapsulated message).
 */
const struct mime_part *mail_section_find_part(const struct mime_part *root, const uint32_t *parts,
                                               unsigned count);

#endif
