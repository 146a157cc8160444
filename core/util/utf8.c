/* UTF-8 decoding and validation (see utf8.h). */
#include "util/utf8.h"

size_t utf8_decode(const unsigned char *p, size_t avail, uint32_t *cp_r)
{
	static const uint32_t min[4] = {0, 0x80, 0x800, 0x10000};
	unsigned char c = p[0];
	uint32_t cp;
	size_t n;

	if (c < 0x80) {
		*cp_r = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		n = 1;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (avail <= n)
		return 0;
	for (size_t k = 1; k <= n; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[k] & 0x3f);
	}
	if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return n + 1;
}

bool utf8_valid(const void *s, size_t len)
{
	const unsigned char *p = s;
	uint32_t cp;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_decode(p + i, len - i, &cp);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}
