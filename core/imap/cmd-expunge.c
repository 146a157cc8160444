/*
 * EXPUNGE (RFC 3501 6.4.3) and UID EXPUNGE (RFC 4315), plus what every command that
 * changes the number of messages needs: turning a message-set argument into the UIDs it
 * names, announcing expunged messages, and refreshing the selected mailbox after APPEND
 * or COPY into it.
 *
 * Expunges are announced highest sequence number first. Each `* n EXPUNGE` renumbers
 * only the messages above n, so announcing 4 before 2 lets every line carry the number
 * the message had when the command began (RFC 3501 7.4.1 allows either way).
 */
#include "imap/commands.h"

#include <stdlib.h>

#include "mailbox/mailbox.h"
#include "util/log.h"

bool cmd_msgset_uids(struct session *s, const struct imap_command *cmd, const struct imap_arg *a,
                     struct sluice_pool *pool, struct seqset *uids_r)
{
	const struct mailbox *box = s->selected;
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct seqset set;

	if (a->type != IMAP_ARG_ATOM || seqset_parse(a->str, &set, pool, &err) != 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s",
		               err.msg[0] ? err.msg : "Invalid sequence set.");
		return false;
	}
	if (set.saved) {
		session_tagged(s, cmd->tag, "BAD", NULL, "There is no saved search result ($).");
		return false;
	}
	if (s->uid_command) {
		uint32_t last = box->count ? box->msgs[box->count - 1].uid : 0;
		seqset_resolve(&set, last); /* `*` in an empty mailbox simply matches nothing */
		seqset_clamp(&set, last);
		*uids_r = set;
		return true;
	}
	if (seqset_resolve(&set, box->count) != 0 || seqset_max(&set) > box->count) {
		session_tagged(s, cmd->tag, "BAD", NULL,
		               "No such message: the mailbox has %u messages.", box->count);
		return false;
	}
	seqset_init(uids_r, pool);
	struct seqset_iter it;
	uint32_t seq;
	seqset_iter_init(&it, &set);
	while (seqset_iter_next(&it, &seq)) {
		uint32_t uid = box->msgs[seq - 1].uid;
		if (seqset_add(uids_r, uid, uid) != 0) {
			session_tagged(s, cmd->tag, "NO", "LIMIT", "Out of memory.");
			return false;
		}
	}
	seqset_resolve(uids_r, 0);
	return true;
}

void cmd_send_expunged(struct session *s, const uint32_t *seqs, uint32_t n)
{
	for (uint32_t i = n; i-- > 0;)
		session_printf(s, "* %u EXPUNGE\r\n", seqs[i]);
}

void cmd_refresh_selected(struct session *s)
{
	struct mailbox *box = s->selected;
	struct sluice_error err = SLUICE_ERROR_INIT;
	uint32_t *gone, n;
	uint32_t before = box->count, recent = box->recent;

	if (mailbox_refresh(box, &gone, &n, &err) < 0) {
		/* The view stays as it was; the next command that refreshes tries again. */
		log_warning("cannot refresh %s: %s", box->name, err.msg);
		return;
	}
	cmd_send_expunged(s, gone, n);
	free(gone);
	if (box->count != before - n || box->recent != recent) {
		session_printf(s, "* %u EXISTS\r\n", box->count);
		session_printf(s, "* %u RECENT\r\n", box->recent);
	}
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
	struct seqset set;
	if (uid && !cmd_msgset_uids(s, cmd, &cmd->args[0], pool, &set)) {
		pool_destroy(&pool);
		return;
	}
	struct sluice_error err = SLUICE_ERROR_INIT;
	uint32_t *seqs, n;
	int r = mailbox_expunge_uids(box, uid ? &set : NULL, true, &seqs, &n, &err);
	cmd_send_expunged(s, seqs, n);
	free(seqs);
	pool_destroy(&pool);
	if (r < 0) {
		log_warning("EXPUNGE of %s failed: %s", box->name, err.msg);
		session_tagged(s, cmd->tag, "NO", err.resp_code ? err.resp_code : "SERVERBUG", "%s",
		               err.msg[0] ? err.msg : "The messages could not be expunged.");
		return;
	}
	session_tagged(s, cmd->tag, "OK", NULL, "Expunge completed.");
}
