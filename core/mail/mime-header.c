/*
 * Header fields (RFC 5322 section 2.2): iteration over the fields of a header held in
 * memory, and unfolding of their values. A field is a line "name: value" followed by any
 * continuation lines that start with a space or a tab. The iteration is tolerant of what
 * real mail contains: bare LF line ends, whitespace before the colon (RFC 5322's obsolete
 * syntax), lines without a colon (an mbox "From " line, garbage) which are skipped rather
 * than ending the header, and NUL or 8-bit bytes, which are just bytes here.
 */
#include "mail/mime.h"

#include <string.h>

#include "mail/lex.h"
#include "util/pool.h"

/* Finds the end of the line starting at @p pos: *line_end_r excludes the line break
 * (LF or CRLF), the return value is where the next line starts. */
static size_t mime_line(const unsigned char *p, size_t len, size_t pos, size_t *line_end_r)
{
	const unsigned char *lf = memchr(p + pos, '\n', len - pos);
	if (lf == NULL) {
		*line_end_r = len;
		return len;
	}
	size_t end = (size_t)(lf - p);
	*line_end_r = (end > pos && p[end - 1] == '\r') ? end - 1 : end;
	return end + 1;
}

bool mime_header_next(const unsigned char *hdr, size_t hdr_len, size_t *pos_io,
                      struct mime_header_field *field_r)
{
	size_t pos = *pos_io;
	while (pos < hdr_len) {
		size_t line_end;
		size_t next = mime_line(hdr, hdr_len, pos, &line_end);
		if (line_end == pos) {
			/* The blank line: the header ends here. */
			*pos_io = hdr_len;
			return false;
		}
		const unsigned char *colon = (hdr[pos] == ' ' || hdr[pos] == '\t')
		                                 ? NULL
		                                 : memchr(hdr + pos, ':', line_end - pos);
		size_t name_len = colon != NULL ? (size_t)(colon - (hdr + pos)) : 0;
		while (name_len > 0 &&
		       (hdr[pos + name_len - 1] == ' ' || hdr[pos + name_len - 1] == '\t'))
			name_len--;
		if (name_len == 0) {
			/* Not a field: skip the line; its continuation lines are skipped in turn
			 * because they start with whitespace. */
			pos = next;
			continue;
		}
		size_t value_start = (size_t)(colon - hdr) + 1;
		size_t last_end = line_end;
		while (next < hdr_len && (hdr[next] == ' ' || hdr[next] == '\t'))
			next = mime_line(hdr, hdr_len, next, &last_end);
		field_r->name = hdr + pos;
		field_r->name_len = name_len;
		field_r->value = hdr + value_start;
		field_r->value_len = last_end - value_start;
		field_r->start = pos;
		field_r->len = next - pos;
		*pos_io = next;
		return true;
	}
	*pos_io = pos;
	return false;
}

char *mime_header_unfold(const unsigned char *value, size_t len, struct sluice_pool *pool,
                         size_t *len_r)
{
	size_t a = 0;
	/* A value may start with a fold ("Subject:\r\n text"): all of it is leading space. */
	while (a < len &&
	       (value[a] == ' ' || value[a] == '\t' || value[a] == '\r' || value[a] == '\n'))
		a++;
	char *out = pool_alloc(pool, len - a + 1);
	if (out == NULL)
		return NULL;
	size_t n = 0;
	for (size_t i = a; i < len; i++) {
		unsigned char c = value[i];
		if (c == '\n' || (c == '\r' && i + 1 < len && value[i + 1] == '\n'))
			continue;
		out[n++] = c == '\0' ? (char)0x80 : (char)c;
	}
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t' || out[n - 1] == '\r'))
		n--;
	out[n] = '\0';
	if (len_r != NULL)
		*len_r = n;
	return out;
}

int mime_header_find(const unsigned char *hdr, size_t hdr_len, const char *name, size_t *pos_io,
                     struct sluice_pool *pool, char **value_r, size_t *len_r)
{
	struct mime_header_field f;
	while (mime_header_next(hdr, hdr_len, pos_io, &f)) {
		if (!mail_lex_ascii_ieq(f.name, f.name_len, name))
			continue;
		*value_r = mime_header_unfold(f.value, f.value_len, pool, len_r);
		return *value_r != NULL ? 0 : -1;
	}
	return 1;
}
