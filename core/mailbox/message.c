/*
 * Reading a message and its cached fields (see message.h for the rules on line ends and
 * on what is cached). A large file is mapped, not read, so it costs address space rather
 * than memory unless it needs the CRLF copy. A small one is read into a buffer: mapping
 * it would cost more than the copy, as every munmap in a threaded process interrupts the
 * other cores to flush their TLBs. Both are released by mail_message_close as soon as the
 * FETCH (or SEARCH) of that one message is done.
 */
#include "mailbox/message.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/bodystructure.h"
#include "mail/envelope.h"

static const unsigned char empty_message[1];

/* Files up to this size are read rather than mapped (below glibc's mmap threshold). */
#define MAIL_READ_MAX (96 * 1024)

int mail_file_load(int fd, size_t len, struct mail_file *f)
{
	memset(f, 0, sizeof(*f));
	f->data = empty_message;
	if (len == 0)
		return 0;
	if (len <= MAIL_READ_MAX) {
		unsigned char *buf = malloc(len);
		if (buf == NULL)
			return SLUICE_E_NOMEM;
		size_t got = 0;
		while (got < len) {
			ssize_t n = pread(fd, buf + got, len - got, (off_t)got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break; /* the file shrank: keep what is there, as a mapping would fail */
			got += (size_t)n;
		}
		if (got < len) {
			free(buf);
			return SLUICE_E_IO;
		}
		f->buf = buf;
		f->data = buf;
		f->len = len;
		return 0;
	}
	void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return SLUICE_E_IO;
	f->map = map;
	f->data = map;
	f->len = len;
	return 0;
}

void mail_file_release(struct mail_file *f)
{
	if (f->map != NULL)
		munmap(f->map, f->len);
	free(f->buf);
	memset(f, 0, sizeof(*f));
	f->data = empty_message;
}

/* Counts the LFs not preceded by a CR. */
static size_t count_bare_lf(const unsigned char *p, size_t len)
{
	size_t n = 0;
	const unsigned char *end = p + len, *q = p;
	while ((q = memchr(q, '\n', (size_t)(end - q))) != NULL) {
		if (q == p || q[-1] != '\r')
			n++;
		q++;
	}
	return n;
}

static void to_crlf(unsigned char *dst, const unsigned char *src, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (src[i] == '\n' && (i == 0 || src[i - 1] != '\r'))
			*dst++ = '\r';
		*dst++ = src[i];
	}
}

int mail_message_open(struct mailbox *box, const struct mailbox_msg *m, size_t max_copy,
                      struct mail_message *msg, struct sluice_error *err)
{
	memset(msg, 0, sizeof(*msg));
	msg->data = empty_message;
	int fd;
	int r = box->user->storage_ops->message_open(box->sbox, mailbox_msg_key(box, m), &fd, err);
	if (r != 0)
		return r;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return sluice_error_set(err, SLUICE_E_IO, "SERVERBUG",
		                        "A message could not be read.");
	}
	if (st.st_size == 0) {
		close(fd);
		return 0;
	}
	if ((uint64_t)st.st_size > SIZE_MAX / 2) {
		close(fd);
		return sluice_error_set(err, SLUICE_E_LIMIT, "LIMIT", "A message is too large.");
	}
	size_t len = (size_t)st.st_size;
	r = mail_file_load(fd, len, &msg->file);
	close(fd);
	if (r == SLUICE_E_NOMEM)
		return sluice_error_set(err, r, "SERVERBUG", "The server is out of memory.");
	if (r != 0)
		return sluice_error_set(err, SLUICE_E_IO, "SERVERBUG",
		                        "A message could not be read.");
	msg->data = msg->file.data;
	msg->len = len;

	size_t bare = count_bare_lf(msg->file.data, len);
	if (bare == 0)
		return 0;
	if (len + bare > max_copy)
		return sluice_error_set(err, SLUICE_E_LIMIT, "LIMIT",
		                        "A message has bare LF line ends and is too large to "
		                        "convert to CRLF.");
	msg->copy = malloc(len + bare);
	if (msg->copy == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, "SERVERBUG",
		                        "The server is out of memory.");
	to_crlf(msg->copy, msg->file.data, len);
	mail_file_release(&msg->file);
	msg->data = msg->copy;
	msg->len = len + bare;
	return 0;
}

int mail_message_parse(struct mail_message *msg, struct sluice_pool *pool)
{
	if (msg->root != NULL)
		return 0;
	return mime_parse(msg->data, msg->len, pool, &msg->root) < 0 ? SLUICE_E_NOMEM : 0;
}

void mail_message_close(struct mail_message *msg)
{
	mail_file_release(&msg->file);
	free(msg->copy);
	memset(msg, 0, sizeof(*msg));
	msg->data = empty_message;
}

static const char *pool_copy(struct sluice_pool *pool, const char *s, bool *failed)
{
	if (s == NULL)
		return NULL;
	char *c = pool_strdup(pool, s);
	if (c == NULL)
		*failed = true;
	return c;
}

int mail_cached_read(struct mailbox *box, uint32_t uid, struct sluice_pool *pool,
                     struct mail_cached *c, struct sluice_error *err)
{
	const struct sluice_index_ops *ix = box->user->index_ops;
	struct sluice_index_txn *txn;
	memset(c, 0, sizeof(*c));
	c->uid = uid;
	int r = ix->txn_begin(box->user->index, false, &txn, err);
	if (r != 0)
		return r > 0 ? SLUICE_E_INTERNAL : r;
	struct sluice_index_message rec;
	r = ix->message_get(txn, box->name, uid, &rec, err);
	if (r == 0) {
		bool failed = false;
		c->internal_date = rec.internal_date;
		c->internal_zone = rec.internal_zone;
		c->size = rec.size;
		c->envelope = pool_copy(pool, rec.envelope, &failed);
		c->bodystructure = pool_copy(pool, rec.bodystructure, &failed);
		c->body = pool_copy(pool, rec.body, &failed);
		if (failed)
			r = sluice_error_set(
			    err, SLUICE_E_NOMEM, "LIMIT",
			    "The command needs more memory than a session may use.");
	}
	ix->txn_abort(txn);
	return r;
}

int mail_cached_compute(struct mail_message *msg, struct sluice_pool *pool, struct mail_cached *c)
{
	if (mail_message_parse(msg, pool) < 0)
		return SLUICE_E_NOMEM;
	c->size = msg->len;
	if (c->envelope == NULL)
		c->envelope = mail_envelope(msg->data, msg->root->hdr_len, pool);
	if (c->bodystructure == NULL)
		c->bodystructure = mail_bodystructure(msg->root, true, pool);
	if (c->body == NULL)
		c->body = mail_bodystructure(msg->root, false, pool);
	if (c->envelope == NULL || c->bodystructure == NULL || c->body == NULL)
		return SLUICE_E_NOMEM;
	return 0;
}

int mail_cached_store(struct mailbox *box, const struct mail_cached *list, size_t n,
                      struct sluice_error *err)
{
	if (n == 0)
		return 0;
	const struct sluice_index_ops *ix = box->user->index_ops;
	struct sluice_index_txn *txn;
	int r = ix->txn_begin(box->user->index, true, &txn, err);
	if (r != 0)
		return r > 0 ? SLUICE_E_INTERNAL : r;
	for (size_t i = 0; i < n && r >= 0; i++) {
		const struct mail_cached *c = &list[i];
		struct sluice_index_message rec;
		r = ix->message_get(txn, box->name, c->uid, &rec, err);
		if (r == SLUICE_NOTFOUND) {
			r = 0; /* expunged by another session meanwhile */
			continue;
		}
		if (r < 0)
			break;
		if (rec.size == 0)
			rec.size = c->size;
		if (rec.envelope == NULL)
			rec.envelope = c->envelope;
		if (rec.bodystructure == NULL)
			rec.bodystructure = c->bodystructure;
		if (rec.body == NULL)
			rec.body = c->body;
		r = ix->message_put(txn, box->name, &rec, err);
		if (r > 0)
			r = 0; /* the mailbox went away: nothing to cache into */
	}
	if (r < 0) {
		ix->txn_abort(txn);
		return r;
	}
	return ix->txn_commit(txn, err);
}
