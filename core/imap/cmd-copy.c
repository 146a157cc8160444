/*
 * COPY (RFC 3501 6.4.7) and MOVE (RFC 6851), with their UID forms and UIDPLUS's COPYUID
 * (RFC 4315). A copy keeps the source's flags, keywords and INTERNALDATE: the storage
 * links the file (Maildir: a hard link when the mtime already is the INTERNALDATE) and
 * the destination's index gets records with new UIDs and the source's cached fields, all
 * in one write transaction that begins and commits inside the command. There is no
 * per-message fsync: the Maildir module defers the directory fsync to the next operation
 * that must not overtake the links, so 10,000 messages take a fraction of a second.
 *
 * With the server setting copy_keeps_metadata = no (VPOP3's option), copies get no flags
 * or keywords and the time of the command as INTERNALDATE; Maildir then copies the bytes,
 * since the copy's mtime must differ from the source's.
 *
 * The copies are \Recent: marked unclaimed in the index, the next SELECT claims them. If
 * anything fails, the links already made are removed again, so the destination is as it
 * was (RFC 3501 requires it). Messages another session expunged meanwhile are skipped.
 *
 * MOVE is a COPY followed by the expunge of exactly the messages copied, announced as
 * `* OK [COPYUID ...]`, then `* n EXPUNGE` lines (one `* VANISHED` once QRESYNC is on),
 * then the tagged OK, which tells a CONDSTORE client the new HIGHESTMODSEQ.
 */
#include "imap/commands.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mailbox/mailbox.h"
#include "mailbox/notify.h"
#include "util/log.h"

/* One COPY: the source messages, and what became of each. */
struct copy_job {
	struct mail_user *mu;
	struct mailbox *src;
	const char *dest;
	struct sluice_storage_box *dbox;
	uint32_t n;                        /* source messages selected */
	uint32_t *pos;                     /* their positions in the source view */
	struct sluice_index_message *recs; /* their index records (uid 0: gone) */
	const char **new_keys;             /* keys made in the destination, for undoing */
	uint32_t done;                     /* copies made: src_uids/dst_uids/new_keys */
	uint32_t *src_uids, *dst_uids;
	uint32_t uidvalidity;
	bool keep_metadata; /* copy_keeps_metadata: flags, keywords and INTERNALDATE */
	time_t now;         /* otherwise the copies' INTERNALDATE */
};

/* Reads the source records; they stay valid until the transaction ends. */
static int copy_read(struct copy_job *job, struct sluice_index_txn *txn, struct sluice_error *err)
{
	const struct sluice_index_ops *ix = job->mu->index_ops;
	for (uint32_t i = 0; i < job->n; i++) {
		const struct mailbox_msg *m = &job->src->msgs[job->pos[i]];
		int r = ix->message_get(txn, job->src->name, m->uid, &job->recs[i], err);
		if (r == SLUICE_NOTFOUND)
			job->recs[i].uid = 0; /* expunged by another session */
		else if (r != 0)
			return r;
	}
	return 0;
}

/* Links each message and records it in the destination; inside the write transaction. */
static int copy_write(struct copy_job *job, struct sluice_index_txn *txn, struct sluice_pool *pool,
                      struct sluice_error *err)
{
	const struct sluice_index_ops *ix = job->mu->index_ops;
	const struct sluice_storage_ops *st = job->mu->storage_ops;
	struct sluice_index_mailbox state;
	bool created;
	int r = mailbox_index_state(ix, txn, job->dest, &state, &created, err);
	if (r != 0)
		return r;
	uint64_t modseq = state.highestmodseq + 1;
	for (uint32_t i = 0; i < job->n; i++) {
		struct sluice_index_message *rec = &job->recs[i];
		if (rec->uid == 0)
			continue;
		if (state.uidnext == UINT32_MAX)
			return sluice_error_set(
			    err, SLUICE_E_LIMIT, "LIMIT",
			    "The destination has used up its UIDs; recreate it.");
		const char *key = mailbox_msg_key(job->src, &job->src->msgs[job->pos[i]]);
		const char *new_key;
		uint32_t flags = rec->flags & SLUICE_FLAGS_ALL;
		if (!job->keep_metadata) {
			flags = 0;
			rec->keywords = "";
			rec->internal_date = (int64_t)job->now;
			rec->internal_zone = 0;
		}
		r = st->message_copy(job->src->sbox, key, job->dbox, flags, rec->keywords,
		                     (time_t)rec->internal_date, pool, &new_key, err);
		if (r == SLUICE_NOTFOUND)
			continue; /* the file vanished: nothing to copy */
		if (r != 0)
			return r;
		job->new_keys[job->done] = new_key;
		job->src_uids[job->done] = rec->uid;
		rec->uid = state.uidnext++;
		rec->key = new_key;
		rec->flags = flags | MAILBOX_INDEX_UNCLAIMED;
		rec->modseq = modseq;
		job->dst_uids[job->done++] = rec->uid;
		if ((r = ix->message_put(txn, job->dest, rec, err)) != 0)
			return r;
	}
	job->uidvalidity = state.uidvalidity;
	if (job->done == 0 && !created)
		return 0;
	if (job->done > 0)
		state.highestmodseq = modseq;
	return ix->mailbox_put(txn, job->dest, &state, err);
}

/* The whole copy: 0, or a negative code with err filled and the destination unchanged. */
static int copy_run(struct copy_job *job, struct sluice_pool *pool, struct sluice_error *err)
{
	const struct sluice_index_ops *ix = job->mu->index_ops;
	struct sluice_index_txn *txn;
	int r = ix->txn_begin(job->mu->index, true, &txn, err);
	if (r != 0)
		return r > 0 ? SLUICE_E_INTERNAL : r;
	r = copy_read(job, txn, err);
	if (r == 0)
		r = copy_write(job, txn, pool, err);
	if (r == 0)
		r = ix->txn_commit(txn, err);
	else
		ix->txn_abort(txn);
	if (r == 0)
		return 0;
	for (uint32_t i = 0; i < job->done; i++) {
		struct sluice_error xerr = SLUICE_ERROR_INIT;
		job->mu->storage_ops->message_expunge(job->dbox, job->new_keys[i], &xerr);
	}
	job->done = 0;
	return r > 0 ? SLUICE_E_INTERNAL : r;
}

/* Fills job->pos with the view positions of the set's messages; false when out of memory. */
static bool copy_select(struct copy_job *job, struct cmd_msgset *ms, struct sluice_pool *pool)
{
	const struct mailbox *box = job->src;
	uint32_t n = 0, index;
	while (cmd_msgset_next(ms, box, &index))
		n++;
	job->n = n;
	size_t k = n ? n : 1;
	job->pos = pool_alloc(pool, k * sizeof(*job->pos));
	job->recs = pool_alloc(pool, k * sizeof(*job->recs));
	job->new_keys = pool_alloc(pool, k * sizeof(*job->new_keys));
	job->src_uids = pool_alloc(pool, k * sizeof(*job->src_uids));
	job->dst_uids = pool_alloc(pool, k * sizeof(*job->dst_uids));
	if (!job->pos || !job->recs || !job->new_keys || !job->src_uids || !job->dst_uids)
		return false;
	n = 0;
	cmd_msgset_rewind(ms);
	while (n < job->n && cmd_msgset_next(ms, box, &index))
		job->pos[n++] = index;
	return true;
}

/* "COPYUID validity src dst" in @p out, NUL-terminated; false when out of memory. */
static bool copyuid_code(const struct copy_job *job, struct buf *out)
{
	return buf_printf(out, "COPYUID %u ", job->uidvalidity) == 0 &&
	       seqset_write(out, job->src_uids, job->done) == 0 && buf_append(out, " ", 1) == 0 &&
	       seqset_write(out, job->dst_uids, job->done) == 0 && buf_append(out, "", 1) == 0;
}

/* Expunges the moved sources and announces them. */
static int move_expunge(struct session *s, const struct copy_job *job, struct sluice_pool *pool,
                        struct sluice_error *err)
{
	struct seqset moved;
	seqset_init(&moved, pool);
	for (uint32_t i = 0; i < job->done; i++)
		if (seqset_add(&moved, job->src_uids[i], job->src_uids[i]) != 0)
			return sluice_error_set(err, SLUICE_E_NOMEM, "LIMIT", "Out of memory.");
	seqset_resolve(&moved, 0);
	struct mailbox_changes ch;
	int r = mailbox_expunge_uids(s->selected, &moved, false, &ch, err);
	cmd_send_expunged(s, &ch);
	mailbox_changes_free(&ch);
	return r;
}

static void copy_command(struct session *s, const struct imap_command *cmd, bool move)
{
	const char *what = move ? "Move" : "Copy";
	if (cmd->count != 2 || cmd->args[0].type != IMAP_ARG_ATOM ||
	    !imap_arg_is_astring(&cmd->args[1])) {
		cmd_bad_arguments(s, cmd, "sequence-set mailbox");
		return;
	}
	if (move && s->selected->readonly) {
		session_tagged(s, cmd->tag, "NO", NULL,
		               "The mailbox is read-only (EXAMINE); messages cannot be moved out.");
		return;
	}
	struct sluice_pool *pool = pool_create(16384, 0);
	if (pool == NULL) {
		session_tagged(s, cmd->tag, "NO", "LIMIT", "Out of memory.");
		return;
	}
	struct buf name = {0}, code = {0};
	struct cmd_msgset ms;
	struct copy_job job = {.mu = s->mail,
	                       .src = s->selected,
	                       .keep_metadata = s->conf->s.copy_keeps_metadata,
	                       .now = time(NULL)};
	struct sluice_storage_box *own = NULL;
	struct sluice_error err = SLUICE_ERROR_INIT;

	if (!cmd_msgset_parse(s, cmd, &cmd->args[0], pool, &ms) ||
	    !cmd_mailbox_arg(s, cmd, &cmd->args[1], false, &name))
		goto out;
	job.dest = (const char *)buf_head(&name);
	bool into_selected = strcmp(job.dest, s->selected->name) == 0;
	int r = 0;
	if (into_selected)
		job.dbox = s->selected->sbox;
	else
		r = s->mail->storage_ops->mailbox_open(s->mail->storage, job.dest, &own, &err);
	if (r == SLUICE_NOTFOUND) {
		session_tagged(s, cmd->tag, "NO", "TRYCREATE", "No such mailbox; create it first.");
		goto out;
	}
	if (r == 0 && own != NULL)
		job.dbox = own;
	if (r == 0 && !copy_select(&job, &ms, pool))
		r = sluice_error_set(&err, SLUICE_E_NOMEM, "LIMIT", "Out of memory.");
	if (r == 0 && job.n > 0)
		r = copy_run(&job, pool, &err);
	if (own != NULL)
		s->mail->storage_ops->mailbox_close(own);
	if (r != 0) {
		log_warning("%s into %s failed: %s", move ? "MOVE" : "COPY", job.dest, err.msg);
		session_tagged(s, cmd->tag, "NO", err.resp_code, "%s",
		               err.msg[0] ? err.msg : "The messages could not be copied.");
		goto out;
	}
	if (job.done > 0)
		notify_mailbox_changed(s->mail->user.name, job.dest);
	if (job.done > 0 && !copyuid_code(&job, &code)) {
		/* The copy is made; only the report of its UIDs is lost. */
		buf_free(&code);
	}
	const char *uidcode = buf_len(&code) ? (const char *)buf_head(&code) : NULL;
	if (move) {
		if (uidcode != NULL)
			session_printf(s, "* OK [%s] Moved UIDs.\r\n", uidcode);
		if (move_expunge(s, &job, pool, &err) < 0) {
			log_warning("MOVE from %s could not expunge: %s", s->selected->name,
			            err.msg);
			session_tagged(s, cmd->tag, "NO",
			               err.resp_code ? err.resp_code : "SERVERBUG",
			               "The messages were copied but not all removed.");
			goto out;
		}
		uidcode = NULL;
		if (s->enabled & SESSION_ENABLED_CONDSTORE) {
			buf_free(&code);
			if (buf_printf(&code, "HIGHESTMODSEQ %llu",
			               (unsigned long long)s->selected->highestmodseq) == 0 &&
			    buf_append(&code, "", 1) == 0)
				uidcode = (const char *)buf_head(&code);
		}
	}
	if (into_selected && job.done > 0)
		cmd_refresh_selected_after_own_change(s);
	session_tagged(s, cmd->tag, "OK", uidcode, "%s completed.", what);
out:
	buf_free(&code);
	buf_free(&name);
	pool_destroy(&pool);
}

void cmd_copy(struct session *s, const struct imap_command *cmd)
{
	copy_command(s, cmd, false);
}

void cmd_move(struct session *s, const struct imap_command *cmd)
{
	copy_command(s, cmd, true);
}
