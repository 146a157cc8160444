/*
 * The one place that turns bytes into an IMAP string (see imap-string.h). A quoted string
 * is preferred because it is what clients and humans read most easily; a literal is used
 * as soon as a byte could not travel inside quotes.
 */
#include "mail/imap-string.h"

#include <stdbool.h>

static bool imap_needs_literal(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\0' || p[i] == '\r' || p[i] == '\n' || p[i] >= 0x80)
			return true;
	}
	return false;
}

void imap_write_string(struct mail_buf *out, const void *s, size_t len)
{
	const unsigned char *p = s;
	if (p == NULL) {
		mail_buf_append(out, "NIL", 3);
		return;
	}
	if (imap_needs_literal(p, len)) {
		mail_buf_printf(out, "{%zu}\r\n", len);
		size_t from = 0;
		for (size_t i = 0; i < len; i++) {
			if (p[i] != '\0')
				continue;
			mail_buf_append(out, p + from, i - from);
			mail_buf_putc(out, (char)0x80);
			from = i + 1;
		}
		mail_buf_append(out, p + from, len - from);
		return;
	}
	mail_buf_putc(out, '"');
	size_t from = 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '"' && p[i] != '\\')
			continue;
		mail_buf_append(out, p + from, i - from);
		mail_buf_putc(out, '\\');
		from = i;
	}
	mail_buf_append(out, p + from, len - from);
	mail_buf_putc(out, '"');
}
