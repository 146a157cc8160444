/*
 * Transactions and mailboxes of the lmdb index.
 *
 * A Sluice transaction is one LMDB transaction: a write transaction takes LMDB's writer
 * lock (one writer per user at a time, readers are never blocked), a read transaction
 * sees the index as it was when it began. Both remember the mailbox they worked on last
 * (struct lmdb_mbox_cache), so a run of message operations on one mailbox looks its name
 * up once and writes its message count back once.
 *
 * A mailbox is a name entry pointing to a numeric id that prefixes every key of its
 * messages, so rename rewrites one entry whatever the mailbox holds, and delete removes
 * four key ranges. Ids come from a counter and are never reused, so nothing left of a
 * deleted mailbox can ever be mistaken for a new one's.
 */
#include <stdlib.h>
#include <string.h>

#include "lmdb-index.h"

int lmdb_txn_begin(struct sluice_index_user *user, bool write, struct sluice_index_txn **txn_r,
                   struct sluice_error *err)
{
	struct sluice_index_txn *t = calloc(1, sizeof(*t));
	int rc;

	*txn_r = NULL;
	if (t == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	t->env = user->env;
	t->write = write;
	rc = mdb_txn_begin(t->env->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
	if (rc != 0) {
		free(t);
		return lmdb_error(user->env, rc, "beginning a transaction", err);
	}
	if (write)
		t->thread = pthread_self();
	*txn_r = t;
	return 0;
}

/*
 * LMDB's writer lock is a mutex owned by the thread that began the write transaction;
 * released from another thread it stays locked and the next writer waits forever. That
 * is a bug in the caller which cannot be repaired here, only made visible.
 */
static void txn_check_thread(const struct sluice_index_txn *t)
{
	const struct sluice_host *host = t->env->ctx->host;

	if (t->write && !pthread_equal(t->thread, pthread_self()))
		host->log(host, SLUICE_LOG_ERROR,
		          "index %s: a write transaction ended on another thread than it began; "
		          "LMDB's writer lock cannot be released from here",
		          t->env->path);
}

static void txn_free(struct sluice_index_txn *t)
{
	while (t->copies != NULL) {
		struct lmdb_copy *c = t->copies;
		t->copies = c->next;
		free(c);
	}
	free(t->mbox.name);
	free(t);
}

static int mbox_flush(struct sluice_index_txn *t, struct sluice_error *err)
{
	uint8_t rec[LMDB_MBOX_REC_SIZE];
	MDB_val k = {t->mbox.name_len, t->mbox.name}, v = {sizeof(rec), rec};
	int rc;

	lmdb_mbox_encode(&t->mbox.rec, rec);
	rc = mdb_put(t->txn, t->env->mailboxes, &k, &v, 0);
	if (rc != 0)
		return lmdb_error(t->env, rc, "updating a mailbox", err);
	t->mbox.dirty = false;
	return 0;
}

int lmdb_txn_commit(struct sluice_index_txn *t, struct sluice_error *err)
{
	int rc = 0;

	txn_check_thread(t);
	if (t->mbox.dirty)
		rc = mbox_flush(t, err);
	if (rc < 0) {
		mdb_txn_abort(t->txn);
	} else {
		rc = mdb_txn_commit(t->txn);
		if (rc != 0)
			rc = lmdb_error(t->env, rc, "committing", err);
	}
	txn_free(t);
	return rc;
}

void lmdb_txn_abort(struct sluice_index_txn *t)
{
	if (t == NULL)
		return;
	txn_check_thread(t);
	mdb_txn_abort(t->txn);
	txn_free(t);
}

int lmdb_txn_writable(struct sluice_index_txn *t, struct sluice_error *err)
{
	if (t->write)
		return 0;
	return sluice_error_set(err, SLUICE_E_INTERNAL, NULL,
	                        "A read-only index transaction cannot change anything.");
}

/*
 * Keeps a copy of a record read in a write transaction until the transaction ends: LMDB
 * may move or reuse a dirty page at the next write, while index.h promises the strings
 * until the transaction ends.
 */
void *lmdb_txn_copy(struct sluice_index_txn *t, const void *data, size_t size)
{
	struct lmdb_copy *c = malloc(sizeof(*c) + size);

	if (c == NULL)
		return NULL;
	if (size > 0)
		memcpy(c->align, data, size);
	c->next = t->copies;
	t->copies = c;
	return c->align;
}

static int mbox_cache_set(struct sluice_index_txn *t, const char *name, size_t len,
                          const struct lmdb_mbox *rec, struct sluice_error *err)
{
	struct lmdb_mbox_cache *c = &t->mbox;

	if (len + 1 > c->name_cap) {
		char *n = realloc(c->name, len + 1);

		if (n == NULL) {
			c->valid = false;
			return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
		}
		c->name = n;
		c->name_cap = len + 1;
	}
	memcpy(c->name, name, len + 1);
	c->name_len = len;
	c->rec = *rec;
	c->valid = true;
	c->dirty = false;
	return 0;
}

/* Makes @name the cached mailbox. @return 0, SLUICE_NOTFOUND or a negative code. */
int lmdb_mbox_resolve(struct sluice_index_txn *t, const char *name, struct sluice_error *err)
{
	struct lmdb_mbox rec;
	size_t len = strlen(name);
	MDB_val k = {len, (void *)name}, v;
	int rc;

	if (t->mbox.valid && t->mbox.name_len == len && memcmp(t->mbox.name, name, len) == 0)
		return 0;
	if (t->mbox.dirty && (rc = mbox_flush(t, err)) < 0)
		return rc;
	t->mbox.valid = false;
	/* LMDB cannot store such a key, so no such mailbox can exist. */
	if (len == 0 || len > t->env->max_key)
		return SLUICE_NOTFOUND;
	rc = mdb_get(t->txn, t->env->mailboxes, &k, &v);
	if (rc == MDB_NOTFOUND)
		return SLUICE_NOTFOUND;
	if (rc != 0)
		return lmdb_error(t->env, rc, "looking a mailbox up", err);
	if (lmdb_mbox_decode(&v, &rec) < 0)
		return lmdb_corrupt(t->env, "mailbox record", err);
	return mbox_cache_set(t, name, len, &rec, err);
}

static int name_storable(const struct sluice_index_txn *t, const char *name,
                         struct sluice_error *err)
{
	size_t len = strlen(name);

	if (len == 0)
		return sluice_error_set(err, SLUICE_E_PARSE, NULL,
		                        "A mailbox name cannot be empty.");
	if (len > t->env->max_key)
		return sluice_error_set(err, SLUICE_E_LIMIT, "LIMIT",
		                        "The mailbox name is too long for the mail index.");
	return 0;
}

int lmdb_mailbox_get(struct sluice_index_txn *t, const char *mailbox,
                     struct sluice_index_mailbox *state_r, struct sluice_error *err)
{
	int rc = lmdb_mbox_resolve(t, mailbox, err);

	if (rc == 0)
		*state_r = t->mbox.rec.state;
	return rc;
}

int lmdb_mailbox_put(struct sluice_index_txn *t, const char *mailbox,
                     const struct sluice_index_mailbox *state, struct sluice_error *err)
{
	uint8_t buf[LMDB_MBOX_REC_SIZE];
	size_t len = strlen(mailbox);
	MDB_val k = {len, (void *)mailbox}, v = {sizeof(buf), buf};
	struct lmdb_mbox rec;
	int rc;

	if ((rc = lmdb_txn_writable(t, err)) < 0 || (rc = name_storable(t, mailbox, err)) < 0)
		return rc;
	rc = lmdb_mbox_resolve(t, mailbox, err);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		rec = t->mbox.rec;
	} else {
		rc = lmdb_env_next_id(t->env, t->txn, &rec.id, err);
		if (rc < 0)
			return rc;
		rec.state.messages = 0;
	}
	/* The count is the module's: it always equals the number of records. */
	rec.state.uidvalidity = state->uidvalidity;
	rec.state.uidnext = state->uidnext;
	rec.state.highestmodseq = state->highestmodseq;
	memcpy(rec.state.storage_stamp, state->storage_stamp, sizeof(rec.state.storage_stamp));
	lmdb_mbox_encode(&rec, buf);
	rc = mdb_put(t->txn, t->env->mailboxes, &k, &v, 0);
	if (rc != 0)
		return lmdb_error(t->env, rc, "storing a mailbox", err);
	return mbox_cache_set(t, mailbox, len, &rec, err);
}

/* Removes every key of @dbi that begins with the mailbox id @id. */
static int delete_range(struct sluice_index_txn *t, MDB_dbi dbi, uint32_t id,
                        struct sluice_error *err)
{
	uint8_t prefix[4];
	MDB_cursor *cur;
	MDB_val k = {sizeof(prefix), prefix}, v;
	int rc;

	lmdb_put32(prefix, id);
	rc = mdb_cursor_open(t->txn, dbi, &cur);
	if (rc != 0)
		return lmdb_error(t->env, rc, "deleting a mailbox", err);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size >= sizeof(prefix) && memcmp(k.mv_data, prefix, 4) == 0) {
		rc = mdb_cursor_del(cur, 0);
		/* After a delete, MDB_NEXT yields the entry that followed the deleted one. */
		if (rc == 0)
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return lmdb_error(t->env, rc, "deleting a mailbox", err);
	return 0;
}

int lmdb_mailbox_delete(struct sluice_index_txn *t, const char *mailbox, struct sluice_error *err)
{
	const MDB_dbi dbis[] = {t->env->messages, t->env->keys, t->env->modseqs, t->env->expunges};
	MDB_val k = {strlen(mailbox), (void *)mailbox};
	uint32_t id;
	int rc;

	if ((rc = lmdb_txn_writable(t, err)) < 0)
		return rc;
	rc = lmdb_mbox_resolve(t, mailbox, err);
	if (rc != 0)
		return rc;
	id = t->mbox.rec.id;
	t->mbox.valid = t->mbox.dirty = false;
	for (size_t i = 0; i < sizeof(dbis) / sizeof(dbis[0]); i++)
		if ((rc = delete_range(t, dbis[i], id, err)) < 0)
			return rc;
	rc = mdb_del(t->txn, t->env->mailboxes, &k, NULL);
	if (rc != 0)
		return lmdb_error(t->env, rc, "deleting a mailbox", err);
	return 0;
}

int lmdb_mailbox_rename(struct sluice_index_txn *t, const char *from, const char *to,
                        struct sluice_error *err)
{
	uint8_t buf[LMDB_MBOX_REC_SIZE];
	MDB_val kfrom = {strlen(from), (void *)from}, kto = {strlen(to), (void *)to};
	MDB_val v = {sizeof(buf), buf};
	struct lmdb_mbox rec;
	int rc;

	if ((rc = lmdb_txn_writable(t, err)) < 0 || (rc = name_storable(t, to, err)) < 0)
		return rc;
	rc = lmdb_mbox_resolve(t, from, err);
	if (rc != 0)
		return rc;
	/* The record carries a count not yet written back, so the cache stays until the end. */
	rec = t->mbox.rec;
	lmdb_mbox_encode(&rec, buf);
	rc = mdb_put(t->txn, t->env->mailboxes, &kto, &v, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST)
		return sluice_error_set(err, SLUICE_E_EXISTS, "ALREADYEXISTS",
		                        "The index already has a mailbox with the new name.");
	t->mbox.valid = t->mbox.dirty = false;
	if (rc == 0)
		rc = mdb_del(t->txn, t->env->mailboxes, &kfrom, NULL);
	if (rc != 0)
		return lmdb_error(t->env, rc, "renaming a mailbox", err);
	return mbox_cache_set(t, to, kto.mv_size, &rec, err);
}
