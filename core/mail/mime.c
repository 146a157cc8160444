/*
 * The MIME tree builder (see mime.h for the promises it keeps). A part is parsed in three
 * steps: find the blank line that ends its header, read its Content-* fields
 * (mime-fields.c), then, for a multipart or message/rfc822, parse what it contains.
 *
 * Containers are split top-down: a multipart finds the boundary lines of its own body
 * first and each child is parsed within the range that yields. A child therefore can
 * never run past its parent, an unterminated child simply ends where its range ends, and
 * each nesting level scans its bytes once, so the total work is at most MIME_MAX_DEPTH
 * passes over the message. Recursion follows nesting and stops at MIME_MAX_DEPTH.
 */
#include "mail/mime.h"

#include <stdint.h>
#include <string.h>

#include "mail/lex.h"
#include "mail/mime-internal.h"
#include "util/pool.h"

struct mime_ctx {
	const unsigned char *msg;
	struct sluice_pool *pool;
	unsigned parts; /* parts created so far, for MIME_MAX_PARTS */
};

static int mime_part_parse(struct mime_ctx *ctx, struct mime_part *part, size_t start, size_t end,
                           bool digest);

/* Lines in @p n bytes: every LF ends one, and a last line without LF counts too. Text
 * lines are short, so a memchr per line costs more in calls than it saves: count the LFs
 * eight bytes at a time instead. */
static size_t mime_count_lines(const unsigned char *p, size_t n)
{
	const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
	const uint64_t low7 = 0x7f7f7f7f7f7f7f7fu, lfs = ones * '\n';
	size_t lines = 0, i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		w ^= lfs; /* an LF byte is now zero */
		/* The high bit of each byte that was zero, exactly (no borrow between bytes). */
		uint64_t zero = ~(((w & low7) + low7) | w) & high;
		lines += (size_t)(((zero >> 7) * ones) >> 56);
	}
	for (; i < n; i++)
		lines += p[i] == '\n';
	if (n > 0 && p[n - 1] != '\n')
		lines++;
	return lines;
}

size_t mime_part_hdr_lines(const struct mime_part *part)
{
	return mime_count_lines(part->msg + part->hdr_start, part->hdr_len);
}

size_t mime_part_body_lines(const struct mime_part *part)
{
	return mime_count_lines(part->msg + part->body_start, part->body_len);
}

bool mime_part_is(const struct mime_part *part, const char *type, const char *subtype)
{
	return strcmp(part->type, type) == 0 &&
	       (subtype == NULL || strcmp(part->subtype, subtype) == 0);
}

/* Finds the blank line ending the header that starts at @p start; returns where the body
 * starts, or @p end when the header has no blank line (the body is then empty). */
static size_t mime_header_end(const unsigned char *msg, size_t start, size_t end)
{
	size_t pos = start;
	while (pos < end) {
		const unsigned char *lf = memchr(msg + pos, '\n', end - pos);
		if (lf == NULL)
			break;
		size_t eol = (size_t)(lf - msg);
		if (eol == pos || (eol == pos + 1 && msg[pos] == '\r'))
			return eol + 1;
		pos = eol + 1;
	}
	return end;
}

/* Is [@p line, @p line + @p n) (line break excluded) a delimiter line "--boundary" or a
 * closing one "--boundary--"? Only whitespace may follow (RFC 2046 section 5.1.1). */
static bool mime_is_delimiter(const unsigned char *line, size_t n, const char *b, size_t blen,
                              bool *close_r)
{
	if (n < blen + 2 || line[0] != '-' || line[1] != '-' || memcmp(line + 2, b, blen) != 0)
		return false;
	size_t i = blen + 2;
	*close_r = false;
	if (n - i >= 2 && line[i] == '-' && line[i + 1] == '-') {
		*close_r = true;
		i += 2;
	}
	for (; i < n; i++) {
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			return false;
	}
	return true;
}

static struct mime_part *mime_part_new(struct mime_ctx *ctx, struct mime_part *parent)
{
	struct mime_part *part = pool_alloc(ctx->pool, sizeof(*part));
	if (part == NULL)
		return NULL;
	part->parent = parent;
	part->msg = ctx->msg;
	part->depth = parent != NULL ? parent->depth + 1 : 0;
	ctx->parts++;
	return part;
}

/* Creates the next child of @p parent over [start, end) and parses it. */
static int mime_child_add(struct mime_ctx *ctx, struct mime_part *parent,
                          struct mime_part **tail_io, size_t start, size_t end, bool digest)
{
	struct mime_part *child = mime_part_new(ctx, parent);
	if (child == NULL)
		return -1;
	if (*tail_io == NULL)
		parent->children = child;
	else
		(*tail_io)->next = child;
	*tail_io = child;
	parent->child_count++;
	return mime_part_parse(ctx, child, start, end, digest);
}

/*
 * Splits a multipart body at its boundary lines and parses each part. Only a line that
 * starts with "--boundary" can be a delimiter, so the scan jumps from one occurrence of
 * that text to the next (memmem) instead of looking at every line.
 */
static int mime_multipart_split(struct mime_ctx *ctx, struct mime_part *part, const char *boundary)
{
	const unsigned char *msg = ctx->msg;
	size_t blen = strlen(boundary);
	size_t start = part->body_start, end = part->body_start + part->body_len;
	bool digest = strcmp(part->subtype, "digest") == 0;
	bool in_part = false;
	size_t part_start = 0;
	struct mime_part *tail = NULL;
	char *dash = pool_alloc(ctx->pool, blen + 3);
	if (dash == NULL)
		return -1;
	dash[0] = dash[1] = '-';
	memcpy(dash + 2, boundary, blen + 1);

	size_t pos = start;
	while (pos < end) {
		const unsigned char *hit = memmem(msg + pos, end - pos, dash, blen + 2);
		if (hit == NULL)
			break;
		size_t line = (size_t)(hit - msg);
		const unsigned char *lf = memchr(msg + line, '\n', end - line);
		size_t line_end = lf != NULL ? (size_t)(lf - msg) : end;
		/* Past this line whatever happens; a hit inside a line is no delimiter. */
		pos = lf != NULL ? line_end + 1 : end;
		bool close;
		if ((line != start && msg[line - 1] != '\n') ||
		    !mime_is_delimiter(msg + line, line_end - line, boundary, blen, &close))
			continue;
		if (in_part) {
			if (ctx->parts >= MIME_MAX_PARTS)
				continue; /* out of parts: the rest belongs to the last one */
			/* The line break before the delimiter belongs to the delimiter. */
			size_t part_end = line;
			if (part_end > part_start && msg[part_end - 1] == '\n')
				part_end--;
			if (part_end > part_start && msg[part_end - 1] == '\r')
				part_end--;
			if (mime_child_add(ctx, part, &tail, part_start, part_end, digest) < 0)
				return -1;
			in_part = false;
		}
		if (close)
			return 0; /* what follows is the epilogue */
		in_part = true;
		part_start = pos;
	}
	if (in_part)
		return mime_child_add(ctx, part, &tail, part_start, end, digest);
	return 0;
}

/* May the parser descend into one more container at this part's depth? */
static bool mime_can_descend(const struct mime_ctx *ctx, const struct mime_part *part)
{
	return part->depth < MIME_MAX_DEPTH && ctx->parts < MIME_MAX_PARTS;
}

static int mime_part_parse(struct mime_ctx *ctx, struct mime_part *part, size_t start, size_t end,
                           bool digest)
{
	const unsigned char *msg = ctx->msg;
	size_t body = mime_header_end(msg, start, end);
	part->hdr_start = start;
	part->hdr_len = body - start;
	part->body_start = body;
	part->body_len = end - body;
	if (mime_fields_parse(part, msg + start, part->hdr_len, digest, ctx->pool) < 0)
		return -1;

	if (strcmp(part->type, "multipart") == 0) {
		const struct mime_param *b =
		    mime_param_find(part->params, part->param_count, "boundary");
		if (b == NULL || b->value[0] == '\0')
			return mime_fields_default_text(part, ctx->pool);
		if (!mime_can_descend(ctx, part)) {
			part->flags |= MIME_PART_OPAQUE;
			return 0;
		}
		part->flags |= MIME_PART_MULTIPART;
		return mime_multipart_split(ctx, part, b->value);
	}
	if (mime_part_is(part, "message", "rfc822")) {
		const char *enc = part->encoding;
		bool identity = strcmp(enc, "7BIT") == 0 || strcmp(enc, "8BIT") == 0 ||
		                strcmp(enc, "BINARY") == 0;
		if (!identity || !mime_can_descend(ctx, part)) {
			part->flags |= MIME_PART_OPAQUE;
			return 0;
		}
		part->flags |= MIME_PART_MESSAGE;
		struct mime_part *child = mime_part_new(ctx, part);
		if (child == NULL)
			return -1;
		part->children = child;
		part->child_count = 1;
		return mime_part_parse(ctx, child, body, end, false);
	}
	return 0;
}

int mime_parse(const unsigned char *msg, size_t len, struct sluice_pool *pool,
               struct mime_part **root_r)
{
	struct mime_ctx ctx = {.msg = msg, .pool = pool, .parts = 0};
	struct mime_part *root = mime_part_new(&ctx, NULL);
	if (root == NULL)
		return -1;
	if (mime_part_parse(&ctx, root, 0, len, false) < 0)
		return -1;
	*root_r = root;
	return 0;
}
