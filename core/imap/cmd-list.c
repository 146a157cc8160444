/*
 * LIST and LSUB (RFC 3501 6.3.8, 6.3.9) with the extensions that shape a listing: CHILDREN
 * (RFC 3348), LIST-EXTENDED (RFC 5258: selection options SUBSCRIBED, REMOTE, RECURSIVEMATCH,
 * return options SUBSCRIBED and CHILDREN, several patterns, \NonExistent, \Subscribed and
 * CHILDINFO), SPECIAL-USE (RFC 6154: the attributes, the SPECIAL-USE selection and return
 * options) and LIST-STATUS (RFC 5819: RETURN (STATUS (...))).
 *
 * The storage module reports every mailbox once (existing ones, parents that exist only by
 * implication, subscriptions without a mailbox); this file keeps that report as a table of
 * entries in canonical and client form, decides which entries the command selects, adds
 * what the options ask for, and answers in a stable order (INBOX first). LIST without
 * options answers exactly as RFC 3501 says, with the special uses among the attributes.
 */
#include "imap/commands.h"

#include <stdlib.h>
#include <string.h>

#include "mailbox/name.h"
#include "mailbox/special-use.h"
#include "mailbox/user.h"

#define LIST_PATTERNS_MAX 32

struct list_entry {
	char *canonical;
	char *name;     /* what the client sees */
	uint32_t attrs; /* SLUICE_MAILBOX_*, special uses included */
	bool listed;    /* part of the answer */
	bool parent;    /* LSUB: listed only as the parent of a subscribed child (\Noselect) */
	bool childinfo; /* RECURSIVEMATCH: a descendant meets the selection criteria */
};

/* What the command asks for. */
struct list_query {
	bool lsub;
	bool extended; /* the RFC 5258 syntax was used: answer with its attributes */
	bool sel_subscribed, sel_special, sel_recursive;
	bool ret_subscribed, ret_status;
	struct status_items status;
	char *patterns[LIST_PATTERNS_MAX]; /* reference + pattern, malloc */
	size_t npatterns;
	bool empty_pattern; /* one pattern, "": RFC 3501's question for the delimiter */
};

struct list_ctx {
	struct session *s;
	char delimiter;
	struct list_entry *items;
	size_t count, cap;
	bool failed;
};

static struct list_entry *list_find(const struct list_ctx *c, const char *canonical)
{
	for (size_t i = 0; i < c->count; i++)
		if (strcmp(c->items[i].canonical, canonical) == 0)
			return &c->items[i];
	return NULL;
}

/* Adds an entry (names copied); NULL when out of memory or the name cannot be shown. */
static struct list_entry *list_add(struct list_ctx *c, const char *canonical, uint32_t attrs)
{
	struct buf imap = {0};
	if (mailbox_name_to_imap(canonical, c->delimiter, &imap) != 0)
		return NULL; /* a name that cannot be shown is skipped, not fatal */
	if (c->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct list_entry *n = realloc(c->items, cap * sizeof(*n));
		if (n == NULL) {
			c->failed = true;
			buf_free(&imap);
			return NULL;
		}
		c->items = n;
		c->cap = cap;
	}
	struct list_entry *e = &c->items[c->count];
	memset(e, 0, sizeof(*e));
	e->canonical = strdup(canonical);
	e->name = strdup((const char *)buf_head(&imap));
	buf_free(&imap);
	if (e->canonical == NULL || e->name == NULL) {
		free(e->canonical);
		free(e->name);
		c->failed = true;
		return NULL;
	}
	e->attrs = attrs;
	c->count++;
	return e;
}

static void list_free(struct list_ctx *c)
{
	for (size_t i = 0; i < c->count; i++) {
		free(c->items[i].canonical);
		free(c->items[i].name);
	}
	free(c->items);
}

static int list_on_mailbox(void *ctx, const char *canonical, uint32_t attrs)
{
	struct list_ctx *c = ctx;
	/* Folders named in default_mailboxes show their uses even where the storage keeps none. */
	if ((attrs & (SLUICE_MAILBOX_NONEXISTENT | SLUICE_MAILBOX_NOSELECT)) == 0)
		attrs = (attrs & ~SLUICE_MAILBOX_SPECIAL_USE) |
		        special_use_of(c->s->conf->default_mailboxes, canonical, attrs);
	list_add(c, canonical, attrs); /* the storage reports each name once */
	return c->failed ? SLUICE_E_NOMEM : 0;
}

static bool list_matches(const struct list_query *q, const char *name, char delimiter)
{
	for (size_t i = 0; i < q->npatterns; i++)
		if (mailbox_pattern_match(q->patterns[i], name, delimiter))
			return true;
	return false;
}

/* Whether an existing mailbox lies below @p canonical. */
static bool list_has_children(const struct list_ctx *c, const char *canonical)
{
	size_t len = strlen(canonical);
	for (size_t i = 0; i < c->count; i++) {
		const struct list_entry *e = &c->items[i];
		if ((e->attrs & SLUICE_MAILBOX_NONEXISTENT) == 0 &&
		    strncmp(e->canonical, canonical, len) == 0 && e->canonical[len] == '/')
			return true;
	}
	return false;
}

/* Marks the ancestors of @p canonical that match: LSUB's \Noselect parents (RFC 3501) and
 * RECURSIVEMATCH's CHILDINFO (RFC 5258), adding those the storage did not report. */
static void list_mark_ancestors(struct list_ctx *c, const struct list_query *q,
                                const char *canonical)
{
	char *copy = strdup(canonical);
	if (copy == NULL) {
		c->failed = true;
		return;
	}
	for (char *p = strrchr(copy, '/'); p != NULL; p = strrchr(copy, '/')) {
		*p = '\0';
		struct list_entry *a = list_find(c, copy);
		if (a == NULL) {
			struct buf imap = {0};
			bool match = mailbox_name_to_imap(copy, c->delimiter, &imap) == 0 &&
			             list_matches(q, (const char *)buf_head(&imap), c->delimiter);
			buf_free(&imap);
			if (!match || (a = list_add(c, copy, SLUICE_MAILBOX_NONEXISTENT)) == NULL)
				continue;
		} else if (!list_matches(q, a->name, c->delimiter)) {
			continue;
		}
		if (q->lsub) {
			a->parent |= !a->listed;
			a->listed = true;
		} else {
			a->listed = a->childinfo = true;
		}
	}
	free(copy);
}

/* Whether an entry meets the selection criteria (every option given must hold). */
static bool list_selects(const struct list_query *q, const struct list_entry *e)
{
	if (q->lsub || q->sel_subscribed) {
		if ((e->attrs & SLUICE_MAILBOX_SUBSCRIBED) == 0)
			return false;
	} else if (e->attrs & SLUICE_MAILBOX_NONEXISTENT) {
		return false;
	}
	if (q->sel_special && (e->attrs & SLUICE_MAILBOX_SPECIAL_USE) == 0)
		return false;
	return true;
}

static void list_select(struct list_ctx *c, const struct list_query *q)
{
	size_t reported = c->count; /* entries added below are parents, not selected themselves */
	/* RFC 3501: LSUB with '%' shows the unsubscribed parent of a subscribed child. */
	bool lsub_parents = q->lsub && strchr(q->patterns[0], '%') != NULL;
	for (size_t i = 0; i < reported; i++)
		if (list_selects(q, &c->items[i]) && list_matches(q, c->items[i].name, c->delimiter))
			c->items[i].listed = true;
	for (size_t i = 0; i < reported && !c->failed; i++) {
		if (!list_selects(q, &c->items[i]))
			continue;
		if (!(q->sel_recursive || (lsub_parents && !c->items[i].listed)))
			continue;
		char *canonical = strdup(c->items[i].canonical);
		if (canonical == NULL) {
			c->failed = true;
			break;
		}
		list_mark_ancestors(c, q, canonical); /* may move c->items */
		free(canonical);
	}
}

/* Listed entries first, INBOX first among them, then by name. */
static int list_order(const void *a, const void *b)
{
	const struct list_entry *x = a, *y = b;
	if (x->listed != y->listed)
		return x->listed ? -1 : 1;
	bool xi = strcmp(x->name, "INBOX") == 0, yi = strcmp(y->name, "INBOX") == 0;
	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void list_write_attrs(struct list_ctx *c, const struct list_query *q,
                             const struct list_entry *e)
{
	struct buf *out = &c->s->out;
	uint32_t attrs = e->attrs;
	const char *sep = "";
	buf_append(out, "(", 1);
	if (q->lsub) {
		if (e->parent || (attrs & (SLUICE_MAILBOX_NOSELECT | SLUICE_MAILBOX_NONEXISTENT)))
			buf_printf(out, "\\Noselect");
		buf_append(out, ")", 1);
		return;
	}
	if (attrs & SLUICE_MAILBOX_NONEXISTENT) {
		/* RFC 5258: \NonExistent implies \Noselect; plain LIST never shows such names. */
		buf_printf(out, "\\NonExistent");
		sep = " ";
	} else if (attrs & SLUICE_MAILBOX_NOSELECT) {
		buf_printf(out, "\\Noselect");
		sep = " ";
	}
	if (attrs & SLUICE_MAILBOX_NOINFERIORS) {
		buf_printf(out, "%s\\Noinferiors", sep);
		sep = " ";
	}
	/* A name that does not exist reports children only when some exist below it. */
	bool children = (attrs & SLUICE_MAILBOX_NONEXISTENT)
	                    ? list_has_children(c, e->canonical)
	                    : (attrs & SLUICE_MAILBOX_HASCHILDREN) != 0;
	if (children || (attrs & SLUICE_MAILBOX_HASNOCHILDREN)) {
		buf_printf(out, "%s%s", sep, children ? "\\HasChildren" : "\\HasNoChildren");
		sep = " ";
	}
	if ((q->sel_subscribed || q->ret_subscribed) && (attrs & SLUICE_MAILBOX_SUBSCRIBED)) {
		buf_printf(out, "%s\\Subscribed", sep);
		sep = " ";
	}
	if ((attrs & SLUICE_MAILBOX_NONEXISTENT) == 0)
		special_use_write(out, attrs, sep[0] == '\0');
	buf_append(out, ")", 1);
}

static void list_answer(struct list_ctx *c, const struct list_query *q)
{
	struct session *s = c->s;
	if (c->count > 1) /* qsort must not get NULL, which an empty list has */
		qsort(c->items, c->count, sizeof(*c->items), list_order);
	for (size_t i = 0; i < c->count && c->items[i].listed; i++) {
		const struct list_entry *e = &c->items[i];
		session_printf(s, "* %s ", q->lsub ? "LSUB" : "LIST");
		list_write_attrs(c, q, e);
		session_printf(s, " \"%c\" ", c->delimiter);
		mailbox_name_write(&s->out, e->name);
		if (e->childinfo)
			session_printf(s, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
		session_write(s, "\r\n", 2);
		if (q->ret_status &&
		    (e->attrs & (SLUICE_MAILBOX_NOSELECT | SLUICE_MAILBOX_NONEXISTENT)) == 0) {
			/* A mailbox that cannot be opened right now gets no STATUS line; the
			 * listing itself stays right (RFC 5819 leaves this to the server). */
			struct sluice_error err = SLUICE_ERROR_INIT;
			cmd_status_write(s, e->canonical, &q->status, &err);
		}
	}
}

bool cmd_require_storage(struct session *s, const struct imap_command *cmd)
{
	if (s->mail != NULL)
		return true;
	session_tagged(s, cmd->tag, "NO", "UNAVAILABLE", "No mail storage is configured on this server.");
	return false;
}

/* ---- the command's arguments ----------------------------------------------------------- */

#define LIST_USAGE                                                                                \
	"[(selection-options)] reference mailbox-pattern-or-(patterns) [RETURN (return-options)]"

static void list_query_free(struct list_query *q)
{
	for (size_t i = 0; i < q->npatterns; i++)
		free(q->patterns[i]);
	q->npatterns = 0;
}

/* Adds reference + pattern; answers BAD itself when too long. */
static bool list_add_pattern(struct session *s, const char *tag, struct list_query *q,
                             const char *ref, const struct imap_arg *pat)
{
	size_t rl = strlen(ref), pl = strlen(pat->str);
	if (rl + pl > MAILBOX_NAME_MAX) {
		session_tagged(s, tag, "BAD", NULL, "The mailbox pattern is too long.");
		return false;
	}
	if (q->npatterns == LIST_PATTERNS_MAX) {
		session_tagged(s, tag, "BAD", NULL, "At most %d patterns are allowed.",
		               LIST_PATTERNS_MAX);
		return false;
	}
	char *full = malloc(rl + pl + 1);
	if (full == NULL) {
		session_tagged(s, tag, "NO", "SERVERBUG", "The server is out of memory.");
		return false;
	}
	memcpy(full, ref, rl);
	memcpy(full + rl, pat->str, pl + 1);
	q->patterns[q->npatterns++] = full;
	return true;
}

static bool list_selection_options(struct session *s, const char *tag, const struct imap_arg *a,
                                   struct list_query *q)
{
	for (size_t i = 0; i < a->count; i++) {
		const struct imap_arg *o = &a->list[i];
		if (imap_arg_is_atom(o, "SUBSCRIBED"))
			q->sel_subscribed = true;
		else if (imap_arg_is_atom(o, "SPECIAL-USE"))
			q->sel_special = true;
		else if (imap_arg_is_atom(o, "RECURSIVEMATCH"))
			q->sel_recursive = true;
		else if (!imap_arg_is_atom(o, "REMOTE")) { /* there are no remote mailboxes */
			session_tagged(s, tag, "BAD", NULL,
			               "Unknown LIST selection option %.40s; this server knows "
			               "SUBSCRIBED, REMOTE, RECURSIVEMATCH and SPECIAL-USE.",
			               o->type == IMAP_ARG_ATOM ? o->str : "(not an atom)");
			return false;
		}
	}
	/* RFC 5258 3: RECURSIVEMATCH only modifies a base option; RFC 6154 6 leaves
	 * SPECIAL-USE out of the options it may modify. */
	if (q->sel_recursive && (!q->sel_subscribed || q->sel_special)) {
		session_tagged(s, tag, "BAD", NULL,
		               "RECURSIVEMATCH needs the SUBSCRIBED selection option and cannot be "
		               "combined with SPECIAL-USE.");
		return false;
	}
	return true;
}

static bool list_return_options(struct session *s, const char *tag, const struct imap_arg *a,
                                struct list_query *q)
{
	for (size_t i = 0; i < a->count; i++) {
		const struct imap_arg *o = &a->list[i];
		if (imap_arg_is_atom(o, "SUBSCRIBED")) {
			q->ret_subscribed = true;
		} else if (imap_arg_is_atom(o, "CHILDREN") || imap_arg_is_atom(o, "SPECIAL-USE")) {
			/* Both are always computed and shown. */
		} else if (imap_arg_is_atom(o, "STATUS") && i + 1 < a->count &&
		           a->list[i + 1].type == IMAP_ARG_LIST && a->list[i + 1].count > 0 &&
		           !q->ret_status) {
			if (!cmd_status_items_parse(s, tag, &a->list[++i], &q->status))
				return false;
			q->ret_status = true;
		} else {
			session_tagged(s, tag, "BAD", NULL,
			               "Unknown or repeated LIST return option %.40s; this server knows "
			               "SUBSCRIBED, CHILDREN, SPECIAL-USE and STATUS (items).",
			               o->type == IMAP_ARG_ATOM ? o->str : "(not an atom)");
			return false;
		}
	}
	return true;
}

/*
 * Reads LIST's arguments in either syntax (RFC 5258 6):
 *   LIST [SP (selection-options)] SP reference SP (pattern / (patterns)) [SP RETURN (options)]
 * Answers BAD itself and returns false when they do not fit.
 */
static bool list_parse(struct session *s, const struct imap_command *cmd, struct list_query *q)
{
	const struct imap_arg *a = cmd->args;
	size_t i = 0, n = cmd->count;
	if (n > 0 && a[0].type == IMAP_ARG_LIST && !q->lsub) {
		q->extended = true;
		if (!list_selection_options(s, cmd->tag, &a[0], q))
			return false;
		i++;
	}
	if (i + 2 > n || !imap_arg_is_astring(&a[i]) ||
	    (!imap_arg_is_astring(&a[i + 1]) && (q->lsub || a[i + 1].type != IMAP_ARG_LIST))) {
		cmd_bad_arguments(s, cmd, q->lsub ? "reference mailbox-pattern" : LIST_USAGE);
		return false;
	}
	const char *ref = a[i].str;
	const struct imap_arg *pat = &a[i + 1];
	i += 2;
	if (pat->type == IMAP_ARG_LIST) {
		q->extended = true;
		if (pat->count == 0) {
			cmd_bad_arguments(s, cmd, LIST_USAGE);
			return false;
		}
		for (size_t k = 0; k < pat->count; k++) {
			if (!imap_arg_is_astring(&pat->list[k])) {
				cmd_bad_arguments(s, cmd, LIST_USAGE);
				return false;
			}
			if (!list_add_pattern(s, cmd->tag, q, ref, &pat->list[k]))
				return false;
		}
	} else if (!list_add_pattern(s, cmd->tag, q, ref, pat)) {
		return false;
	} else {
		q->empty_pattern = pat->str[0] == '\0';
	}
	if (i < n && !q->lsub && i + 2 == n && imap_arg_is_atom(&a[i], "RETURN") &&
	    a[i + 1].type == IMAP_ARG_LIST) {
		q->extended = true;
		if (!list_return_options(s, cmd->tag, &a[i + 1], q))
			return false;
		i += 2;
	}
	if (i != n) {
		cmd_bad_arguments(s, cmd, q->lsub ? "reference mailbox-pattern" : LIST_USAGE);
		return false;
	}
	return true;
}

static void cmd_list_common(struct session *s, const struct imap_command *cmd, bool lsub)
{
	struct list_query q = {.lsub = lsub};
	if (!list_parse(s, cmd, &q) || !cmd_require_storage(s, cmd)) {
		list_query_free(&q);
		return;
	}
	struct list_ctx c = {.s = s, .delimiter = session_delimiter(s)};
	if (!lsub && q.empty_pattern && !q.sel_subscribed && !q.sel_special) {
		/* RFC 3501: an empty pattern asks for the delimiter and the root. */
		session_printf(s, "* LIST (\\Noselect) \"%c\" \"\"\r\n", c.delimiter);
		session_tagged(s, cmd->tag, "OK", NULL, "List completed.");
		list_query_free(&q);
		return;
	}
	struct sluice_error err = SLUICE_ERROR_INIT;
	int r = s->mail->storage_ops->mailbox_list(s->mail->storage, list_on_mailbox, &c, &err);
	if (r == 0 && !c.failed)
		list_select(&c, &q);
	if (r < 0 || c.failed) {
		session_tagged(s, cmd->tag, "NO", "SERVERBUG", "%s",
			       err.msg[0] ? err.msg : "The mailbox list cannot be read right now.");
	} else {
		list_answer(&c, &q);
		session_tagged(s, cmd->tag, "OK", NULL, "%s completed.", lsub ? "Lsub" : "List");
	}
	list_free(&c);
	list_query_free(&q);
}

void cmd_list(struct session *s, const struct imap_command *cmd)
{
	cmd_list_common(s, cmd, false);
}

void cmd_lsub(struct session *s, const struct imap_command *cmd)
{
	cmd_list_common(s, cmd, true);
}

/* NAMESPACE (RFC 2342): one personal namespace with an empty prefix; no shared or
 * other users' folders exist on this server, so those two are NIL. */
void cmd_namespace(struct session *s, const struct imap_command *cmd)
{
	if (cmd->count != 0) {
		cmd_bad_arguments(s, cmd, "(no arguments)");
		return;
	}
	session_printf(s, "* NAMESPACE ((\"\" \"%c\")) NIL NIL\r\n", session_delimiter(s));
	session_tagged(s, cmd->tag, "OK", NULL, "Namespace completed.");
}

/* The capabilities of mailbox listing, STATUS, CREATE and APPEND, once logged in. */
void cmd_write_mailbox_capabilities(struct session *s)
{
	if (s->mail == NULL)
		return; /* no storage: none of these commands works */
	session_printf(s, " CHILDREN LIST-EXTENDED LIST-STATUS");
	if (special_use_storable(s->mail) || s->conf->default_mailboxes != NULL)
		session_printf(s, " SPECIAL-USE");
	if (special_use_storable(s->mail))
		session_printf(s, " CREATE-SPECIAL-USE");
	session_printf(s, " STATUS=SIZE APPENDLIMIT=%llu", (unsigned long long)s->conf->s.max_literal);
}
