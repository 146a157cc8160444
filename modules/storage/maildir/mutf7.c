/*
 * Modified UTF-7 (RFC 3501 section 5.1.3) for folder directory names, the way Courier and
 * Dovecot store them: the folder `Entwürfe` lives in `.Entw&APw-rfe`. Canonical names at
 * the module ABI are UTF-8, so the module encodes when it turns a name into a directory and
 * decodes when it lists directories.
 *
 * The module carries its own small codec instead of linking the core's: a module links
 * nothing of the core. The decoder is strict (one spelling per name): it refuses raw 8-bit
 * bytes and controls, unterminated or empty runs other than `&-`, ASCII (printable or not)
 * hidden in base64, set padding bits, broken surrogates and two runs back to back. A
 * directory whose name fails is not a folder this module can name, and listing skips it.
 */
#include "maildir.h"

#include <string.h>

static const char mutf7_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int mutf7_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

/* Decodes one UTF-8 sequence; returns its length, or 0 when it is malformed. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp_r)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		cp = s[0] & 0x1f, len = 2;
	} else if ((s[0] & 0xf0) == 0xe0) {
		cp = s[0] & 0x0f, len = 3;
	} else if ((s[0] & 0xf8) == 0xf0) {
		cp = s[0] & 0x07, len = 4;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return len;
}

struct mutf7_out {
	char *buf;
	size_t size, len;
	bool full;
};

static void out_put(struct mutf7_out *o, char c)
{
	if (o->len + 1 >= o->size) {
		o->full = true;
		return;
	}
	o->buf[o->len++] = c;
}

int maildir_mutf7_encode(const char *in, size_t inlen, char *out, size_t outsize)
{
	const unsigned char *s = (const unsigned char *)in;
	struct mutf7_out o = {out, outsize, 0, false};
	uint32_t bits = 0;
	unsigned nbits = 0;
	bool in_run = false;
	size_t i = 0;

	while (i < inlen) {
		uint32_t cp;
		size_t n = utf8_decode(s + i, inlen - i, &cp);
		if (n == 0)
			return -1;
		i += n;
		if (cp >= 0x20 && cp <= 0x7e) {
			if (in_run) {
				if (nbits > 0)
					out_put(&o, mutf7_alphabet[(bits << (6 - nbits)) & 0x3f]);
				out_put(&o, '-');
				in_run = false;
				bits = nbits = 0;
			}
			out_put(&o, (char)cp);
			if (cp == '&')
				out_put(&o, '-');
			continue;
		}
		if (!in_run) {
			out_put(&o, '&');
			in_run = true;
		}
		uint32_t units[2];
		size_t nunits = 1;
		if (cp >= 0x10000) {
			units[0] = 0xd800 + ((cp - 0x10000) >> 10);
			units[1] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
			nunits = 2;
		} else {
			units[0] = cp;
		}
		for (size_t u = 0; u < nunits; u++) {
			bits = (bits << 16) | units[u];
			nbits += 16;
			while (nbits >= 6) {
				nbits -= 6;
				out_put(&o, mutf7_alphabet[(bits >> nbits) & 0x3f]);
			}
			bits &= (1u << nbits) - 1;
		}
	}
	if (in_run) {
		if (nbits > 0)
			out_put(&o, mutf7_alphabet[(bits << (6 - nbits)) & 0x3f]);
		out_put(&o, '-');
	}
	if (o.full)
		return -1;
	out[o.len] = '\0';
	return (int)o.len;
}

static void utf8_put(struct mutf7_out *o, uint32_t cp)
{
	if (cp < 0x80) {
		out_put(o, (char)cp);
	} else if (cp < 0x800) {
		out_put(o, (char)(0xc0 | (cp >> 6)));
		out_put(o, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		out_put(o, (char)(0xe0 | (cp >> 12)));
		out_put(o, (char)(0x80 | ((cp >> 6) & 0x3f)));
		out_put(o, (char)(0x80 | (cp & 0x3f)));
	} else {
		out_put(o, (char)(0xf0 | (cp >> 18)));
		out_put(o, (char)(0x80 | ((cp >> 12) & 0x3f)));
		out_put(o, (char)(0x80 | ((cp >> 6) & 0x3f)));
		out_put(o, (char)(0x80 | (cp & 0x3f)));
	}
}

/* Decodes the base64 run starting at in[*i] (after '&') up to and including its '-'. */
static int mutf7_decode_run(const char *in, size_t inlen, size_t *i, struct mutf7_out *o)
{
	uint32_t bits = 0, high = 0;
	unsigned nbits = 0;
	size_t start = *i;

	for (; *i < inlen && in[*i] != '-'; (*i)++) {
		int v = mutf7_value(in[*i]);
		if (v < 0)
			return -1;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t unit = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;
		if (high != 0) {
			if (unit < 0xdc00 || unit > 0xdfff)
				return -1;
			utf8_put(o, 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00));
			high = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
		} else if (unit >= 0xdc00 && unit <= 0xdfff) {
			return -1;
		} else if (unit < 0x80) {
			/* Printable ASCII must be literal; controls are never part of a name. */
			return -1;
		} else {
			utf8_put(o, unit);
		}
	}
	if (*i >= inlen || *i == start || high != 0 || nbits >= 6 || bits != 0)
		return -1;
	(*i)++; /* the '-' */
	return 0;
}

int maildir_mutf7_decode(const char *in, size_t inlen, char *out, size_t outsize)
{
	struct mutf7_out o = {out, outsize, 0, false};
	bool after_run = false;

	for (size_t i = 0; i < inlen;) {
		unsigned char c = (unsigned char)in[i];
		if (c < 0x20 || c > 0x7e)
			return -1;
		if (c != '&') {
			out_put(&o, (char)c);
			i++;
			after_run = false;
			continue;
		}
		i++;
		if (i < inlen && in[i] == '-') {
			out_put(&o, '&');
			i++;
			after_run = false;
			continue;
		}
		if (after_run || mutf7_decode_run(in, inlen, &i, &o) != 0)
			return -1;
		after_run = true;
	}
	if (o.full)
		return -1;
	out[o.len] = '\0';
	return (int)o.len;
}
