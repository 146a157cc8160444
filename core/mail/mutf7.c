/*
 * Modified UTF-7 (see mutf7.h). The decoder collects base64 sextets into a bit accumulator,
 * takes UTF-16 units out of it sixteen bits at a time and pairs surrogates as it goes; when
 * a run ends it checks that fewer than six bits are left over and that they are zero, which
 * is exactly the condition for the run to be the shortest encoding of its units. The encoder
 * is the same machine backwards. Neither uses locale-dependent functions.
 */
#include "mail/mutf7.h"

#include <stdint.h>
#include <string.h>

/* RFC 3501's modified base64: RFC 2045's alphabet with ',' in place of '/'. */
static const char mutf7_b64[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int mutf7_b64_value(unsigned char c)
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

/* Characters that represent themselves; '&' is printable but must be written "&-". */
static bool mutf7_is_direct(uint32_t c)
{
	return c >= 0x20 && c <= 0x7e && c != '&';
}

/* Appends the UTF-8 form of @p cp, which the caller has checked is a scalar value. */
static int mutf7_put_utf8(struct buf *out, uint32_t cp)
{
	unsigned char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | (cp >> 18));
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return out == NULL ? 0 : buf_append(out, b, n);
}

/*
 * Decodes one base64 run starting just after '&' and ending at '-'; *pp is advanced past the
 * '-'. @p out may be NULL when only validating.
 */
static int mutf7_decode_run(const char **pp, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)*pp;
	uint32_t bits = 0;  /* pending bits, right-aligned */
	unsigned nbits = 0; /* how many of them */
	uint32_t high = 0;  /* a high surrogate waiting for its low half */
	size_t units = 0;

	for (; *p != '-'; p++) {
		int v = mutf7_b64_value(*p);
		if (v < 0)
			return SLUICE_E_PARSE; /* includes the NUL of an unterminated run */
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t u = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;
		units++;
		if (high != 0) {
			if (u < 0xdc00 || u > 0xdfff)
				return SLUICE_E_PARSE;
			uint32_t cp = 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00);
			high = 0;
			if (mutf7_put_utf8(out, cp) < 0)
				return SLUICE_E_NOMEM;
		} else if (u >= 0xd800 && u <= 0xdbff) {
			high = u;
		} else if (u >= 0xdc00 && u <= 0xdfff) {
			return SLUICE_E_PARSE;
		} else {
			/* Base64 may not hide what could be written directly, nor a NUL. */
			if (u == 0 || u == '&' || mutf7_is_direct(u))
				return SLUICE_E_PARSE;
			if (mutf7_put_utf8(out, u) < 0)
				return SLUICE_E_NOMEM;
		}
	}
	/* An empty run is only "&-"; leftovers must be short zero padding; pairs must close. */
	if (units == 0 || nbits >= 6 || bits != 0 || high != 0)
		return SLUICE_E_PARSE;
	*pp = (const char *)p + 1;
	return 0;
}

static int mutf7_decode(const char *in, struct buf *out)
{
	const char *p = in;
	bool after_run = false; /* the previous bytes were an encoded run */

	while (*p != '\0') {
		unsigned char c = (unsigned char)*p;
		if (c == '&') {
			if (p[1] == '-') {
				if (out != NULL && buf_append(out, "&", 1) < 0)
					return SLUICE_E_NOMEM;
				p += 2;
				after_run = false;
				continue;
			}
			/* Two runs back to back must have been written as one. */
			if (after_run)
				return SLUICE_E_PARSE;
			p++;
			int ret = mutf7_decode_run(&p, out);
			if (ret < 0)
				return ret;
			after_run = true;
			continue;
		}
		if (!mutf7_is_direct(c))
			return SLUICE_E_PARSE;
		if (out != NULL && buf_append(out, p, 1) < 0)
			return SLUICE_E_NOMEM;
		p++;
		after_run = false;
	}
	return 0;
}

int mutf7_to_utf8(const char *in, struct buf *out)
{
	size_t before = buf_len(out);
	int ret = mutf7_decode(in, out);
	if (ret < 0)
		out->end = out->start + before;
	return ret;
}

bool mutf7_valid(const char *name)
{
	return mutf7_decode(name, NULL) == 0;
}

/*
 * Reads one UTF-8 scalar value at *pp and advances past it. Overlong forms, surrogates,
 * values past U+10FFFF and truncated sequences are refused.
 */
static int mutf7_get_utf8(const unsigned char **pp, uint32_t *cp_r)
{
	const unsigned char *p = *pp;
	uint32_t cp;
	unsigned extra;
	uint32_t min;

	if (p[0] < 0x80) {
		*cp_r = p[0];
		*pp = p + 1;
		return 0;
	} else if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		cp = p[0] & 0x1f;
		extra = 1;
		min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		cp = p[0] & 0x0f;
		extra = 2;
		min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		cp = p[0] & 0x07;
		extra = 3;
		min = 0x10000;
	} else {
		return SLUICE_E_PARSE;
	}
	for (unsigned i = 1; i <= extra; i++) {
		/* A NUL here fails this test too, so we never read past the terminator. */
		if ((p[i] & 0xc0) != 0x80)
			return SLUICE_E_PARSE;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return SLUICE_E_PARSE;
	*cp_r = cp;
	*pp = p + 1 + extra;
	return 0;
}

/* Feeds one UTF-16 unit into the base64 accumulator, writing every complete sextet. */
static int mutf7_put_unit(struct buf *out, uint32_t *bits, unsigned *nbits, uint32_t unit)
{
	char tmp[3];
	size_t n = 0;
	*bits = (*bits << 16) | unit;
	*nbits += 16;
	while (*nbits >= 6) {
		*nbits -= 6;
		tmp[n++] = mutf7_b64[(*bits >> *nbits) & 0x3f];
	}
	*bits &= (1u << *nbits) - 1;
	return buf_append(out, tmp, n);
}

/* Ends a base64 run: the last sextet is padded with zero bits, as the decoder demands. */
static int mutf7_close_run(struct buf *out, uint32_t bits, unsigned nbits)
{
	char tail[2];
	size_t n = 0;
	if (nbits > 0)
		tail[n++] = mutf7_b64[(bits << (6 - nbits)) & 0x3f];
	tail[n++] = '-';
	return buf_append(out, tail, n);
}

static int mutf7_encode(const char *in, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)in;
	bool in_run = false;
	uint32_t bits = 0;
	unsigned nbits = 0;

	while (*p != '\0') {
		uint32_t cp;
		if (mutf7_get_utf8(&p, &cp) < 0)
			return SLUICE_E_PARSE;
		if (cp == '&' || mutf7_is_direct(cp)) {
			if (in_run && mutf7_close_run(out, bits, nbits) < 0)
				return SLUICE_E_NOMEM;
			in_run = false;
			bits = 0;
			nbits = 0;
			char lit = (char)cp;
			int ret = cp == '&' ? buf_append(out, "&-", 2) : buf_append(out, &lit, 1);
			if (ret < 0)
				return SLUICE_E_NOMEM;
			continue;
		}
		if (!in_run) {
			if (buf_append(out, "&", 1) < 0)
				return SLUICE_E_NOMEM;
			in_run = true;
		}
		int ret;
		if (cp >= 0x10000) {
			uint32_t v = cp - 0x10000;
			ret = mutf7_put_unit(out, &bits, &nbits, 0xd800 | (v >> 10));
			if (ret == 0)
				ret = mutf7_put_unit(out, &bits, &nbits, 0xdc00 | (v & 0x3ff));
		} else {
			ret = mutf7_put_unit(out, &bits, &nbits, cp);
		}
		if (ret < 0)
			return SLUICE_E_NOMEM;
	}
	if (in_run && mutf7_close_run(out, bits, nbits) < 0)
		return SLUICE_E_NOMEM;
	return 0;
}

int utf8_to_mutf7(const char *in, struct buf *out)
{
	size_t before = buf_len(out);
	int ret = mutf7_encode(in, out);
	if (ret < 0)
		out->end = out->start + before;
	return ret;
}
