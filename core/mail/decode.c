/*
 * Decoding for SEARCH (see decode.h): transfer encodings, charsets through iconv, RFC 2047
 * encoded words, and the walks over a header or a MIME tree that SEARCH needs. Decoders
 * are lenient because their output is only ever matched against, never shown or stored:
 * recovering some text from a broken encoding is better than none.
 */
#include "mail/decode.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <string.h>

#include "mail/lex.h"
#include "mail/mime.h"
#include "util/pool.h"

/* Longest charset name passed to iconv; longer names are treated as unknown. */
#define DECODE_MAX_CHARSET 40

static const unsigned char decode_replacement[3] = {0xef, 0xbf, 0xbd}; /* U+FFFD */

static int decode_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = mail_lex_lower(c);
	return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

static int decode_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

void mail_decode_base64(struct mail_buf *out, const unsigned char *in, size_t len)
{
	if (!mail_buf_reserve(out, len / 4 * 3 + 3))
		return;
	unsigned char *o = (unsigned char *)out->data + out->len;
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '=') {
			/* Padding ends the quantum; the partial bits are not data. */
			acc = 0;
			bits = 0;
			continue;
		}
		int v = decode_b64_value(in[i]);
		if (v < 0)
			continue;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			*o++ = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	out->len = (size_t)((char *)o - out->data);
	out->data[out->len] = '\0';
}

void mail_decode_qp(struct mail_buf *out, const unsigned char *in, size_t len)
{
	if (!mail_buf_reserve(out, len))
		return;
	unsigned char *o = (unsigned char *)out->data + out->len;
	for (size_t i = 0; i < len; i++) {
		if (in[i] != '=') {
			*o++ = in[i];
			continue;
		}
		/* A soft line break: '=', optional trailing whitespace, then the line end. */
		size_t j = i + 1;
		while (j < len && (in[j] == ' ' || in[j] == '\t'))
			j++;
		if (j < len && in[j] == '\r' && j + 1 < len && in[j + 1] == '\n')
			j++;
		if (j == len || in[j] == '\n') {
			i = j;
			continue;
		}
		int hi = i + 1 < len ? decode_hex(in[i + 1]) : -1;
		int lo = i + 2 < len ? decode_hex(in[i + 2]) : -1;
		if (hi >= 0 && lo >= 0) {
			*o++ = (unsigned char)(hi * 16 + lo);
			i += 2;
		} else {
			*o++ = '=';
		}
	}
	out->len = (size_t)((char *)o - out->data);
	out->data[out->len] = '\0';
}

/* Charsets whose bytes are taken as UTF-8 without conversion. */
static bool decode_charset_passthrough(const char *cs)
{
	static const char *const names[] = {"us-ascii", "utf-8", "utf8", "ascii", "ansi_x3.4-1968"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (mail_lex_ascii_ieq(cs, strlen(cs), names[i]))
			return true;
	}
	return false;
}

/* Opens a converter from @p charset to UTF-8, or returns (iconv_t)-1. Names are checked
 * first: iconv must only ever see a plain charset name, never a "//" suffix or a path. */
static iconv_t decode_iconv_open(const char *charset)
{
	static const struct {
		const char *label, *name;
	} aliases[] = {
	    {"iso-8859-1", "WINDOWS-1252"}, {"latin1", "WINDOWS-1252"},
	    {"ks_c_5601-1987", "CP949"},    {"x-sjis", "SHIFT_JIS"},
	    {"iso-8859-8-i", "ISO-8859-8"}, {"x-mac-roman", "MACINTOSH"},
	};
	size_t n = strlen(charset);
	if (n == 0 || n > DECODE_MAX_CHARSET)
		return (iconv_t)-1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)charset[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == ':'))
			return (iconv_t)-1;
	}
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (mail_lex_ascii_ieq(charset, n, aliases[i].label))
			return iconv_open("UTF-8", aliases[i].name);
	}
	return iconv_open("UTF-8", charset);
}

/* Converts with an open converter; invalid input becomes U+FFFD. */
static void decode_convert(struct mail_buf *out, iconv_t cd, const unsigned char *in, size_t len)
{
	char *ip = (char *)in;
	size_t ileft = len;
	char *op;
	size_t oroom;
	iconv(cd, NULL, NULL, NULL, NULL);
	while (ileft > 0) {
		if (!mail_buf_reserve(out, ileft * 2 + 16))
			return;
		op = out->data + out->len;
		oroom = out->cap - out->len;
		size_t r = iconv(cd, &ip, &ileft, &op, &oroom);
		int err = errno;
		out->len = (size_t)(op - out->data);
		out->data[out->len] = '\0';
		if (r != (size_t)-1 || err == E2BIG)
			continue;
		mail_buf_append(out, decode_replacement, sizeof(decode_replacement));
		if (err != EILSEQ)
			return; /* EINVAL: the input ends inside a character */
		ip++;
		ileft--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	/* Return a stateful encoding (ISO-2022-JP) to its initial state. */
	if (!mail_buf_reserve(out, 16))
		return;
	op = out->data + out->len;
	oroom = out->cap - out->len;
	iconv(cd, NULL, NULL, &op, &oroom);
	out->len = (size_t)(op - out->data);
	out->data[out->len] = '\0';
}

bool mail_charset_to_utf8(struct mail_buf *out, const char *charset, const unsigned char *in,
                          size_t len)
{
	if (charset == NULL || decode_charset_passthrough(charset))
		return false;
	iconv_t cd = decode_iconv_open(charset);
	if (cd == (iconv_t)-1)
		return false;
	decode_convert(out, cd, in, len);
	iconv_close(cd);
	return true;
}

/* An RFC 2047 encoded word "=?charset[*lang]?B|Q?text?=" found in a header value. */
struct decode_word {
	const char *charset; /* NUL-terminated copy in a small buffer */
	char enc;            /* 'B' or 'Q' */
	const unsigned char *text, *text_end;
	const unsigned char *end; /* after "?=" */
};

/* Where a scan for the end of an encoded word's text stopped, and where it started: any
 * later scan that starts between the two stops at the same place, which keeps a value full
 * of "=?x?q?" openings without closings linear instead of quadratic. */
struct decode_scan {
	const unsigned char *from, *stop;
};

static bool decode_word_parse(const unsigned char *p, const unsigned char *end, char *cs_buf,
                              size_t cs_size, struct decode_scan *scan, struct decode_word *w)
{
	if (end - p < 8 || p[0] != '=' || p[1] != '?')
		return false;
	const unsigned char *cs = p + 2, *q = cs;
	while (q < end && *q != '?' && mail_lex_is_token_char(*q) && (size_t)(q - cs) < cs_size)
		q++;
	if (q == cs || q == end || *q != '?' || (size_t)(q - cs) >= cs_size)
		return false;
	size_t cs_len = (size_t)(q - cs);
	const unsigned char *star = memchr(cs, '*', cs_len);
	if (star != NULL)
		cs_len = (size_t)(star - cs); /* RFC 2231 section 5: drop the language */
	memcpy(cs_buf, cs, cs_len);
	cs_buf[cs_len] = '\0';
	q++;
	if (end - q < 3 || q[1] != '?')
		return false;
	char enc = (char)(mail_lex_lower(q[0]) == 'b'   ? 'B'
	                  : mail_lex_lower(q[0]) == 'q' ? 'Q'
	                                                : 0);
	if (enc == 0)
		return false;
	const unsigned char *text = q + 2, *t;
	if (scan->from != NULL && scan->from <= text && text <= scan->stop) {
		t = scan->stop;
	} else {
		for (t = text; t + 1 < end && !(t[0] == '?' && t[1] == '='); t++) {
			if (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n')
				break;
		}
		scan->from = text;
		scan->stop = t;
	}
	if (t + 1 >= end || t[0] != '?' || t[1] != '=')
		return false;
	w->charset = cs_buf;
	w->enc = enc;
	w->text = text;
	w->text_end = t;
	w->end = t + 2;
	return true;
}

/* RFC 2047 "Q": quoted-printable where '_' stands for a space. */
static void decode_q(struct mail_buf *out, const unsigned char *in, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		int hi, lo;
		if (in[i] == '_') {
			mail_buf_putc(out, ' ');
		} else if (in[i] == '=' && i + 2 < len && (hi = decode_hex(in[i + 1])) >= 0 &&
		           (lo = decode_hex(in[i + 2])) >= 0) {
			mail_buf_putc(out, (char)(hi * 16 + lo));
			i += 2;
		} else {
			mail_buf_putc(out, (char)in[i]);
		}
	}
}

/* State of mail_decode_header(): decoded bytes of adjacent words in one charset wait in
 * @pending until something else comes, and are then converted together. */
struct decode_header_ctx {
	struct mail_buf *out;
	struct mail_buf pending;
	char pending_cs[DECODE_MAX_CHARSET + 1];
	iconv_t cd; /* converter for pending_cs, or -1 for pass-through */
};

static void decode_flush(struct decode_header_ctx *ctx)
{
	if (ctx->pending.len == 0)
		return;
	if (ctx->cd == (iconv_t)-1)
		mail_buf_append(ctx->out, ctx->pending.data, ctx->pending.len);
	else
		decode_convert(ctx->out, ctx->cd, (const unsigned char *)ctx->pending.data,
		               ctx->pending.len);
	ctx->pending.len = 0;
}

/* Makes @p cs the charset of the pending words; false when it is unknown. */
static bool decode_use_charset(struct decode_header_ctx *ctx, const char *cs)
{
	if (ctx->pending_cs[0] != '\0' && strcmp(ctx->pending_cs, cs) == 0)
		return true;
	decode_flush(ctx);
	iconv_t cd = (iconv_t)-1;
	if (!decode_charset_passthrough(cs)) {
		cd = decode_iconv_open(cs);
		if (cd == (iconv_t)-1)
			return false;
	}
	if (ctx->cd != (iconv_t)-1)
		iconv_close(ctx->cd);
	ctx->cd = cd;
	strcpy(ctx->pending_cs, cs);
	return true;
}

char *mail_decode_header(const char *value, size_t len, struct sluice_pool *pool, size_t *len_r)
{
	struct mail_buf out;
	mail_buf_init(&out, pool, len + 1);
	struct decode_header_ctx ctx = {.out = &out, .cd = (iconv_t)-1};
	mail_buf_init(&ctx.pending, pool, 0);
	const unsigned char *p = (const unsigned char *)value, *end = p + len;
	const unsigned char *ws = NULL; /* whitespace after an encoded word, held back */
	struct decode_scan scan = {NULL, NULL};
	while (p < end) {
		char cs[DECODE_MAX_CHARSET + 1];
		struct decode_word w;
		if (*p == '=' && decode_word_parse(p, end, cs, sizeof(cs), &scan, &w) &&
		    decode_use_charset(&ctx, w.charset)) {
			ws = NULL; /* whitespace between two encoded words is dropped */
			if (w.enc == 'B') {
				mail_decode_base64(&ctx.pending, w.text,
				                   (size_t)(w.text_end - w.text));
			} else {
				decode_q(&ctx.pending, w.text, (size_t)(w.text_end - w.text));
			}
			p = w.end;
			const unsigned char *q = p;
			while (q < end && mail_lex_is_wsp(*q))
				q++;
			if (q > p) {
				ws = p;
				p = q;
			}
			continue;
		}
		decode_flush(&ctx);
		if (ws != NULL) {
			mail_buf_append(&out, ws, (size_t)(p - ws));
			ws = NULL;
		}
		const unsigned char *run = p++;
		while (p < end && *p != '=')
			p++;
		mail_buf_append(&out, run, (size_t)(p - run));
	}
	decode_flush(&ctx);
	if (ctx.cd != (iconv_t)-1)
		iconv_close(ctx.cd);
	if (ctx.pending.failed)
		out.failed = true;
	return mail_buf_finish(&out, len_r);
}

int mail_decode_body(const struct mime_part *part, size_t max_len, struct sluice_pool *pool,
                     char **text_r, size_t *len_r)
{
	if ((part->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) != 0 ||
	    part->body_len > max_len)
		return 1;
	const unsigned char *body = part->msg + part->body_start;
	size_t len = part->body_len;
	struct mail_buf raw;
	mail_buf_init(&raw, pool, 0);
	if (strcmp(part->encoding, "BASE64") == 0) {
		mail_decode_base64(&raw, body, len);
	} else if (strcmp(part->encoding, "QUOTED-PRINTABLE") == 0) {
		mail_decode_qp(&raw, body, len);
	} else {
		raw.data = (char *)body; /* read only: an identity encoding needs no copy */
		raw.len = len;
	}
	if (raw.failed)
		return -1;
	const struct mime_param *cs = NULL;
	if (strcmp(part->type, "text") == 0)
		cs = mime_param_find(part->params, part->param_count, "charset");
	struct mail_buf out;
	mail_buf_init(&out, pool, 0);
	if (cs == NULL ||
	    !mail_charset_to_utf8(&out, cs->value, (const unsigned char *)raw.data, raw.len)) {
		mail_buf_init(&out, pool, raw.len + 1);
		mail_buf_append(&out, raw.data, raw.len);
	}
	*text_r = mail_buf_finish(&out, len_r);
	return *text_r != NULL ? 0 : -1;
}

int mail_header_contains(const unsigned char *hdr, size_t hdr_len, const char *name,
                         const char *needle, struct sluice_pool *pool)
{
	struct mime_header_field f;
	size_t pos = 0;
	while (mime_header_next(hdr, hdr_len, &pos, &f)) {
		if (name != NULL && !mail_lex_ascii_ieq(f.name, f.name_len, name))
			continue;
		if (name == NULL && mail_text_contains((const char *)f.name, f.name_len, needle))
			return 1;
		size_t ulen, dlen;
		char *u = mime_header_unfold(f.value, f.value_len, pool, &ulen);
		char *d = u != NULL ? mail_decode_header(u, ulen, pool, &dlen) : NULL;
		if (d == NULL)
			return -1;
		if (mail_text_contains(d, dlen, needle))
			return 1;
	}
	return 0;
}

int mail_body_contains(const struct mime_part *root, const char *needle, size_t max_part,
                       struct sluice_pool *pool)
{
	for (const struct mime_part *p = root->children; p != NULL; p = p->next) {
		int r = mail_body_contains(p, needle, max_part, pool);
		if (r != 0)
			return r;
		if (root->flags & MIME_PART_MESSAGE) {
			/* The encapsulated header is part of the enclosing body's text. */
			r = mail_header_contains(p->msg + p->hdr_start, p->hdr_len, NULL, needle,
			                         pool);
			if (r != 0)
				return r;
		}
	}
	if (root->children != NULL)
		return 0;
	bool text = strcmp(root->type, "text") == 0 ||
	            (strcmp(root->type, "message") == 0 && (root->flags & MIME_PART_OPAQUE) == 0);
	if (!text)
		return 0;
	char *t;
	size_t len;
	int r = mail_decode_body(root, max_part, pool, &t, &len);
	if (r != 0)
		return r < 0 ? -1 : 0;
	return mail_text_contains(t, len, needle) ? 1 : 0;
}
