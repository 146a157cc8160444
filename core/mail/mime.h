/*
 * The MIME structure of a message (RFC 2045, RFC 2046, RFC 2231), as FETCH BODYSTRUCTURE,
 * FETCH BODY[section] and SEARCH need it. mime_parse() reads a whole message held in
 * memory (the caller maps the Maildir file) and builds a tree of parts that records byte
 * offsets into that message, never copies of it; nothing is written into the message.
 *
 * The message is untrusted. The parser never fails on malformed input, it degrades:
 * - line ends may be CRLF or a bare LF; both end a line and both are counted;
 * - a part without a blank line after its header has an empty body;
 * - a syntactically invalid Content-Type means text/plain; charset=us-ascii (RFC 2045
 *   section 5.2), or message/rfc822 inside multipart/digest;
 * - a text part that names no charset gets charset=us-ascii (RFC 2046 section 4.1.2);
 * - a multipart without a boundary parameter is read as text/plain (RFC 2045 5.2 again);
 *   one whose boundary never appears has no children (BODYSTRUCTURE then shows one empty
 *   text/plain part, as the grammar needs at least one);
 * - an unterminated last part ends where its parent ends; preamble and epilogue are
 *   ignored;
 * - message/rfc822 with a base64 or quoted-printable encoding (forbidden by RFC 2046) is
 *   not descended into;
 * - beyond MIME_MAX_DEPTH levels, or once MIME_MAX_PARTS parts exist, multiparts and
 *   messages are not descended into: they become opaque leaves (MIME_PART_OPAQUE) that
 *   keep their declared type here and are shown as application/octet-stream by
 *   BODYSTRUCTURE, whose grammar would otherwise demand their inner structure.
 * Work is linear in the message size times the nesting depth, and memory is bounded by
 * the part cap and the parameter caps below.
 */
#ifndef SLUICE_MAIL_MIME_H
#define SLUICE_MAIL_MIME_H

#include <stdbool.h>
#include <stddef.h>

struct sluice_pool;

/** Levels of multipart or message/rfc822 nesting the parser descends into. */
#define MIME_MAX_DEPTH 64
/** Parts in one message; further boundaries are treated as content of the last part. */
#define MIME_MAX_PARTS 10000
/** Parameters kept per header field, after RFC 2231 sections are joined. */
#define MIME_MAX_PARAMS 64
/** Raw parameters (RFC 2231 sections included) looked at per header field. */
#define MIME_MAX_RAW_PARAMS 256
/** Languages kept from Content-Language. */
#define MIME_MAX_LANGUAGES 32

/*
 * One parameter of Content-Type or Content-Disposition. RFC 2231 sections
 * (name*0, name*1*, ...) are joined in section order and percent-decoding is undone;
 * charset and language come from an extended value ("us-ascii'en'...") and are NULL
 * otherwise. Values may hold any byte except NUL.
 */
struct mime_param {
	const char *name;     /* lowercase, without the RFC 2231 '*' suffixes */
	const char *value;    /* decoded, in @charset when that is set */
	const char *charset;  /* RFC 2231 charset, or NULL */
	const char *language; /* RFC 2231 language, or NULL */
	bool extended;        /* came from RFC 2231 extended syntax (name*=...) */
};

enum mime_part_flags {
	MIME_PART_MULTIPART = 1u << 0, /* children are the body parts */
	MIME_PART_MESSAGE = 1u << 1,   /* message/rfc822: the only child is the message */
	MIME_PART_OPAQUE = 1u << 2,    /* a multipart or message not descended into */
};

/*
 * A part, or a whole message (the root, and the child of a message/rfc822 part). Offsets
 * count from the start of the message given to mime_parse(). The header includes the
 * blank line that ends it; the body of a multipart's child ends before the line break
 * that precedes the next boundary line (RFC 2046 5.1.1). Strings are NUL-terminated pool
 * memory; absent header fields are NULL. Header values are unfolded, trimmed, kept raw
 * (no RFC 2047 decoding) and a NUL byte in them is replaced by 0x80.
 */
struct mime_part {
	struct mime_part *parent;
	struct mime_part *next;     /* next sibling */
	struct mime_part *children; /* first child */
	unsigned child_count;
	unsigned depth;           /* 0 for the message */
	unsigned flags;           /* enum mime_part_flags */
	const unsigned char *msg; /* the message the offsets refer to */

	size_t hdr_start, hdr_len;
	size_t body_start, body_len;

	const char *type, *subtype; /* lowercase */
	struct mime_param *params;
	unsigned param_count;
	const char *id;          /* Content-ID */
	const char *description; /* Content-Description */
	const char *encoding;    /* Content-Transfer-Encoding, uppercase; "7BIT" by default */
	const char *md5;         /* Content-MD5 */
	const char *disposition; /* Content-Disposition's type, as written */
	struct mime_param *disp_params;
	unsigned disp_param_count;
	const char **languages; /* Content-Language tags */
	unsigned language_count;
	const char *location; /* Content-Location */
};

/*
 * Parses the MIME structure of a message.
 * [in]  msg, len  the whole message; it must stay valid and unchanged as long as the tree
 *                 is used (parts point into it)
 * [in]  pool      where the tree is allocated
 * [out] root_r    the message part
 * Returns 0, or -1 when the pool refuses memory (its cap, or out of memory); malformed
 * input is never an error. Any thread may call it; the pool must be the caller's.
 */
int mime_parse(const unsigned char *msg, size_t len, struct sluice_pool *pool,
               struct mime_part **root_r);

/** Returns the parameter called @p name (lowercase) or NULL. */
const struct mime_param *mime_param_find(const struct mime_param *params, unsigned count,
                                         const char *name);

/* Lines of the part's header and of its body (an unterminated last line counts), counted
 * when asked: only BODYSTRUCTURE needs them, for text and message/rfc822 parts. */
size_t mime_part_hdr_lines(const struct mime_part *part);
size_t mime_part_body_lines(const struct mime_part *part);

/** True when the part's type is @p type and, unless @p subtype is NULL, its subtype is
 *  @p subtype (both lowercase). */
bool mime_part_is(const struct mime_part *part, const char *type, const char *subtype);

/*
 * One header field as it stands in the message. Offsets are relative to the header
 * passed to mime_header_next().
 */
struct mime_header_field {
	const unsigned char *name;  /* not NUL-terminated */
	size_t name_len;            /* trailing whitespace before the colon excluded */
	const unsigned char *value; /* after the colon, still folded */
	size_t value_len;           /* up to the last line break of the field, excluded */
	size_t start, len;          /* every line of the field, its final line break included */
};

/*
 * Iterates the fields of a header. *pos_io is 0 to start; it is advanced past the field
 * returned. Lines without a colon, and continuation lines with no field before them, are
 * skipped; iteration stops at the blank line that ends a header.
 * Returns true with *field_r filled, false when there are no more fields.
 */
bool mime_header_next(const unsigned char *hdr, size_t hdr_len, size_t *pos_io,
                      struct mime_header_field *field_r);

/*
 * Finds the next field called @p name (case-insensitive) from *pos_io and returns its
 * value unfolded: line breaks removed, leading and trailing whitespace trimmed, NUL
 * bytes replaced by 0x80.
 * [in,out] pos_io   0 to start; advanced past the field found, for the next call
 * [out]    value_r  NUL-terminated pool memory
 * [out]    len_r    its length; may be NULL
 * Returns 0 when found, 1 when there is no further such field, -1 when out of memory.
 */
int mime_header_find(const unsigned char *hdr, size_t hdr_len, const char *name, size_t *pos_io,
                     struct sluice_pool *pool, char **value_r, size_t *len_r);

/** Unfolds a raw field value as mime_header_find() does; NULL when out of memory. */
char *mime_header_unfold(const unsigned char *value, size_t len, struct sluice_pool *pool,
                         size_t *len_r);

/*
 * Caveats: offsets and lengths are those of the bytes as stored. A message stored with
 * bare LF line ends reports sizes counted with bare LF; whoever converts line ends when
 * sending must convert sizes the same way. Only message/rfc822 is descended into among
 * message types (message/global and message/partial are leaves).
 */

#endif
