/*
 * Reading one message of an open mailbox, and the fields the index caches about it.
 *
 * IMAP speaks CRLF, but files written by delivery agents into a Maildir usually end
 * their lines with a bare LF. A message is opened through the storage module's
 * message_open, mapped read-only (MAP_PRIVATE) and scanned once for bare LFs. When there
 * are none, the mapping is the message. When there are, a CRLF copy is built in memory
 * and the mapping dropped; the copy is capped by the caller (the session's largest
 * literal), so a huge LF-only file is refused with SLUICE_E_LIMIT instead of filling
 * memory. Everything a client sees, RFC822.SIZE, BODY[] lengths, partial offsets and the
 * sizes inside BODYSTRUCTURE, is therefore counted on the CRLF form, and they agree.
 *
 * The cached fields (RFC822.SIZE, ENVELOPE, BODYSTRUCTURE, BODY) are computed from the
 * parsed message the first time a FETCH needs any of them and written back to the index
 * in batches (one short write transaction per batch, begun and committed by the caller's
 * command on its thread), so that later FETCHes of metadata never open the file.
 *
 * One session uses a message at a time, on one thread.
 */
#ifndef SLUICE_MAILBOX_MESSAGE_H
#define SLUICE_MAILBOX_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail/mime.h"
#include "mailbox/mailbox.h"
#include "util/pool.h"

/* A message file's bytes as stored: read into memory when small, mapped when large. */
struct mail_file {
	const unsigned char *data; /* never NULL; an empty file gives a valid empty buffer */
	size_t len;
	void *map;          /* the mapping, or NULL */
	unsigned char *buf; /* the read copy (malloc), or NULL */
};

/**
 * Loads the @p len bytes of the open file @p fd (the caller keeps and closes fd).
 * @return 0, SLUICE_E_NOMEM, or SLUICE_E_IO when it cannot be read or mapped (the
 * file shrank). Release with mail_file_release; any thread.
 */
int mail_file_load(int fd, size_t len, struct mail_file *f);
/** Frees or unmaps what mail_file_load made; safe on a released one. */
void mail_file_release(struct mail_file *f);

struct mail_message {
	const unsigned char *data; /* the message with CRLF line ends */
	size_t len;
	struct mime_part *root; /* set by mail_message_parse */
	struct mail_file file;  /* the stored bytes */
	unsigned char *copy;    /* the CRLF copy (malloc), or NULL */
};

/**
 * Opens a message of the view for reading.
 * @param[in]  box      the open mailbox
 * @param[in]  m        a message of box's view
 * @param[in]  max_copy the largest CRLF copy allowed for a file with bare LFs
 * @param[out] msg_r    the message, released with mail_message_close (also on failure)
 * @return 0; SLUICE_NOTFOUND when the file has vanished; SLUICE_E_LIMIT when the copy
 *         would exceed @p max_copy; SLUICE_E_IO or SLUICE_E_NOMEM, with err filled.
 */
int mail_message_open(struct mailbox *box, const struct mailbox_msg *m, size_t max_copy,
                      struct mail_message *msg_r, struct sluice_error *err);

/** Parses the MIME tree into msg->root (once). @return 0, or SLUICE_E_NOMEM. */
int mail_message_parse(struct mail_message *msg, struct sluice_pool *pool);

/** Unmaps or frees the message; safe on a zeroed or already closed one. */
void mail_message_close(struct mail_message *msg);

/* What the index knows about a message beside its flags. Strings are NULL when absent. */
struct mail_cached {
	uint32_t uid;
	int64_t internal_date;
	int32_t internal_zone;
	uint64_t size; /* 0: not known yet */
	const char *envelope, *bodystructure, *body;
};

/** True when every cacheable field is known. */
static inline bool mail_cached_complete(const struct mail_cached *c)
{
	return c->size != 0 && c->envelope != NULL && c->bodystructure != NULL && c->body != NULL;
}

/**
 * Reads a message's record in its own read transaction, copying the strings into @p pool.
 * @return 0; SLUICE_NOTFOUND when the index no longer has the UID; a negative code.
 */
int mail_cached_read(struct mailbox *box, uint32_t uid, struct sluice_pool *pool,
                     struct mail_cached *c_r, struct sluice_error *err);

/**
 * Fills the missing cacheable fields of @p c from a parsed message (strings from @p pool).
 * @return 0, or SLUICE_E_NOMEM when the pool refuses.
 */
int mail_cached_compute(struct mail_message *msg, struct sluice_pool *pool, struct mail_cached *c);

/**
 * Writes cached fields back to the index in one write transaction: each record is read,
 * its missing fields filled from @p list, and written back; flags, keywords and MODSEQ are
 * left alone, and UIDs expunged meanwhile are skipped.
 * @return 0 or a negative code with err filled. Worker thread; the transaction ends
 *         inside the call.
 */
int mail_cached_store(struct mailbox *box, const struct mail_cached *list, size_t n,
                      struct sluice_error *err);

/*
 * Caveats:
 * - A message of size 0 never counts as cached; it is cheap to read again.
 * - A file that vanished between the scan and the FETCH is SLUICE_NOTFOUND; the next
 *   open of the mailbox expunges it.
 */

#endif
