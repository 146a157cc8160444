/*
 * EXPUNGE (RFC 3501 6.4.3) and UID EXPUNGE (RFC 4315), plus what every command that
 * changes the number of messages needs: announcing expunged messages, and refreshing the
 * selected mailbox (NOOP, CHECK, and after APPEND or COPY into it), which announces what
 * others changed: EXPUNGE, EXISTS and RECENT, then FETCH FLAGS for flag changes.
 *
 * Expunges are announced highest sequence number first. Each `* n EXPUNGE` renumbers
 * only the messages above n, so announcing 4 before 2 lets every line carry the number
 * the message had when the command began (RFC 3501 7.4.1 allows either way). Once a
 * client has enabled QRESYNC, the same news is one `* VANISHED uid-set` (RFC 7162),
 * and with CONDSTORE on, a refresh that moved HIGHESTMODSEQ says so in an untagged OK,
 * as the tagged OK of EXPUNGE does, so the client's next QRESYNC starts from there.
 */
#include "imap/commands.h"

#include <stdio.h>
#include <stdlib.h>

#include "imap/seqset.h"
#include "mailbox/mailbox.h"
#include "util/log.h"

void cmd_send_expunged(struct session *s, const struct mailbox_changes *ch)
{
	if (ch->n_expunged == 0)
		return;
	if (s->enabled & SESSION_ENABLED_QRESYNC) {
		session_write(s, "* VANISHED ", 11);
		if (seqset_write(&s->out, ch->expunged_uids, ch->n_expunged) < 0) {
			s->close_reason = "out of memory";
			s->closing = true;
		}
		session_write(s, "\r\n", 2);
		return;
	}
	for (uint32_t i = ch->n_expunged; i-- > 0;)
		session_printf(s, "* %u EXPUNGE\r\n", ch->expunged[i]);
}

static void refresh_selected(struct session *s, bool index_only)
{
	struct mailbox *box = s->selected;
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct mailbox_changes ch;
	uint32_t before = box->count, recent = box->recent;
	uint64_t highest = box->highestmodseq;

	int r = index_only ? mailbox_refresh_from_index(box, &ch, &err) : mailbox_refresh(box, &ch, &err);
	if (r < 0) {
		/* The view stays as it was; the next command that refreshes tries again. */
		log_warning("cannot refresh %s: %s", box->name, err.msg);
		return;
	}
	cmd_send_expunged(s, &ch);
	if (box->count != before - ch.n_expunged || box->recent != recent) {
		session_printf(s, "* %u EXISTS\r\n", box->count);
		session_printf(s, "* %u RECENT\r\n", box->recent);
	}
	/* Flags others changed (RFC 3501 7.4.2), numbered in the new view, with the UID. */
	struct sluice_pool *pool = ch.n_flagged ? pool_create(1024, 0) : NULL;
	for (uint32_t i = 0; i < ch.n_flagged && pool != NULL && !s->closing; i++) {
		uint32_t index = ch.flagged[i];
		cmd_send_flags(s, index, &box->msgs[index], true, pool);
		pool_clear(pool);
	}
	if (ch.n_flagged && pool == NULL)
		log_warning("cannot announce flag changes in %s: out of memory", box->name);
	pool_destroy(&pool);
	mailbox_changes_free(&ch);
	if ((s->enabled & SESSION_ENABLED_CONDSTORE) && box->highestmodseq != highest)
		session_printf(s, "* OK [HIGHESTMODSEQ %llu] Highest mailbox MODSEQ.\r\n",
		               (unsigned long long)box->highestmodseq);
}

void cmd_refresh_selected(struct session *s)
{
	refresh_selected(s, false);
}

void cmd_refresh_selected_after_own_change(struct session *s)
{
	refresh_selected(s, true);
}

void cmd_expunge(struct session *s, const struct imap_command *cmd)
{
	bool uid = s->uid_command;
	if (uid ? cmd->count != 1 : cmd->count != 0) {
		cmd_bad_arguments(s, cmd, uid ? "uid-set" : "(no arguments)");
		return;
	}
	struct mailbox *box = s->selected;
	if (box->readonly) {
		session_tagged(s, cmd->tag, "NO", NULL,
		               "The mailbox is read-only (EXAMINE); nothing can be expunged.");
		return;
	}
	struct sluice_pool *pool = pool_create(1024, 0);
	if (pool == NULL) {
		session_tagged(s, cmd->tag, "NO", "LIMIT", "Out of memory.");
		return;
	}
	struct cmd_msgset ms;
	struct seqset set;
	if (uid && !cmd_msgset_parse(s, cmd, &cmd->args[0], pool, &ms)) {
		pool_destroy(&pool);
		return;
	}
	if (uid && cmd_msgset_uids(&ms, box, pool, &set) < 0) {
		pool_destroy(&pool);
		session_tagged(s, cmd->tag, "NO", "LIMIT", "Out of memory.");
		return;
	}
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct mailbox_changes ch;
	int r = mailbox_expunge_uids(box, uid ? &set : NULL, true, &ch, &err);
	cmd_send_expunged(s, &ch);
	mailbox_changes_free(&ch);
	pool_destroy(&pool);
	if (r < 0) {
		log_warning("EXPUNGE of %s failed: %s", box->name, err.msg);
		session_tagged(s, cmd->tag, "NO", err.resp_code ? err.resp_code : "SERVERBUG", "%s",
		               err.msg[0] ? err.msg : "The messages could not be expunged.");
		return;
	}
	/* The expunges moved HIGHESTMODSEQ, and no FETCH tells a CONDSTORE client so. */
	char code[48];
	snprintf(code, sizeof(code), "HIGHESTMODSEQ %llu", (unsigned long long)box->highestmodseq);
	session_tagged(s, cmd->tag, "OK", (s->enabled & SESSION_ENABLED_CONDSTORE) ? code : NULL,
	               "Expunge completed.");
}
