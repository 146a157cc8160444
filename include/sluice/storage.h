/*
 * Storage modules (kind SLUICE_KIND_STORAGE, block keyword `storage`): where message
 * bytes and folders live, e.g. `maildir`.
 *
 * A storage module knows files, not IMAP. It lists, creates, deletes and renames
 * mailboxes, enumerates the messages of one mailbox with their flags, hands out a
 * read-only file descriptor for a message, writes new messages safely, links copies,
 * renames messages when flags change, and removes expunged ones. It never assigns UIDs
 * or keeps caches: the core's mailbox layer does that with an index module (index.h),
 * and can always rebuild the index from what the storage reports.
 *
 * Messages are named by a key: a string the module chooses, unique within the mailbox
 * and stable for the message's life (a Maildir base name without its ":2," part). A flag
 * change never changes the key.
 *
 * Threads: the core may call a module from several workers at once, for different
 * users or for different sessions of one user; handles of one session (user, box,
 * append) are never used by two threads at the same time. Other processes (delivery
 * agents, mutt, mbsync) may change the files at any moment: every operation must cope
 * with a message that vanished (SLUICE_NOTFOUND) or appeared.
 */
#ifndef SLUICE_STORAGE_H
#define SLUICE_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mail.h"
#include "passdb.h"

struct sluice_storage_user;   /**< one user's mail root, opaque to the core */
struct sluice_storage_box;    /**< one open mailbox, opaque to the core */
struct sluice_storage_append; /**< one message being written, opaque to the core */

/** One message as a scan sees it. Borrowed for the duration of the callback. */
struct sluice_storage_message {
	const char *key;      /**< unique, stable name within the mailbox */
	uint32_t flags;       /**< SLUICE_FLAG_* as stored with the message */
	const char *keywords; /**< space-separated keywords, "" for none */
	uint64_t size;        /**< bytes of the file as stored (line ends as they are) */
	time_t mtime;         /**< modification time, the usual source of INTERNALDATE */
	bool recent;          /**< first seen by this scan (moved out of Maildir's new/) */
};

/** Called once per message or mailbox; return non-zero to stop early (that value is returned). */
typedef int sluice_storage_message_cb(void *ctx, const struct sluice_storage_message *msg);
typedef int sluice_storage_mailbox_cb(void *ctx, const char *name, uint32_t attributes);
/** Called once per directory path; return non-zero to stop early (that value is returned). */
typedef int sluice_storage_path_cb(void *ctx, const char *path);

struct sluice_storage_ops {
	uint32_t size; /**< sizeof(struct sluice_storage_ops) as compiled into the module */

	/**
	 * @brief Opens a user's mail root, creating it when missing.
	 * @param[in]  user   the logged-in user (its mail field, if set, overrides the module's
	 *                    root template; its uid/gid say who must own created files)
	 * @param[out] user_r the handle, closed with user_close
	 * @return 0; SLUICE_E_PERM when the root is not the user's (err->msg says so, the log
	 *         says whose it is); SLUICE_E_IO; SLUICE_E_CONFIG for a template that does not
	 *         expand. Worker thread.
	 */
	int (*user_open)(void *modctx, const struct sluice_user *user, struct sluice_storage_user **user_r,
			 struct sluice_error *err);
	void (*user_close)(struct sluice_storage_user *user);

	/**
	 * @brief Calls @p cb for every mailbox, INBOX included, with its attributes
	 * (SLUICE_MAILBOX_*, SUBSCRIBED set from the user's subscriptions). Parents that exist
	 * only implicitly are reported with NOSELECT. Subscribed names that do not exist are
	 * reported with SUBSCRIBED | NONEXISTENT. Order is unspecified.
	 * @return 0, the callback's non-zero value, or a negative code.
	 */
	int (*mailbox_list)(struct sluice_storage_user *user, sluice_storage_mailbox_cb *cb, void *ctx,
			    struct sluice_error *err);

	/** @return 0; SLUICE_E_EXISTS when it exists; SLUICE_E_PARSE for a name the storage
	 *  cannot represent (err->msg says why); SLUICE_E_IO. Parents are created as needed. */
	int (*mailbox_create)(struct sluice_storage_user *user, const char *name, struct sluice_error *err);

	/** @return 0; SLUICE_NOTFOUND; SLUICE_E_PERM for INBOX. Children are kept (RFC 3501):
	 *  a mailbox with children becomes \Noselect instead of disappearing. */
	int (*mailbox_delete)(struct sluice_storage_user *user, const char *name, struct sluice_error *err);

	/** @return 0; SLUICE_NOTFOUND; SLUICE_E_EXISTS when @p to exists. Children move too.
	 *  Renaming INBOX moves its messages into a new mailbox and leaves INBOX empty. */
	int (*mailbox_rename)(struct sluice_storage_user *user, const char *from, const char *to,
			      struct sluice_error *err);

	/** @brief Adds or removes @p name in the user's subscriptions. @return 0 or negative. */
	int (*mailbox_subscribe)(struct sluice_storage_user *user, const char *name, bool subscribe,
				 struct sluice_error *err);

	/**
	 * @brief Opens a mailbox, repairing what is missing (a Maildir without cur/, new/ or
	 * tmp/ gets them back, and the log says so).
	 * @return 0; SLUICE_NOTFOUND; SLUICE_E_IO.
	 */
	int (*mailbox_open)(struct sluice_storage_user *user, const char *name, struct sluice_storage_box **box_r,
			    struct sluice_error *err);
	void (*mailbox_close)(struct sluice_storage_box *box);

	/**
	 * @brief A value that changes whenever the set of messages or their flags may have
	 * changed (for Maildir, the modification times of new/ and cur/). The core skips a
	 * full scan when the stamp is what it was last time.
	 * @param[out] stamp_r 32 bytes; compare with memcmp
	 * @return 0 or a negative code.
	 */
	int (*mailbox_stamp)(struct sluice_storage_box *box, uint8_t stamp_r[32], struct sluice_error *err);

	/**
	 * @brief Calls @p cb for every message. With @p take_new, messages newly delivered
	 * (Maildir new/) are first claimed (moved to cur/) and reported with recent = true,
	 * exactly once across all sessions and processes that follow the Maildir rules.
	 * @return 0, the callback's non-zero value, or a negative code.
	 */
	int (*mailbox_scan)(struct sluice_storage_box *box, bool take_new, sluice_storage_message_cb *cb, void *ctx,
			    struct sluice_error *err);

	/**
	 * @brief Opens a message for reading.
	 * @param[out] fd_r a read-only descriptor the caller closes; the file does not change
	 *                  while open (Maildir files are never rewritten in place)
	 * @return 0; SLUICE_NOTFOUND when the message is gone.
	 */
	int (*message_open)(struct sluice_storage_box *box, const char *key, int *fd_r, struct sluice_error *err);

	/**
	 * @brief Stores new flags and keywords with the message (Maildir: renames the file).
	 * @return 0; SLUICE_NOTFOUND when the message is gone; SLUICE_E_LIMIT when the storage
	 *         cannot hold another keyword in this mailbox.
	 */
	int (*message_set_flags)(struct sluice_storage_box *box, const char *key, uint32_t flags,
				 const char *keywords, struct sluice_error *err);

	/** @brief Removes a message. @return 0; SLUICE_NOTFOUND when it was already gone. */
	int (*message_expunge)(struct sluice_storage_box *box, const char *key, struct sluice_error *err);

	/**
	 * @brief Copies a message into another mailbox of the same user, cheaply where the
	 * file system allows (a hard link), with the given flags and modification time.
	 * @param[out] key_r the new message's key, allocated in @p pool
	 * @return 0; SLUICE_NOTFOUND when the source is gone; SLUICE_E_LIMIT as for set_flags.
	 */
	int (*message_copy)(struct sluice_storage_box *from, const char *key, struct sluice_storage_box *to,
			    uint32_t flags, const char *keywords, time_t mtime, struct sluice_pool *pool,
			    const char **key_r, struct sluice_error *err);

	/**
	 * @brief Starts writing a new message: the module creates a temporary file (Maildir:
	 * in tmp/) and returns a descriptor the core writes the message bytes into.
	 * @param[out] fd_r write-only descriptor; do not close it, commit or abort does
	 */
	int (*append_begin)(struct sluice_storage_box *box, struct sluice_storage_append **append_r, int *fd_r,
			    struct sluice_error *err);
	/**
	 * @brief Makes the written message part of the mailbox: fsync, set @p mtime, then an
	 * atomic rename into place with @p flags and @p keywords. Frees the handle either way.
	 * @param[out] key_r the message's key, allocated in @p pool
	 */
	int (*append_commit)(struct sluice_storage_append *append, uint32_t flags, const char *keywords,
			     time_t mtime, struct sluice_pool *pool, const char **key_r, struct sluice_error *err);
	/** @brief Throws the temporary file away and frees the handle (a client disconnected). */
	void (*append_abort)(struct sluice_storage_append *append);

	/* ---- appended in ABI 1.1: read ops->size before using what follows ---- */

	/**
	 * @brief Names the directories whose entries change whenever a message of the mailbox
	 * appears, disappears or changes its flags (Maildir: new/ and cur/), so that the core
	 * can watch them with inotify and tell IDLE clients about changes made by other
	 * programs (a delivery agent, mutt) within a second.
	 * @param[in] cb  called once per directory with its absolute path, which is borrowed
	 *                for the call; its non-zero return stops the walk
	 * @param[in] ctx passed to @p cb
	 * @return 0, the callback's non-zero value, or a negative code with err filled.
	 * Optional: a module may leave it NULL, and one built against ABI 1.0 does not have
	 * it. The core then learns of changes made by other programs only when a session
	 * looks (NOOP, SELECT); changes made through Sluice still reach IDLE clients at once.
	 * Worker thread. The core watches the paths only while a client idles in the mailbox;
	 * the module need not keep them open or stable beyond the call.
	 */
	int (*mailbox_watch_paths)(struct sluice_storage_box *box, sluice_storage_path_cb *cb, void *ctx,
				   struct sluice_error *err);

	/**
	 * @brief Records the special uses of a mailbox (RFC 6154: \Sent, \Trash, ...), which
	 * mailbox_list then reports as SLUICE_MAILBOX_SPECIAL_* bits, until they are changed
	 * again or the mailbox is deleted. A rename carries them to the new name (children's
	 * too). The core calls it for CREATE-SPECIAL-USE and for the default mailboxes of a new
	 * account; a module that cannot keep them leaves the op NULL, and the server then does
	 * not offer CREATE-SPECIAL-USE.
	 * @param[in] name        a canonical name
	 * @param[in] special_use SLUICE_MAILBOX_SPECIAL_* bits (others are ignored); 0 forgets
	 * @return 0; SLUICE_NOTFOUND when no such mailbox exists; SLUICE_E_TEMPFAIL when another
	 *         program holds a lock; SLUICE_E_IO. Worker thread.
	 */
	int (*mailbox_set_special_use)(struct sluice_storage_user *user, const char *name,
				       uint32_t special_use, struct sluice_error *err);
};

/** The size of struct sluice_storage_ops at ABI 1.0: the least a module may bring. */
#define SLUICE_STORAGE_OPS_SIZE_1_0 offsetof(struct sluice_storage_ops, mailbox_watch_paths)

/**
 * True when the ops table @p ops (as the module compiled it) has the member @p op and it is
 * set: the way to test for an op appended after ABI 1.0.
 */
#define SLUICE_STORAGE_HAS_OP(ops, op)                                                             \
	((ops)->size >= offsetof(struct sluice_storage_ops, op) + sizeof((ops)->op) && (ops)->op != NULL)

/*
 * Caveats
 * - Ops are only ever appended. A module built against ABI 1.0 has a shorter table
 *   (without mailbox_watch_paths and mailbox_set_special_use); the core reads an appended
 *   op only after SLUICE_STORAGE_HAS_OP says it is there.
 * - Special uses are advice for clients (which folder to put sent mail in); the core
 *   checks the words and never relies on them for anything else.
 */

#endif
