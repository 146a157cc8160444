/*
 * Fuzz target for the message parser (core/mail): mime_parse() on the input, then
 * ENVELOPE, BODY and BODYSTRUCTURE of the tree, a set of FETCH sections (plus one parsed
 * from the input's first line, which also fuzzes the section grammar), RFC 2047 and body
 * decoding for SEARCH, and the date parser. Every message is processed twice: with an
 * unlimited pool, and with a small capped one so that the out-of-memory paths run too.
 *
 * Besides the sanitizers' checks, the target aborts when a promise is broken: a part
 * outside its parent, nesting deeper than MIME_MAX_DEPTH, a section range outside the
 * message, or an ENVELOPE/BODYSTRUCTURE string that is not well-formed IMAP (balanced
 * parentheses, quoted strings without CR, LF or 8-bit bytes, literals whose length is
 * right).
 *
 * It is plain C: built with libFuzzer under clang, or linked with a small main that feeds
 * the seed files in tests/fuzz/corpus/mime/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/bodystructure.h"
#include "mail/date.h"
#include "mail/decode.h"
#include "mail/envelope.h"
#include "mail/mime.h"
#include "mail/section.h"
#include "util/pool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int ok)
{
	if (!ok)
		abort();
}

/* Checks that @p s is a sequence of well-formed IMAP tokens with balanced parentheses. */
static void fuzz_check_imap(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t depth = 0;
	while (*p != '\0') {
		if (*p == '(') {
			depth++;
			p++;
		} else if (*p == ')') {
			fuzz_check(depth > 0);
			depth--;
			p++;
		} else if (*p == ' ') {
			p++;
		} else if (*p == '"') {
			for (p++; *p != '"'; p++) {
				fuzz_check(*p != '\0' && *p != '\r' && *p != '\n' && *p < 0x80);
				if (*p == '\\') {
					p++;
					fuzz_check(*p == '"' || *p == '\\');
				}
			}
			p++;
		} else if (*p == '{') {
			char *end;
			unsigned long n = strtoul((const char *)p + 1, &end, 10);
			fuzz_check(end[0] == '}' && end[1] == '\r' && end[2] == '\n');
			p = (const unsigned char *)end + 3;
			for (unsigned long i = 0; i < n; i++)
				fuzz_check(*p++ != '\0');
		} else {
			/* NIL or a number */
			const unsigned char *a = p;
			while (*p != '\0' && *p != ' ' && *p != '(' && *p != ')')
				p++;
			fuzz_check((p - a == 3 && memcmp(a, "NIL", 3) == 0) ||
			           strspn((const char *)a, "0123456789") == (size_t)(p - a));
		}
	}
	fuzz_check(depth == 0);
}

static void fuzz_walk(const struct mime_part *p, size_t start, size_t end, size_t *count)
{
	fuzz_check(p->depth <= MIME_MAX_DEPTH);
	fuzz_check(p->hdr_start >= start && p->hdr_start + p->hdr_len == p->body_start);
	fuzz_check(p->body_start + p->body_len <= end);
	fuzz_check(p->type != NULL && p->subtype != NULL && p->encoding != NULL);
	(*count)++;
	for (const struct mime_part *c = p->children; c != NULL; c = c->next) {
		fuzz_check(c->parent == p && c->depth == p->depth + 1);
		fuzz_walk(c, p->body_start, p->body_start + p->body_len, count);
	}
}

static void fuzz_section(const uint8_t *msg, size_t len, const struct mime_part *root,
                         const char *spec, size_t spec_len, const char *partial,
                         struct sluice_pool *pool)
{
	struct mail_section sec;
	const char *error;
	if (mail_section_parse(spec, spec_len, pool, &sec, &error) != 0)
		return;
	if (partial != NULL &&
	    mail_section_partial_parse(partial, strlen(partial), &sec, &error) != 0)
		return;
	struct mail_section_result out;
	int r = mail_section_fetch(msg, len, root, &sec, &out, pool);
	if (r < 0)
		return;
	fuzz_check(out.data != NULL);
	if (r == 1)
		fuzz_check(out.len == 0);
	if (out.in_message)
		fuzz_check(out.offset <= len && out.len <= len - out.offset &&
		           out.data == msg + out.offset);
	if (sec.partial)
		fuzz_check(out.len <= sec.partial_count);
}

static void fuzz_one(const uint8_t *data, size_t size, size_t cap)
{
	static const char *const sections[] = {
	    "",
	    "1",
	    "1.MIME",
	    "2.1",
	    "1.2.3.4",
	    "TEXT",
	    "HEADER",
	    "1.HEADER",
	    "2.TEXT",
	    "HEADER.FIELDS (From Subject)",
	    "HEADER.FIELDS.NOT (To Received)",
	    "2.HEADER.FIELDS (To)",
	};
	struct sluice_pool *pool = pool_create(4096, cap);
	struct mime_part *root;
	if (pool == NULL || mime_parse(data, size, pool, &root) < 0) {
		pool_destroy(&pool);
		return;
	}
	size_t count = 0;
	fuzz_walk(root, 0, size, &count);
	fuzz_check(root->hdr_len + root->body_len == size);
	fuzz_check(count <= MIME_MAX_PARTS + MIME_MAX_DEPTH + 1);

	char *s = mail_envelope(data, root->hdr_len, pool);
	if (s != NULL)
		fuzz_check_imap(s);
	if ((s = mail_bodystructure(root, true, pool)) != NULL)
		fuzz_check_imap(s);
	if ((s = mail_bodystructure(root, false, pool)) != NULL)
		fuzz_check_imap(s);

	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		fuzz_section(data, size, root, sections[i], strlen(sections[i]), NULL, pool);
		fuzz_section(data, size, root, sections[i], strlen(sections[i]), "<3.17>", pool);
	}
	/* The first line of the input, as a section spec. */
	const uint8_t *lf = memchr(data, '\n', size < 80 ? size : 80);
	if (lf != NULL)
		fuzz_section(data, size, root, (const char *)data, (size_t)(lf - data),
		             "<0.4294967295>", pool);

	size_t pos = 0, vlen;
	char *v;
	if (mime_header_find(data, root->hdr_len, "subject", &pos, pool, &v, &vlen) == 0)
		(void)mail_decode_header(v, vlen, pool, NULL);
	pos = 0;
	if (mime_header_find(data, root->hdr_len, "date", &pos, pool, &v, &vlen) == 0) {
		time_t t;
		int tz;
		if (mail_date_parse(v, vlen, &t, &tz) == 0)
			fuzz_check(tz > -100 * 60 && tz < 100 * 60);
	}
	(void)mail_header_contains(data, root->hdr_len, NULL, "needle", pool);
	(void)mail_body_contains(root,
	                         "N\xc3\xa9"
	                         "edle",
	                         1 << 20, pool);
	pool_destroy(&pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(data, size, 0);
	fuzz_one(data, size, 64 * 1024);
	return 0;
}
