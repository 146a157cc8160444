/*
 * Opening a mailbox: the synchronisation of storage and index, and the session's view
 * (see mailbox.h for the rules; this file is their implementation).
 *
 * The sync runs in three steps inside one index write transaction. First the index's
 * records are loaded into the view (UID order, as the index walks them). Then, unless
 * the storage's change stamp is the one remembered, the storage is scanned: each key is
 * looked up in a hash table over the view's keys; a known key is marked seen and its
 * flags compared, an unknown one is set aside. Last, records whose key the scan did not
 * report are expunged, and the set-aside messages get UIDs in delivery order (mtime, then
 * key, which for Maildir names is the delivery time too). Index writes never happen
 * inside an index walk, only inside the storage's scan, so no cursor is disturbed.
 */
#include "mailbox/mailbox.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mailbox/notify.h"
#include "util/buffer.h"
#include "util/log.h"

/* Set on view records during a scan when the storage reported their key. */
#define SYNC_SEEN (1u << 30)
#define VIEW_FLAGS (SLUICE_FLAGS_ALL | MAILBOX_INDEX_UNCLAIMED)

static pthread_mutex_t uidvalidity_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t uidvalidity_last;

uint32_t mailbox_new_uidvalidity(void)
{
	pthread_mutex_lock(&uidvalidity_lock);
	uint32_t v = (uint32_t)time(NULL);
	/* Two mailboxes created in one second, or a clock set back, still get a larger value. */
	if (v <= uidvalidity_last)
		v = uidvalidity_last + 1;
	if (v == 0)
		v = 1;
	uidvalidity_last = v;
	pthread_mutex_unlock(&uidvalidity_lock);
	return v;
}

static int nomem(struct sluice_error *err)
{
	return sluice_error_set(err, SLUICE_E_NOMEM, "SERVERBUG", "The server is out of memory.");
}

/* ---- the view ------------------------------------------------------------------------- */

static int view_append(struct mailbox *box, uint32_t uid, uint32_t flags, uint64_t modseq,
                       const char *key, const char *keywords)
{
	size_t klen = strlen(key) + 1;
	if (box->count == box->cap) {
		size_t cap = box->cap ? box->cap * 2 : 64;
		struct mailbox_msg *n = realloc(box->msgs, cap * sizeof(*n));
		if (n == NULL)
			return SLUICE_E_NOMEM;
		box->msgs = n;
		box->cap = cap;
	}
	if (box->keys_len + klen > UINT32_MAX)
		return SLUICE_E_NOMEM;
	if (box->keys_len + klen > box->keys_cap) {
		size_t cap = box->keys_cap ? box->keys_cap * 2 : 4096;
		while (cap < box->keys_len + klen)
			cap *= 2;
		char *n = realloc(box->keys, cap);
		if (n == NULL)
			return SLUICE_E_NOMEM;
		box->keys = n;
		box->keys_cap = cap;
	}
	char *kw = NULL;
	if (keywords != NULL && keywords[0] != '\0' && (kw = strdup(keywords)) == NULL)
		return SLUICE_E_NOMEM;
	struct mailbox_msg *m = &box->msgs[box->count++];
	m->uid = uid;
	m->flags = flags;
	m->key_off = (uint32_t)box->keys_len;
	m->keywords = kw;
	m->modseq = modseq;
	memcpy(box->keys + box->keys_len, key, klen);
	box->keys_len += klen;
	if (flags & MAILBOX_MSG_RECENT)
		box->recent++;
	return 0;
}

/* Frees what message @p m of the view holds; the caller takes it out of box->msgs. */
static void view_forget(struct mailbox *box, struct mailbox_msg *m)
{
	if (m->flags & MAILBOX_MSG_RECENT)
		box->recent--;
	free(m->keywords);
}

/*
 * Ends a compaction of the view that failed at message @p i with @p kept messages kept:
 * the rest stay, so that mailbox_close frees each keywords string once. Returns @p r.
 */
static int view_keep_rest(struct mailbox *box, uint32_t i, uint32_t kept, int r)
{
	while (i < box->count)
		box->msgs[kept++] = box->msgs[i++];
	box->count = kept;
	return r;
}

/* The index state of the open mailbox; a mailbox the index forgot is a damaged index. */
static int index_state_get(struct mailbox *box, struct sluice_index_txn *txn,
                           struct sluice_index_mailbox *state_r, struct sluice_error *err)
{
	int r = box->user->index_ops->mailbox_get(txn, box->name, state_r, err);
	if (r > 0)
		return sluice_error_set(err, SLUICE_E_CORRUPT, "SERVERBUG",
		                        "The mailbox index lost this mailbox.");
	return r;
}

void mailbox_close(struct mailbox **boxp)
{
	struct mailbox *box = *boxp;
	if (box == NULL)
		return;
	for (uint32_t i = 0; i < box->count; i++)
		free(box->msgs[i].keywords);
	free(box->msgs);
	free(box->keys);
	if (box->sbox != NULL)
		box->user->storage_ops->mailbox_close(box->sbox);
	free(box->name);
	free(box);
	*boxp = NULL;
}

void mailbox_storage_release(struct mailbox *box)
{
	if (box->sbox != NULL)
		box->user->storage_ops->mailbox_close(box->sbox);
	box->sbox = NULL;
}

int mailbox_storage_reopen(struct mailbox *box, struct sluice_error *err)
{
	if (box->sbox != NULL)
		return 0;
	return box->user->storage_ops->mailbox_open(box->user->storage, box->name, &box->sbox, err);
}

uint32_t mailbox_count_unseen(const struct mailbox *box)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < box->count; i++)
		n += (box->msgs[i].flags & SLUICE_FLAG_SEEN) == 0;
	return n;
}

uint32_t mailbox_first_unseen(const struct mailbox *box)
{
	for (uint32_t i = 0; i < box->count; i++)
		if ((box->msgs[i].flags & SLUICE_FLAG_SEEN) == 0)
			return i + 1;
	return 0;
}

uint32_t mailbox_count_unclaimed(const struct mailbox *box)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < box->count; i++)
		n += (box->msgs[i].flags & MAILBOX_INDEX_UNCLAIMED) != 0;
	return n;
}

/* ---- the sync ------------------------------------------------------------------------- */

/* A message the scan found that the index does not know; strings live in sync.strs. */
struct sync_new {
	int64_t mtime;
	const char *key; /* set from key_off once the scan is over and strs stops moving */
	size_t key_off, kw_off;
	uint32_t flags;
	bool recent;
};

struct sync {
	struct mailbox *box;
	const struct sluice_index_ops *ix;
	struct sluice_index_txn *txn;
	struct sluice_index_mailbox state;
	bool claim;
	uint64_t modseq; /* the MODSEQ of this sync's changes; 0 until one needs it */
	uint32_t *slots; /* hash of view keys: index + 1, 0 for an empty slot */
	size_t mask;
	struct sync_new *news;
	size_t news_count, news_cap;
	struct buf strs;
	struct sluice_error *err;
};

static uint64_t sync_modseq(struct sync *sy)
{
	if (sy->modseq == 0)
		sy->modseq = sy->state.highestmodseq + 1;
	return sy->modseq;
}

static int sync_load_cb(void *ctx, const struct sluice_index_message *msg)
{
	struct sync *sy = ctx;
	if (view_append(sy->box, msg->uid, msg->flags & VIEW_FLAGS, msg->modseq, msg->key,
	                msg->keywords) < 0)
		return nomem(sy->err);
	return 0;
}

static uint32_t key_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static int sync_hash_build(struct sync *sy)
{
	size_t size = 16;
	while (size < (size_t)sy->box->count * 2)
		size *= 2;
	sy->slots = calloc(size, sizeof(*sy->slots));
	if (sy->slots == NULL)
		return nomem(sy->err);
	sy->mask = size - 1;
	for (uint32_t i = 0; i < sy->box->count; i++) {
		size_t at = key_hash(mailbox_msg_key(sy->box, &sy->box->msgs[i])) & sy->mask;
		while (sy->slots[at] != 0)
			at = (at + 1) & sy->mask;
		sy->slots[at] = i + 1;
	}
	return 0;
}

static struct mailbox_msg *sync_find(const struct sync *sy, const char *key)
{
	for (size_t at = key_hash(key) & sy->mask; sy->slots[at] != 0; at = (at + 1) & sy->mask) {
		struct mailbox_msg *m = &sy->box->msgs[sy->slots[at] - 1];
		if (strcmp(mailbox_msg_key(sy->box, m), key) == 0)
			return m;
	}
	return NULL;
}

/* A known message: claim it for this session, and take flag changes made outside. */
static int sync_known(struct sync *sy, struct mailbox_msg *m,
                      const struct sluice_storage_message *msg)
{
	const char *kw = msg->keywords != NULL ? msg->keywords : "";
	uint32_t sys = msg->flags & SLUICE_FLAGS_ALL;
	bool changed =
	    (m->flags & SLUICE_FLAGS_ALL) != sys || strcmp(m->keywords ? m->keywords : "", kw) != 0;
	bool was_unclaimed = (m->flags & MAILBOX_INDEX_UNCLAIMED) != 0;
	bool claim = sy->claim && (msg->recent || was_unclaimed);

	if (claim) {
		m->flags = (m->flags & ~MAILBOX_INDEX_UNCLAIMED) | MAILBOX_MSG_RECENT;
		sy->box->recent++;
	}
	if (!changed && !(claim && was_unclaimed))
		return 0;

	/* Rewrite the whole record so cached fields (ENVELOPE, size) survive. */
	struct sluice_index_message rec;
	int r = sy->ix->message_get(sy->txn, sy->box->name, m->uid, &rec, sy->err);
	if (r != 0)
		return r < 0 ? r
		             : sluice_error_set(
		                   sy->err, SLUICE_E_CORRUPT, "SERVERBUG",
		                   "The mailbox index lost a message while it was being read.");
	rec.flags = sys | (m->flags & MAILBOX_INDEX_UNCLAIMED);
	rec.keywords = kw;
	if (changed)
		rec.modseq = sync_modseq(sy);
	r = sy->ix->message_put(sy->txn, sy->box->name, &rec, sy->err);
	if (r != 0 || !changed)
		return r;
	char *copy = NULL;
	if (kw[0] != '\0' && (copy = strdup(kw)) == NULL)
		return nomem(sy->err);
	free(m->keywords);
	m->keywords = copy;
	m->flags = (m->flags & ~SLUICE_FLAGS_ALL) | sys;
	m->modseq = rec.modseq;
	return 0;
}

static int sync_set_aside(struct sync *sy, const struct sluice_storage_message *msg)
{
	const char *kw = msg->keywords != NULL ? msg->keywords : "";
	if (sy->news_count == sy->news_cap) {
		size_t cap = sy->news_cap ? sy->news_cap * 2 : 64;
		struct sync_new *n = realloc(sy->news, cap * sizeof(*n));
		if (n == NULL)
			return nomem(sy->err);
		sy->news = n;
		sy->news_cap = cap;
	}
	struct sync_new *p = &sy->news[sy->news_count];
	p->key_off = buf_len(&sy->strs);
	if (buf_append(&sy->strs, msg->key, strlen(msg->key) + 1) < 0)
		return nomem(sy->err);
	p->kw_off = buf_len(&sy->strs);
	if (buf_append(&sy->strs, kw, strlen(kw) + 1) < 0)
		return nomem(sy->err);
	p->mtime = (int64_t)msg->mtime;
	p->flags = msg->flags & SLUICE_FLAGS_ALL;
	p->recent = sy->claim && msg->recent;
	/*
	 * Seen first by a session that does not claim: nobody has had it as \Recent yet. The
	 * storage does not say whether it is still in new/; a file there has no flags, so a
	 * flagged one certainly is not, and is not worth announcing as recent.
	 */
	if (!sy->claim && p->flags == 0 && kw[0] == '\0')
		p->flags |= MAILBOX_INDEX_UNCLAIMED;
	sy->news_count++;
	return 0;
}

static int sync_scan_cb(void *ctx, const struct sluice_storage_message *msg)
{
	struct sync *sy = ctx;
	struct mailbox_msg *m = sync_find(sy, msg->key);
	if (m == NULL)
		return sync_set_aside(sy, msg);
	if (m->flags & SYNC_SEEN)
		return 0; /* reported twice (moved between two directory reads): once counts */
	m->flags |= SYNC_SEEN;
	return sync_known(sy, m, msg);
}

/* Expunges from index and view what the scan did not report. */
static int sync_remove_missing(struct sync *sy)
{
	struct mailbox *box = sy->box;
	uint32_t kept = 0;
	for (uint32_t i = 0; i < box->count; i++) {
		struct mailbox_msg *m = &box->msgs[i];
		if (m->flags & SYNC_SEEN) {
			m->flags &= ~SYNC_SEEN;
			box->msgs[kept++] = *m;
			continue;
		}
		int r =
		    sy->ix->message_expunge(sy->txn, box->name, m->uid, sync_modseq(sy), sy->err);
		if (r < 0)
			return view_keep_rest(box, i, kept, r);
		view_forget(box, m);
	}
	box->count = kept;
	return 0;
}

static int sync_new_order(const void *a, const void *b)
{
	const struct sync_new *x = a, *y = b;
	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* Gives the set-aside messages UIDs, in delivery order. */
static int sync_add_new(struct sync *sy)
{
	if (sy->news_count == 0)
		return 0; /* qsort and buf_head want memory to point at */
	const char *strs = (const char *)buf_head(&sy->strs);
	for (size_t i = 0; i < sy->news_count; i++)
		sy->news[i].key = strs + sy->news[i].key_off;
	qsort(sy->news, sy->news_count, sizeof(*sy->news), sync_new_order);
	for (size_t i = 0; i < sy->news_count; i++) {
		const struct sync_new *p = &sy->news[i];
		if (sy->state.uidnext == UINT32_MAX)
			return sluice_error_set(sy->err, SLUICE_E_LIMIT, "LIMIT",
			                        "The mailbox has used up its UIDs; recreate it.");
		struct sluice_index_message rec = {
		    .uid = sy->state.uidnext++,
		    .flags = p->flags,
		    .modseq = sync_modseq(sy),
		    .internal_date = p->mtime,
		    .internal_zone = 0,
		    .size = 0, /* unknown until a FETCH reads the file */
		    .key = p->key,
		    .keywords = strs + p->kw_off,
		};
		int r = sy->ix->message_put(sy->txn, sy->box->name, &rec, sy->err);
		if (r != 0)
			return r < 0 ? r
			             : sluice_error_set(sy->err, SLUICE_E_INTERNAL, "SERVERBUG",
			                                "The mailbox index refused a new message.");
		uint32_t flags = p->flags | (p->recent ? MAILBOX_MSG_RECENT : 0);
		if (view_append(sy->box, rec.uid, flags, rec.modseq, rec.key, rec.keywords) < 0)
			return nomem(sy->err);
	}
	return 0;
}

static bool view_has_unclaimed(const struct mailbox *box)
{
	for (uint32_t i = 0; i < box->count; i++)
		if (box->msgs[i].flags & MAILBOX_INDEX_UNCLAIMED)
			return true;
	return false;
}

/* Everything that happens inside the write transaction. */
/*
 * Index only: messages this session's APPEND or COPY left unclaimed become its \Recent. A
 * message a delivery agent left in new/ and an EXAMINE indexed unclaimed is claimed here
 * too without leaving new/, so a later scan may show it as \Recent once more: harmless,
 * and rarer than the full scan per APPEND this spares.
 */
static int sync_claim_from_index(struct sync *sy)
{
	for (uint32_t i = 0; i < sy->box->count; i++) {
		struct mailbox_msg *m = &sy->box->msgs[i];
		if (!(m->flags & MAILBOX_INDEX_UNCLAIMED))
			continue;
		struct sluice_index_message rec;
		int r = sy->ix->message_get(sy->txn, sy->box->name, m->uid, &rec, sy->err);
		if (r != 0)
			return r < 0 ? r : 0; /* gone meanwhile: the next full refresh says so */
		rec.flags &= ~MAILBOX_INDEX_UNCLAIMED;
		if ((r = sy->ix->message_put(sy->txn, sy->box->name, &rec, sy->err)) != 0)
			return r;
		m->flags = (m->flags & ~MAILBOX_INDEX_UNCLAIMED) | MAILBOX_MSG_RECENT;
		sy->box->recent++;
	}
	return 0;
}

/* With @p stamp NULL the view is loaded from the index alone (mailbox_refresh_from_index). */
static int sync_run(struct sync *sy, const uint8_t stamp[32])
{
	struct mailbox *box = sy->box;
	struct mail_user *mu = box->user;
	bool created = false;

	int r = mailbox_index_state(sy->ix, sy->txn, box->name, &sy->state, &created, sy->err);
	if (r < 0)
		return r;
	r = sy->ix->message_iterate(sy->txn, box->name, 1, sync_load_cb, sy, sy->err);
	if (r < 0)
		return r;

	bool scan = created || (stamp != NULL && (memcmp(stamp, sy->state.storage_stamp, 32) != 0 ||
	                                          (sy->claim && view_has_unclaimed(box))));
	if (!scan && stamp == NULL && sy->claim && (r = sync_claim_from_index(sy)) < 0)
		return r;
	if (scan) {
		if ((r = sync_hash_build(sy)) < 0)
			return r;
		r = mu->storage_ops->mailbox_scan(box->sbox, sy->claim, sync_scan_cb, sy, sy->err);
		if (r != 0)
			return r < 0 ? r : SLUICE_E_INTERNAL;
		if ((r = sync_remove_missing(sy)) < 0 || (r = sync_add_new(sy)) < 0)
			return r;
		if (sy->modseq != 0)
			sy->state.highestmodseq = sy->modseq;
		/* The stamp from before the scan: whatever changed during it is scanned next time.
		 */
		memcpy(sy->state.storage_stamp, stamp, 32);
		r = sy->ix->mailbox_put(sy->txn, box->name, &sy->state, sy->err);
		if (r < 0)
			return r;
	}
	box->uidvalidity = sy->state.uidvalidity;
	box->uidnext = sy->state.uidnext;
	box->highestmodseq = sy->state.highestmodseq;
	return 0;
}

static void log_corrupt(const struct mailbox *box)
{
	log_error("the mail index of %s is damaged (mailbox %s): delete the user's index "
	          "directory (the path setting of the index block) and it is rebuilt from the "
	          "mail; automatic rebuild is not implemented yet",
	          box->user->user.name, box->name);
}

static int mailbox_open_with(struct mail_user *mu, const char *name, bool readonly, bool claim_recent,
                             bool index_only, struct mailbox **box_r, struct sluice_error *err)
{
	*box_r = NULL;
	struct mailbox *box = calloc(1, sizeof(*box));
	if (box == NULL || (box->name = strdup(name)) == NULL) {
		free(box);
		return nomem(err);
	}
	box->user = mu;
	box->readonly = readonly;

	uint8_t stamp[32];
	int r = mu->storage_ops->mailbox_open(mu->storage, name, &box->sbox, err);
	if (r == 0 && !index_only)
		r = mu->storage_ops->mailbox_stamp(box->sbox, stamp, err);
	if (r != 0) {
		mailbox_close(&box);
		return r;
	}

	struct sync sy = {.box = box, .ix = mu->index_ops, .claim = claim_recent, .err = err};
	r = sy.ix->txn_begin(mu->index, true, &sy.txn, err);
	if (r == 0) {
		r = sync_run(&sy, index_only ? NULL : stamp);
		if (r == 0)
			r = sy.ix->txn_commit(sy.txn, err);
		else
			sy.ix->txn_abort(sy.txn);
		/* The sync found changes made outside: sessions waiting in IDLE want them too. */
		if (r == 0 && sy.modseq != 0)
			notify_mailbox_changed(mu->user.name, name);
	}
	free(sy.slots);
	free(sy.news);
	buf_free(&sy.strs);
	if (r != 0) {
		if (r == SLUICE_E_CORRUPT)
			log_corrupt(box);
		mailbox_close(&box);
		return r > 0 ? SLUICE_E_INTERNAL : r;
	}
	*box_r = box;
	return 0;
}

int mailbox_open(struct mail_user *mu, const char *name, bool readonly, bool claim_recent,
                 struct mailbox **box_r, struct sluice_error *err)
{
	return mailbox_open_with(mu, name, readonly, claim_recent, false, box_r, err);
}

/* ---- APPEND, COPY, MOVE, EXPUNGE -------------------------------------------------------- */

int mailbox_index_state(const struct sluice_index_ops *ix, struct sluice_index_txn *txn,
                        const char *name, struct sluice_index_mailbox *state_r, bool *created_r,
                        struct sluice_error *err)
{
	*created_r = false;
	int r = ix->mailbox_get(txn, name, state_r, err);
	if (r != SLUICE_NOTFOUND)
		return r;
	struct sluice_index_mailbox fresh = {
	    .uidvalidity = mailbox_new_uidvalidity(), .uidnext = 1, .highestmodseq = 1};
	*state_r = fresh;
	*created_r = true;
	return ix->mailbox_put(txn, name, state_r, err);
}

static bool expunge_wanted(const struct mailbox_msg *m, const struct seqset *uids,
                           bool only_deleted)
{
	if (only_deleted && (m->flags & SLUICE_FLAG_DELETED) == 0)
		return false;
	return uids == NULL || seqset_contains(uids, m->uid);
}

/* The loop of mailbox_expunge_uids, inside its write transaction. */
static int expunge_uids_run(struct mailbox *box, struct sluice_index_txn *txn,
                            const struct seqset *uids, bool only_deleted,
                            struct mailbox_changes *ch, struct sluice_error *err)
{
	const struct sluice_index_ops *ix = box->user->index_ops;
	struct sluice_index_mailbox state;
	int r = index_state_get(box, txn, &state, err);
	if (r != 0)
		return r;
	uint64_t modseq = state.highestmodseq + 1;
	uint32_t kept = 0;
	for (uint32_t i = 0; i < box->count; i++) {
		struct mailbox_msg *m = &box->msgs[i];
		if (!expunge_wanted(m, uids, only_deleted)) {
			box->msgs[kept++] = *m;
			continue;
		}
		struct sluice_error serr = SLUICE_ERROR_INIT;
		r = box->user->storage_ops->message_expunge(box->sbox, mailbox_msg_key(box, m),
		                                            &serr);
		if (r < 0) {
			/* The message stays, in storage and index alike. */
			log_warning("cannot expunge message %u of %s: %s", m->uid, box->name,
			            serr.msg);
			box->msgs[kept++] = *m;
			continue;
		}
		r = ix->message_expunge(txn, box->name, m->uid, modseq, err);
		if (r < 0) /* the file is gone; the next refresh finds it missing */
			return view_keep_rest(box, i, kept, r);
		ch->expunged_uids[ch->n_expunged] = m->uid;
		ch->expunged[ch->n_expunged++] = i + 1;
		view_forget(box, m);
	}
	box->count = kept;
	if (ch->n_expunged == 0)
		return 0;
	state.highestmodseq = modseq;
	r = ix->mailbox_put(txn, box->name, &state, err);
	if (r < 0)
		return r;
	box->highestmodseq = modseq;
	return 0;
}

int mailbox_expunge_uids(struct mailbox *box, const struct seqset *uids, bool only_deleted,
                         struct mailbox_changes *ch, struct sluice_error *err)
{
	memset(ch, 0, sizeof(*ch));
	if (box->readonly)
		return sluice_error_set(err, SLUICE_E_PERM, "READ-ONLY",
		                        "The mailbox is read-only.");
	uint32_t want = 0;
	for (uint32_t i = 0; i < box->count; i++)
		want += expunge_wanted(&box->msgs[i], uids, only_deleted);
	if (want == 0)
		return 0;
	ch->expunged = malloc(want * sizeof(*ch->expunged));
	ch->expunged_uids = malloc(want * sizeof(*ch->expunged_uids));
	if (ch->expunged == NULL || ch->expunged_uids == NULL) {
		mailbox_changes_free(ch);
		return nomem(err);
	}
	const struct sluice_index_ops *ix = box->user->index_ops;
	struct sluice_index_txn *txn;
	int r = ix->txn_begin(box->user->index, true, &txn, err);
	if (r != 0) {
		mailbox_changes_free(ch);
		return r > 0 ? SLUICE_E_INTERNAL : r;
	}
	/* Reported even on failure: what left the view must be announced to the client. */
	r = expunge_uids_run(box, txn, uids, only_deleted, ch, err);
	if (r < 0) {
		ix->txn_abort(txn);
		if (r == SLUICE_E_CORRUPT)
			log_corrupt(box);
		return r;
	}
	r = ix->txn_commit(txn, err);
	if (r == 0 && ch->n_expunged > 0)
		notify_mailbox_changed(box->user->user.name, box->name);
	return r;
}

/* Whether two keyword lists name the same keywords, in any order and ASCII case. */
static bool keywords_same(const char *a, const char *b)
{
	a = a != NULL ? a : "";
	b = b != NULL ? b : "";
	if (strcmp(a, b) == 0)
		return true;
	size_t na = 0, nb = 0;
	for (const char *p = a; *p != '\0'; p += strspn(p, " "))
		na++, p += strcspn(p, " ");
	for (const char *p = b; *p != '\0'; p += strspn(p, " "))
		nb++, p += strcspn(p, " ");
	if (na != nb)
		return false;
	for (const char *p = a + strspn(a, " "); *p != '\0';) {
		size_t len = strcspn(p, " ");
		bool found = false;
		for (const char *q = b + strspn(b, " "); *q != '\0' && !found;) {
			size_t qlen = strcspn(q, " ");
			found = qlen == len && strncasecmp(p, q, len) == 0;
			q += qlen;
			q += strspn(q, " ");
		}
		if (!found)
			return false;
		p += len;
		p += strspn(p, " ");
	}
	return true;
}

static bool msg_changed(const struct mailbox_msg *a, const struct mailbox_msg *b)
{
	return a->modseq != b->modseq ||
	       (a->flags & SLUICE_FLAGS_ALL) != (b->flags & SLUICE_FLAGS_ALL) ||
	       !keywords_same(a->keywords, b->keywords);
}

/* Appends @p v to a list that can hold @p cap values; false without memory. */
static bool list_add(uint32_t **list, uint32_t *n, uint32_t cap, uint32_t v)
{
	if (*list == NULL && (*list = malloc(cap * sizeof(**list))) == NULL)
		return false;
	(*list)[(*n)++] = v;
	return true;
}

static int mailbox_refresh_with(struct mailbox *box, bool index_only, struct mailbox_changes *ch,
                                struct sluice_error *err)
{
	memset(ch, 0, sizeof(*ch));
	struct mailbox *nb;
	int r = mailbox_open_with(box->user, box->name, box->readonly, !box->readonly, index_only,
	                          &nb, err);
	if (r != 0)
		return r > 0 ? SLUICE_E_INTERNAL : r;
	uint32_t j = 0;
	bool ok = true;
	for (uint32_t i = 0; i < box->count && ok; i++) {
		const struct mailbox_msg *m = &box->msgs[i];
		while (j < nb->count && nb->msgs[j].uid < m->uid)
			j++;
		if (j < nb->count && nb->msgs[j].uid == m->uid) {
			/* \Recent is this session's: keep what it had. */
			if ((m->flags & MAILBOX_MSG_RECENT) &&
			    !(nb->msgs[j].flags & MAILBOX_MSG_RECENT)) {
				nb->msgs[j].flags |= MAILBOX_MSG_RECENT;
				nb->recent++;
			}
			if (msg_changed(m, &nb->msgs[j]))
				ok = list_add(&ch->flagged, &ch->n_flagged, box->count, j);
			continue;
		}
		uint32_t n = ch->n_expunged;
		ok = list_add(&ch->expunged, &ch->n_expunged, box->count, i + 1) &&
		     list_add(&ch->expunged_uids, &n, box->count, m->uid);
	}
	if (!ok) {
		mailbox_close(&nb);
		mailbox_changes_free(ch);
		return nomem(err);
	}
	struct mailbox old = *box;
	*box = *nb;
	*nb = old;
	mailbox_close(&nb);
	return 0;
}

int mailbox_refresh(struct mailbox *box, struct mailbox_changes *ch, struct sluice_error *err)
{
	return mailbox_refresh_with(box, false, ch, err);
}

int mailbox_refresh_from_index(struct mailbox *box, struct mailbox_changes *ch,
                               struct sluice_error *err)
{
	return mailbox_refresh_with(box, true, ch, err);
}

void mailbox_changes_free(struct mailbox_changes *ch)
{
	free(ch->expunged);
	free(ch->expunged_uids);
	free(ch->flagged);
	memset(ch, 0, sizeof(*ch));
}

/* ---- flag changes ---------------------------------------------------------------------- */

int mailbox_update_begin(struct mailbox *box, struct mailbox_update *upd, struct sluice_error *err)
{
	const struct sluice_index_ops *ix = box->user->index_ops;
	memset(upd, 0, sizeof(*upd));
	upd->box = box;
	int r = ix->txn_begin(box->user->index, true, &upd->txn, err);
	if (r != 0)
		return r > 0 ? SLUICE_E_INTERNAL : r;
	r = index_state_get(box, upd->txn, &upd->state, err);
	if (r != 0) {
		ix->txn_abort(upd->txn);
		upd->txn = NULL;
	}
	return r;
}

int mailbox_update_modseq(struct mailbox_update *upd, const struct mailbox_msg *m,
                          uint64_t *modseq_r, struct sluice_error *err)
{
	struct sluice_index_message rec;
	int r = upd->box->user->index_ops->message_get(upd->txn, upd->box->name, m->uid, &rec, err);
	if (r == 0)
		*modseq_r = rec.modseq;
	return r;
}

int mailbox_update_flags(struct mailbox_update *upd, struct mailbox_msg *m, uint32_t flags,
                         const char *keywords, struct sluice_error *err)
{
	struct mailbox *box = upd->box;
	const struct sluice_index_ops *ix = box->user->index_ops;
	const char *kw = keywords != NULL ? keywords : "";
	flags &= SLUICE_FLAGS_ALL;
	int r = box->user->storage_ops->message_set_flags(box->sbox, mailbox_msg_key(box, m), flags,
	                                                  kw, err);
	if (r != 0)
		return r;
	char *copy = NULL;
	if (kw[0] != '\0' && (copy = strdup(kw)) == NULL)
		return nomem(err);
	struct sluice_index_message rec;
	uint64_t modseq = upd->state.highestmodseq + 1;
	r = ix->message_get(upd->txn, box->name, m->uid, &rec, err);
	if (r == 0) {
		rec.flags = flags | (rec.flags & MAILBOX_INDEX_UNCLAIMED);
		rec.keywords = kw;
		rec.modseq = modseq;
		r = ix->message_put(upd->txn, box->name, &rec, err);
		upd->changed = true;
	} else if (r > 0) {
		/* Another session expunged it from the index; the storage is the truth. The view
		 * keeps its MODSEQ: no new one is handed out for it. */
		modseq = m->modseq;
		r = 0;
	}
	if (r < 0) {
		free(copy);
		return r;
	}
	free(m->keywords);
	m->keywords = copy;
	m->flags = (m->flags & ~SLUICE_FLAGS_ALL) | flags;
	m->modseq = modseq;
	return 0;
}

int mailbox_update_commit(struct mailbox_update *upd, struct sluice_error *err)
{
	const struct sluice_index_ops *ix = upd->box->user->index_ops;
	int r = 0;
	if (upd->txn == NULL)
		return 0;
	if (upd->changed) {
		upd->state.highestmodseq++;
		r = ix->mailbox_put(upd->txn, upd->box->name, &upd->state, err);
	}
	if (r < 0) {
		ix->txn_abort(upd->txn);
	} else if ((r = ix->txn_commit(upd->txn, err)) == 0 && upd->changed) {
		upd->box->highestmodseq = upd->state.highestmodseq;
		notify_mailbox_changed(upd->box->user->user.name, upd->box->name);
	}
	upd->txn = NULL;
	return r;
}

void mailbox_update_abort(struct mailbox_update *upd)
{
	if (upd->txn != NULL)
		upd->box->user->index_ops->txn_abort(upd->txn);
	upd->txn = NULL;
}
