/*
 * The Content-* header fields of a MIME part (RFC 2045, RFC 2183, RFC 3066, RFC 2557,
 * RFC 1864) and their parameters, including RFC 2231 continuations and charsets.
 *
 * Parameters are read leniently because real mail is written by careless software: an
 * unquoted value that runs on with spaces ("name=my file.pdf") is taken up to the next
 * ';', parameters without '=' are skipped, and only the first MIME_MAX_RAW_PARAMS raw
 * parameters are looked at, so a header with thousands of RFC 2231 sections costs a
 * bounded amount of work. Sections of one parameter are joined in section order whatever
 * order they come in; duplicates keep the first occurrence.
 */
#include "mail/mime.h"

#include <string.h>

#include "mail/lex.h"
#include "mail/mime-internal.h"
#include "mail/mail-buf.h"
#include "util/pool.h"

/* The largest RFC 2231 section number accepted; higher ones are dropped. */
#define MIME_MAX_SECTION 9999

struct mime_raw_param {
	const char *name; /* lowercase attribute as written, '*' suffixes included */
	size_t base_len;  /* length of the name before the first '*' */
	int section;      /* RFC 2231 section number, or -1 */
	bool encoded;     /* trailing '*': the value is percent-encoded */
	const char *value;
	size_t value_len;
};

static int mime_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = mail_lex_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Splits "name*3*" into its base, section and encoded flag. */
static bool mime_raw_param_split(struct mime_raw_param *rp)
{
	const char *star = strchr(rp->name, '*');
	rp->section = -1;
	rp->encoded = false;
	rp->base_len = star != NULL ? (size_t)(star - rp->name) : strlen(rp->name);
	if (star == NULL)
		return true;
	const char *s = star + 1;
	if (*s == '\0') {
		rp->encoded = true;
		return rp->base_len > 0;
	}
	int section = 0;
	if (*s < '0' || *s > '9')
		return false;
	while (*s >= '0' && *s <= '9') {
		section = section * 10 + (*s++ - '0');
		if (section > MIME_MAX_SECTION)
			return false;
	}
	if (*s == '*') {
		rp->encoded = true;
		s++;
	}
	rp->section = section;
	return *s == '\0' && rp->base_len > 0;
}

/* Reads one "; attribute = value" starting at @p p (just after the ';'). Returns the
 * position to continue from; *ok_r says whether @p rp was filled. */
static const unsigned char *mime_raw_param_read(const unsigned char *p, const unsigned char *end,
                                                struct sluice_pool *pool, struct mime_raw_param *rp,
                                                bool *ok_r)
{
	*ok_r = false;
	p = mail_lex_skip_cfws(p, end);
	const unsigned char *name = p;
	p = mail_lex_token(p, end);
	size_t name_len = (size_t)(p - name);
	p = mail_lex_skip_cfws(p, end);
	if (name_len == 0 || p == end || *p != '=')
		return p;
	p = mail_lex_skip_cfws(p + 1, end);
	char *lname = pool_strndup(pool, (const char *)name, name_len);
	if (lname == NULL)
		return end;
	for (size_t i = 0; i < name_len; i++)
		lname[i] = (char)mail_lex_lower((unsigned char)lname[i]);
	rp->name = lname;
	if (p < end && *p == '"') {
		struct mail_buf v;
		mail_buf_init(&v, pool, 0);
		p = mail_lex_quoted(p, end, &v);
		rp->value = mail_buf_finish(&v, &rp->value_len);
	} else {
		const unsigned char *v = p;
		p = mail_lex_token(p, end);
		const unsigned char *vend = p;
		const unsigned char *after = mail_lex_skip_cfws(p, end);
		if (after < end && *after != ';') {
			/* A value that runs on past its token: take it up to the next ';'. */
			const unsigned char *semi = memchr(after, ';', (size_t)(end - after));
			vend = semi != NULL ? semi : end;
			while (vend > v && mail_lex_is_wsp(vend[-1]))
				vend--;
			after = semi != NULL ? semi : end;
		}
		rp->value = pool_strndup(pool, (const char *)v, (size_t)(vend - v));
		rp->value_len = (size_t)(vend - v);
		p = after;
	}
	if (rp->value == NULL)
		return end;
	*ok_r = mime_raw_param_split(rp);
	return p;
}

/* Appends a percent-encoded RFC 2231 value, decoded; NUL becomes 0x80 so the result
 * stays a C string. */
static void mime_percent_decode(struct mail_buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%' && i + 2 < len) {
			int hi = mime_hex((unsigned char)s[i + 1]);
			int lo = mime_hex((unsigned char)s[i + 2]);
			if (hi >= 0 && lo >= 0) {
				c = (unsigned char)(hi * 16 + lo);
				mail_buf_putc(out, c == 0 ? (char)0x80 : (char)c);
				i += 2;
				continue;
			}
		}
		mail_buf_putc(out, (char)c);
	}
}

/* Decodes the first (or only) extended section: "charset'language'%XX...". */
static void mime_initial_decode(struct mail_buf *out, const struct mime_raw_param *rp,
                                struct mime_param *param, struct sluice_pool *pool)
{
	const char *v = rp->value;
	const char *q1 = memchr(v, '\'', rp->value_len);
	const char *q2 =
	    q1 != NULL ? memchr(q1 + 1, '\'', rp->value_len - (size_t)(q1 + 1 - v)) : NULL;
	if (q2 == NULL) {
		mime_percent_decode(out, v, rp->value_len);
		return;
	}
	if (q1 > v)
		param->charset = pool_strndup(pool, v, (size_t)(q1 - v));
	if (q2 > q1 + 1)
		param->language = pool_strndup(pool, q1 + 1, (size_t)(q2 - q1 - 1));
	mime_percent_decode(out, q2 + 1, rp->value_len - (size_t)(q2 + 1 - v));
}

/* Joins the RFC 2231 sections of one parameter, listed in @p idx (@p n entries). */
static int mime_param_join(struct mime_raw_param *raw, unsigned *idx, unsigned n,
                           struct mime_param *param, struct sluice_pool *pool)
{
	/* Insertion sort by section: n is at most MIME_MAX_RAW_PARAMS and usually 2 or 3. */
	for (unsigned i = 1; i < n; i++) {
		unsigned v = idx[i], j = i;
		while (j > 0 && raw[idx[j - 1]].section > raw[v].section) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = v;
	}
	struct mail_buf out;
	mail_buf_init(&out, pool, 0);
	for (unsigned i = 0; i < n; i++) {
		const struct mime_raw_param *rp = &raw[idx[i]];
		if (i > 0 && rp->section == raw[idx[i - 1]].section)
			continue; /* a duplicate section: the first one wins */
		if (rp->encoded && i == 0 && rp->section <= 0)
			mime_initial_decode(&out, rp, param, pool);
		else if (rp->encoded)
			mime_percent_decode(&out, rp->value, rp->value_len);
		else
			mail_buf_append(&out, rp->value, rp->value_len);
	}
	param->extended = true;
	param->value = mail_buf_finish(&out, NULL);
	return param->value != NULL ? 0 : -1;
}

int mime_params_parse(const unsigned char *p, const unsigned char *end, struct sluice_pool *pool,
                      struct mime_param **params_r, unsigned *count_r)
{
	*params_r = NULL;
	*count_r = 0;
	/* Size the raw array by the number of ';' so that small headers stay small: a
	 * message with thousands of parts must not cost a full array per part. */
	unsigned max = 0;
	for (const unsigned char *q = p; q < end && max < MIME_MAX_RAW_PARAMS; q++)
		max += *q == ';';
	if (max == 0)
		return 0;
	struct mime_raw_param *raw = pool_alloc(pool, max * sizeof(*raw));
	if (raw == NULL)
		return -1;
	unsigned nraw = 0;
	while (p < end && nraw < max) {
		const unsigned char *semi = memchr(p, ';', (size_t)(end - p));
		if (semi == NULL)
			break;
		bool ok;
		p = mime_raw_param_read(semi + 1, end, pool, &raw[nraw], &ok);
		if (ok)
			nraw++;
	}
	if (nraw == 0)
		return 0;

	struct mime_param *params = pool_alloc(pool, nraw * sizeof(*params));
	unsigned *idx = pool_alloc(pool, nraw * sizeof(*idx));
	bool *used = pool_alloc(pool, nraw * sizeof(*used));
	if (params == NULL || idx == NULL || used == NULL)
		return -1;
	unsigned count = 0;
	for (unsigned i = 0; i < nraw && count < MIME_MAX_PARAMS; i++) {
		if (used[i])
			continue;
		/* Gather every raw parameter with this base name; RFC 2231 forms win over a plain
		 * one, and a single "name*" wins over numbered sections. */
		unsigned n = 0, single = nraw, plain = nraw;
		for (unsigned j = i; j < nraw; j++) {
			if (raw[j].base_len != raw[i].base_len ||
			    memcmp(raw[j].name, raw[i].name, raw[i].base_len) != 0)
				continue;
			used[j] = true;
			if (raw[j].section >= 0)
				idx[n++] = j;
			else if (raw[j].encoded && single == nraw)
				single = j;
			else if (!raw[j].encoded && plain == nraw)
				plain = j;
		}
		struct mime_param *param = &params[count];
		param->name = pool_strndup(pool, raw[i].name, raw[i].base_len);
		if (param->name == NULL)
			return -1;
		if (single != nraw) {
			idx[0] = single;
			n = 1;
		}
		if (n > 0) {
			if (mime_param_join(raw, idx, n, param, pool) < 0)
				return -1;
		} else {
			param->value = raw[plain].value;
		}
		count++;
	}
	*params_r = params;
	*count_r = count;
	return 0;
}

const struct mime_param *mime_param_find(const struct mime_param *params, unsigned count,
                                         const char *name)
{
	for (unsigned i = 0; i < count; i++) {
		if (strcmp(params[i].name, name) == 0)
			return &params[i];
	}
	return NULL;
}

static char *mime_lower_token(const unsigned char *p, size_t len, struct sluice_pool *pool,
                              bool upper)
{
	char *s = pool_strndup(pool, (const char *)p, len);
	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = mail_lex_lower((unsigned char)s[i]);
		s[i] = (char)(upper && c >= 'a' && c <= 'z' ? c - 32 : c);
	}
	return s;
}

/* Content-Type: type "/" subtype *(";" parameter). Returns 1 when invalid. */
static int mime_content_type(struct mime_part *part, const unsigned char *v, size_t len,
                             struct sluice_pool *pool)
{
	const unsigned char *end = v + len;
	const unsigned char *p = mail_lex_skip_cfws(v, end);
	const unsigned char *type = p;
	p = mail_lex_token(p, end);
	size_t type_len = (size_t)(p - type);
	p = mail_lex_skip_cfws(p, end);
	if (type_len == 0 || p == end || *p != '/')
		return 1;
	p = mail_lex_skip_cfws(p + 1, end);
	const unsigned char *sub = p;
	p = mail_lex_token(p, end);
	size_t sub_len = (size_t)(p - sub);
	if (sub_len == 0)
		return 1;
	part->type = mime_lower_token(type, type_len, pool, false);
	part->subtype = mime_lower_token(sub, sub_len, pool, false);
	if (part->type == NULL || part->subtype == NULL)
		return -1;
	return mime_params_parse(p, end, pool, &part->params, &part->param_count);
}

/* Content-Disposition: disposition-type *(";" parameter). */
static int mime_disposition(struct mime_part *part, const unsigned char *v, size_t len,
                            struct sluice_pool *pool)
{
	const unsigned char *end = v + len;
	const unsigned char *p = mail_lex_skip_cfws(v, end);
	const unsigned char *type = p;
	p = mail_lex_token(p, end);
	if (p == type)
		return 0;
	part->disposition = pool_strndup(pool, (const char *)type, (size_t)(p - type));
	if (part->disposition == NULL)
		return -1;
	return mime_params_parse(p, end, pool, &part->disp_params, &part->disp_param_count);
}

/* Content-Language: a comma-separated list of language tags (RFC 3282). */
static int mime_languages(struct mime_part *part, const unsigned char *v, size_t len,
                          struct sluice_pool *pool)
{
	const unsigned char *end = v + len;
	const char *tags[MIME_MAX_LANGUAGES];
	unsigned n = 0;
	const unsigned char *p = v;
	while (p < end && n < MIME_MAX_LANGUAGES) {
		p = mail_lex_skip_cfws(p, end);
		const unsigned char *tag = p;
		p = mail_lex_token(p, end);
		if (p > tag) {
			tags[n] = pool_strndup(pool, (const char *)tag, (size_t)(p - tag));
			if (tags[n++] == NULL)
				return -1;
		}
		p = mail_lex_skip_cfws(p, end);
		const unsigned char *comma = p < end ? memchr(p, ',', (size_t)(end - p)) : NULL;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	if (n == 0)
		return 0;
	part->languages = pool_alloc(pool, n * sizeof(*part->languages));
	if (part->languages == NULL)
		return -1;
	memcpy(part->languages, tags, n * sizeof(*tags));
	part->language_count = n;
	return 0;
}

/* Content-Transfer-Encoding: one token, uppercased; anything else keeps the default. */
static int mime_encoding(struct mime_part *part, const unsigned char *v, size_t len,
                         struct sluice_pool *pool)
{
	const unsigned char *end = v + len;
	const unsigned char *p = mail_lex_skip_cfws(v, end);
	const unsigned char *tok = mail_lex_token(p, end);
	if (tok == p)
		return 0;
	part->encoding = mime_lower_token(p, (size_t)(tok - p), pool, true);
	return part->encoding != NULL ? 0 : -1;
}

int mime_fields_default_text(struct mime_part *part, struct sluice_pool *pool)
{
	struct mime_param *cs = pool_alloc(pool, sizeof(*cs));
	if (cs == NULL)
		return -1;
	cs->name = "charset";
	cs->value = "us-ascii";
	part->type = "text";
	part->subtype = "plain";
	part->params = cs;
	part->param_count = 1;
	return 0;
}

/* Adds charset=us-ascii to a text part that names no charset (RFC 2046 4.1.2). */
static int mime_default_charset(struct mime_part *part, struct sluice_pool *pool)
{
	if (mime_param_find(part->params, part->param_count, "charset") != NULL ||
	    part->param_count >= MIME_MAX_PARAMS)
		return 0;
	struct mime_param *params = pool_alloc(pool, (part->param_count + 1) * sizeof(*params));
	if (params == NULL)
		return -1;
	if (part->param_count > 0)
		memcpy(params, part->params, part->param_count * sizeof(*params));
	params[part->param_count].name = "charset";
	params[part->param_count].value = "us-ascii";
	part->params = params;
	part->param_count++;
	return 0;
}

enum mime_field {
	MIME_F_TYPE,
	MIME_F_ENCODING,
	MIME_F_ID,
	MIME_F_DESCRIPTION,
	MIME_F_DISPOSITION,
	MIME_F_LANGUAGE,
	MIME_F_LOCATION,
	MIME_F_MD5,
	MIME_F_COUNT
};

static const char *const mime_field_names[MIME_F_COUNT] = {
    "type", "transfer-encoding", "id", "description", "disposition", "language", "location", "md5",
};

int mime_fields_parse(struct mime_part *part, const unsigned char *hdr, size_t hdr_len, bool digest,
                      struct sluice_pool *pool)
{
	bool seen[MIME_F_COUNT] = {false};
	bool type_ok = false;
	size_t pos = 0;
	struct mime_header_field f;
	while (mime_header_next(hdr, hdr_len, &pos, &f)) {
		if (f.name_len <= 8 || !mail_lex_ascii_ieq(f.name, 8, "content-"))
			continue;
		unsigned which = 0;
		while (which < MIME_F_COUNT &&
		       !mail_lex_ascii_ieq(f.name + 8, f.name_len - 8, mime_field_names[which]))
			which++;
		if (which == MIME_F_COUNT || seen[which])
			continue; /* the first occurrence of a field is the one that counts */
		seen[which] = true;
		size_t vlen;
		char *v = mime_header_unfold(f.value, f.value_len, pool, &vlen);
		if (v == NULL)
			return -1;
		const unsigned char *uv = (const unsigned char *)v;
		int r = 0;
		switch ((enum mime_field)which) {
		case MIME_F_TYPE:
			r = mime_content_type(part, uv, vlen, pool);
			type_ok = r == 0;
			if (r > 0) {
				/* Invalid: forget whatever was parsed before the error. */
				part->type = part->subtype = NULL;
				part->params = NULL;
				part->param_count = 0;
				r = 0;
			}
			break;
		case MIME_F_ENCODING:
			r = mime_encoding(part, uv, vlen, pool);
			break;
		case MIME_F_ID:
			part->id = v;
			break;
		case MIME_F_DESCRIPTION:
			part->description = v;
			break;
		case MIME_F_DISPOSITION:
			r = mime_disposition(part, uv, vlen, pool);
			break;
		case MIME_F_LANGUAGE:
			r = mime_languages(part, uv, vlen, pool);
			break;
		case MIME_F_LOCATION:
			part->location = v;
			break;
		case MIME_F_MD5:
			part->md5 = v;
			break;
		case MIME_F_COUNT:
			break;
		}
		if (r < 0)
			return -1;
	}
	if (part->encoding == NULL)
		part->encoding = "7BIT";
	if (!type_ok) {
		if (!digest)
			return mime_fields_default_text(part, pool);
		part->type = "message";
		part->subtype = "rfc822";
		return 0;
	}
	if (strcmp(part->type, "text") == 0)
		return mime_default_charset(part, pool);
	return 0;
}
