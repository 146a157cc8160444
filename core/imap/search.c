/*
 * The SEARCH key grammar and its evaluator (see search.h for the rules).
 *
 * The parser walks the argument tree the command parser built, one key at a time, with a
 * cursor per level: a parenthesised list gets its own cursor over its elements, and keys
 * that take arguments (OR takes two keys, HEADER two strings) pull them from the same
 * cursor. Every key is looked up in one table that says what argument it takes and what
 * it becomes in the tree, so the grammar of section 9 is readable in one place.
 *
 * The evaluator is a plain recursive walk; its depth is bounded by SEARCH_MAX_DEPTH,
 * which the parser enforces.
 */
#include "imap/search.h"

#include <string.h>

#include "imap/datetime.h"
#include "imap/flags.h"
#include "imap/modseq.h"
#include "mail/date.h"
#include "mail/decode.h"
#include "mail/mime.h"
#include "mailbox/mailbox.h"

/* ---- the parser ------------------------------------------------------------------------ */

enum key_arg {
	ARG_NONE,
	ARG_STRING, /* astring */
	ARG_FIELD,  /* header-fld-name SP astring */
	ARG_DATE,
	ARG_NUMBER,
	ARG_KEYWORD,
	ARG_UIDSET,
	ARG_KEY,    /* NOT search-key */
	ARG_KEY2,   /* OR search-key SP search-key */
	ARG_MODSEQ, /* [entry-name SP entry-type-req SP] mod-sequence-valzer */
};

struct key_def {
	const char *name;
	enum search_op op;
	enum key_arg arg;
	uint32_t flag;     /* SEARCH_FLAG */
	const char *field; /* header keys */
	bool negate;       /* the UN- keys and OLD */
};

static const struct key_def key_table[] = {
    {"ALL", SEARCH_ALL, ARG_NONE, 0, NULL, false},
    {"ANSWERED", SEARCH_FLAG, ARG_NONE, SLUICE_FLAG_ANSWERED, NULL, false},
    {"BCC", SEARCH_HEADER, ARG_STRING, 0, "Bcc", false},
    {"BEFORE", SEARCH_BEFORE, ARG_DATE, 0, NULL, false},
    {"BODY", SEARCH_BODY, ARG_STRING, 0, NULL, false},
    {"CC", SEARCH_HEADER, ARG_STRING, 0, "Cc", false},
    {"DELETED", SEARCH_FLAG, ARG_NONE, SLUICE_FLAG_DELETED, NULL, false},
    {"DRAFT", SEARCH_FLAG, ARG_NONE, SLUICE_FLAG_DRAFT, NULL, false},
    {"FLAGGED", SEARCH_FLAG, ARG_NONE, SLUICE_FLAG_FLAGGED, NULL, false},
    {"FROM", SEARCH_HEADER, ARG_STRING, 0, "From", false},
    {"HEADER", SEARCH_HEADER, ARG_FIELD, 0, NULL, false},
    {"KEYWORD", SEARCH_KEYWORD, ARG_KEYWORD, 0, NULL, false},
    {"LARGER", SEARCH_LARGER, ARG_NUMBER, 0, NULL, false},
    {"MODSEQ", SEARCH_MODSEQ, ARG_MODSEQ, 0, NULL, false},
    {"NEW", SEARCH_AND, ARG_NONE, 0, NULL, false}, /* RECENT UNSEEN, built by hand */
    {"NOT", SEARCH_NOT, ARG_KEY, 0, NULL, false},
    {"OLD", SEARCH_FLAG, ARG_NONE, MAILBOX_MSG_RECENT, NULL, true},
    {"ON", SEARCH_ON, ARG_DATE, 0, NULL, false},
    {"OR", SEARCH_OR, ARG_KEY2, 0, NULL, false},
    {"RECENT", SEARCH_FLAG, ARG_NONE, MAILBOX_MSG_RECENT, NULL, false},
    {"SEEN", SEARCH_FLAG, ARG_NONE, SLUICE_FLAG_SEEN, NULL, false},
    {"SENTBEFORE", SEARCH_SENTBEFORE, ARG_DATE, 0, NULL, false},
    {"SENTON", SEARCH_SENTON, ARG_DATE, 0, NULL, false},
    {"SENTSINCE", SEARCH_SENTSINCE, ARG_DATE, 0, NULL, false},
    {"SINCE", SEARCH_SINCE, ARG_DATE, 0, NULL, false},
    {"SMALLER", SEARCH_SMALLER, ARG_NUMBER, 0, NULL, false},
    {"SUBJECT", SEARCH_HEADER, ARG_STRING, 0, "Subject", false},
    {"TEXT", SEARCH_TEXT, ARG_STRING, 0, NULL, false},
    {"TO", SEARCH_HEADER, ARG_STRING, 0, "To", false},
    {"UID", SEARCH_UIDSET, ARG_UIDSET, 0, NULL, false},
    {"UNANSWERED", SEARCH_FLAG, ARG_NONE, SLUICE_FLAG_ANSWERED, NULL, true},
    {"UNDELETED", SEARCH_FLAG, ARG_NONE, SLUICE_FLAG_DELETED, NULL, true},
    {"UNDRAFT", SEARCH_FLAG, ARG_NONE, SLUICE_FLAG_DRAFT, NULL, true},
    {"UNFLAGGED", SEARCH_FLAG, ARG_NONE, SLUICE_FLAG_FLAGGED, NULL, true},
    {"UNKEYWORD", SEARCH_KEYWORD, ARG_KEYWORD, 0, NULL, true},
    {"UNSEEN", SEARCH_FLAG, ARG_NONE, SLUICE_FLAG_SEEN, NULL, true},
};

struct cursor {
	const struct imap_arg *args;
	size_t count, pos;
};

struct sp {
	uint32_t msg_count, max_uid;
	const struct seqset *saved;
	struct sluice_pool *pool;
	unsigned nodes;
	struct sluice_error *err;
};

static int parse_key(struct sp *p, struct cursor *c, unsigned depth, struct search_node **node_r);

/* Fills the sentence for a BAD answer and returns SLUICE_E_PARSE. */
#define bad(p, ...) sluice_error_set((p)->err, SLUICE_E_PARSE, NULL, __VA_ARGS__)

static int nomem(struct sp *p)
{
	return sluice_error_set(p->err, SLUICE_E_NOMEM, "SERVERBUG",
	                        "The server is out of memory for this search.");
}

static struct search_node *node_new(struct sp *p, enum search_op op, enum search_cost cost)
{
	if (++p->nodes > SEARCH_MAX_NODES) {
		sluice_error_set(p->err, SLUICE_E_PARSE, NULL,
		                 "The search has more than %d keys; split it into several.",
		                 SEARCH_MAX_NODES);
		return NULL;
	}
	struct search_node *n = pool_alloc(p->pool, sizeof(*n));
	if (n == NULL) {
		nomem(p);
		return NULL;
	}
	n->op = op;
	n->cost = cost;
	return n;
}

static bool ascii_ieq(const char *a, size_t alen, const char *b)
{
	if (strlen(b) != alen)
		return false;
	for (size_t i = 0; i < alen; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (x >= 'a' && x <= 'z')
			x -= 32;
		if (y >= 'a' && y <= 'z')
			y -= 32;
		if (x != y)
			return false;
	}
	return true;
}

/* The next argument, or NULL with err filled when the key lacks one. */
static const struct imap_arg *next_arg(struct sp *p, struct cursor *c, const char *key)
{
	if (c->pos >= c->count) {
		bad(p, "%s needs an argument here.", key);
		return NULL;
	}
	return &c->args[c->pos++];
}

/* A search string: atom, quoted or literal, without NUL; copied into the pool. */
static int arg_string(struct sp *p, struct cursor *c, const char *key, const char **str_r)
{
	const struct imap_arg *a = next_arg(p, c, key);
	if (a == NULL)
		return SLUICE_E_PARSE;
	if (!imap_arg_is_astring(a))
		return bad(p, "%s needs a string, not a list.", key);
	if (strlen(a->str) != a->len)
		return bad(p, "The string after %s contains a NUL byte.", key);
	if ((*str_r = pool_strndup(p->pool, a->str, a->len)) == NULL)
		return nomem(p);
	return 0;
}

static int arg_number(struct sp *p, struct cursor *c, const char *key, uint64_t *n_r)
{
	const struct imap_arg *a = next_arg(p, c, key);
	if (a == NULL)
		return SLUICE_E_PARSE;
	uint64_t n = 0;
	if (a->type != IMAP_ARG_ATOM || a->len == 0 || a->len > 10)
		return bad(p, "%s needs a number of bytes.", key);
	for (size_t i = 0; i < a->len; i++) {
		if (a->str[i] < '0' || a->str[i] > '9')
			return bad(p, "%s needs a number of bytes.", key);
		n = n * 10 + (uint64_t)(a->str[i] - '0');
	}
	if (n > UINT32_MAX)
		return bad(p, "The number after %s is larger than 4294967295.", key);
	*n_r = n;
	return 0;
}

/* A header field name: printable ASCII without colon (RFC 5322 ftext). */
static bool field_name_valid(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 32 || (unsigned char)*s >= 127 || *s == ':')
			return false;
	return true;
}

static int parse_set(struct sp *p, const struct imap_arg *a, bool uid, struct search_node *n)
{
	struct sluice_error serr = SLUICE_ERROR_INIT;
	if (a->type != IMAP_ARG_ATOM)
		return bad(p, "%s needs a set such as 1:5,7.", uid ? "UID" : "A sequence set");
	int r = seqset_parse(a->str, &n->set, p->pool, &serr);
	if (r == SLUICE_E_NOMEM)
		return nomem(p);
	if (r < 0)
		return sluice_error_set(p->err, SLUICE_E_PARSE, NULL, "%s", serr.msg);
	if (n->set.saved) {
		/* The saved result is UIDs, whichever form named it. */
		n->op = SEARCH_UIDSET;
		if (seqset_add_set(&n->set, p->saved) != 0)
			return nomem(p);
		seqset_resolve(&n->set, 0);
		return 0;
	}
	/* `*` in an empty mailbox has no value: its ranges are dropped and match nothing. */
	seqset_resolve(&n->set, uid ? p->max_uid : p->msg_count);
	return 0;
}

/*
 * MODSEQ's arguments. The entry name ("/flags/\\Seen") and type (priv, shared or all)
 * are optional and come as a pair; the value may be 0.
 */
static int arg_modseq(struct sp *p, struct cursor *c, struct search_node *n)
{
	const struct imap_arg *a = next_arg(p, c, "MODSEQ");
	if (a == NULL)
		return SLUICE_E_PARSE;
	if (imap_arg_is_string(a)) {
		if (a->len < 8 || !ascii_ieq(a->str, 7, "/flags/") || strlen(a->str) != a->len)
			return bad(p, "%s", "The MODSEQ entry name must be \"/flags/<flag>\".");
		const struct imap_arg *t = next_arg(p, c, "MODSEQ");
		if (t == NULL)
			return SLUICE_E_PARSE;
		if (!imap_arg_is_atom(t, "PRIV") && !imap_arg_is_atom(t, "SHARED") &&
		    !imap_arg_is_atom(t, "ALL"))
			return bad(p, "%s", "The MODSEQ entry type must be priv, shared or all.");
		if ((a = next_arg(p, c, "MODSEQ")) == NULL)
			return SLUICE_E_PARSE;
	}
	if (!imap_modseq_parse(a, true, &n->modseq))
		return bad(p, "%s", "MODSEQ needs a number from 0 to 9223372036854775807.");
	return 0;
}

/* A key that takes no argument and maps to a flag, or NEW. */
static int build_flag_key(struct sp *p, const struct key_def *k, struct search_node **node_r)
{
	if (strcmp(k->name, "NEW") == 0) {
		/* NEW is RECENT UNSEEN. */
		struct search_node *and = node_new(p, SEARCH_AND, SEARCH_COST_VIEW);
		struct search_node *recent = node_new(p, SEARCH_FLAG, SEARCH_COST_VIEW);
		struct search_node *not = node_new(p, SEARCH_NOT, SEARCH_COST_VIEW);
		struct search_node *seen = node_new(p, SEARCH_FLAG, SEARCH_COST_VIEW);
		if (and == NULL || recent == NULL || not == NULL || seen == NULL)
			return p->err->code;
		recent->flag = MAILBOX_MSG_RECENT;
		seen->flag = SLUICE_FLAG_SEEN;
		not ->children = seen;
		recent->next = not ;
		and->children = recent;
		*node_r = and;
		return 0;
	}
	struct search_node *n = node_new(p, k->op, SEARCH_COST_VIEW);
	if (n == NULL)
		return p->err->code;
	n->flag = k->flag;
	*node_r = n;
	return 0;
}

static enum search_cost leaf_cost(enum search_op op)
{
	switch (op) {
	case SEARCH_BEFORE:
	case SEARCH_ON:
	case SEARCH_SINCE:
	case SEARCH_LARGER:
	case SEARCH_SMALLER:
		return SEARCH_COST_RECORD;
	case SEARCH_SENTBEFORE:
	case SEARCH_SENTON:
	case SEARCH_SENTSINCE:
	case SEARCH_HEADER:
		return SEARCH_COST_HEADER;
	case SEARCH_BODY:
	case SEARCH_TEXT:
		return SEARCH_COST_BODY;
	default:
		return SEARCH_COST_VIEW;
	}
}

/* Reads the argument(s) of key @p k into a new node. */
static int build_key(struct sp *p, struct cursor *c, unsigned depth, const struct key_def *k,
                     struct search_node **node_r)
{
	struct search_node *n = NULL;
	if (k->arg == ARG_NONE && k->op != SEARCH_ALL) {
		int r = build_flag_key(p, k, &n);
		if (r != 0)
			return r;
	} else if ((n = node_new(p, k->op, leaf_cost(k->op))) == NULL) {
		return p->err->code;
	}
	const struct imap_arg *a;
	struct sluice_error derr = SLUICE_ERROR_INIT;
	int r = 0;
	switch (k->arg) {
	case ARG_NONE:
		break;
	case ARG_STRING:
		n->field = k->field;
		r = arg_string(p, c, k->name, &n->str);
		break;
	case ARG_FIELD:
		if ((r = arg_string(p, c, k->name, &n->field)) != 0)
			break;
		if (!field_name_valid(n->field))
			return bad(p, "%s needs a header field name such as List-Id.", k->name);
		r = arg_string(p, c, k->name, &n->str);
		break;
	case ARG_DATE:
		if ((a = next_arg(p, c, k->name)) == NULL)
			return SLUICE_E_PARSE;
		if (!imap_arg_is_astring(a))
			return bad(p, "%s needs a date such as 1-Feb-1994.", k->name);
		if (imap_date_parse(a->str, &n->day, &derr) != 0)
			return sluice_error_set(p->err, SLUICE_E_PARSE, NULL, "%s %s", k->name,
			                        derr.msg);
		break;
	case ARG_NUMBER:
		r = arg_number(p, c, k->name, &n->size);
		break;
	case ARG_KEYWORD:
		if ((r = arg_string(p, c, k->name, &n->str)) != 0)
			break;
		if (!imap_keyword_valid(n->str))
			return bad(p, "%s needs a keyword (an atom such as $Junk).", k->name);
		break;
	case ARG_UIDSET:
		if ((a = next_arg(p, c, k->name)) == NULL)
			return SLUICE_E_PARSE;
		r = parse_set(p, a, true, n);
		break;
	case ARG_MODSEQ:
		r = arg_modseq(p, c, n);
		break;
	case ARG_KEY:
		r = parse_key(p, c, depth + 1, &n->children);
		break;
	case ARG_KEY2:
		if ((r = parse_key(p, c, depth + 1, &n->children)) == 0)
			r = parse_key(p, c, depth + 1, &n->children->next);
		break;
	}
	if (r != 0)
		return r;
	for (const struct search_node *ch = n->children; ch != NULL; ch = ch->next)
		if (ch->cost > n->cost)
			n->cost = ch->cost;
	if (k->negate) {
		struct search_node *not = node_new(p, SEARCH_NOT, n->cost);
		if (not == NULL)
			return p->err->code;
		not ->children = n;
		n = not ;
	}
	*node_r = n;
	return 0;
}

/* Sorts an AND's children by cost (stable, so the client's order holds among equals). */
static void sort_by_cost(struct search_node *and)
{
	struct search_node *sorted = NULL, **tail;
	struct search_node *n = and->children;
	while (n != NULL) {
		struct search_node *next = n->next;
		for (tail = &sorted; *tail != NULL && (*tail)->cost <= n->cost;
		     tail = &(*tail)->next)
			;
		n->next = *tail;
		*tail = n;
		n = next;
	}
	and->children = sorted;
}

/* Every key left in @p c, as the children of one AND. */
static int parse_and(struct sp *p, struct cursor *c, unsigned depth, struct search_node **node_r)
{
	if (c->pos >= c->count)
		return bad(p, "%s", "A search needs at least one key; an empty list is not one.");
	struct search_node *and = node_new(p, SEARCH_AND, SEARCH_COST_VIEW);
	if (and == NULL)
		return p->err->code;
	struct search_node **tail = &and->children;
	while (c->pos < c->count) {
		int r = parse_key(p, c, depth + 1, tail);
		if (r != 0)
			return r;
		if ((*tail)->cost > and->cost)
			and->cost = (*tail)->cost;
		tail = &(*tail)->next;
	}
	sort_by_cost(and);
	*node_r = and;
	return 0;
}

static int parse_key(struct sp *p, struct cursor *c, unsigned depth, struct search_node **node_r)
{
	if (depth > SEARCH_MAX_DEPTH)
		return sluice_error_set(p->err, SLUICE_E_PARSE, NULL,
		                        "The search nests more than %d levels deep.",
		                        SEARCH_MAX_DEPTH);
	const struct imap_arg *a = next_arg(p, c, "The search");
	if (a == NULL)
		return SLUICE_E_PARSE;
	if (a->type == IMAP_ARG_LIST) {
		struct cursor inner = {a->list, a->count, 0};
		return parse_and(p, &inner, depth, node_r);
	}
	if (a->type != IMAP_ARG_ATOM)
		return bad(p, "%s", "A search key is an atom such as FROM, not a string.");
	char first = a->str[0];
	if ((first >= '0' && first <= '9') || first == '*' || first == '$') {
		struct search_node *n = node_new(p, SEARCH_SEQSET, SEARCH_COST_VIEW);
		if (n == NULL)
			return p->err->code;
		*node_r = n;
		return parse_set(p, a, false, n);
	}
	for (size_t i = 0; i < sizeof(key_table) / sizeof(key_table[0]); i++)
		if (ascii_ieq(a->str, a->len, key_table[i].name))
			return build_key(p, c, depth, &key_table[i], node_r);
	return sluice_error_set(p->err, SLUICE_E_PARSE, NULL, "Unknown search key %.40s.", a->str);
}

int search_parse(const struct imap_arg *args, size_t count, uint32_t msg_count, uint32_t max_uid,
                 const struct seqset *saved, struct sluice_pool *pool, struct search_node **root_r,
                 struct sluice_error *err)
{
	struct sluice_error dummy = SLUICE_ERROR_INIT;
	struct sp p = {msg_count, max_uid, saved, pool, 0, err != NULL ? err : &dummy};
	struct cursor c = {args, count, 0};

	*root_r = NULL;
	if (count > 0 && imap_arg_is_atom(&args[0], "CHARSET")) {
		if (count < 2 || !imap_arg_is_astring(&args[1]))
			return bad(&p, "%s", "CHARSET needs a charset name, such as UTF-8.");
		if (!ascii_ieq(args[1].str, args[1].len, "UTF-8") &&
		    !ascii_ieq(args[1].str, args[1].len, "US-ASCII"))
			return sluice_error_set(p.err, SLUICE_NOTFOUND, SEARCH_BADCHARSET,
			                        "This server searches in US-ASCII and UTF-8 only.");
		c.pos = 2;
	}
	return parse_and(&p, &c, 0, root_r);
}

/* ---- the evaluator --------------------------------------------------------------------- */

static bool has_keyword(const char *list, const char *kw)
{
	if (list == NULL)
		return false;
	size_t kwlen = strlen(kw);
	while (*list != '\0') {
		size_t len = strcspn(list, " ");
		if (len == kwlen) {
			bool same = true;
			for (size_t i = 0; i < len && same; i++) {
				unsigned char x = (unsigned char)list[i], y = (unsigned char)kw[i];
				same = (x >= 'a' && x <= 'z' ? x - 32 : x) ==
				       (y >= 'a' && y <= 'z' ? y - 32 : y);
			}
			if (same)
				return true;
		}
		list += len;
		while (*list == ' ')
			list++;
	}
	return false;
}

static enum search_result yes_no(bool b)
{
	return b ? SEARCH_YES : SEARCH_NO;
}

static enum search_result from_int(int r)
{
	return r < 0 ? SEARCH_ERROR : yes_no(r > 0);
}

/* The sender's calendar day from the Date: header; SEARCH_NO when there is none. */
static enum search_result sent_day(const struct mime_part *root, struct sluice_pool *pool,
                                   int64_t *day_r)
{
	size_t pos = 0, len;
	char *value;
	int r = mime_header_find(root->msg + root->hdr_start, root->hdr_len, "Date", &pos, pool,
	                         &value, &len);
	if (r != 0)
		return r < 0 ? SEARCH_ERROR : SEARCH_NO;
	time_t t;
	int tz;
	if (mail_date_parse(value, len, &t, &tz) != 0)
		return SEARCH_NO;
	*day_r = imap_datetime_day(t, tz);
	return SEARCH_YES;
}

static enum search_result compare_day(enum search_op op, int64_t have, int64_t want)
{
	switch (op) {
	case SEARCH_BEFORE:
	case SEARCH_SENTBEFORE:
		return yes_no(have < want);
	case SEARCH_ON:
	case SEARCH_SENTON:
		return yes_no(have == want);
	default:
		return yes_no(have >= want);
	}
}

static enum search_result eval_and(const struct search_node *node, const struct search_msg *m,
                                   struct sluice_pool *pool)
{
	enum search_result res = SEARCH_YES;
	for (const struct search_node *c = node->children; c != NULL; c = c->next) {
		enum search_result r = search_eval(c, m, pool);
		if (r == SEARCH_NO || r == SEARCH_ERROR)
			return r;
		if (r == SEARCH_UNKNOWN)
			res = SEARCH_UNKNOWN;
	}
	return res;
}

static enum search_result eval_or(const struct search_node *node, const struct search_msg *m,
                                  struct sluice_pool *pool)
{
	enum search_result res = SEARCH_NO;
	for (const struct search_node *c = node->children; c != NULL; c = c->next) {
		enum search_result r = search_eval(c, m, pool);
		if (r == SEARCH_YES || r == SEARCH_ERROR)
			return r;
		if (r == SEARCH_UNKNOWN)
			res = SEARCH_UNKNOWN;
	}
	return res;
}

static enum search_result eval_message(const struct search_node *node, const struct search_msg *m,
                                       struct sluice_pool *pool)
{
	const struct mime_part *root = m->root;
	if (root == NULL)
		return SEARCH_UNKNOWN;
	const unsigned char *hdr = root->msg + root->hdr_start;
	int64_t day;
	enum search_result r;
	switch (node->op) {
	case SEARCH_SENTBEFORE:
	case SEARCH_SENTON:
	case SEARCH_SENTSINCE:
		r = sent_day(root, pool, &day);
		return r == SEARCH_YES ? compare_day(node->op, day, node->day) : r;
	case SEARCH_HEADER:
		return from_int(
		    mail_header_contains(hdr, root->hdr_len, node->field, node->str, pool));
	case SEARCH_BODY:
		return from_int(mail_body_contains(root, node->str, SEARCH_MAX_PART, pool));
	case SEARCH_TEXT:
		r = from_int(mail_header_contains(hdr, root->hdr_len, NULL, node->str, pool));
		if (r != SEARCH_NO)
			return r;
		return from_int(mail_body_contains(root, node->str, SEARCH_MAX_PART, pool));
	default:
		return SEARCH_ERROR;
	}
}

enum search_result search_eval(const struct search_node *node, const struct search_msg *m,
                               struct sluice_pool *pool)
{
	enum search_result r;
	switch (node->op) {
	case SEARCH_ALL:
		return SEARCH_YES;
	case SEARCH_AND:
		return eval_and(node, m, pool);
	case SEARCH_OR:
		return eval_or(node, m, pool);
	case SEARCH_NOT:
		r = search_eval(node->children, m, pool);
		return r == SEARCH_YES ? SEARCH_NO : r == SEARCH_NO ? SEARCH_YES : r;
	case SEARCH_FLAG:
		return yes_no((m->flags & node->flag) != 0);
	case SEARCH_KEYWORD:
		return yes_no(has_keyword(m->keywords, node->str));
	case SEARCH_SEQSET:
		return yes_no(seqset_contains(&node->set, m->seq));
	case SEARCH_UIDSET:
		return yes_no(seqset_contains(&node->set, m->uid));
	case SEARCH_BEFORE:
	case SEARCH_ON:
	case SEARCH_SINCE:
		if (!m->have_record)
			return SEARCH_UNKNOWN;
		/* "Disregarding time and timezone": the day as the message's own zone saw it. */
		return compare_day(node->op,
		                   imap_datetime_day((time_t)m->internal_date, m->internal_zone),
		                   node->day);
	case SEARCH_LARGER:
		return m->have_size ? yes_no(m->size > node->size) : SEARCH_UNKNOWN;
	case SEARCH_SMALLER:
		return m->have_size ? yes_no(m->size < node->size) : SEARCH_UNKNOWN;
	case SEARCH_MODSEQ:
		return yes_no(m->modseq >= node->modseq);
	default:
		return eval_message(node, m, pool);
	}
}

bool search_has_modseq(const struct search_node *node)
{
	if (node->op == SEARCH_MODSEQ)
		return true;
	for (const struct search_node *c = node->children; c != NULL; c = c->next)
		if (search_has_modseq(c))
			return true;
	return false;
}
