/* Mailbox sizes for STATUS=SIZE (see size.h). */
#include "mailbox/size.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mailbox/message.h"

#define SIZE_READ_CHUNK 65536

struct size_walk {
	struct mailbox *box;
	uint64_t total;
	uint32_t *unknown; /* UIDs whose size the index does not know */
	uint32_t n_unknown;
	uint32_t view_at; /* the walk's position in the view (both are in UID order) */
};

static int size_collect(void *ctx, const struct sluice_index_message *msg)
{
	struct size_walk *w = ctx;
	const struct mailbox *box = w->box;
	/* Only messages of the view count: the index may know of newer ones this session has
	 * not been told about yet, and STATUS must not contradict EXISTS. */
	while (w->view_at < box->count && box->msgs[w->view_at].uid < msg->uid)
		w->view_at++;
	if (w->view_at == box->count || box->msgs[w->view_at].uid != msg->uid)
		return 0;
	if (msg->size != 0)
		w->total += msg->size;
	else if (w->n_unknown < box->count)
		w->unknown[w->n_unknown++] = msg->uid;
	return 0;
}

/* The RFC822.SIZE of one file: its bytes plus one CR for every LF without one. */
static int size_of_file(int fd, uint64_t *size_r)
{
	unsigned char *buf = malloc(SIZE_READ_CHUNK);
	uint64_t size = 0;
	unsigned char prev = 0;
	if (buf == NULL)
		return SLUICE_E_NOMEM;
	for (;;) {
		ssize_t n = read(fd, buf, SIZE_READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return SLUICE_E_IO;
		}
		if (n == 0)
			break;
		for (const unsigned char *p = buf, *end = buf + n;
		     (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
			if ((p == buf ? prev : p[-1]) != '\r')
				size++;
		prev = buf[n - 1];
		size += (uint64_t)n;
	}
	free(buf);
	*size_r = size;
	return 0;
}

static const struct mailbox_msg *size_view_find(const struct mailbox *box, uint32_t uid)
{
	int64_t i = mailbox_find_uid(box, uid);
	return i >= 0 ? &box->msgs[i] : NULL;
}

/* Reads the messages whose size is unknown, adds them up and caches what it found. */
static int size_compute_unknown(struct size_walk *w, struct sluice_error *err)
{
	struct mailbox *box = w->box;
	struct mail_cached *found = calloc(w->n_unknown, sizeof(*found));
	size_t n_found = 0;
	int r = 0;
	if (found == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, "SERVERBUG", "The server is out of memory.");
	for (uint32_t i = 0; i < w->n_unknown && r == 0; i++) {
		const struct mailbox_msg *m = size_view_find(box, w->unknown[i]);
		int fd;
		uint64_t size = 0;
		if (m == NULL)
			continue;
		r = box->user->storage_ops->message_open(box->sbox, mailbox_msg_key(box, m), &fd, err);
		if (r == SLUICE_NOTFOUND) {
			r = 0; /* expunged behind our back: the next refresh says so */
			continue;
		}
		if (r != 0)
			break;
		r = size_of_file(fd, &size);
		close(fd);
		if (r != 0) {
			r = sluice_error_set(err, r, "SERVERBUG", "A message could not be read.");
			break;
		}
		w->total += size;
		if (size != 0) {
			found[n_found].uid = m->uid;
			found[n_found++].size = size;
		}
	}
	if (r == 0 && n_found > 0) {
		/* A cache that cannot be written costs the next STATUS some reading, no more. */
		struct sluice_error ignored = SLUICE_ERROR_INIT;
		mail_cached_store(box, found, n_found, &ignored);
	}
	free(found);
	return r > 0 ? SLUICE_E_INTERNAL : r;
}

int mailbox_total_size(struct mailbox *box, uint64_t *size_r, struct sluice_error *err)
{
	const struct sluice_index_ops *ix = box->user->index_ops;
	struct sluice_index_txn *txn;
	struct size_walk w = {.box = box};
	*size_r = 0;
	if (box->count == 0)
		return 0;
	if ((w.unknown = malloc(box->count * sizeof(*w.unknown))) == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, "SERVERBUG", "The server is out of memory.");
	int r = ix->txn_begin(box->user->index, false, &txn, err);
	if (r == 0) {
		r = ix->message_iterate(txn, box->name, 1, size_collect, &w, err);
		ix->txn_abort(txn);
	}
	if (r == 0 && w.n_unknown > 0)
		r = size_compute_unknown(&w, err);
	free(w.unknown);
	if (r != 0)
		return r > 0 ? SLUICE_E_INTERNAL : r;
	*size_r = w.total;
	return 0;
}
