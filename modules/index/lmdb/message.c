/*
 * Message records of the lmdb index and the three ways of walking them: by UID
 * (message_iterate), by MODSEQ (message_changed_since, CONDSTORE) and through the
 * expunge history (expunged_since, QRESYNC).
 *
 * Each message has one record in `messages` and two secondary entries, its storage key
 * in `keys` and its MODSEQ in `modseqs`; message_put and message_expunge keep the three
 * in step inside the caller's transaction, so a walk by MODSEQ visits only the messages
 * that changed. Appending a UID greater than any in the file (a new mailbox being
 * filled, a delivery to the newest one) uses MDB_APPEND, which fills pages completely
 * instead of splitting them in half.
 *
 * In a read transaction records are handed to callbacks where they lie in the map. In a
 * write transaction a callback may itself write, which can move the pages under a
 * cursor, so walks copy each record first, resume by seeking past the last key seen, and
 * stop at the last key that existed when they started: a callback that raises MODSEQs
 * or adds messages does not see its own work again.
 */
#include <stdlib.h>
#include <string.h>

#include "lmdb-index.h"

/* The keys-database key of a storage key: mailbox id ‖ key. */
struct lmdb_keykey {
	uint8_t b[4 + LMDB_KEY_MAX];
	size_t len;
};

static int keykey_make(const struct sluice_index_txn *t, uint32_t id, const char *key,
                       struct lmdb_keykey *kk)
{
	size_t len = strlen(key);

	if (len == 0 || 4 + len > t->env->max_key)
		return -1;
	lmdb_put32(kk->b, id);
	memcpy(kk->b + 4, key, len);
	kk->len = 4 + len;
	return 0;
}

/* Removes the key entry of @uid unless the key now belongs to another message. */
static int key_entry_del(struct sluice_index_txn *t, const struct lmdb_keykey *kk, uint32_t uid,
                         struct sluice_error *err)
{
	MDB_val k = {kk->len, (void *)kk->b}, v;
	int rc = mdb_get(t->txn, t->env->keys, &k, &v);

	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc == 0 && (v.mv_size != 4 || lmdb_get32(v.mv_data) != uid))
		return 0;
	if (rc == 0)
		rc = mdb_del(t->txn, t->env->keys, &k, NULL);
	return rc == 0 ? 0 : lmdb_error(t->env, rc, "removing a storage key", err);
}

static int key_entry_put(struct sluice_index_txn *t, const struct lmdb_keykey *kk, uint32_t uid,
                         struct sluice_error *err)
{
	uint8_t buf[4];
	MDB_val k = {kk->len, (void *)kk->b}, v = {sizeof(buf), buf};
	int rc;

	lmdb_put32(buf, uid);
	rc = mdb_put(t->txn, t->env->keys, &k, &v, 0);
	return rc == 0 ? 0 : lmdb_error(t->env, rc, "storing a storage key", err);
}

static int seq_entry_del(struct sluice_index_txn *t, MDB_dbi dbi, uint32_t id, uint64_t modseq,
                         uint32_t uid, struct sluice_error *err)
{
	uint8_t buf[LMDB_SEQ_KEY_SIZE];
	MDB_val k = {sizeof(buf), buf};
	int rc;

	lmdb_seq_key(buf, id, modseq, uid);
	rc = mdb_del(t->txn, dbi, &k, NULL);
	if (rc == MDB_NOTFOUND)
		return lmdb_corrupt(t->env, "message without its MODSEQ entry", err);
	return rc == 0 ? 0 : lmdb_error(t->env, rc, "removing a MODSEQ entry", err);
}

static int seq_entry_put(struct sluice_index_txn *t, MDB_dbi dbi, uint32_t id, uint64_t modseq,
                         uint32_t uid, struct sluice_error *err)
{
	uint8_t buf[LMDB_SEQ_KEY_SIZE];
	MDB_val k = {sizeof(buf), buf}, v = {0, buf};
	int rc;

	lmdb_seq_key(buf, id, modseq, uid);
	rc = mdb_put(t->txn, dbi, &k, &v, 0);
	return rc == 0 ? 0 : lmdb_error(t->env, rc, "storing a MODSEQ entry", err);
}

/*
 * Forgets the secondary entries of the stored record @v of @uid that @msg (NULL when
 * the message goes away) does not share, and tells which ones @msg still has to add.
 */
static int old_entries_del(struct sluice_index_txn *t, uint32_t id, uint32_t uid, const MDB_val *v,
                           const struct sluice_index_message *msg, bool *key_same_r,
                           bool *seq_same_r, struct sluice_error *err)
{
	struct sluice_index_message old;
	struct lmdb_keykey kk;
	int rc;

	if (lmdb_msg_decode(v->mv_data, v->mv_size, &old) < 0 ||
	    keykey_make(t, id, old.key, &kk) < 0)
		return lmdb_corrupt(t->env, "message record", err);
	*key_same_r = msg != NULL && strcmp(old.key, msg->key) == 0;
	*seq_same_r = msg != NULL && old.modseq == msg->modseq;
	/* The old record's bytes may move at the first write; kk and modseq are copies. */
	if (!*key_same_r && (rc = key_entry_del(t, &kk, uid, err)) < 0)
		return rc;
	if (!*seq_same_r && (rc = seq_entry_del(t, t->env->modseqs, id, old.modseq, uid, err)) < 0)
		return rc;
	return 0;
}

static int msg_check(const struct sluice_index_txn *t, const struct sluice_index_message *msg,
                     struct sluice_error *err)
{
	if (msg->uid == 0 || msg->key == NULL)
		return sluice_error_set(err, SLUICE_E_INTERNAL, NULL,
		                        "A message record needs a UID and a storage key.");
	if (msg->key[0] == '\0' || 4 + strlen(msg->key) > t->env->max_key)
		return sluice_error_set(err, SLUICE_E_LIMIT, "LIMIT",
		                        "The message's storage key cannot be kept in the mail "
		                        "index (empty or too long).");
	return 0;
}

int lmdb_message_put(struct sluice_index_txn *t, const char *mailbox,
                     const struct sluice_index_message *msg, struct sluice_error *err)
{
	uint8_t mkey[LMDB_MSG_KEY_SIZE];
	MDB_val k = {sizeof(mkey), mkey}, v;
	struct lmdb_keykey kk;
	bool exists, key_same = false, seq_same = false;
	uint32_t id;
	size_t size;
	int rc;

	if ((rc = lmdb_txn_writable(t, err)) < 0 || (rc = msg_check(t, msg, err)) < 0)
		return rc;
	if ((rc = lmdb_mbox_resolve(t, mailbox, err)) != 0)
		return rc;
	id = t->mbox.rec.id;
	if (t->msg_cursor == NULL &&
	    (rc = mdb_cursor_open(t->txn, t->env->messages, &t->msg_cursor)) != 0)
		return lmdb_error(t->env, rc, "storing a message", err);
	lmdb_msg_key(mkey, id, msg->uid);
	rc = mdb_cursor_get(t->msg_cursor, &k, &v, MDB_SET_RANGE);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return lmdb_error(t->env, rc, "storing a message", err);
	exists = rc == 0 && k.mv_size == sizeof(mkey) && memcmp(k.mv_data, mkey, sizeof(mkey)) == 0;
	size = lmdb_msg_size(msg);
	k.mv_data = mkey;
	k.mv_size = sizeof(mkey);
	if (exists) {
		rc = old_entries_del(t, id, msg->uid, &v, msg, &key_same, &seq_same, err);
		if (rc < 0)
			return rc;
		v.mv_size = size;
		rc = mdb_put(t->txn, t->env->messages, &k, &v, MDB_RESERVE);
	} else {
		/* Nothing at or after this key: it goes last, where MDB_APPEND is allowed. */
		unsigned flags = MDB_RESERVE | (rc == MDB_NOTFOUND ? MDB_APPEND : 0);

		v.mv_size = size;
		rc = mdb_cursor_put(t->msg_cursor, &k, &v, flags);
	}
	if (rc != 0)
		return lmdb_error(t->env, rc, "storing a message", err);
	/* MDB_RESERVE handed out room in the map: fill it before the next write. */
	lmdb_msg_encode(msg, v.mv_data);
	if (!exists) {
		t->mbox.rec.state.messages++;
		t->mbox.dirty = true;
	}
	if (!key_same) {
		keykey_make(t, id, msg->key, &kk);
		if ((rc = key_entry_put(t, &kk, msg->uid, err)) < 0)
			return rc;
	}
	if (!seq_same)
		return seq_entry_put(t, t->env->modseqs, id, msg->modseq, msg->uid, err);
	return 0;
}

/* Decodes a record for the caller, from a copy that lasts as long as a write transaction. */
static int msg_read(struct sluice_index_txn *t, const MDB_val *v, uint32_t uid,
                    struct sluice_index_message *msg_r, struct sluice_error *err)
{
	const void *data = v->mv_data;

	if (t->write && (data = lmdb_txn_copy(t, v->mv_data, v->mv_size)) == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	if (lmdb_msg_decode(data, v->mv_size, msg_r) < 0)
		return lmdb_corrupt(t->env, "message record", err);
	msg_r->uid = uid;
	return 0;
}

int lmdb_message_get(struct sluice_index_txn *t, const char *mailbox, uint32_t uid,
                     struct sluice_index_message *msg_r, struct sluice_error *err)
{
	uint8_t mkey[LMDB_MSG_KEY_SIZE];
	MDB_val k = {sizeof(mkey), mkey}, v;
	int rc;

	if ((rc = lmdb_mbox_resolve(t, mailbox, err)) != 0)
		return rc;
	lmdb_msg_key(mkey, t->mbox.rec.id, uid);
	rc = mdb_get(t->txn, t->env->messages, &k, &v);
	if (rc == MDB_NOTFOUND)
		return SLUICE_NOTFOUND;
	if (rc != 0)
		return lmdb_error(t->env, rc, "reading a message", err);
	return msg_read(t, &v, uid, msg_r, err);
}

int lmdb_message_find_key(struct sluice_index_txn *t, const char *mailbox, const char *key,
                          uint32_t *uid_r, struct sluice_error *err)
{
	struct lmdb_keykey kk;
	MDB_val k, v;
	int rc;

	if ((rc = lmdb_mbox_resolve(t, mailbox, err)) != 0)
		return rc;
	if (keykey_make(t, t->mbox.rec.id, key, &kk) < 0)
		return SLUICE_NOTFOUND;
	k.mv_data = kk.b;
	k.mv_size = kk.len;
	rc = mdb_get(t->txn, t->env->keys, &k, &v);
	if (rc == MDB_NOTFOUND)
		return SLUICE_NOTFOUND;
	if (rc != 0)
		return lmdb_error(t->env, rc, "looking a storage key up", err);
	if (v.mv_size != 4 || lmdb_get32(v.mv_data) == 0)
		return lmdb_corrupt(t->env, "storage key entry", err);
	*uid_r = lmdb_get32(v.mv_data);
	return 0;
}

int lmdb_message_expunge(struct sluice_index_txn *t, const char *mailbox, uint32_t uid,
                         uint64_t modseq, struct sluice_error *err)
{
	uint8_t mkey[LMDB_MSG_KEY_SIZE];
	MDB_val k = {sizeof(mkey), mkey}, v;
	bool key_same, seq_same;
	uint32_t id;
	int rc;

	if ((rc = lmdb_txn_writable(t, err)) < 0)
		return rc;
	if ((rc = lmdb_mbox_resolve(t, mailbox, err)) != 0)
		return rc;
	id = t->mbox.rec.id;
	lmdb_msg_key(mkey, id, uid);
	rc = mdb_get(t->txn, t->env->messages, &k, &v);
	if (rc == MDB_NOTFOUND)
		return SLUICE_NOTFOUND;
	if (rc != 0)
		return lmdb_error(t->env, rc, "expunging a message", err);
	rc = old_entries_del(t, id, uid, &v, NULL, &key_same, &seq_same, err);
	if (rc < 0)
		return rc;
	rc = mdb_del(t->txn, t->env->messages, &k, NULL);
	if (rc != 0)
		return lmdb_error(t->env, rc, "expunging a message", err);
	t->mbox.rec.state.messages--;
	t->mbox.dirty = true;
	return seq_entry_put(t, t->env->expunges, id, modseq, uid, err);
}

typedef int lmdb_visit_fn(struct sluice_index_txn *t, const MDB_val *k, const MDB_val *v, void *arg,
                          struct sluice_error *err);

/*
 * Finds the last key of mailbox @id in the cursor's database, for a walk in a write
 * transaction to stop at. @return 0 with @end filled, SLUICE_NOTFOUND when the mailbox
 * has no key there, or a negative code.
 */
static int scan_last(struct sluice_index_txn *t, MDB_cursor *cur, uint32_t id, uint8_t *end,
                     size_t klen, struct sluice_error *err)
{
	uint8_t next[4];
	MDB_val k = {sizeof(next), next}, v;
	int rc;

	if (id == UINT32_MAX) {
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	} else {
		lmdb_put32(next, id + 1);
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		rc = rc == 0              ? mdb_cursor_get(cur, &k, &v, MDB_PREV)
		     : rc == MDB_NOTFOUND ? mdb_cursor_get(cur, &k, &v, MDB_LAST)
		                          : rc;
	}
	if (rc == MDB_NOTFOUND)
		return SLUICE_NOTFOUND;
	if (rc != 0)
		return lmdb_error(t->env, rc, "reading the index", err);
	if (k.mv_size < 4 || lmdb_get32(k.mv_data) != id)
		return SLUICE_NOTFOUND;
	if (k.mv_size != klen)
		return lmdb_corrupt(t->env, "key length", err);
	memcpy(end, k.mv_data, klen);
	return 0;
}

/*
 * Calls @visit for each key of @dbi from @start on that begins with the same mailbox id
 * (the first 4 bytes of @start), in key order. @return 0, the first non-zero value of
 * @visit, or a negative code.
 */
static int scan(struct sluice_index_txn *t, MDB_dbi dbi, const uint8_t *start, size_t klen,
                lmdb_visit_fn *visit, void *arg, struct sluice_error *err)
{
	uint8_t pos[LMDB_SEQ_KEY_SIZE], end[LMDB_SEQ_KEY_SIZE];
	uint32_t id = lmdb_get32(start);
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, ret = 0;

	rc = mdb_cursor_open(t->txn, dbi, &cur);
	if (rc != 0)
		return lmdb_error(t->env, rc, "reading the index", err);
	if (t->write && (ret = scan_last(t, cur, id, end, klen, err)) != 0) {
		mdb_cursor_close(cur);
		return ret == SLUICE_NOTFOUND ? 0 : ret;
	}
	memcpy(pos, start, klen);
	k.mv_data = pos;
	k.mv_size = klen;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0) {
		if (k.mv_size < 4 || lmdb_get32(k.mv_data) != id)
			break;
		if (k.mv_size != klen) {
			ret = lmdb_corrupt(t->env, "key length", err);
			break;
		}
		if (t->write && memcmp(k.mv_data, end, klen) > 0)
			break;
		memcpy(pos, k.mv_data, klen);
		if ((ret = visit(t, &k, &v, arg, err)) != 0)
			break;
		if (!t->write) {
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
			continue;
		}
		if (!lmdb_key_next(pos, klen))
			break;
		k.mv_data = pos;
		k.mv_size = klen;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	}
	mdb_cursor_close(cur);
	if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
		ret = lmdb_error(t->env, rc, "reading the index", err);
	return ret;
}

/* A walk's callback and, in write transactions, the buffer its records are copied to. */
struct lmdb_walk {
	sluice_index_message_cb *cb;
	sluice_index_expunge_cb *expunge_cb;
	void *ctx;
	uint8_t *buf;
	size_t cap;
};

/*
 * Decodes the record @v of @uid and hands it to the walk's callback. A walk by MODSEQ
 * passes the MODSEQ its entry claims (@modseq, else NULL), which the record must have.
 */
static int walk_call(struct sluice_index_txn *t, struct lmdb_walk *w, const MDB_val *v,
                     uint32_t uid, const uint64_t *modseq, struct sluice_error *err)
{
	struct sluice_index_message msg;
	const void *data = v->mv_data;

	if (t->write) {
		if (v->mv_size > w->cap) {
			uint8_t *b = realloc(w->buf, v->mv_size);

			if (b == NULL)
				return sluice_error_set(err, SLUICE_E_NOMEM, NULL,
				                        "Out of memory.");
			w->buf = b;
			w->cap = v->mv_size;
		}
		if (v->mv_size > 0)
			memcpy(w->buf, v->mv_data, v->mv_size);
		data = w->buf;
	}
	if (lmdb_msg_decode(data, v->mv_size, &msg) < 0)
		return lmdb_corrupt(t->env, "message record", err);
	if (modseq != NULL && msg.modseq != *modseq)
		return lmdb_corrupt(t->env, "MODSEQ entry of a message with another MODSEQ", err);
	msg.uid = uid;
	return w->cb(w->ctx, &msg);
}

static int visit_uid(struct sluice_index_txn *t, const MDB_val *k, const MDB_val *v, void *arg,
                     struct sluice_error *err)
{
	return walk_call(t, arg, v, lmdb_get32((const uint8_t *)k->mv_data + 4), NULL, err);
}

static int visit_modseq(struct sluice_index_txn *t, const MDB_val *k, const MDB_val *v, void *arg,
                        struct sluice_error *err)
{
	const uint8_t *key = k->mv_data;
	uint8_t mkey[LMDB_MSG_KEY_SIZE];
	MDB_val mk = {sizeof(mkey), mkey}, mv;
	uint64_t modseq = lmdb_get64(key + 4);
	uint32_t uid = lmdb_get32(key + 12);
	int rc;

	(void)v;
	lmdb_msg_key(mkey, lmdb_get32(key), uid);
	rc = mdb_get(t->txn, t->env->messages, &mk, &mv);
	if (rc == MDB_NOTFOUND)
		return lmdb_corrupt(t->env, "MODSEQ entry without its message", err);
	if (rc != 0)
		return lmdb_error(t->env, rc, "reading a message", err);
	return walk_call(t, arg, &mv, uid, &modseq, err);
}

static int visit_expunge(struct sluice_index_txn *t, const MDB_val *k, const MDB_val *v, void *arg,
                         struct sluice_error *err)
{
	const uint8_t *key = k->mv_data;
	struct lmdb_walk *w = arg;

	(void)t, (void)v, (void)err;
	return w->expunge_cb(w->ctx, lmdb_get32(key + 12), lmdb_get64(key + 4));
}

int lmdb_message_iterate(struct sluice_index_txn *t, const char *mailbox, uint32_t first_uid,
                         sluice_index_message_cb *cb, void *ctx, struct sluice_error *err)
{
	struct lmdb_walk w = {.cb = cb, .ctx = ctx};
	uint8_t start[LMDB_MSG_KEY_SIZE];
	int rc;

	if ((rc = lmdb_mbox_resolve(t, mailbox, err)) != 0)
		return rc;
	lmdb_msg_key(start, t->mbox.rec.id, first_uid);
	rc = scan(t, t->env->messages, start, sizeof(start), visit_uid, &w, err);
	free(w.buf);
	return rc;
}

int lmdb_message_changed_since(struct sluice_index_txn *t, const char *mailbox, uint64_t modseq,
                               sluice_index_message_cb *cb, void *ctx, struct sluice_error *err)
{
	struct lmdb_walk w = {.cb = cb, .ctx = ctx};
	uint8_t start[LMDB_SEQ_KEY_SIZE];
	int rc;

	if ((rc = lmdb_mbox_resolve(t, mailbox, err)) != 0 || modseq == UINT64_MAX)
		return rc;
	lmdb_seq_key(start, t->mbox.rec.id, modseq + 1, 0);
	rc = scan(t, t->env->modseqs, start, sizeof(start), visit_modseq, &w, err);
	free(w.buf);
	return rc;
}

int lmdb_expunged_since(struct sluice_index_txn *t, const char *mailbox, uint64_t modseq,
                        sluice_index_expunge_cb *cb, void *ctx, struct sluice_error *err)
{
	struct lmdb_walk w = {.expunge_cb = cb, .ctx = ctx};
	uint8_t start[LMDB_SEQ_KEY_SIZE];
	int rc;

	if ((rc = lmdb_mbox_resolve(t, mailbox, err)) != 0 || modseq == UINT64_MAX)
		return rc;
	lmdb_seq_key(start, t->mbox.rec.id, modseq + 1, 0);
	return scan(t, t->env->expunges, start, sizeof(start), visit_expunge, &w, err);
}
