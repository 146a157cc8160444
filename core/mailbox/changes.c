/*
 * What changed in a mailbox since a MODSEQ: the messages whose flags changed (CONDSTORE's
 * CHANGEDSINCE, QRESYNC's FETCH part) and the UIDs that were expunged (QRESYNC's
 * VANISHED (EARLIER)).
 *
 * Both come from the index, which keeps every message under its MODSEQ and every
 * expunge under the MODSEQ it happened at, in MODSEQ order. A walk therefore starts at
 * the first entry above the client's MODSEQ and reads only what changed after it: on a
 * mailbox of 100,000 messages where 10 changed, it reads 10 entries, not 100,000. Each
 * entry found is placed in the session's view with a binary search over the UIDs, so the
 * whole answer costs changes × log(messages).
 *
 * The view decides what the session is told: a message counts as changed when the
 * MODSEQ the view holds for it is above the client's, so FETCH MODSEQ and the flags
 * shown always belong together; a change the view has not taken in yet (another session
 * stored flags after the last refresh) is announced by the next refresh instead. Likewise
 * a UID that left the index but is still in the view is not reported as vanished.
 */
#include "mailbox/mailbox.h"

#include <stdlib.h>
#include <string.h>

int64_t mailbox_find_uid(const struct mailbox *box, uint32_t uid)
{
	uint32_t lo = 0, hi = box->count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (box->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < box->count && box->msgs[lo].uid == uid ? (int64_t)lo : -1;
}

/* A growing list of numbers, the result of one walk. */
struct changes_walk {
	struct mailbox *box;
	uint64_t modseq;
	const struct seqset *uids;
	uint32_t *list;
	uint32_t n, cap;
};

static int walk_add(struct changes_walk *w, uint32_t v)
{
	if (w->n == w->cap) {
		uint32_t cap = w->cap ? w->cap * 2 : 64;
		uint32_t *l = realloc(w->list, cap * sizeof(*l));
		if (l == NULL)
			return SLUICE_E_NOMEM;
		w->list = l;
		w->cap = cap;
	}
	w->list[w->n++] = v;
	return 0;
}

static int changed_cb(void *ctx, const struct sluice_index_message *msg)
{
	struct changes_walk *w = ctx;
	if (w->uids != NULL && !seqset_contains(w->uids, msg->uid))
		return 0;
	int64_t i = mailbox_find_uid(w->box, msg->uid);
	if (i < 0 || w->box->msgs[i].modseq <= w->modseq)
		return 0;
	return walk_add(w, (uint32_t)i);
}

static int vanished_cb(void *ctx, uint32_t uid, uint64_t modseq)
{
	struct changes_walk *w = ctx;
	(void)modseq;
	if (w->uids != NULL && !seqset_contains(w->uids, uid))
		return 0;
	if (mailbox_find_uid(w->box, uid) >= 0)
		return 0;
	return walk_add(w, uid);
}

static int u32_order(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Runs one index walk in a read transaction; leaves the list sorted and without repeats. */
static int walk_run(struct changes_walk *w, bool expunges, uint32_t **list_r, uint32_t *n_r,
                    struct sluice_error *err)
{
	const struct sluice_index_ops *ix = w->box->user->index_ops;
	struct sluice_index_txn *txn;
	*list_r = NULL;
	*n_r = 0;
	int r = ix->txn_begin(w->box->user->index, false, &txn, err);
	if (r != 0)
		return r > 0 ? SLUICE_E_INTERNAL : r;
	if (expunges)
		r = ix->expunged_since(txn, w->box->name, w->modseq, vanished_cb, w, err);
	else
		r = ix->message_changed_since(txn, w->box->name, w->modseq, changed_cb, w, err);
	ix->txn_abort(txn);
	if (r == SLUICE_E_NOMEM)
		sluice_error_set(err, r, "LIMIT",
		                 "The answer needs more memory than the server has.");
	if (r == SLUICE_NOTFOUND)
		r = 0; /* another session deleted the mailbox: nothing is left to report */
	if (r < 0) {
		free(w->list);
		return r;
	}
	if (w->n > 1) {
		qsort(w->list, w->n, sizeof(*w->list), u32_order);
		uint32_t kept = 1;
		for (uint32_t i = 1; i < w->n; i++)
			if (w->list[i] != w->list[kept - 1])
				w->list[kept++] = w->list[i];
		w->n = kept;
	}
	*list_r = w->list;
	*n_r = w->n;
	return 0;
}

int mailbox_changed_since(struct mailbox *box, uint64_t modseq, const struct seqset *uids,
                          uint32_t **idx_r, uint32_t *n_r, struct sluice_error *err)
{
	struct changes_walk w = {.box = box, .modseq = modseq, .uids = uids};
	return walk_run(&w, false, idx_r, n_r, err);
}

int mailbox_vanished_since(struct mailbox *box, uint64_t modseq, const struct seqset *uids,
                           uint32_t **uids_r, uint32_t *n_r, struct sluice_error *err)
{
	struct changes_walk w = {.box = box, .modseq = modseq, .uids = uids};
	return walk_run(&w, true, uids_r, n_r, err);
}
