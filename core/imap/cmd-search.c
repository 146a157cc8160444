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
 * ESEARCH (RFC 4731): `SEARCH RETURN (MIN MAX COUNT ALL) keys` answers one
 * `* ESEARCH (TAG "t") [UID] MIN n MAX n COUNT n ALL set` instead, ALL in the compact
 * sequence-set form; `RETURN ()` means ALL. SEARCHRES (RFC 5182) adds SAVE: the result
 * (only the MIN and MAX messages when those are all that was asked besides SAVE) is kept
 * as UIDs for `$` in later commands, and SAVE alone answers nothing but the tagged OK.
 * Commands run strictly one after another in a session, so a command that uses `$`
 * always sees the result of every SEARCH sent before it, as RFC 5182's pipelining rules
 * require. A SEARCH with SAVE that fails leaves `$` empty, and so does selecting or
 * closing a mailbox. With a MODSEQ key (CONDSTORE), the answer also gives the highest
 * MODSEQ of the messages it returns.
 */
#include "imap/commands.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap/search.h"
#include "mail/mime.h"
#include "mailbox/mailbox.h"
#include "mailbox/message.h"
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
	struct mail_file file;
	r = mail_file_load(fd, len, &file);
	close(fd);
	if (r != 0) {
		sluice_error_set(&run->err, r, "SERVERBUG", "A message cannot be read.");
		return SEARCH_ERROR;
	}
	const unsigned char *data = file.data;

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
	mail_file_release(&file);
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

/* RETURN options (RFC 4731, RFC 5182). */
enum {
	RET_MIN = 1 << 0,
	RET_MAX = 1 << 1,
	RET_ALL = 1 << 2,
	RET_COUNT = 1 << 3,
	RET_SAVE = 1 << 4,
};

/* What one SEARCH found: a bit per message of the view, and figures about the matches. */
struct search_result_set {
	uint8_t *bits;
	uint32_t count;
	uint32_t min, max;   /* view indexes of the first and last match (count > 0) */
	uint64_t max_modseq; /* the highest MODSEQ among the matches */
};

static bool result_has(const struct search_result_set *res, uint32_t i)
{
	return (res->bits[i / 8] & (1u << (i % 8))) != 0;
}

/* Whether the saved or reported result is only the MIN and MAX messages (RFC 5182). */
static bool result_min_max_only(unsigned ret)
{
	return (ret & (RET_MIN | RET_MAX)) && !(ret & (RET_ALL | RET_COUNT));
}

/* The number a client sees for message @p i: its UID for UID SEARCH, else its sequence. */
static uint32_t result_number(const struct session *s, uint32_t i)
{
	return s->uid_command ? s->selected->msgs[i].uid : i + 1;
}

/* Writes "* SEARCH n n n[ (MODSEQ m)]" from the bitmap, a few kilobytes at a time. */
static void write_matches(struct session *s, const struct search_result_set *res, bool modseq)
{
	const struct mailbox *box = s->selected;
	char chunk[4096];
	size_t len = (size_t)snprintf(chunk, sizeof(chunk), "* SEARCH");
	for (uint32_t i = 0; i < box->count; i++) {
		if (!result_has(res, i))
			continue;
		if (len > sizeof(chunk) - 16) {
			session_write(s, chunk, len);
			len = 0;
		}
		len +=
		    (size_t)snprintf(chunk + len, sizeof(chunk) - len, " %u", result_number(s, i));
	}
	session_write(s, chunk, len);
	if (modseq && res->count > 0)
		session_printf(s, " (MODSEQ %llu)", (unsigned long long)res->max_modseq);
	session_write(s, "\r\n", 2);
}

/*
 * The numbers of the matches in ascending order (malloc; NULL when out of memory or
 * there are none); when @p ret asks for MIN and MAX only (result_min_max_only), just the
 * first and the last match, as asked.
 */
static uint32_t *result_numbers(const struct session *s, const struct search_result_set *res,
                                unsigned ret, uint32_t *n_r)
{
	*n_r = 0;
	if (res->count == 0)
		return NULL;
	uint32_t *v = malloc((size_t)res->count * sizeof(*v));
	if (v == NULL)
		return NULL;
	if (result_min_max_only(ret)) {
		if (ret & RET_MIN)
			v[(*n_r)++] = result_number(s, res->min);
		if ((ret & RET_MAX) && !((ret & RET_MIN) && res->max == res->min))
			v[(*n_r)++] = result_number(s, res->max);
		return v;
	}
	for (uint32_t i = res->min; i <= res->max; i++)
		if (result_has(res, i))
			v[(*n_r)++] = result_number(s, i);
	return v;
}

/* Writes the ESEARCH response (RFC 4731); false when out of memory. */
static bool write_esearch(struct session *s, const char *tag, unsigned ret,
                          const struct search_result_set *res, bool modseq)
{
	const struct mailbox *box = s->selected;
	session_printf(s, "* ESEARCH (TAG \"%s\")%s", tag, s->uid_command ? " UID" : "");
	if (res->count > 0 && (ret & RET_MIN))
		session_printf(s, " MIN %u", result_number(s, res->min));
	if (res->count > 0 && (ret & RET_MAX))
		session_printf(s, " MAX %u", result_number(s, res->max));
	if (ret & RET_COUNT)
		session_printf(s, " COUNT %u", res->count);
	bool ok = true;
	if (res->count > 0 && (ret & RET_ALL)) {
		uint32_t n, *v = result_numbers(s, res, RET_ALL, &n);
		session_write(s, " ALL ", 5);
		ok = v != NULL && seqset_write(&s->out, v, n) == 0;
		free(v);
	}
	if (modseq && res->count > 0) {
		/* With only MIN and MAX, the highest MODSEQ of those two (RFC 7162). */
		uint64_t m = res->max_modseq;
		if (result_min_max_only(ret)) {
			m = 0;
			if (ret & RET_MIN)
				m = box->msgs[res->min].modseq;
			if ((ret & RET_MAX) && box->msgs[res->max].modseq > m)
				m = box->msgs[res->max].modseq;
		}
		session_printf(s, " MODSEQ %llu", (unsigned long long)m);
	}
	session_write(s, "\r\n", 2);
	return ok;
}

void cmd_searchres_reset(struct session *s)
{
	if (s->searchres_pool != NULL)
		pool_clear(s->searchres_pool);
	seqset_init(&s->searchres, s->searchres_pool);
	s->searchres.resolved = true;
}

/* Keeps the result's UIDs for `$`; false when out of memory (`$` is then empty). */
static bool searchres_save(struct session *s, const struct search_result_set *res, unsigned ret)
{
	cmd_searchres_reset(s);
	if (res->count == 0)
		return true;
	if (s->searchres_pool == NULL && (s->searchres_pool = pool_create(1024, 0)) == NULL)
		return false;
	struct seqset *set = &s->searchres;
	seqset_init(set, s->searchres_pool);
	bool uid = s->uid_command;
	s->uid_command = true; /* the saved result is UIDs, whichever SEARCH made it */
	uint32_t n, *v = result_numbers(s, res, ret, &n);
	s->uid_command = uid;
	bool ok = v != NULL;
	for (uint32_t i = 0; ok && i < n;) {
		uint32_t lo = v[i++];
		uint32_t hi = lo;
		while (i < n && v[i] == hi + 1)
			hi = v[i++];
		ok = seqset_add(set, lo, hi) == 0;
	}
	free(v);
	seqset_resolve(set, 0);
	if (!ok)
		cmd_searchres_reset(s);
	return ok;
}

/*
 * RETURN (options) ahead of the keys; an empty list means ALL. Sets *ret_r (0 without
 * RETURN) and *skip_r to the arguments it took; answers BAD itself.
 */
static bool parse_return(struct session *s, const struct imap_command *cmd, unsigned *ret_r,
                         size_t *skip_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} options[] = {{"MIN", RET_MIN},
	               {"MAX", RET_MAX},
	               {"ALL", RET_ALL},
	               {"COUNT", RET_COUNT},
	               {"SAVE", RET_SAVE}};
	*ret_r = 0;
	*skip_r = 0;
	if (cmd->count < 2 || !imap_arg_is_atom(&cmd->args[0], "RETURN") ||
	    cmd->args[1].type != IMAP_ARG_LIST)
		return true;
	const struct imap_arg *list = &cmd->args[1];
	bool unknown = false;
	for (size_t i = 0; i < list->count; i++) {
		size_t k = 0;
		while (k < sizeof(options) / sizeof(options[0]) &&
		       !imap_arg_is_atom(&list->list[i], options[k].name))
			k++;
		if (k < sizeof(options) / sizeof(options[0]))
			*ret_r |= options[k].bit;
		else
			unknown = true;
	}
	/* The whole list was read, so the caller knows whether SAVE was asked for. */
	if (unknown) {
		session_tagged(s, cmd->tag, "BAD", NULL,
		               "Unknown RETURN option; this server knows MIN, MAX, ALL, COUNT and "
		               "SAVE.");
		return false;
	}
	if (*ret_r == 0)
		*ret_r = RET_ALL;
	*skip_r = 2;
	return true;
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

/* Evaluates the tree over the view into @p res; false with the tagged NO sent. */
static bool search_run(struct session *s, const struct imap_command *cmd,
                       const struct search_node *root, struct sluice_pool *mpool,
                       struct search_result_set *res)
{
	struct mailbox *box = s->selected;
	struct search_run run = {.box = box, .root = root, .mpool = mpool};
	uint32_t i;
	for (i = 0; i < box->count; i++) {
		enum search_result r = search_one(&run, i);
		if (r == SEARCH_ERROR)
			break;
		if (r != SEARCH_YES)
			continue;
		res->bits[i / 8] |= (uint8_t)(1u << (i % 8));
		if (res->count++ == 0)
			res->min = i;
		res->max = i;
		if (box->msgs[i].modseq > res->max_modseq)
			res->max_modseq = box->msgs[i].modseq;
	}
	if (run.txn != NULL)
		box->user->index_ops->txn_abort(run.txn);
	if (i == box->count)
		return true;
	if (run.failed_limit) {
		session_tagged(s, cmd->tag, "NO", "LIMIT",
		               "Message %u needs more memory to search than a session may use.",
		               i + 1);
	} else {
		log_warning("SEARCH in %s stopped at message %u: %s", box->name, box->msgs[i].uid,
		            run.err.msg);
		session_tagged(
		    s, cmd->tag, "NO", run.err.resp_code ? run.err.resp_code : "SERVERBUG", "%s",
		    run.err.msg[0] ? run.err.msg : "The mailbox cannot be searched right now.");
	}
	return false;
}

void cmd_search(struct session *s, const struct imap_command *cmd)
{
	struct mailbox *box = s->selected;
	unsigned ret;
	size_t skip;
	/* A SEARCH that was to SAVE and fails leaves `$` empty (RFC 5182). */
	bool saved = false;
	if (!parse_return(s, cmd, &ret, &skip))
		goto out_nopool;
	if (cmd->count <= skip) {
		session_tagged(s, cmd->tag, "BAD", NULL,
		               "SEARCH needs at least one search key, such as ALL.");
		goto out_nopool;
	}
	struct sluice_pool *tree_pool = pool_create(4096, SEARCH_TREE_POOL_CAP);
	struct sluice_pool *mpool = pool_create(16384, SEARCH_MSG_POOL_CAP);
	struct search_result_set res = {.bits = calloc((size_t)box->count / 8 + 1, 1)};
	if (tree_pool == NULL || mpool == NULL || res.bits == NULL) {
		session_tagged(s, cmd->tag, "NO", "SERVERBUG", "The server is out of memory.");
		goto out;
	}

	struct sluice_error err = SLUICE_ERROR_INIT;
	struct search_node *root;
	uint32_t max_uid = box->count > 0 ? box->msgs[box->count - 1].uid : 0;
	int r = search_parse(cmd->args + skip, cmd->count - skip, box->count, max_uid,
	                     &s->searchres, tree_pool, &root, &err);
	if (r != 0) {
		answer_parse_error(s, cmd, r, &err);
		goto out;
	}
	bool modseq = search_has_modseq(root);
	if (modseq) /* a CONDSTORE enabling command (RFC 7162 3.1) */
		s->enabled |= SESSION_ENABLED_CONDSTORE;
	if (!search_run(s, cmd, root, mpool, &res))
		goto out;
	if ((ret & RET_SAVE) && !searchres_save(s, &res, ret)) {
		session_tagged(s, cmd->tag, "NO", "LIMIT",
		               "The result is too large to save for $; nothing was saved.");
		goto out;
	}
	saved = true;
	bool ok = true;
	if (ret == 0)
		write_matches(s, &res, modseq);
	else if (ret != RET_SAVE)
		ok = write_esearch(s, cmd->tag, ret, &res, modseq);
	if (!ok) {
		s->close_reason = "out of memory";
		s->closing = true;
	}
	session_tagged(s, cmd->tag, "OK", NULL, "Search completed.");
out:
	free(res.bits);
	pool_destroy(&mpool);
	pool_destroy(&tree_pool);
out_nopool:
	if ((ret & RET_SAVE) && !saved)
		cmd_searchres_reset(s);
}
