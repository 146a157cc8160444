/*
 * The mailbox layer: one open mailbox as IMAP sees it, composed of the storage module
 * (message files and their flags) and the index module (UIDs, MODSEQs, cached fields).
 * No IMAP command knows which modules these are.
 *
 * Opening a mailbox synchronises the two in one index write transaction that begins and
 * ends inside mailbox_open (a write transaction belongs to the thread that began it, and
 * a command runs on one thread): the storage's change stamp is compared with the one the
 * index remembers, and only when it differs is the mailbox scanned. The scan gives new
 * files the next UIDs, copies flag changes made by other programs (mutt renaming a file)
 * into the index with a new MODSEQ, and expunges from the index what vanished from the
 * storage. What remains is the session's view: the messages in UID order with their
 * flags, keywords and storage keys, plus which of them this session saw as \Recent.
 *
 * \Recent: a message is \Recent to the one session whose claiming open (SELECT) moved it
 * out of Maildir's new/ (the storage's rename decides between sessions), or cleared the
 * index's "unclaimed" mark that a non-claiming open (STATUS, EXAMINE) put on a message it
 * indexed first. The storage ABI does not say whether a file is still in new/, so a
 * non-claiming open marks a message it indexes first as unclaimed when it has no flags
 * at all (a file in new/ never has any). STATUS RECENT counts the unclaimed messages.
 *
 * Memory: one fixed 32-byte record per message, keys packed into one buffer, and a
 * keywords string only for messages that have keywords, so 100,000 messages cost a few
 * megabytes. A mailbox is used by one session, on one thread at a time.
 *
 * Each message of the view carries the MODSEQ its flags had when the view was made, so
 * that FETCH MODSEQ, SEARCH MODSEQ and the flag updates a session receives agree with
 * the flags it was shown. What changed since a MODSEQ is found through the index's
 * MODSEQ order and expunge history (mailbox/changes.c), never by walking the view.
 */
#ifndef SLUICE_MAILBOX_H
#define SLUICE_MAILBOX_H

#include <stdbool.h>
#include <stdint.h>

#include <sluice/index.h>
#include <sluice/storage.h>

#include "imap/flags.h"
#include "imap/seqset.h"
#include "mailbox/user.h"

/* This session saw the message as \Recent (never stored). */
#define MAILBOX_MSG_RECENT IMAP_FLAG_RECENT
/*
 * Kept in the index's flags beside SLUICE_FLAG_*: no session has seen the message as
 * \Recent yet. Core-private; masked out of everything a client sees.
 */
#define MAILBOX_INDEX_UNCLAIMED (1u << 31)

struct mailbox_msg {
	uint32_t uid;
	uint32_t flags;   /* SLUICE_FLAG_* | MAILBOX_MSG_RECENT | MAILBOX_INDEX_UNCLAIMED */
	uint32_t key_off; /* the storage key: a NUL-terminated string at box->keys + key_off */
	char *keywords;   /* space-separated keywords (malloc), NULL for none */
	uint64_t modseq;  /* the MODSEQ of these flags and keywords */
};

struct mailbox {
	struct mail_user *user;
	char *name; /* canonical */
	bool readonly;
	struct sluice_storage_box *sbox;

	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;

	struct mailbox_msg *msgs; /* UID order; the sequence number of msgs[i] is i + 1 */
	uint32_t count;
	size_t cap;
	char *keys; /* every key, NUL-terminated, one after the other */
	size_t keys_len, keys_cap;
	uint32_t recent; /* messages with MAILBOX_MSG_RECENT */
};

/**
 * Opens and synchronises a mailbox.
 * @param[in]  mu           the user's mail
 * @param[in]  name         a canonical name (mailbox_name_from_imap checked it)
 * @param[in]  readonly     EXAMINE: CLOSE will not expunge
 * @param[in]  claim_recent SELECT: take new messages out of Maildir's new/ and clear the
 *                          unclaimed marks; this session then sees them as \Recent
 * @param[out] box_r        the open mailbox, closed with mailbox_close
 * @return 0; SLUICE_NOTFOUND when the storage has no such mailbox; SLUICE_E_CORRUPT
 *         when the index is damaged (logged with what the administrator should do);
 *         another negative code from a module or SLUICE_E_NOMEM, with err filled.
 * Worker thread; the index write transaction begins and ends within the call.
 */
int mailbox_open(struct mail_user *mu, const char *name, bool readonly, bool claim_recent,
                 struct mailbox **box_r, struct sluice_error *err);
/** Frees the view and closes the storage box; nothing is expunged. NULL is accepted. */
void mailbox_close(struct mailbox **box);

/**
 * Closes the storage side of an open mailbox (Maildir: four directory descriptors) while
 * its session waits in IDLE, so that 10,000 idlers do not hold 40,000 descriptors. The
 * view stays; mailbox_refresh works without the storage side (it opens the mailbox anew)
 * and leaves it open. Nothing else may use box->sbox until mailbox_storage_reopen.
 */
void mailbox_storage_release(struct mailbox *box);
/**
 * Opens the storage side again after mailbox_storage_release; nothing when it is open.
 * @return 0; SLUICE_NOTFOUND when the mailbox is gone (deleted or renamed meanwhile); a
 *         negative code with err filled.
 */
int mailbox_storage_reopen(struct mailbox *box, struct sluice_error *err);

/** The key of a message in the view. */
static inline const char *mailbox_msg_key(const struct mailbox *box, const struct mailbox_msg *m)
{
	return box->keys + m->key_off;
}

/** Messages without \Seen. */
uint32_t mailbox_count_unseen(const struct mailbox *box);
/** The sequence number of the first message without \Seen, 0 when every one is seen. */
uint32_t mailbox_first_unseen(const struct mailbox *box);
/** Messages no session has seen as \Recent yet (what STATUS RECENT reports). */
uint32_t mailbox_count_unclaimed(const struct mailbox *box);

/** A UIDVALIDITY for a new mailbox: time(NULL), but never one handed out before. */
uint32_t mailbox_new_uidvalidity(void);

/**
 * The index state of @p name, created as a first open creates it (a new UIDVALIDITY,
 * UIDNEXT 1) when the index has none yet. Callers that write messages into a mailbox
 * (APPEND, COPY) use it inside their own write transaction.
 * @param[out] state_r   the state; the caller puts it back after changing UIDNEXT
 * @param[out] created_r true when the state was created now
 * @return 0 or a negative code from the index module, with err filled.
 */
int mailbox_index_state(const struct sluice_index_ops *ix, struct sluice_index_txn *txn,
                        const char *name, struct sluice_index_mailbox *state_r, bool *created_r,
                        struct sluice_error *err);

/* What left or changed in the view since the session last looked. */
struct mailbox_changes {
	uint32_t *expunged; /* sequence numbers in the old view, ascending (malloc or NULL) */
	uint32_t n_expunged;
	uint32_t *flagged; /* view indexes, in the new view and ascending, of messages whose
	                      flags, keywords or MODSEQ others changed (malloc or NULL) */
	uint32_t n_flagged;
	uint32_t *expunged_uids; /* the UIDs of expunged[], in the same order (malloc or NULL) */
};

/**
 * Removes messages from the storage, the index (one new MODSEQ, one write transaction
 * that begins and ends within the call) and the view: those whose UID is in @p uids (a
 * resolved set; NULL for every message) and, with @p only_deleted, that are \Deleted.
 * EXPUNGE is (NULL, true), UID EXPUNGE (set, true), MOVE (set, false) and CLOSE (NULL,
 * true) without announcing anything.
 * @param[out] ch what left the view: expunged and expunged_uids, ascending, the sequence
 *                numbers those the messages had before the call (flagged stays empty).
 *                The caller frees it with mailbox_changes_free, also after a failure:
 *                what left the view must still be announced.
 * @return 0; SLUICE_E_PERM for a read-only mailbox; a negative code with err filled.
 * A message the storage cannot remove stays (logged) and is not reported.
 */
int mailbox_expunge_uids(struct mailbox *box, const struct seqset *uids, bool only_deleted,
                         struct mailbox_changes *ch, struct sluice_error *err);

/**
 * Synchronises an open mailbox again (as mailbox_open does, claiming \Recent unless it
 * is read-only) and replaces its view, keeping this session's \Recent marks.
 * @param[out] ch what changed: the caller announces the expunged messages, then
 *                box->count as EXISTS, then the FLAGS of the flagged ones (RFC 3501
 *                7.4.2), and frees it with mailbox_changes_free (also after a failure)
 * @return 0, or a negative code with err filled (the old view is kept).
 * Flag changes are those between the view before the call and the one after: what this
 * session changed itself (STORE, FETCH's \Seen) is in its view already and not reported.
 * Keywords are compared as sets, in any order and ASCII case. A message whose MODSEQ
 * moved is reported even when its flags came back to what they were, so that a CONDSTORE
 * client learns the new MODSEQ.
 */
int mailbox_refresh(struct mailbox *box, struct mailbox_changes *ch, struct sluice_error *err);
/**
 * Like mailbox_refresh, but takes the view from the index alone, without asking the storage
 * what changed (messages the index leaves unclaimed still become this session's \Recent):
 * for a session that has just added messages
 * itself (APPEND, COPY) and must show them. The storage's stamp stays as it was, so the next
 * mailbox_refresh still scans for what other programs did; a scan of a large folder after
 * every APPEND is what this avoids (a Maildir that changed in the last seconds is always
 * scanned in full).
 */
int mailbox_refresh_from_index(struct mailbox *box, struct mailbox_changes *ch,
                               struct sluice_error *err);
/** Frees the lists of @p ch and empties it. */
void mailbox_changes_free(struct mailbox_changes *ch);

/**
 * The messages of the view whose MODSEQ is greater than @p modseq (CONDSTORE's
 * CHANGEDSINCE, QRESYNC), found through the index's MODSEQ order in one read
 * transaction, so the work is proportional to the number of changes, not to the mailbox.
 * A message counts as changed when the view's MODSEQ for it is greater than @p modseq:
 * changes the session has not been shown yet (no refresh since) are left for the refresh.
 * @param[in]  uids    only messages whose UID is in this resolved set; NULL for any
 * @param[out] idx_r   view indexes, ascending (malloc or NULL; the caller frees it)
 * @param[out] n_r     how many
 * @return 0, or a negative code with err filled.
 */
int mailbox_changed_since(struct mailbox *box, uint64_t modseq, const struct seqset *uids,
                          uint32_t **idx_r, uint32_t *n_r, struct sluice_error *err);

/**
 * The UIDs expunged with a MODSEQ greater than @p modseq (QRESYNC's VANISHED (EARLIER)),
 * from the index's expunge history in one read transaction: proportional to the number
 * of expunges since @p modseq. UIDs still in the view (another session expunged them and
 * this one has not been told yet) are left out: the session still shows them.
 * @param[in]  uids  only UIDs in this resolved set; NULL for any
 * @param[out] uids_r the UIDs, ascending, each once (malloc or NULL; the caller frees it)
 * @param[out] n_r   how many
 * @return 0, or a negative code with err filled.
 */
int mailbox_vanished_since(struct mailbox *box, uint64_t modseq, const struct seqset *uids,
                           uint32_t **uids_r, uint32_t *n_r, struct sluice_error *err);

/** The view index of the message with @p uid, or -1 when the view has none (binary search). */
int64_t mailbox_find_uid(const struct mailbox *box, uint32_t uid);

/*
 * A batch of flag changes (STORE, FETCH's implicit \Seen): one index write transaction,
 * begun and committed inside one command on its thread, with one new MODSEQ for every
 * message it changes.
 */
struct mailbox_update {
	struct mailbox *box;
	struct sluice_index_txn *txn;
	struct sluice_index_mailbox state;
	bool changed;
};

/** Begins a batch. @return 0 or a negative code with err filled. */
int mailbox_update_begin(struct mailbox *box, struct mailbox_update *upd, struct sluice_error *err);
/**
 * The MODSEQ the index holds for @p m now, inside the batch's transaction, so that a
 * conditional STORE (UNCHANGEDSINCE) also sees what other sessions changed meanwhile.
 * @return 0; SLUICE_NOTFOUND when another session expunged it; a negative code.
 */
int mailbox_update_modseq(struct mailbox_update *upd, const struct mailbox_msg *m,
                          uint64_t *modseq_r, struct sluice_error *err);
/**
 * Gives @p m (a message of the view) new system flags and keywords: the storage first
 * (Maildir renames the file), then the index record and the view (new MODSEQ, one more
 * than the HIGHESTMODSEQ the batch began with).
 * @param[in] flags    SLUICE_FLAG_* bits (others are ignored)
 * @param[in] keywords space-separated keywords, "" or NULL for none
 * @return 0; SLUICE_NOTFOUND when the file has vanished (nothing changed); a negative
 *         code with err filled (SLUICE_E_LIMIT: the storage holds no more keywords).
 */
int mailbox_update_flags(struct mailbox_update *upd, struct mailbox_msg *m, uint32_t flags,
                         const char *keywords, struct sluice_error *err);
/** Records the new HIGHESTMODSEQ and commits; the batch is over either way. */
int mailbox_update_commit(struct mailbox_update *upd, struct sluice_error *err);
/** Forgets the batch's index changes (the storage keeps its renames; a sync repairs). */
void mailbox_update_abort(struct mailbox_update *upd);

/*
 * Caveats:
 * - Automatic rebuild of a damaged index is future work: SLUICE_E_CORRUPT is reported to
 *   the client as SERVERBUG and the log tells the administrator to delete the index.
 * - The view is a snapshot of the open: changes made later by other sessions or programs
 *   are not seen until mailbox_refresh (NOOP, CHECK, APPEND or COPY into the mailbox).
 */

#endif
