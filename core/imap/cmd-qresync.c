/*
 * QRESYNC (RFC 7162 section 3.2) as part of SELECT and EXAMINE: the parameter
 * `(QRESYNC (uidvalidity modseq [known-uids [(known-sequence-set known-uid-set)]]))` and
 * the answer it asks for, `* VANISHED (EARLIER) uid-set` for what was expunged since the
 * client's MODSEQ, then `* n FETCH (UID u FLAGS (...) MODSEQ (m))` for each message whose
 * flags changed since then. FETCH's VANISHED modifier writes its answer here too.
 *
 * Both lists come from the index's MODSEQ order and expunge history (mailbox/changes.c),
 * so a client that reconnects to a mailbox of 100,000 messages after 10 changes costs the
 * server 10 index entries, not 100,000. They are computed before SELECT sends anything,
 * so that a failure can still be a NO with no mailbox selected. With known-uids the
 * answer is limited to those UIDs. The sequence match data helps servers that forget old
 * expunges; this one keeps the whole expunge history, so the data is checked and then not
 * needed. A UIDVALIDITY other than the mailbox's means the client's cache is worthless:
 * the parameter is then ignored and the client gets an ordinary SELECT.
 */
#include "imap/commands.h"

#include <stdlib.h>
#include <string.h>

#include "imap/modseq.h"
#include "mailbox/mailbox.h"
#include "util/log.h"

/* A set of UIDs in a QRESYNC parameter: no `*`, no `$` (RFC 7162's known-uids). */
static bool qresync_set(const struct imap_arg *a, struct sluice_pool *pool, struct seqset *set)
{
	if (a->type != IMAP_ARG_ATOM || seqset_parse(a->str, set, pool, NULL) != 0 || set->saved ||
	    set->has_star)
		return false;
	seqset_resolve(set, 0);
	return true;
}

/* Reads the parameter list into @p q; NULL, or the sentence of a BAD. */
static const char *qresync_read(const struct imap_arg *a, struct sluice_pool *pool,
                                struct cmd_qresync *q)
{
	uint64_t v;
	if (a == NULL || a->type != IMAP_ARG_LIST || a->count < 2 || a->count > 4)
		return "QRESYNC takes (uidvalidity modseq [known-uids [(sequences uids)]]).";
	if (!imap_modseq_parse(&a->list[0], false, &v) || v > UINT32_MAX)
		return "The QRESYNC UIDVALIDITY must be a number from 1 to 4294967295.";
	q->uidvalidity = (uint32_t)v;
	if (!imap_modseq_parse(&a->list[1], false, &q->modseq))
		return "The QRESYNC MODSEQ must be a number from 1 to 9223372036854775807.";
	if (a->count < 3)
		return NULL;
	if (!qresync_set(&a->list[2], pool, &q->known))
		return "The QRESYNC known UIDs must be a set of UIDs without * or $.";
	q->has_known = true;
	if (a->count < 4)
		return NULL;
	const struct imap_arg *m = &a->list[3];
	struct seqset seqs, uids;
	if (m->type != IMAP_ARG_LIST || m->count != 2 || !qresync_set(&m->list[0], pool, &seqs) ||
	    !qresync_set(&m->list[1], pool, &uids))
		return "The QRESYNC sequence match data must be (sequence-set uid-set) without * "
		       "or $.";
	if (seqset_count(&seqs) != seqset_count(&uids))
		return "The two sets of the QRESYNC sequence match data differ in size.";
	return NULL;
}

bool cmd_qresync_parse(struct session *s, const struct imap_command *cmd, const struct imap_arg *a,
                       struct sluice_pool *pool, struct cmd_qresync *q)
{
	memset(q, 0, sizeof(*q));
	if (!(s->enabled & SESSION_ENABLED_QRESYNC)) {
		session_tagged(s, cmd->tag, "BAD", "CLIENTBUG",
		               "QRESYNC must be enabled first (ENABLE QRESYNC).");
		return false;
	}
	const char *why = qresync_read(a, pool, q);
	if (why != NULL) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s", why);
		return false;
	}
	return true;
}

int cmd_qresync_prepare(struct mailbox *box, const struct cmd_qresync *q, struct cmd_resync *out,
                        struct sluice_error *err)
{
	memset(out, 0, sizeof(*out));
	if (q->uidvalidity != box->uidvalidity)
		return 0;
	const struct seqset *known = q->has_known ? &q->known : NULL;
	int r =
	    mailbox_vanished_since(box, q->modseq, known, &out->vanished, &out->n_vanished, err);
	if (r == 0)
		r = mailbox_changed_since(box, q->modseq, known, &out->changed, &out->n_changed,
		                          err);
	if (r < 0)
		cmd_resync_free(out);
	return r;
}

void cmd_send_vanished_earlier(struct session *s, const uint32_t *uids, uint32_t n)
{
	if (n == 0)
		return;
	session_write(s, "* VANISHED (EARLIER) ", 21);
	if (seqset_write(&s->out, uids, n) < 0) {
		s->close_reason = "out of memory";
		s->closing = true;
	}
	session_write(s, "\r\n", 2);
}

void cmd_resync_send(struct session *s, const struct cmd_resync *rs)
{
	const struct mailbox *box = s->selected;
	cmd_send_vanished_earlier(s, rs->vanished, rs->n_vanished);
	if (rs->n_changed == 0)
		return;
	struct sluice_pool *pool = pool_create(1024, 0);
	if (pool == NULL) {
		s->close_reason = "out of memory";
		s->closing = true;
		return;
	}
	for (uint32_t i = 0; i < rs->n_changed && !s->closing; i++) {
		cmd_send_flags(s, rs->changed[i], &box->msgs[rs->changed[i]], true, pool);
		pool_clear(pool);
	}
	pool_destroy(&pool);
}

void cmd_resync_free(struct cmd_resync *rs)
{
	free(rs->vanished);
	free(rs->changed);
	memset(rs, 0, sizeof(*rs));
}
