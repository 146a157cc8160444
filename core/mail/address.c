/*
 * RFC 5322 address list parser (see address.h for the degraded cases). It works in two
 * passes over each entry of the list: the first tokenizes up to the entry's end (a ',' or
 * ';' outside angle brackets, or the ':' that opens a group) and notes where '<', '>' and
 * the first '@' are; the second renders the display name, route, local part and domain
 * from those ranges. Nothing is stored per token, so memory is proportional to the output
 * and a hostile header costs two linear passes.
 */
#include "mail/address.h"

#include <stdbool.h>
#include <string.h>

#include "mail/lex.h"
#include "mail/mail-buf.h"
#include "util/pool.h"

enum addr_tok_kind { ADDR_END, ADDR_WORD, ADDR_QUOTED, ADDR_LITERAL, ADDR_SPECIAL };

struct addr_tok {
	enum addr_tok_kind kind;
	const unsigned char *start, *end;
	bool space_before; /* whitespace or a comment separates it from the previous token */
};

struct addr_scan {
	const unsigned char *comment, *comment_end; /* content of the last comment seen */
};

/* Reads the token at @p p; comments met on the way are recorded in @p scan. */
static const unsigned char *addr_tok_next(const unsigned char *p, const unsigned char *end,
                                          struct addr_tok *t, struct addr_scan *scan)
{
	t->space_before = false;
	while (p < end && (mail_lex_is_wsp(*p) || *p == '(')) {
		t->space_before = true;
		if (*p == '(') {
			const unsigned char *c = mail_lex_skip_comment(p, end);
			if (scan != NULL) {
				scan->comment = p + 1;
				scan->comment_end = (c > p + 1 && c[-1] == ')') ? c - 1 : c;
			}
			p = c;
		} else {
			p++;
		}
	}
	t->start = p;
	if (p == end) {
		t->kind = ADDR_END;
		t->end = p;
		return p;
	}
	if (*p == '"') {
		t->kind = ADDR_QUOTED;
		p = mail_lex_quoted(p, end, NULL);
	} else if (*p == '[') {
		t->kind = ADDR_LITERAL;
		for (p++; p < end && *p != ']'; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
		}
		if (p < end)
			p++;
	} else if (mail_lex_is_atext(*p)) {
		t->kind = ADDR_WORD;
		while (p < end && mail_lex_is_atext(*p))
			p++;
	} else {
		t->kind = ADDR_SPECIAL;
		p++;
	}
	t->end = p;
	return p;
}

static bool addr_is(const struct addr_tok *t, char c)
{
	return t->kind == ADDR_SPECIAL && *t->start == (unsigned char)c;
}

/* Where one entry of the list lies, as found by the first pass. */
struct addr_item {
	const unsigned char *start, *end; /* the entry, terminator excluded */
	const unsigned char *lt, *gt;     /* '<' and '>' (gt = end when unclosed), or NULL */
	const unsigned char *at;          /* first '@' outside brackets, before any '<' */
	const unsigned char *next;        /* after the terminator */
	char term;                        /* ',', ';', ':' or 0 at the end */
	bool empty;                       /* no token at all */
	struct addr_scan scan;
};

static void addr_item_scan(const unsigned char *p, const unsigned char *end, bool in_group,
                           struct addr_item *it)
{
	memset(it, 0, sizeof(*it));
	it->start = p;
	it->empty = true;
	bool in_angle = false;
	struct addr_tok t;
	for (;;) {
		const unsigned char *next = addr_tok_next(p, end, &t, &it->scan);
		if (t.kind == ADDR_END) {
			it->end = it->next = t.start;
			break;
		}
		p = next;
		if (in_angle) {
			if (addr_is(&t, '>')) {
				in_angle = false;
				it->gt = t.start;
			}
			continue;
		}
		if (addr_is(&t, ',') || addr_is(&t, ';') ||
		    (addr_is(&t, ':') && !in_group && it->lt == NULL && it->at == NULL)) {
			it->term = (char)*t.start;
			it->end = t.start;
			it->next = t.end;
			break;
		}
		it->empty = false;
		if (addr_is(&t, '<') && it->lt == NULL) {
			it->lt = t.start;
			in_angle = true;
		} else if (addr_is(&t, '@') && it->at == NULL && it->lt == NULL) {
			it->at = t.start;
		}
	}
	if (it->lt != NULL && it->gt == NULL)
		it->gt = it->end;
}

/* Renders [a, b) as a display name: quotes removed, whitespace collapsed. NULL if empty. */
static const char *addr_render_phrase(const unsigned char *a, const unsigned char *b,
                                      struct sluice_pool *pool, bool *oom)
{
	struct mail_buf out;
	mail_buf_init(&out, pool, 0);
	struct addr_tok t;
	while ((a = addr_tok_next(a, b, &t, NULL)), t.kind != ADDR_END) {
		if (t.space_before && out.len > 0)
			mail_buf_putc(&out, ' ');
		if (t.kind == ADDR_QUOTED)
			(void)mail_lex_quoted(t.start, t.end, &out);
		else
			mail_buf_append(&out, t.start, (size_t)(t.end - t.start));
	}
	if (out.failed)
		*oom = true;
	return out.len > 0 && !out.failed ? out.data : NULL;
}

/* Renders [a, b) with whitespace and comments dropped: a local part, domain or route. */
static const char *addr_render_compact(const unsigned char *a, const unsigned char *b,
                                       struct sluice_pool *pool, bool *oom)
{
	struct mail_buf out;
	mail_buf_init(&out, pool, 0);
	struct addr_tok t;
	while ((a = addr_tok_next(a, b, &t, NULL)), t.kind != ADDR_END)
		mail_buf_append(&out, t.start, (size_t)(t.end - t.start));
	if (out.failed)
		*oom = true;
	return out.len > 0 && !out.failed ? out.data : NULL;
}

/* Finds the first special character @p c at token level in [a, b). */
static const unsigned char *addr_find(const unsigned char *a, const unsigned char *b, char c)
{
	struct addr_tok t;
	while ((a = addr_tok_next(a, b, &t, NULL)), t.kind != ADDR_END) {
		if (addr_is(&t, c))
			return t.start;
	}
	return NULL;
}

/* Fills local part and domain from an addr-spec in [a, b). */
static void addr_spec(struct mail_address *addr, const unsigned char *a, const unsigned char *b,
                      const unsigned char *at, struct sluice_pool *pool, bool *oom)
{
	if (at == NULL) {
		addr->mailbox = addr_render_phrase(a, b, pool, oom);
	} else {
		addr->mailbox = addr_render_compact(a, at, pool, oom);
		addr->host = addr_render_compact(at + 1, b, pool, oom);
	}
	if (addr->mailbox == NULL)
		addr->mailbox = "MISSING_MAILBOX";
	if (addr->host == NULL)
		addr->host = "MISSING_DOMAIN";
}

static struct mail_address *addr_mailbox(const struct addr_item *it, struct sluice_pool *pool,
                                         bool *oom)
{
	struct mail_address *addr = pool_alloc(pool, sizeof(*addr));
	if (addr == NULL) {
		*oom = true;
		return NULL;
	}
	addr->kind = MAIL_ADDRESS_MAILBOX;
	if (it->lt != NULL) {
		addr->name = addr_render_phrase(it->start, it->lt, pool, oom);
		const unsigned char *a = it->lt + 1, *b = it->gt;
		struct addr_tok t;
		addr_tok_next(a, b, &t, NULL);
		if (addr_is(&t, '@')) {
			const unsigned char *colon = addr_find(a, b, ':');
			if (colon != NULL) {
				addr->route = addr_render_compact(a, colon, pool, oom);
				a = colon + 1;
			}
		}
		addr_spec(addr, a, b, addr_find(a, b, '@'), pool, oom);
	} else {
		addr_spec(addr, it->start, it->end, it->at, pool, oom);
	}
	if (addr->name == NULL && it->scan.comment != NULL) {
		/* No display name: the last comment stands in for it. */
		const unsigned char *c = it->scan.comment, *ce = it->scan.comment_end;
		while (c < ce && mail_lex_is_wsp(*c))
			c++;
		while (ce > c && mail_lex_is_wsp(ce[-1]))
			ce--;
		if (ce > c) {
			addr->name = pool_strndup(pool, (const char *)c, (size_t)(ce - c));
			if (addr->name == NULL)
				*oom = true;
		}
	}
	return addr;
}

static struct mail_address *addr_marker(enum mail_address_kind kind, const char *name,
                                        struct sluice_pool *pool, bool *oom)
{
	struct mail_address *addr = pool_alloc(pool, sizeof(*addr));
	if (addr == NULL) {
		*oom = true;
		return NULL;
	}
	addr->kind = kind;
	addr->mailbox = name;
	return addr;
}

int mail_address_parse(const char *value, size_t len, struct sluice_pool *pool,
                       struct mail_address **list_r)
{
	const unsigned char *p = (const unsigned char *)value, *end = p + len;
	struct mail_address *head = NULL, **tail = &head;
	bool in_group = false, oom = false;
	while (!oom) {
		struct addr_item it;
		addr_item_scan(p, end, in_group, &it);
		struct mail_address *addr = NULL;
		if (it.term == ':') {
			const char *name = addr_render_phrase(it.start, it.end, pool, &oom);
			addr = addr_marker(MAIL_ADDRESS_GROUP_START, name != NULL ? name : "", pool,
			                   &oom);
			in_group = true;
		} else if (!it.empty) {
			addr = addr_mailbox(&it, pool, &oom);
		}
		if (addr != NULL) {
			*tail = addr;
			tail = &addr->next;
		}
		if ((it.term == ';' || it.term == 0) && in_group) {
			addr = addr_marker(MAIL_ADDRESS_GROUP_END, NULL, pool, &oom);
			if (addr != NULL) {
				*tail = addr;
				tail = &addr->next;
			}
			in_group = false;
		}
		if (it.term == 0)
			break;
		p = it.next;
	}
	*list_r = head;
	return oom ? -1 : 0;
}
