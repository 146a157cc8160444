/*
 * SEARCH and UID SEARCH (RFC 3501 6.4.4 and 6.4.8). The keys are parsed into a tree by
 * imap/search.c; this file runs the tree over the selected mailbox and answers.
 *
 * Each message is looked at in up to three steps, each only when the tree's answer is
 * still unknown after the one before: the session's view (flags, keywords, numbers),
 * then the index record (INTERNALDATE, RFC822.SIZE), then the message file, mapped and
 * parsed by core/mail. So SEARCH UNSEEN reads nothing, SEARCH SINCE reads the index,
 * and SEARCH FLAGGED BODY x opens only the flagged messages. A read transaction on the
 * index is begun the first time a record is needed and ended with the command.
 *
 * The matches are kept as one bit per message and written out as "* SEARCH" followed
 * by the numbers in ascending order, a few kilobytes at a time. Decoded text goes into
 * a pool that is cleared after each message, so memory does not grow with the mailbox.
 * A message that vanished from the storage since SELECT simply does not match.
 *
 * With a MODSEQ key (CONDSTORE), the answer also gives the highest MODSEQ of the
 * messages it returns: `* SEARCH 2 5 (MODSEQ 917)`.
 */
#include "imap/commands.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap/search.h"
#include "mail/mime.h"
#include "mailbox/mailbox.h"
#include "util/log.h"

/* Memory for the tree (strings included) and for one message's decoded text. */
#define SEARCH_TREE_POOL_CAP (96u * 1024 * 1024)
#define SEARCH_MSG_POOL_CAP (256u * 1024 * 1024)

struct search_run {
	struct mailbox *box;
	const struct search_node *root;
	struct sluice_pool *mpool;
	struct sluice_index_txn *txn; /* begun on first use */
	struct sluice_error err;
	bool failed_limit; /* the message pool refused: answer [LIMIT] */
};

/* RFC822.SIZE of a stored message: a bare LF is sent as CRLF. */
static uint64_t size_with_crlf(const unsigned char *data, size_t len)
{
	uint64_t size = len;
	for (size_t i = 0; i < len; i++)
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			size++;
	return size;
}

/* Fills in INTERNALDATE and, when the index knows it, RFC822.SIZE. */
static int load_record(struct search_run *run, struct search_msg *m)
{
	const struct sluice_index_ops *ix = run->box->user->index_ops;
	if (run->txn == NULL) {
		int r = ix->txn_begin(run->box->user->index, false, &run->txn, &run->err);
		if (r != 0)
			return r < 0 ? r : SLUICE_E_INTERNAL;
	}
	struct sluice_index_message rec;
	int r = ix->message_get(run->txn, run->box->name, m->uid, &rec, &run->err);
	if (r > 0) {
		/* Expunged by another session: the file decides, and it is gone too. */
		run->err = (struct sluice_error)SLUICE_ERROR_INIT;
		return 0;
	}
	if (r < 0)
		return r;
	m->have_record = true;
	m->internal_date = rec.internal_date;
	m->internal_zone = rec.internal_zone;
	if (rec.size != 0) {
		m->have_size = true;
		m->size = rec.size;
	}
	return 0;
}

/*
 * Maps and parses the message file and evaluates with it. Returns the answer, SEARCH_NO
 * for a message that vanished, or SEARCH_ERROR with run->err filled.
 */
static enum search_result eval_with_file(struct search_run *run, const struct mailbox_msg *mm,
                                         struct search_msg *m)
{
	const struct sluice_storage_ops *st = run->box->user->storage_ops;
	int fd;
	int r = st->message_open(run->box->sbox, mailbox_msg_key(run->box, mm), &fd, &run->err);
	if (r != 0)
		return r > 0 ? SEARCH_NO : SEARCH_ERROR;
	struct stat sb;
	if (fstat(fd, &sb) != 0 || sb.st_size < 0 || (uint64_t)sb.st_size > SIZE_MAX) {
		close(fd);
		sluice_error_set(&run->err, SLUICE_E_IO, "SERVERBUG", "A message cannot be read.");
		return SEARCH_ERROR;
	}
	size_t len = (size_t)sb.st_size;
	const unsigned char *data = (const unsigned char *)"";
	void *map = NULL;
	if (len > 0) {
		map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			close(fd);
			sluice_error_set(&run->err, SLUICE_E_IO, "SERVERBUG",
			                 "A message cannot be read.");
			return SEARCH_ERROR;
		}
		data = map;
	}
	close(fd);

	enum search_result res = SEARCH_ERROR;
	struct mime_part *root;
	if (mime_parse(data, len, run->mpool, &root) == 0) {
		m->root = root;
		if (!m->have_size) {
			m->have_size = true;
			m->size = size_with_crlf(data, len);
		}
		res = search_eval(run->root, m, run->mpool);
		m->root = NULL;
	}
	if (map != NULL)
		munmap(map, len);
	return res;
}

/* Whether message @p i matches; SEARCH_ERROR with run->err filled when it cannot tell. */
static enum search_result search_one(struct search_run *run, uint32_t i)
{
	const struct mailbox_msg *mm = &run->box->msgs[i];
	run->err = (struct sluice_error)SLUICE_ERROR_INIT;
	struct search_msg m = {
	    .seq = i + 1,
	    .uid = mm->uid,
	    .flags = mm->flags & (SLUICE_FLAGS_ALL | MAILBOX_MSG_RECENT),
	    .keywords = mm->keywords,
	    .modseq = mm->modseq,
	};
	enum search_result r = search_eval(run->root, &m, run->mpool);
	if (r == SEARCH_UNKNOWN && run->root->cost >= SEARCH_COST_RECORD) {
		if (load_record(run, &m) < 0)
			return SEARCH_ERROR;
		r = search_eval(run->root, &m, run->mpool);
	}
	if (r == SEARCH_UNKNOWN)
		r = eval_with_file(run, mm, &m);
	pool_clear(run->mpool);
	/* An error nobody explained is a pool that refused memory. */
	if (r == SEARCH_ERROR && run->err.code == 0)
		run->failed_limit = true;
	return r == SEARCH_UNKNOWN ? SEARCH_NO : r;
}

/*
 * Writes "* SEARCH n n n" from the bitmap, a few kilobytes at a time, and with @p modseq
 * the highest MODSEQ of the matches: " (MODSEQ m)" when there are any.
 */
static void write_matches(struct session *s, const struct mailbox *box, const uint8_t *bits,
                          bool modseq)
{
	uint64_t highest = 0;
	char chunk[4096];
	size_t len = (size_t)snprintf(chunk, sizeof(chunk), "* SEARCH");
	for (uint32_t i = 0; i < box->count; i++) {
		if ((bits[i / 8] & (1u << (i % 8))) == 0)
			continue;
		if (len > sizeof(chunk) - 16) {
			session_write(s, chunk, len);
			len = 0;
		}
		uint32_t n = s->uid_command ? box->msgs[i].uid : i + 1;
		len += (size_t)snprintf(chunk + len, sizeof(chunk) - len, " %u", n);
		if (box->msgs[i].modseq > highest)
			highest = box->msgs[i].modseq;
	}
	session_write(s, chunk, len);
	if (modseq && highest > 0)
		session_printf(s, " (MODSEQ %llu)", (unsigned long long)highest);
	session_write(s, "\r\n", 2);
}

static void answer_parse_error(struct session *s, const struct imap_command *cmd, int r,
                               const struct sluice_error *err)
{
	if (r == SLUICE_NOTFOUND)
		session_tagged(s, cmd->tag, "NO", err->resp_code, "%s", err->msg);
	else if (r == SLUICE_E_NOMEM)
		session_tagged(s, cmd->tag, "NO", "LIMIT",
		               "The search needs more memory than a session may use.");
	else
		session_tagged(s, cmd->tag, "BAD", NULL, "%s", err->msg);
}

void cmd_search(struct session *s, const struct imap_command *cmd)
{
	struct mailbox *box = s->selected;
	if (cmd->count == 0) {
		session_tagged(s, cmd->tag, "BAD", NULL,
		               "SEARCH needs at least one search key, such as ALL.");
		return;
	}
	struct sluice_pool *tree_pool = pool_create(4096, SEARCH_TREE_POOL_CAP);
	struct sluice_pool *mpool = pool_create(16384, SEARCH_MSG_POOL_CAP);
	uint8_t *bits = calloc((size_t)box->count / 8 + 1, 1);
	if (tree_pool == NULL || mpool == NULL || bits == NULL) {
		session_tagged(s, cmd->tag, "NO", "SERVERBUG", "The server is out of memory.");
		goto out;
	}

	struct sluice_error err = SLUICE_ERROR_INIT;
	struct search_node *root;
	uint32_t max_uid = box->count > 0 ? box->msgs[box->count - 1].uid : 0;
	int r = search_parse(cmd->args, cmd->count, box->count, max_uid, tree_pool, &root, &err);
	if (r != 0) {
		answer_parse_error(s, cmd, r, &err);
		goto out;
	}
	bool modseq = search_has_modseq(root);
	if (modseq) /* a CONDSTORE enabling command (RFC 7162 3.1) */
		s->enabled |= SESSION_ENABLED_CONDSTORE;

	struct search_run run = {.box = box, .root = root, .mpool = mpool};
	uint32_t i;
	for (i = 0; i < box->count; i++) {
		enum search_result res = search_one(&run, i);
		if (res == SEARCH_ERROR)
			break;
		if (res == SEARCH_YES)
			bits[i / 8] |= (uint8_t)(1u << (i % 8));
	}
	if (run.txn != NULL)
		box->user->index_ops->txn_abort(run.txn);
	if (i < box->count) {
		if (run.failed_limit) {
			session_tagged(s, cmd->tag, "NO", "LIMIT",
			               "Message %u needs more memory to search than a session may "
			               "use.",
			               i + 1);
		} else {
			log_warning("SEARCH in %s stopped at message %u: %s", box->name,
			            box->msgs[i].uid, run.err.msg);
			session_tagged(s, cmd->tag, "NO",
			               run.err.resp_code ? run.err.resp_code : "SERVERBUG", "%s",
			               run.err.msg[0]
			                   ? run.err.msg
			                   : "The mailbox cannot be searched right now.");
		}
		goto out;
	}
	write_matches(s, box, bits, modseq);
	session_tagged(s, cmd->tag, "OK", NULL, "Search completed.");
out:
	free(bits);
	pool_destroy(&mpool);
	pool_destroy(&tree_pool);
}
