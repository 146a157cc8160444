/*
 * LIST and LSUB (RFC 3501 6.3.8, 6.3.9), with the CHILDREN attributes of RFC 3348.
 * The storage module reports every mailbox once; this file converts names to what the
 * client sees, applies the pattern, and answers in a stable order (INBOX first).
 */
#include "imap/commands.h"

#include <stdlib.h>
#include <string.h>

#include "mailbox/name.h"
#include "mailbox/user.h"

struct list_entry {
	char *name; /* IMAP form */
	uint32_t attrs;
};

struct list_ctx {
	struct session *s;
	const char *pattern;
	char delimiter;
	bool lsub;
	struct list_entry *items;
	size_t count, cap;
	bool failed;
};

static bool list_has(const struct list_ctx *c, const char *name)
{
	for (size_t i = 0; i < c->count; i++)
		if (strcmp(c->items[i].name, name) == 0)
			return true;
	return false;
}

static void list_add(struct list_ctx *c, const char *name, uint32_t attrs)
{
	if (c->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct list_entry *n = realloc(c->items, cap * sizeof(*n));
		if (n == NULL) {
			c->failed = true;
			return;
		}
		c->items = n;
		c->cap = cap;
	}
	c->items[c->count].name = strdup(name);
	if (c->items[c->count].name == NULL) {
		c->failed = true;
		return;
	}
	c->items[c->count++].attrs = attrs;
}

/* LSUB with '%': a subscribed "a.b" makes "a" answer as \Noselect when "a" matches. */
static void list_add_lsub_parents(struct list_ctx *c, const char *name)
{
	char *copy = strdup(name);
	if (copy == NULL)
		return;
	for (char *p = strrchr(copy, c->delimiter); p != NULL; p = strrchr(copy, c->delimiter)) {
		*p = '\0';
		if (mailbox_pattern_match(c->pattern, copy, c->delimiter) && !list_has(c, copy))
			list_add(c, copy, SLUICE_MAILBOX_NOSELECT | SLUICE_MAILBOX_NONEXISTENT);
	}
	free(copy);
}

static int list_on_mailbox(void *ctx, const char *canonical, uint32_t attrs)
{
	struct list_ctx *c = ctx;
	struct buf imap = {0};

	if (c->lsub ? (attrs & SLUICE_MAILBOX_SUBSCRIBED) == 0 : (attrs & SLUICE_MAILBOX_NONEXISTENT) != 0)
		return 0;
	if (mailbox_name_to_imap(canonical, c->delimiter, &imap) != 0)
		return 0; /* a name that cannot be shown is skipped, not fatal */
	const char *name = (const char *)buf_head(&imap);
	if (mailbox_pattern_match(c->pattern, name, c->delimiter)) {
		if (!list_has(c, name))
			list_add(c, name, attrs);
	} else if (c->lsub && strchr(c->pattern, '%') != NULL) {
		list_add_lsub_parents(c, name);
	}
	buf_free(&imap);
	return 0;
}

static int list_order(const void *a, const void *b)
{
	const struct list_entry *x = a, *y = b;
	bool xi = strcmp(x->name, "INBOX") == 0, yi = strcmp(y->name, "INBOX") == 0;
	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void list_write_attrs(struct session *s, uint32_t attrs, bool lsub)
{
	const char *sep = "";
	session_write(s, "(", 1);
	if (attrs & (SLUICE_MAILBOX_NOSELECT | SLUICE_MAILBOX_NONEXISTENT)) {
		session_printf(s, "%s\\Noselect", sep);
		sep = " ";
	}
	if (!lsub) {
		if (attrs & SLUICE_MAILBOX_NOINFERIORS) {
			session_printf(s, "%s\\Noinferiors", sep);
			sep = " ";
		}
		if (attrs & SLUICE_MAILBOX_HASCHILDREN) {
			session_printf(s, "%s\\HasChildren", sep);
			sep = " ";
		} else if (attrs & SLUICE_MAILBOX_HASNOCHILDREN) {
			session_printf(s, "%s\\HasNoChildren", sep);
			sep = " ";
		}
	}
	session_write(s, ")", 1);
}

bool cmd_require_storage(struct session *s, const struct imap_command *cmd)
{
	if (s->mail != NULL)
		return true;
	session_tagged(s, cmd->tag, "NO", "UNAVAILABLE", "No mail storage is configured on this server.");
	return false;
}

static void cmd_list_common(struct session *s, const struct imap_command *cmd, bool lsub)
{
	if (cmd->count != 2 || !imap_arg_is_astring(&cmd->args[0]) || !imap_arg_is_astring(&cmd->args[1])) {
		cmd_bad_arguments(s, cmd, "reference mailbox-pattern");
		return;
	}
	if (!cmd_require_storage(s, cmd))
		return;
	struct list_ctx c = {.s = s, .delimiter = session_delimiter(s), .lsub = lsub};
	const char *ref = cmd->args[0].str, *pat = cmd->args[1].str;

	if (pat[0] == '\0' && !lsub) {
		/* RFC 3501: an empty pattern asks for the delimiter and the root. */
		session_printf(s, "* LIST (\\Noselect) \"%c\" \"\"\r\n", c.delimiter);
		session_tagged(s, cmd->tag, "OK", NULL, "List completed.");
		return;
	}
	size_t rl = strlen(ref), pl = strlen(pat);
	if (rl + pl > MAILBOX_NAME_MAX) {
		session_tagged(s, cmd->tag, "BAD", NULL, "The mailbox pattern is too long.");
		return;
	}
	char full[MAILBOX_NAME_MAX + 1];
	memcpy(full, ref, rl);
	memcpy(full + rl, pat, pl + 1);
	c.pattern = full;

	struct sluice_error err = SLUICE_ERROR_INIT;
	int r = s->mail->storage_ops->mailbox_list(s->mail->storage, list_on_mailbox, &c, &err);
	if (r < 0 || c.failed) {
		session_tagged(s, cmd->tag, "NO", "SERVERBUG", "%s",
			       err.msg[0] ? err.msg : "The mailbox list cannot be read right now.");
	} else {
		if (c.count > 1) /* qsort must not get NULL, which an empty list has */
			qsort(c.items, c.count, sizeof(*c.items), list_order);
		for (size_t i = 0; i < c.count; i++) {
			session_printf(s, "* %s ", lsub ? "LSUB" : "LIST");
			list_write_attrs(s, c.items[i].attrs, lsub);
			session_printf(s, " \"%c\" ", c.delimiter);
			mailbox_name_write(&s->out, c.items[i].name);
			session_write(s, "\r\n", 2);
		}
		session_tagged(s, cmd->tag, "OK", NULL, "%s completed.", lsub ? "Lsub" : "List");
	}
	for (size_t i = 0; i < c.count; i++)
		free(c.items[i].name);
	free(c.items);
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
