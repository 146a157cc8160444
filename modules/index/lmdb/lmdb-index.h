/*
 * Private interface of the lmdb index module, shared by its files: env.c finds a user's
 * index directory and keeps the table of open LMDB environments, record.c encodes and
 * checks the bytes stored in them, txn.c runs transactions and the mailbox operations,
 * message.c the message operations, and module.c ties them into the module descriptor.
 *
 * Layout of one environment (one per user, a directory holding data.mdb and lock.mdb):
 *
 *   meta       "format" → u32 format version, "next_mailbox_id" → u32
 *   mailboxes  mailbox name → fixed 57-byte record: version, mailbox id, UIDVALIDITY,
 *              UIDNEXT, HIGHESTMODSEQ, number of messages, storage stamp
 *   messages   id ‖ uid → message record (record.c: varints and NUL-ended strings)
 *   keys       id ‖ storage key → uid
 *   modseqs    id ‖ modseq ‖ uid → empty, one per message, so CONDSTORE reads only changes
 *   expunges   id ‖ modseq ‖ uid → empty, one per expunged message, for QRESYNC
 *
 * Every integer in a key is big-endian so that LMDB's byte order is numeric order, and
 * every key starts with the 32-bit mailbox id: one mailbox is one contiguous range in
 * each sub-database, and a rename rewrites only the name entry. Ids are never reused.
 * Several messages share a MODSEQ (one STORE, one EXPUNGE), so the uid is part of the
 * key in modseqs and expunges rather than a duplicate value: plain keys are cheaper than
 * MDB_DUPSORT's sub-trees and keep every sub-database a simple sorted list. The message
 * record does not repeat its uid, and records are written in place with MDB_RESERVE.
 * Nothing here is part of the public ABI; every symbol is hidden in the .so.
 */
#ifndef LMDB_INDEX_H
#define LMDB_INDEX_H

#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sluice/index.h>

/* Bumped when the layout above changes; an index of another version is rebuilt. */
#define LMDB_FORMAT_VERSION 1u

/* The longest key the module stores: LMDB's usual limit, so key buffers can be fixed. */
#define LMDB_KEY_MAX 511u

/* The settings struct the core fills from the module's block. */
struct lmdb_conf {
	const char *path;
	uint64_t map_size;
	unsigned int max_readers;
	bool sync;
};

/* The module's own copy of the settings, so that a reload can free the core's. */
struct lmdb_settings {
	char *path;
	uint64_t map_size;
	unsigned int max_readers;
	bool sync;
};

struct lmdb_env;

/* The module instance. */
struct lmdb_ctx {
	const struct sluice_host *host;
	pthread_mutex_t lock; /* guards set and envs */
	struct lmdb_settings set;
	struct lmdb_env *envs;
};

/* One open LMDB environment, shared by every user handle whose directory it is. */
struct lmdb_env {
	struct lmdb_env *next;
	struct lmdb_ctx *ctx;
	MDB_env *env;
	dev_t dev; /* identity of data.mdb: the table's key */
	ino_t ino;
	unsigned refs; /* user handles; guarded by ctx->lock */
	size_t max_key;
	char *path; /* for log lines only */
	MDB_dbi meta, mailboxes, messages, keys, modseqs, expunges;
};

struct sluice_index_user {
	struct lmdb_env *env;
};

/* A mailbox as stored in `mailboxes`. */
struct lmdb_mbox {
	uint32_t id;
	struct sluice_index_mailbox state;
};

/*
 * The mailbox a transaction worked on last. Runs of message operations on one mailbox
 * (the usual case) then neither look the name up again nor rewrite the mailbox record
 * for each message: the count is written back once, when the transaction commits or
 * moves on to another mailbox.
 */
struct lmdb_mbox_cache {
	bool valid;
	bool dirty; /* rec.state.messages differs from the stored record */
	char *name;
	size_t name_len, name_cap;
	struct lmdb_mbox rec;
};

/* Copies of records made in a write transaction, freed when it ends. */
struct lmdb_copy {
	struct lmdb_copy *next;
	max_align_t align[];
};

struct sluice_index_txn {
	struct lmdb_env *env;
	MDB_txn *txn;
	bool write;
	pthread_t thread;       /* the thread that began a write transaction */
	MDB_cursor *msg_cursor; /* write transactions: reused by message_put */
	struct lmdb_mbox_cache mbox;
	struct lmdb_copy *copies;
};

/* module.c */
int lmdb_error(const struct lmdb_env *env, int rc, const char *what, struct sluice_error *err);
int lmdb_corrupt(const struct lmdb_env *env, const char *what, struct sluice_error *err);

/* env.c */
int lmdb_path_check(const char *tmpl, struct sluice_error *err);
int lmdb_user_open(void *modctx, const struct sluice_user *user, struct sluice_index_user **user_r,
                   struct sluice_error *err);
void lmdb_user_close(struct sluice_index_user *user);
void lmdb_envs_close_all(struct lmdb_ctx *ctx);
int lmdb_env_next_id(struct lmdb_env *e, MDB_txn *txn, uint32_t *id_r, struct sluice_error *err);

/* record.c */
#define LMDB_MBOX_REC_SIZE 57
#define LMDB_MSG_KEY_SIZE 8
#define LMDB_SEQ_KEY_SIZE 16

void lmdb_put32(uint8_t *p, uint32_t v);
uint32_t lmdb_get32(const uint8_t *p);
uint64_t lmdb_get64(const uint8_t *p);
void lmdb_msg_key(uint8_t key[LMDB_MSG_KEY_SIZE], uint32_t id, uint32_t uid);
void lmdb_seq_key(uint8_t key[LMDB_SEQ_KEY_SIZE], uint32_t id, uint64_t modseq, uint32_t uid);
bool lmdb_key_next(uint8_t *key, size_t len);

void lmdb_mbox_encode(const struct lmdb_mbox *mb, uint8_t out[LMDB_MBOX_REC_SIZE]);
int lmdb_mbox_decode(const MDB_val *val, struct lmdb_mbox *mb_r);

size_t lmdb_msg_size(const struct sluice_index_message *msg);
void lmdb_msg_encode(const struct sluice_index_message *msg, uint8_t *out);
int lmdb_msg_decode(const void *data, size_t size, struct sluice_index_message *msg_r);

/* txn.c */
int lmdb_txn_begin(struct sluice_index_user *user, bool write, struct sluice_index_txn **txn_r,
                   struct sluice_error *err);
int lmdb_txn_commit(struct sluice_index_txn *txn, struct sluice_error *err);
void lmdb_txn_abort(struct sluice_index_txn *txn);
int lmdb_txn_writable(struct sluice_index_txn *txn, struct sluice_error *err);
int lmdb_mbox_resolve(struct sluice_index_txn *txn, const char *name, struct sluice_error *err);
void *lmdb_txn_copy(struct sluice_index_txn *txn, const void *data, size_t size);
int lmdb_mailbox_get(struct sluice_index_txn *txn, const char *mailbox,
                     struct sluice_index_mailbox *state_r, struct sluice_error *err);
int lmdb_mailbox_put(struct sluice_index_txn *txn, const char *mailbox,
                     const struct sluice_index_mailbox *state, struct sluice_error *err);
int lmdb_mailbox_delete(struct sluice_index_txn *txn, const char *mailbox,
                        struct sluice_error *err);
int lmdb_mailbox_rename(struct sluice_index_txn *txn, const char *from, const char *to,
                        struct sluice_error *err);

/* message.c */
int lmdb_message_put(struct sluice_index_txn *txn, const char *mailbox,
                     const struct sluice_index_message *msg, struct sluice_error *err);
int lmdb_message_get(struct sluice_index_txn *txn, const char *mailbox, uint32_t uid,
                     struct sluice_index_message *msg_r, struct sluice_error *err);
int lmdb_message_find_key(struct sluice_index_txn *txn, const char *mailbox, const char *key,
                          uint32_t *uid_r, struct sluice_error *err);
int lmdb_message_expunge(struct sluice_index_txn *txn, const char *mailbox, uint32_t uid,
                         uint64_t modseq, struct sluice_error *err);
int lmdb_message_iterate(struct sluice_index_txn *txn, const char *mailbox, uint32_t first_uid,
                         sluice_index_message_cb *cb, void *ctx, struct sluice_error *err);
int lmdb_message_changed_since(struct sluice_index_txn *txn, const char *mailbox, uint64_t modseq,
                               sluice_index_message_cb *cb, void *ctx, struct sluice_error *err);
int lmdb_expunged_since(struct sluice_index_txn *txn, const char *mailbox, uint64_t modseq,
                        sluice_index_expunge_cb *cb, void *ctx, struct sluice_error *err);

#endif
