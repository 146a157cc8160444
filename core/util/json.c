/* JSON strings for the control socket (see json.h). */
#include "util/json.h"

#include <string.h>

#include "util/utf8.h"

int json_string(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int rc = 0;

	if (s == NULL)
		return buf_append(b, "null", 4);
	rc |= buf_append(b, "\"", 1);
	for (size_t len = strlen(s); len > 0 && rc == 0;) {
		uint32_t cp;
		size_t n = utf8_decode(p, len, &cp);

		if (n == 0) {
			rc |= buf_append(b, "\\ufffd", 6); /* not UTF-8: one replacement per byte */
			n = 1;
		} else if (*p == '"' || *p == '\\') {
			rc |= buf_printf(b, "\\%c", *p);
		} else if (*p < 0x20 || *p == 0x7f) {
			rc |= buf_printf(b, "\\u%04x", *p);
		} else {
			rc |= buf_append(b, p, n);
		}
		p += n;
		len -= n;
	}
	rc |= buf_append(b, "\"", 1);
	return rc < 0 ? -1 : 0;
}
