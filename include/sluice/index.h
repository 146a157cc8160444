/*
 * Index modules (kind SLUICE_KIND_INDEX, block keyword `index`): what an IMAP server
 * must remember about mail that the storage does not, e.g. `lmdb`.
 *
 * Per mailbox: UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and the storage's change stamp.
 * Per message: UID, storage key, flags, keywords, MODSEQ, INTERNALDATE, RFC822.SIZE and
 * cached ENVELOPE / BODYSTRUCTURE / BODY strings. Per expunge: UID and MODSEQ, so that
 * a client resynchronising (QRESYNC) learns what vanished.
 *
 * An index is a cache: the core can rebuild it from the storage at any time, so a
 * module may throw away what it cannot read (treat stored bytes as untrusted and check
 * every length) and answer SLUICE_E_CORRUPT; the core then rebuilds.
 *
 * Work happens in transactions. A write transaction sees its own changes; readers never
 * block writers and see the state of their start. A write transaction must end on the
 * thread that began it (LMDB's writer lock belongs to that thread), so the core keeps a
 * write transaction within one command's run. A read transaction may move between
 * threads between calls, but is used by one thread at a time.
 *
 * Walks (message_iterate, message_changed_since, expunged_since) return
 * SLUICE_NOTFOUND for an unknown mailbox; a callback that wants to stop early returns a
 * value other than 0 and 1, which the walk then returns.
 */
#ifndef SLUICE_INDEX_H
#define SLUICE_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "mail.h"
#include "passdb.h"

struct sluice_index_user; /**< one user's index, opaque to the core */
struct sluice_index_txn;  /**< one transaction, opaque to the core */

struct sluice_index_mailbox {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t messages;       /**< number of message records (maintained by the module) */
	uint8_t storage_stamp[32]; /**< the storage's mailbox_stamp at the last full sync */
};

/**
 * One message record. When the module returns one, the strings point into the module's
 * memory and stay valid until the callback returns or the transaction ends, whichever
 * comes first; copy what you keep.
 */
struct sluice_index_message {
	uint32_t uid;
	uint32_t flags;        /**< SLUICE_FLAG_* */
	uint64_t modseq;
	int64_t internal_date; /**< seconds since the epoch, UTC */
	int32_t internal_zone; /**< the date's zone, minutes east of UTC */
	uint64_t size;         /**< RFC822.SIZE (with CRLF line ends); 0 when not yet known */
	const char *key;       /**< the storage's key */
	const char *keywords;  /**< space-separated keywords, "" for none */
	const char *envelope;  /**< cached ENVELOPE, or NULL */
	const char *bodystructure; /**< cached BODYSTRUCTURE, or NULL */
	const char *body;      /**< cached BODY (no extension data), or NULL */
};

typedef int sluice_index_message_cb(void *ctx, const struct sluice_index_message *msg);
typedef int sluice_index_expunge_cb(void *ctx, uint32_t uid, uint64_t modseq);

struct sluice_index_ops {
	uint32_t size; /**< sizeof(struct sluice_index_ops) as compiled into the module */

	/** @brief Opens (creating if needed) the user's index. Worker thread.
	 *  @return 0; SLUICE_E_IO; SLUICE_E_PERM (a user name that would leave the configured
	 *  directory); SLUICE_E_CONFIG (a path template that does not expand for this user);
	 *  SLUICE_E_CORRUPT (the files are damaged: the core deletes and rebuilds them);
	 *  SLUICE_E_LIMIT; SLUICE_E_NOMEM. */
	int (*user_open)(void *modctx, const struct sluice_user *user, struct sluice_index_user **user_r,
			 struct sluice_error *err);
	void (*user_close)(struct sluice_index_user *user);

	/** @brief Starts a transaction; @p write for one that changes anything. */
	int (*txn_begin)(struct sluice_index_user *user, bool write, struct sluice_index_txn **txn_r,
			 struct sluice_error *err);
	/** @brief Makes a write transaction's changes durable and frees it (either way). */
	int (*txn_commit)(struct sluice_index_txn *txn, struct sluice_error *err);
	/** @brief Forgets the transaction's changes and frees it. */
	void (*txn_abort)(struct sluice_index_txn *txn);

	/** @return 0; SLUICE_NOTFOUND when the index has no such mailbox. */
	int (*mailbox_get)(struct sluice_index_txn *txn, const char *mailbox,
			   struct sluice_index_mailbox *state_r, struct sluice_error *err);
	/** @brief Creates or replaces the mailbox state (messages is ignored on input). */
	int (*mailbox_put)(struct sluice_index_txn *txn, const char *mailbox,
			   const struct sluice_index_mailbox *state, struct sluice_error *err);
	/** @brief Forgets a mailbox with all its records. @return 0 or SLUICE_NOTFOUND. */
	int (*mailbox_delete)(struct sluice_index_txn *txn, const char *mailbox, struct sluice_error *err);
	/** @brief Moves a mailbox's state and records to a new name (children are the core's job).
	 *  @return 0; SLUICE_NOTFOUND; SLUICE_E_EXISTS when @p to is taken. */
	int (*mailbox_rename)(struct sluice_index_txn *txn, const char *from, const char *to,
			      struct sluice_error *err);

	/** @brief Inserts or replaces the record with msg->uid.
	 *  @return 0; SLUICE_NOTFOUND when the mailbox has no state yet (mailbox_put first);
	 *  SLUICE_E_LIMIT when the index is full. */
	int (*message_put)(struct sluice_index_txn *txn, const char *mailbox, const struct sluice_index_message *msg,
			   struct sluice_error *err);
	/** @return 0; SLUICE_NOTFOUND. */
	int (*message_get)(struct sluice_index_txn *txn, const char *mailbox, uint32_t uid,
			   struct sluice_index_message *msg_r, struct sluice_error *err);
	/** @brief Finds a message's UID by its storage key. @return 0; SLUICE_NOTFOUND. */
	int (*message_find_key)(struct sluice_index_txn *txn, const char *mailbox, const char *key, uint32_t *uid_r,
				struct sluice_error *err);
	/** @brief Removes a record and remembers the expunge at @p modseq. @return 0; SLUICE_NOTFOUND. */
	int (*message_expunge)(struct sluice_index_txn *txn, const char *mailbox, uint32_t uid, uint64_t modseq,
			       struct sluice_error *err);
	/**
	 * @brief Calls @p cb for each record with UID ≥ @p first_uid, in UID order.
	 * @return 0, the callback's non-zero value, or a negative code.
	 */
	int (*message_iterate)(struct sluice_index_txn *txn, const char *mailbox, uint32_t first_uid,
			       sluice_index_message_cb *cb, void *ctx, struct sluice_error *err);
	/**
	 * @brief Calls @p cb for each record whose MODSEQ is greater than @p modseq, in MODSEQ
	 * order, costing work in proportion to the number of such records (CONDSTORE).
	 */
	int (*message_changed_since)(struct sluice_index_txn *txn, const char *mailbox, uint64_t modseq,
				     sluice_index_message_cb *cb, void *ctx, struct sluice_error *err);
	/** @brief Calls @p cb for each expunge remembered with a MODSEQ greater than @p modseq (QRESYNC). */
	int (*expunged_since)(struct sluice_index_txn *txn, const char *mailbox, uint64_t modseq,
			      sluice_index_expunge_cb *cb, void *ctx, struct sluice_error *err);
};

#endif
