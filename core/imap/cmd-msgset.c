/*
 * What the message commands share: the sequence-set or UID-set argument of FETCH, STORE,
 * COPY, MOVE and UID EXPUNGE, resolved against the selected view, and the flag list and
 * `* n FETCH (... FLAGS (...))` line that FETCH, STORE and the unsolicited flag updates
 * of a refresh write.
 *
 * A set is parsed once and then walked in ascending view order. A sequence set naming a
 * message past the last one is a BAD, as RFC 3501 says; a UID set simply skips UIDs that
 * match no message, so the walk goes through the view (in UID order) and looks each UID up
 * in the set, which keeps `UID FETCH 1:4294967295` as cheap as the mailbox is small.
 *
 * `$` (SEARCHRES, RFC 5182) is the saved SEARCH result, kept as UIDs: a UID command uses
 * them as they are, a command on sequence numbers gets the current numbers of the
 * messages still in the view. Messages expunged since the SEARCH simply drop out, and an
 * empty result names no message at all, which is not an error.
 */
#include "imap/commands.h"

#include <string.h>

#include "imap/flags.h"
#include "mailbox/mailbox.h"

/* Fills @p ms from the saved SEARCH result; false when the pool refuses. */
static bool msgset_saved(struct session *s, struct sluice_pool *pool, struct cmd_msgset *ms)
{
	const struct mailbox *box = s->selected;
	const struct seqset *saved = &s->searchres;
	seqset_init(&ms->set, pool);
	if (ms->uid) {
		if (seqset_add_set(&ms->set, saved) != 0)
			return false;
	} else if (saved->count > 0) {
		/* Runs of consecutive sequence numbers become one range. */
		uint32_t lo = 0, hi = 0;
		for (uint32_t i = 0; i < box->count; i++) {
			if (!seqset_contains(saved, box->msgs[i].uid))
				continue;
			if (lo != 0 && i == hi) {
				hi = i + 1;
				continue;
			}
			if (lo != 0 && seqset_add(&ms->set, lo, hi) != 0)
				return false;
			lo = hi = i + 1;
		}
		if (lo != 0 && seqset_add(&ms->set, lo, hi) != 0)
			return false;
	}
	seqset_resolve(&ms->set, 0);
	ms->empty = ms->set.count == 0;
	if (!ms->uid && !ms->empty)
		seqset_iter_init(&ms->iter, &ms->set);
	return true;
}

bool cmd_msgset_parse(struct session *s, const struct imap_command *cmd, const struct imap_arg *a,
                      struct sluice_pool *pool, struct cmd_msgset *ms)
{
	struct sluice_error err = SLUICE_ERROR_INIT;
	const struct mailbox *box = s->selected;
	memset(ms, 0, sizeof(*ms));
	ms->uid = s->uid_command;
	if (a->type != IMAP_ARG_ATOM || seqset_parse(a->str, &ms->set, pool, &err) != 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s",
		               err.msg[0] ? err.msg : "Invalid sequence set.");
		return false;
	}
	if (ms->set.saved) {
		if (msgset_saved(s, pool, ms))
			return true;
		session_tagged(s, cmd->tag, "NO", "LIMIT",
		               "The saved search result needs more memory than a session may use.");
		return false;
	}
	if (ms->uid) {
		uint32_t top = box->count ? box->msgs[box->count - 1].uid : 0;
		if (seqset_resolve(&ms->set, top) == SLUICE_NOTFOUND)
			ms->empty = true;
		else
			seqset_clamp(&ms->set, top);
		return true;
	}
	if (seqset_resolve(&ms->set, box->count) == SLUICE_NOTFOUND ||
	    seqset_max(&ms->set) > box->count) {
		session_tagged(s, cmd->tag, "BAD", NULL,
		               "The sequence set names messages that do not exist (there are %u).",
		               box->count);
		return false;
	}
	seqset_iter_init(&ms->iter, &ms->set);
	return true;
}

bool cmd_msgset_next(struct cmd_msgset *ms, const struct mailbox *box, uint32_t *index_r)
{
	if (ms->empty)
		return false;
	if (!ms->uid) {
		uint32_t n;
		if (!seqset_iter_next(&ms->iter, &n) || n > box->count)
			return false;
		*index_r = n - 1;
		return true;
	}
	/* UIDs that do not exist are skipped: walk the view, which is in UID order. */
	while (ms->pos < box->count) {
		uint32_t i = ms->pos++;
		if (seqset_contains(&ms->set, box->msgs[i].uid)) {
			*index_r = i;
			return true;
		}
	}
	return false;
}

bool cmd_msgset_contains(const struct cmd_msgset *ms, const struct mailbox *box, uint32_t index)
{
	if (ms->empty || index >= box->count)
		return false;
	return seqset_contains(&ms->set, ms->uid ? box->msgs[index].uid : index + 1);
}

void cmd_msgset_rewind(struct cmd_msgset *ms)
{
	ms->pos = 0;
	if (!ms->uid && !ms->empty)
		seqset_iter_init(&ms->iter, &ms->set);
}

int cmd_msgset_uids(struct cmd_msgset *ms, const struct mailbox *box, struct sluice_pool *pool,
                    struct seqset *uids_r)
{
	uint32_t index, lo = 0, hi = 0;
	seqset_init(uids_r, pool);
	/* Runs of consecutive UIDs become one range: 1:* is one range, not one per message. */
	while (cmd_msgset_next(ms, box, &index)) {
		uint32_t uid = box->msgs[index].uid;
		if (lo != 0 && uid == hi + 1) {
			hi = uid;
			continue;
		}
		if (lo != 0 && seqset_add(uids_r, lo, hi) != 0)
			return SLUICE_E_NOMEM;
		lo = hi = uid;
	}
	if (lo != 0 && seqset_add(uids_r, lo, hi) != 0)
		return SLUICE_E_NOMEM;
	seqset_resolve(uids_r, 0);
	return 0;
}

bool cmd_write_flags(struct session *s, const struct mailbox_msg *m, struct sluice_pool *pool)
{
	struct imap_flagset set;
	unsigned flags = m->flags & (SLUICE_FLAGS_ALL | MAILBOX_MSG_RECENT);
	if (imap_flagset_from_keywords(flags, m->keywords, pool, &set) < 0 ||
	    imap_flags_write(&s->out, &set) < 0) {
		s->close_reason = "out of memory";
		s->closing = true;
		return false;
	}
	return true;
}

bool cmd_send_flags(struct session *s, uint32_t index, const struct mailbox_msg *m, bool uid,
                    struct sluice_pool *pool)
{
	session_printf(s, "* %u FETCH (", index + 1);
	/* A QRESYNC client is always told which UID a change belongs to (RFC 7162). */
	if (uid || (s->enabled & SESSION_ENABLED_QRESYNC))
		session_printf(s, "UID %u ", m->uid);
	session_printf(s, "FLAGS ");
	bool ok = cmd_write_flags(s, m, pool);
	if (s->enabled & SESSION_ENABLED_CONDSTORE)
		session_printf(s, " MODSEQ (%llu)", (unsigned long long)m->modseq);
	session_write(s, ")\r\n", 3);
	return ok;
}
