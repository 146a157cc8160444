/*
 * Selecting and leaving a mailbox: SELECT, EXAMINE (RFC 3501 6.3.1, 6.3.2), STATUS
 * (6.3.10), CHECK, CLOSE (6.4.1, 6.4.2) and UNSELECT (RFC 3691). The mailbox layer
 * (mailbox/mailbox.c) does the synchronisation; this file turns its view into the
 * untagged responses and keeps the session's state in step: SELECTED exactly while
 * s->selected is set.
 *
 * RFC 7162 adds the select parameters (CONDSTORE) and (QRESYNC (...)) (cmd-qresync.c),
 * HIGHESTMODSEQ in every SELECT and EXAMINE (every mailbox keeps its MODSEQs in the
 * index, so NOMODSEQ is never the answer), `* OK [CLOSED]` when a new SELECT or EXAMINE
 * closes the mailbox that was selected, and STATUS HIGHESTMODSEQ. Leaving a mailbox
 * forgets the saved SEARCH result (RFC 5182).
 */
#include "imap/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailbox/mailbox.h"
#include "mailbox/name.h"
#include "mailbox/size.h"
#include "util/log.h"

/* The five system flags, in the order RFC 3501's examples list them. */
#define SYSTEM_FLAGS "\\Answered \\Flagged \\Deleted \\Seen \\Draft"

static void session_unselect(struct session *s)
{
	mailbox_close(&s->selected);
	cmd_searchres_reset(s);
	s->state = IMAP_STATE_AUTH;
}

struct noselect_find {
	const char *name;
	uint32_t attrs;
	bool found;
};

static int noselect_cb(void *ctx, const char *name, uint32_t attrs)
{
	struct noselect_find *f = ctx;
	if (strcmp(name, f->name) != 0)
		return 0;
	f->found = true;
	f->attrs = attrs;
	return 1;
}

/* Answers a failed mailbox_open. */
static void select_answer_error(struct session *s, const char *tag, const char *name, int r,
                                const struct sluice_error *err)
{
	if (r == SLUICE_NOTFOUND) {
		/* A parent that exists only because of its children cannot be selected. */
		struct noselect_find f = {.name = name};
		struct sluice_error lerr = SLUICE_ERROR_INIT;
		s->mail->storage_ops->mailbox_list(s->mail->storage, noselect_cb, &f, &lerr);
		if (f.found && (f.attrs & SLUICE_MAILBOX_NOSELECT) &&
		    !(f.attrs & SLUICE_MAILBOX_NONEXISTENT))
			session_tagged(
			    s, tag, "NO", "CANNOT",
			    "That name only holds other mailboxes; it cannot hold messages.");
		else
			session_tagged(s, tag, "NO", "NONEXISTENT", "No such mailbox.");
	} else if (r == SLUICE_E_CORRUPT) {
		/* mailbox_open logged what the administrator should do. */
		session_tagged(
		    s, tag, "NO", "SERVERBUG",
		    "The index of this mailbox is damaged; the administrator has been told how to "
		    "repair it.");
	} else {
		log_warning("cannot open mailbox %s: %s", name, err->msg);
		session_tagged(s, tag, "NO", err->resp_code ? err->resp_code : "SERVERBUG", "%s",
		               err->msg[0] ? err->msg : "The mailbox cannot be opened right now.");
	}
}

/*
 * Appends each distinct valid keyword of the view, preceded by a space. Each word is cut
 * out in place (and the byte put back) so that 100,000 messages cost no copies.
 */
static void write_keywords(struct session *s, const struct mailbox *box)
{
	const char **seen = NULL;
	size_t n = 0, cap = 0;
	for (uint32_t i = 0; i < box->count; i++) {
		char *kw = box->msgs[i].keywords;
		if (kw == NULL)
			continue;
		for (char *w = kw; *w != '\0';) {
			size_t len = strcspn(w, " ");
			char save = w[len];
			w[len] = '\0';
			bool known = !imap_keyword_valid(w);
			for (size_t j = 0; j < n && !known; j++)
				known = imap_keyword_equal(seen[j], w);
			if (!known) {
				if (n == cap) {
					size_t ncap = cap ? cap * 2 : 16;
					const char **g = realloc(seen, ncap * sizeof(*g));
					if (g == NULL) {
						w[len] = save;
						free(seen);
						return; /* the list is advisory; the flags stay
						           usable */
					}
					seen = g;
					cap = ncap;
				}
				seen[n++] = w;
				session_printf(s, " %s", w);
			}
			w[len] = save;
			w += len;
			while (*w == ' ')
				w++;
		}
	}
	free(seen);
}

#define SELECT_USAGE "mailbox [(CONDSTORE) | (QRESYNC (uidvalidity modseq [known-uids]))]"

/* The select parameters of RFC 7162 (RFC 4466 syntax); answers BAD itself. */
static bool select_params(struct session *s, const struct imap_command *cmd,
                          struct sluice_pool *pool, struct cmd_qresync *q, bool *qresync_r)
{
	*qresync_r = false;
	if (cmd->count == 1)
		return true;
	const struct imap_arg *list = &cmd->args[1];
	if (cmd->count != 2 || list->type != IMAP_ARG_LIST || list->count == 0) {
		cmd_bad_arguments(s, cmd, SELECT_USAGE);
		return false;
	}
	bool condstore = false;
	for (size_t i = 0; i < list->count; i++) {
		const struct imap_arg *a = &list->list[i];
		if (imap_arg_is_atom(a, "CONDSTORE") && !condstore) {
			condstore = true;
		} else if (imap_arg_is_atom(a, "QRESYNC") && !*qresync_r) {
			const struct imap_arg *v = i + 1 < list->count ? &list->list[++i] : NULL;
			if (!cmd_qresync_parse(s, cmd, v, pool, q))
				return false;
			*qresync_r = true;
		} else {
			session_tagged(
			    s, cmd->tag, "BAD", NULL,
			    "Unknown or repeated select parameter %.40s; this server knows "
			    "CONDSTORE and QRESYNC.",
			    a->type == IMAP_ARG_ATOM ? a->str : "(not an atom)");
			return false;
		}
	}
	/* Asking for either is a CONDSTORE enabling command (RFC 7162 3.1). */
	s->enabled |= SESSION_ENABLED_CONDSTORE;
	return true;
}

static void cmd_select_common(struct session *s, const struct imap_command *cmd, bool readonly)
{
	struct buf name = {0};
	if (cmd->count < 1 || !imap_arg_is_astring(&cmd->args[0])) {
		cmd_bad_arguments(s, cmd, SELECT_USAGE);
		return;
	}
	struct sluice_pool *pool = pool_create(1024, 0);
	if (pool == NULL) {
		session_tagged(s, cmd->tag, "NO", "SERVERBUG", "The server is out of memory.");
		return;
	}
	struct cmd_qresync q;
	struct cmd_resync rs = {0};
	bool qresync;
	if (!select_params(s, cmd, pool, &q, &qresync) || !cmd_require_storage(s, cmd))
		goto out;
	/* RFC 3501: selecting closes the current mailbox first, and a failure leaves none;
	 * RFC 7162 has the server say so before anything about the new one. */
	if (s->selected != NULL) {
		session_unselect(s);
		session_printf(s, "* OK [CLOSED] Previous mailbox closed.\r\n");
	}
	if (!cmd_mailbox_arg(s, cmd, &cmd->args[0], false, &name))
		goto out;
	const char *canonical = (const char *)buf_head(&name);
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct mailbox *box;
	int r = mailbox_open(s->mail, canonical, readonly, !readonly, &box, &err);
	if (r != 0) {
		select_answer_error(s, cmd->tag, canonical, r, &err);
		goto out;
	}
	if (qresync && (r = cmd_qresync_prepare(box, &q, &rs, &err)) < 0) {
		log_warning("QRESYNC of %s failed: %s", canonical, err.msg);
		session_tagged(s, cmd->tag, "NO", err.resp_code ? err.resp_code : "SERVERBUG", "%s",
		               err.msg[0] ? err.msg : "The changes cannot be read right now.");
		mailbox_close(&box);
		goto out;
	}

	session_printf(s, "* FLAGS (" SYSTEM_FLAGS);
	write_keywords(s, box);
	session_printf(s, ")\r\n");
	if (readonly) {
		session_printf(s, "* OK [PERMANENTFLAGS ()] No permanent flags permitted.\r\n");
	} else {
		session_printf(s, "* OK [PERMANENTFLAGS (" SYSTEM_FLAGS);
		write_keywords(s, box);
		session_printf(s, " \\*)] Flags permitted.\r\n");
	}
	session_printf(s, "* %u EXISTS\r\n* %u RECENT\r\n", box->count, box->recent);
	uint32_t unseen = mailbox_first_unseen(box);
	if (unseen != 0)
		session_printf(s, "* OK [UNSEEN %u] First unseen.\r\n", unseen);
	session_printf(s, "* OK [UIDVALIDITY %u] UIDs valid.\r\n", box->uidvalidity);
	session_printf(s, "* OK [UIDNEXT %u] Predicted next UID.\r\n", box->uidnext);
	session_printf(s, "* OK [HIGHESTMODSEQ %llu] Highest mailbox MODSEQ.\r\n",
	               (unsigned long long)box->highestmodseq);
	s->selected = box;
	s->state = IMAP_STATE_SELECTED;
	cmd_resync_send(s, &rs);
	session_tagged(s, cmd->tag, "OK", readonly ? "READ-ONLY" : "READ-WRITE", "%s completed.",
	               readonly ? "Examine" : "Select");
out:
	cmd_resync_free(&rs);
	buf_free(&name);
	pool_destroy(&pool);
}

void cmd_select(struct session *s, const struct imap_command *cmd)
{
	cmd_select_common(s, cmd, false);
}

void cmd_examine(struct session *s, const struct imap_command *cmd)
{
	cmd_select_common(s, cmd, true);
}

enum status_item {
	ST_MESSAGES,
	ST_RECENT,
	ST_UIDNEXT,
	ST_UIDVALIDITY,
	ST_UNSEEN,
	ST_HIGHESTMODSEQ, /* RFC 7162 */
	ST_SIZE,          /* RFC 8438 */
	ST_APPENDLIMIT,   /* RFC 7889 */
	ST_COUNT
};
static const char *const status_names[ST_COUNT] = {
    "MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ", "SIZE", "APPENDLIMIT"};

bool cmd_status_items_parse(struct session *s, const char *tag, const struct imap_arg *list,
                            struct status_items *items)
{
	items->count = 0;
	if (list->count > STATUS_ITEMS_MAX) {
		session_tagged(s, tag, "BAD", NULL,
		               "Too many STATUS items; ask for each at most once.");
		return false;
	}
	for (size_t i = 0; i < list->count; i++) {
		const struct imap_arg *a = &list->list[i];
		size_t k = 0;
		while (k < ST_COUNT && !imap_arg_is_atom(a, status_names[k]))
			k++;
		if (k == ST_COUNT) {
			session_tagged(s, tag, "BAD", NULL,
			               "Unknown STATUS item %.40s; this server knows MESSAGES, "
			               "RECENT, UIDNEXT, UIDVALIDITY, UNSEEN, HIGHESTMODSEQ, SIZE and APPENDLIMIT.",
			               a->type == IMAP_ARG_ATOM ? a->str : "(not an atom)");
			return false;
		}
		items->item[items->count++] = (unsigned char)k;
		if (k == ST_HIGHESTMODSEQ) /* a CONDSTORE enabling command (RFC 7162 3.1) */
			s->enabled |= SESSION_ENABLED_CONDSTORE;
	}
	return true;
}

/* The value of one item; false with err filled when it cannot be had. */
static bool status_value(struct session *s, struct mailbox *box, bool own, enum status_item item,
                         uint64_t *v, struct sluice_error *err)
{
	switch (item) {
	case ST_MESSAGES:
		*v = box->count;
		break;
	case ST_RECENT:
		*v = own ? mailbox_count_unclaimed(box) : box->recent;
		break;
	case ST_UIDNEXT:
		*v = box->uidnext;
		break;
	case ST_UIDVALIDITY:
		*v = box->uidvalidity;
		break;
	case ST_HIGHESTMODSEQ:
		*v = box->highestmodseq;
		break;
	case ST_SIZE:
		return mailbox_total_size(box, v, err) == 0;
	case ST_APPENDLIMIT:
		*v = s->conf->s.max_literal; /* what APPEND accepts: APPENDLIMIT=N says the same */
		break;
	case ST_UNSEEN:
	case ST_COUNT:
		*v = mailbox_count_unseen(box);
		break;
	}
	return true;
}

int cmd_status_write(struct session *s, const char *canonical, const struct status_items *items,
                     struct sluice_error *err)
{
	/* On the selected mailbox, answer what this session knows, so nothing contradicts EXISTS. */
	struct mailbox *box = s->selected;
	bool own = box == NULL || strcmp(box->name, canonical) != 0;
	if (own) {
		int r = mailbox_open(s->mail, canonical, true, false, &box, err);
		if (r != 0)
			return r;
	}
	struct buf imap = {0}, line = {0};
	int r = 0;
	if (mailbox_name_to_imap(canonical, session_delimiter(s), &imap) != 0) {
		r = sluice_error_set(err, SLUICE_E_INTERNAL, "SERVERBUG",
		                     "The mailbox name cannot be shown.");
	} else {
		buf_printf(&line, "* STATUS ");
		mailbox_name_write(&line, (const char *)buf_head(&imap));
		buf_printf(&line, " (");
		for (size_t i = 0; i < items->count && r == 0; i++) {
			uint64_t v = 0;
			if (!status_value(s, box, own, (enum status_item)items->item[i], &v, err))
				r = err->code < 0 ? err->code : SLUICE_E_INTERNAL;
			buf_printf(&line, "%s%s %llu", i ? " " : "", status_names[items->item[i]],
			           (unsigned long long)v);
		}
		buf_printf(&line, ")\r\n");
		/* Whole or nothing: a failed item leaves no half line behind. */
		if (r == 0)
			session_write(s, (const char *)buf_head(&line), buf_len(&line));
	}
	buf_free(&line);
	buf_free(&imap);
	if (own)
		mailbox_close(&box);
	return r;
}

void cmd_status(struct session *s, const struct imap_command *cmd)
{
	struct status_items items;

	if (cmd->count != 2 || !imap_arg_is_astring(&cmd->args[0]) ||
	    cmd->args[1].type != IMAP_ARG_LIST || cmd->args[1].count == 0) {
		cmd_bad_arguments(s, cmd, "mailbox (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)");
		return;
	}
	if (!cmd_status_items_parse(s, cmd->tag, &cmd->args[1], &items) ||
	    !cmd_require_storage(s, cmd))
		return;
	struct buf name = {0};
	if (!cmd_mailbox_arg(s, cmd, &cmd->args[0], false, &name))
		return;
	const char *canonical = (const char *)buf_head(&name);
	struct sluice_error err = SLUICE_ERROR_INIT;
	int r = cmd_status_write(s, canonical, &items, &err);
	if (r == 0)
		session_tagged(s, cmd->tag, "OK", NULL, "Status completed.");
	else
		select_answer_error(s, cmd->tag, canonical, r, &err);
	buf_free(&name);
}

void cmd_check(struct session *s, const struct imap_command *cmd)
{
	if (cmd->count != 0) {
		cmd_bad_arguments(s, cmd, "(no arguments)");
		return;
	}
	/* Every change is committed when it is made: there is nothing to write out, but the
	 * client gets to see what others changed, as after NOOP. */
	cmd_refresh_selected(s);
	session_tagged(s, cmd->tag, "OK", NULL, "Check completed.");
}

void cmd_close(struct session *s, const struct imap_command *cmd)
{
	if (cmd->count != 0) {
		cmd_bad_arguments(s, cmd, "(no arguments)");
		return;
	}
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct mailbox_changes ch = {0};
	/* RFC 3501: CLOSE expunges silently, and the mailbox is closed even if that fails. */
	if (!s->selected->readonly && mailbox_expunge_uids(s->selected, NULL, true, &ch, &err) < 0)
		log_warning("CLOSE of %s could not expunge: %s", s->selected->name, err.msg);
	mailbox_changes_free(&ch);
	session_unselect(s);
	session_tagged(s, cmd->tag, "OK", NULL, "Close completed.");
}

void cmd_unselect(struct session *s, const struct imap_command *cmd)
{
	if (cmd->count != 0) {
		cmd_bad_arguments(s, cmd, "(no arguments)");
		return;
	}
	session_unselect(s);
	session_tagged(s, cmd->tag, "OK", NULL, "Unselect completed.");
}
