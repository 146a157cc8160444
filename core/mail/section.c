/*
 * FETCH sections (see section.h). Parsing is strict, since a malformed section is the
 * client's error and deserves a BAD; fetching is lenient, since a message that lacks the
 * part asked for is not, and RFC 3501 answers it with an empty string.
 */
#include "mail/section.h"

#include <string.h>

#include "mail/lex.h"
#include "mail/mime.h"
#include "mail/mail-buf.h"
#include "util/pool.h"

/* Reads a decimal number of at most 32 bits; NULL on overflow or when there is none. */
static const char *section_number(const char *p, const char *end, uint32_t *n_r)
{
	uint64_t n = 0;
	const char *start = p;
	while (p < end && *p >= '0' && *p <= '9') {
		n = n * 10 + (uint64_t)(*p++ - '0');
		if (n > UINT32_MAX)
			return NULL;
	}
	if (p == start)
		return NULL;
	*n_r = (uint32_t)n;
	return p;
}

/* Does [p, end) start with @p kw (case-insensitive)? */
static bool section_keyword(const char *p, const char *end, const char *kw)
{
	size_t n = strlen(kw);
	return (size_t)(end - p) >= n && mail_lex_ascii_ieq(p, n, kw);
}

/* header-list = "(" header-fld-name *(SP header-fld-name) ")" */
static int section_header_list(const char *p, const char *end, struct sluice_pool *pool,
                               struct mail_section *sec, const char **error_r)
{
	*error_r = "HEADER.FIELDS needs a parenthesised list of header names";
	if (p == end || *p != ' ')
		return MAIL_SECTION_BAD;
	while (p < end && *p == ' ')
		p++;
	if (p == end || *p != '(')
		return MAIL_SECTION_BAD;
	p++;
	sec->fields = pool_alloc(pool, MAIL_SECTION_MAX_FIELDS * sizeof(*sec->fields));
	if (sec->fields == NULL)
		return MAIL_SECTION_NOMEM;
	for (;;) {
		while (p < end && *p == ' ')
			p++;
		if (p == end)
			return MAIL_SECTION_BAD;
		if (*p == ')') {
			p++;
			break;
		}
		if (sec->field_count == MAIL_SECTION_MAX_FIELDS) {
			*error_r = "Too many header names in HEADER.FIELDS";
			return MAIL_SECTION_BAD;
		}
		const char *name;
		if (*p == '"') {
			struct mail_buf b;
			mail_buf_init(&b, pool, 0);
			/* An unterminated string runs to the end, where ')' is then missing. */
			p = (const char *)mail_lex_quoted((const unsigned char *)p,
			                                  (const unsigned char *)end, &b);
			name = mail_buf_finish(&b, NULL);
		} else {
			const char *a = p;
			while (p < end && (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f &&
			       strchr("(){\"\\%*]", *p) == NULL)
				p++;
			if (p == a) {
				*error_r = *p == '{' ? "Literals are not supported inside a section"
				                     : "Invalid header name in HEADER.FIELDS";
				return MAIL_SECTION_BAD;
			}
			name = pool_strndup(pool, a, (size_t)(p - a));
		}
		if (name == NULL)
			return MAIL_SECTION_NOMEM;
		sec->fields[sec->field_count++] = name;
		if (p < end && *p != ' ' && *p != ')')
			return MAIL_SECTION_BAD;
	}
	if (sec->field_count == 0 || p != end)
		return MAIL_SECTION_BAD;
	return 0;
}

int mail_section_parse(const char *spec, size_t len, struct sluice_pool *pool,
                       struct mail_section *sec_r, const char **error_r)
{
	const char *p = spec, *end = spec + len;
	memset(sec_r, 0, sizeof(*sec_r));
	*error_r = "Invalid section";
	sec_r->kind = MAIL_SECTION_BODY;
	if (p < end && *p >= '0' && *p <= '9') {
		sec_r->parts = pool_alloc(pool, MAIL_SECTION_MAX_PARTS * sizeof(*sec_r->parts));
		if (sec_r->parts == NULL)
			return MAIL_SECTION_NOMEM;
	}
	while (p < end && *p >= '0' && *p <= '9') {
		uint32_t n;
		const char *q = section_number(p, end, &n);
		if (q == NULL || n == 0 || *p == '0') {
			*error_r = "Part numbers must be between 1 and 4294967295";
			return MAIL_SECTION_BAD;
		}
		if (sec_r->part_count == MAIL_SECTION_MAX_PARTS) {
			*error_r = "Too many part numbers in section";
			return MAIL_SECTION_BAD;
		}
		sec_r->parts[sec_r->part_count++] = n;
		p = q;
		if (p == end)
			return 0;
		if (*p != '.')
			return MAIL_SECTION_BAD;
		p++;
		if (p == end)
			return MAIL_SECTION_BAD; /* "1." */
	}
	if (p == end)
		return 0; /* BODY[] */
	if (section_keyword(p, end, "HEADER.FIELDS.NOT")) {
		sec_r->kind = MAIL_SECTION_HEADER_FIELDS_NOT;
		return section_header_list(p + 17, end, pool, sec_r, error_r);
	}
	if (section_keyword(p, end, "HEADER.FIELDS")) {
		sec_r->kind = MAIL_SECTION_HEADER_FIELDS;
		return section_header_list(p + 13, end, pool, sec_r, error_r);
	}
	size_t rest = (size_t)(end - p);
	if (rest == 6 && section_keyword(p, end, "HEADER")) {
		sec_r->kind = MAIL_SECTION_HEADER;
		return 0;
	}
	if (rest == 4 && section_keyword(p, end, "TEXT")) {
		sec_r->kind = MAIL_SECTION_TEXT;
		return 0;
	}
	if (rest == 4 && section_keyword(p, end, "MIME")) {
		if (sec_r->part_count == 0) {
			*error_r = "MIME needs a part number before it";
			return MAIL_SECTION_BAD;
		}
		sec_r->kind = MAIL_SECTION_MIME;
		return 0;
	}
	return MAIL_SECTION_BAD;
}

int mail_section_partial_parse(const char *text, size_t len, struct mail_section *sec,
                               const char **error_r)
{
	const char *p = text, *end = text + len;
	uint32_t start, count;
	*error_r = "Invalid partial: expected <start.count>";
	if (p == end || *p++ != '<')
		return MAIL_SECTION_BAD;
	if ((p = section_number(p, end, &start)) == NULL || p == end || *p++ != '.')
		return MAIL_SECTION_BAD;
	if ((p = section_number(p, end, &count)) == NULL || p == end || *p++ != '>' || p != end)
		return MAIL_SECTION_BAD;
	if (count == 0)
		return MAIL_SECTION_BAD;
	sec->partial = true;
	sec->partial_start = start;
	sec->partial_count = count;
	return 0;
}

const struct mime_part *mail_section_find_part(const struct mime_part *root, const uint32_t *parts,
                                               unsigned count)
{
	const struct mime_part *node = root;
	/* True while @node stands for a message whose body the next number indexes. */
	bool message = true;
	for (unsigned i = 0; i < count; i++) {
		uint32_t n = parts[i];
		for (;;) {
			if ((node->flags & MIME_PART_MULTIPART) != 0) {
				node = node->children;
				while (node != NULL && --n > 0)
					node = node->next;
				if (node == NULL)
					return NULL;
			} else if (message) {
				/* A message that is not multipart has only part 1: itself. */
				if (n != 1)
					return NULL;
			} else if ((node->flags & MIME_PART_MESSAGE) != 0) {
				node = node->children;
				message = true;
				continue;
			} else {
				return NULL;
			}
			message = false;
			break;
		}
	}
	return node;
}

static bool section_field_listed(const struct mail_section *sec, const struct mime_header_field *f)
{
	for (unsigned i = 0; i < sec->field_count; i++) {
		if (mail_lex_ascii_ieq(f->name, f->name_len, sec->fields[i]))
			return true;
	}
	return false;
}

/* HEADER.FIELDS and HEADER.FIELDS.NOT: the chosen fields, then a blank line. */
static int section_filter_header(const unsigned char *hdr, size_t hdr_len,
                                 const struct mail_section *sec, struct mail_section_result *out,
                                 struct sluice_pool *pool)
{
	bool want = sec->kind == MAIL_SECTION_HEADER_FIELDS;
	struct mail_buf b;
	mail_buf_init(&b, pool, 0);
	struct mime_header_field f;
	size_t pos = 0;
	while (mime_header_next(hdr, hdr_len, &pos, &f)) {
		if (section_field_listed(sec, &f) != want)
			continue;
		mail_buf_append(&b, hdr + f.start, f.len);
		if (hdr[f.start + f.len - 1] != '\n')
			mail_buf_append(&b, "\r\n",
			                2); /* the header's last line had no line break */
	}
	mail_buf_append(&b, "\r\n", 2);
	char *data = mail_buf_finish(&b, &out->len);
	if (data == NULL)
		return -1;
	out->data = (const unsigned char *)data;
	out->in_message = false;
	return 0;
}

static void section_range(const unsigned char *msg, size_t offset, size_t len,
                          struct mail_section_result *out)
{
	out->data = msg + offset;
	out->len = len;
	out->in_message = true;
	out->offset = offset;
}

int mail_section_fetch(const unsigned char *msg, size_t len, const struct mime_part *root,
                       const struct mail_section *sec, struct mail_section_result *out,
                       struct sluice_pool *pool)
{
	static const unsigned char empty[1];
	const struct mime_part *node = root;
	memset(out, 0, sizeof(*out));
	out->data = empty;
	if (sec->part_count > 0) {
		node = mail_section_find_part(root, sec->parts, sec->part_count);
		if (node == NULL)
			return 1;
	}
	const struct mime_part *m = node; /* the message HEADER and TEXT refer to */
	if (sec->part_count > 0 && sec->kind != MAIL_SECTION_BODY &&
	    sec->kind != MAIL_SECTION_MIME) {
		if ((node->flags & MIME_PART_MESSAGE) == 0)
			return 1;
		m = node->children;
	}
	switch (sec->kind) {
	case MAIL_SECTION_BODY:
		if (sec->part_count == 0)
			section_range(msg, 0, len, out);
		else
			section_range(msg, node->body_start, node->body_len, out);
		break;
	case MAIL_SECTION_MIME:
		section_range(msg, node->hdr_start, node->hdr_len, out);
		break;
	case MAIL_SECTION_HEADER:
		section_range(msg, m->hdr_start, m->hdr_len, out);
		break;
	case MAIL_SECTION_TEXT:
		section_range(msg, m->body_start, m->body_len, out);
		break;
	case MAIL_SECTION_HEADER_FIELDS:
	case MAIL_SECTION_HEADER_FIELDS_NOT:
		if (section_filter_header(msg + m->hdr_start, m->hdr_len, sec, out, pool) < 0)
			return -1;
		break;
	}
	if (sec->partial) {
		size_t start = sec->partial_start;
		if (start >= out->len) {
			out->data += out->len;
			out->offset += out->len;
			out->len = 0;
		} else {
			out->data += start;
			out->offset += start;
			out->len -= start;
			if (out->len > sec->partial_count)
				out->len = sec->partial_count;
		}
	}
	return 0;
}
