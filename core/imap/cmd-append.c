/*
 * APPEND (RFC 3501 6.3.11) with UIDPLUS's APPENDUID (RFC 4315). The message is written
 * through the storage's append_begin / write / append_commit, which makes it visible
 * only once it is complete and flushed, then recorded in the index in a short write
 * transaction that begins and commits inside the command: the next UID, the flags and
 * keywords, the INTERNALDATE with the zone the client gave, and a new MODSEQ. Its UID is
 * then final and is reported in the tagged OK. Whatever fails after append_begin leaves
 * nothing behind: before the commit the storage's append_abort throws the temporary file
 * away, after it the file is expunged again.
 *
 * A small message arrives in memory with the command. A big one (the parser's stream_min)
 * was streamed by the session into its spool file while it arrived, so no message is ever
 * held whole in memory; it is copied from there into the storage's descriptor, in the
 * kernel where the file systems allow.
 *
 * When the target is the selected mailbox the session's view is refreshed afterwards from
 * the index (not by scanning the Maildir again), so the client hears of the new message as
 * `* n EXISTS` before the tagged answer, and a burst of APPENDs into a large selected folder
 * costs no full scan each.
 */
#include "imap/commands.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imap/datetime.h"
#include "imap/flags.h"
#include "mailbox/mailbox.h"
#include "mailbox/notify.h"
#include "util/log.h"

#define APPEND_USAGE "mailbox [(flags)] [\"date-time\"] {literal}"
#define APPEND_COPY_CHUNK 65536

/* What the arguments ask for, checked before anything is touched. */
struct append_req {
	const struct imap_arg *mailbox, *literal;
	struct imap_flagset flags;
	const char *keywords;
	time_t date;
	int zone;
	int spool; /* the session's spool file when the literal was streamed */
};

static bool write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		data += n;
		len -= (size_t)n;
	}
	return true;
}

/* Copies len bytes from the start of the spool file to fd; false with errno set on failure. */
static bool copy_spool(int spool, int fd, size_t len)
{
	char *buf = NULL;
	bool kernel = true, ok = false;

	if (lseek(spool, 0, SEEK_SET) != 0)
		return false;
	while (len > 0) {
		size_t want = len < SSIZE_MAX ? len : SSIZE_MAX;
		ssize_t n;

		if (kernel) {
			n = copy_file_range(spool, NULL, fd, NULL, want, 0);
			if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
			              errno == EOPNOTSUPP || errno == EBADF)) {
				/* Nothing was copied by the failed call: go on with read/write from
				 * the same file positions. */
				kernel = false;
				buf = malloc(APPEND_COPY_CHUNK);
				if (buf == NULL)
					goto out;
				continue;
			}
		} else {
			n = read(spool, buf, want < APPEND_COPY_CHUNK ? want : APPEND_COPY_CHUNK);
			if (n > 0 && !write_all(fd, buf, (size_t)n))
				goto out;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0) {
			errno = EIO; /* the spool is shorter than the literal */
			goto out;
		}
		len -= (size_t)n;
	}
	ok = true;
out:
	free(buf);
	return ok;
}

/* Parses the arguments; answers BAD itself and returns false when they do not fit. */
static bool append_parse(struct session *s, const struct imap_command *cmd,
                         struct sluice_pool *pool, struct append_req *req)
{
	struct sluice_error err = SLUICE_ERROR_INIT;
	size_t i = 1;

	if (cmd->count < 2 || cmd->count > 4 || !imap_arg_is_astring(&cmd->args[0]) ||
	    cmd->args[cmd->count - 1].type != IMAP_ARG_LITERAL) {
		cmd_bad_arguments(s, cmd, APPEND_USAGE);
		return false;
	}
	req->mailbox = &cmd->args[0];
	req->literal = &cmd->args[cmd->count - 1];
	/* Only the message may be streamed: every other argument is read as a string. */
	for (size_t k = 0; k < cmd->count - 1; k++) {
		if (cmd->args[k].streamed) {
			session_tagged(s, cmd->tag, "BAD", "TOOBIG",
			               "Only the message may be a literal this large.");
			return false;
		}
	}
	req->spool = s->spool_fd;
	if (req->literal->streamed && (s->spool_failed || s->spool_fd < 0)) {
		session_tagged(s, cmd->tag, "NO", "SERVERBUG",
		               "The message could not be received; try again later.");
		return false;
	}
	if (cmd->args[i].type == IMAP_ARG_LIST) {
		const struct imap_arg *list = &cmd->args[i++];
		const char **tokens = pool_alloc(pool, (list->count + 1) * sizeof(*tokens));
		if (tokens == NULL) {
			session_tagged(s, cmd->tag, "NO", "LIMIT", "Out of memory.");
			return false;
		}
		for (size_t k = 0; k < list->count; k++) {
			if (list->list[k].type != IMAP_ARG_ATOM) {
				session_tagged(s, cmd->tag, "BAD", NULL,
				               "Each APPEND flag must be an atom such as \\Seen.");
				return false;
			}
			tokens[k] = list->list[k].str;
		}
		if (imap_flags_parse(tokens, list->count, IMAP_FLAGS_FOR_APPEND, pool, &req->flags,
		                     &err) != 0 ||
		    imap_flagset_keywords_join(&req->flags, pool, &req->keywords) != 0) {
			session_tagged(s, cmd->tag, "BAD", NULL, "%s",
			               err.msg[0] ? err.msg : "Invalid flags.");
			return false;
		}
	} else {
		req->keywords = "";
	}
	if (i < cmd->count - 1) {
		const struct imap_arg *d = &cmd->args[i++];
		if (d->type != IMAP_ARG_QUOTED ||
		    imap_datetime_parse(d->str, &req->date, &req->zone, &err) != 0) {
			session_tagged(s, cmd->tag, "BAD", NULL, "%s",
			               err.msg[0] ? err.msg
			                          : "The date-time must be a quoted string such as "
			                            "\"17-Jul-1996 02:44:25 -0700\".");
			return false;
		}
	} else {
		req->date = time(NULL);
		req->zone = 0;
	}
	if (i != cmd->count - 1) {
		cmd_bad_arguments(s, cmd, APPEND_USAGE);
		return false;
	}
	return true;
}

/* Writes the message file; 0 with *key_r set, or a negative code with err filled. */
static int append_store(struct mail_user *mu, struct sluice_storage_box *sbox,
                        const struct append_req *req, struct sluice_pool *pool, const char **key_r,
                        struct sluice_error *err)
{
	struct sluice_storage_append *a;
	int fd;
	int r = mu->storage_ops->append_begin(sbox, &a, &fd, err);
	if (r != 0)
		return r > 0 ? SLUICE_E_INTERNAL : r;
	bool written = req->literal->streamed ? copy_spool(req->spool, fd, req->literal->len)
	                                      : write_all(fd, req->literal->str, req->literal->len);
	if (!written) {
		int e = errno;
		mu->storage_ops->append_abort(a);
		err->sys_errno = e;
		return sluice_error_set(err, SLUICE_E_IO, NULL, "The message could not be stored.");
	}
	r = mu->storage_ops->append_commit(a, req->flags.flags & IMAP_FLAGS_STORABLE, req->keywords,
	                                   req->date, pool, key_r, err);
	return r > 0 ? SLUICE_E_INTERNAL : r;
}

/* Records the stored message in the index; its UID in *uid_r, UIDVALIDITY in *validity_r. */
static int append_index(struct mail_user *mu, const char *name, const struct append_req *req,
                        const char *key, uint32_t *uid_r, uint32_t *validity_r,
                        struct sluice_error *err)
{
	const struct sluice_index_ops *ix = mu->index_ops;
	struct sluice_index_txn *txn;
	struct sluice_index_mailbox state;
	bool created;
	int r = ix->txn_begin(mu->index, true, &txn, err);
	if (r != 0)
		return r > 0 ? SLUICE_E_INTERNAL : r;
	r = mailbox_index_state(ix, txn, name, &state, &created, err);
	if (r == 0 && state.uidnext == UINT32_MAX)
		r = sluice_error_set(err, SLUICE_E_LIMIT, "LIMIT",
		                     "The mailbox has used up its UIDs; recreate it.");
	if (r == 0) {
		/* No session has had it as \Recent yet: the next SELECT claims it. */
		struct sluice_index_message rec = {
		    .uid = state.uidnext++,
		    .flags = (req->flags.flags & IMAP_FLAGS_STORABLE) | MAILBOX_INDEX_UNCLAIMED,
		    .modseq = state.highestmodseq + 1,
		    .internal_date = (int64_t)req->date,
		    .internal_zone = req->zone,
		    .size = 0, /* unknown until a FETCH reads the file */
		    .key = key,
		    .keywords = req->keywords,
		};
		state.highestmodseq = rec.modseq;
		*uid_r = rec.uid;
		*validity_r = state.uidvalidity;
		r = ix->message_put(txn, name, &rec, err);
		if (r == 0)
			r = ix->mailbox_put(txn, name, &state, err);
	}
	if (r != 0) {
		ix->txn_abort(txn);
		return r > 0 ? SLUICE_E_INTERNAL : r;
	}
	return ix->txn_commit(txn, err);
}

void cmd_append(struct session *s, const struct imap_command *cmd)
{
	struct sluice_pool *pool = pool_create(4096, 0);
	struct append_req req = {0};
	struct buf name = {0};
	struct sluice_storage_box *own = NULL;

	if (pool == NULL) {
		session_tagged(s, cmd->tag, "NO", "LIMIT", "Out of memory.");
		return;
	}
	if (!append_parse(s, cmd, pool, &req) || !cmd_require_storage(s, cmd) ||
	    !cmd_mailbox_arg(s, cmd, req.mailbox, false, &name))
		goto out;
	const char *canonical = (const char *)buf_head(&name);
	struct mail_user *mu = s->mail;
	struct sluice_error err = SLUICE_ERROR_INIT;
	bool selected = s->selected != NULL && strcmp(s->selected->name, canonical) == 0;
	struct sluice_storage_box *sbox = selected ? s->selected->sbox : NULL;
	int r = 0;
	if (sbox == NULL) {
		r = mu->storage_ops->mailbox_open(mu->storage, canonical, &own, &err);
		sbox = own;
	}
	if (r == SLUICE_NOTFOUND) {
		session_tagged(s, cmd->tag, "NO", "TRYCREATE", "No such mailbox; create it first.");
		goto out;
	}
	const char *key = NULL;
	uint32_t uid = 0, validity = 0;
	if (r == 0)
		r = append_store(mu, sbox, &req, pool, &key, &err);
	if (r == 0) {
		r = append_index(mu, canonical, &req, key, &uid, &validity, &err);
		if (r != 0) {
			struct sluice_error xerr = SLUICE_ERROR_INIT;
			mu->storage_ops->message_expunge(sbox, key, &xerr);
		}
	}
	if (own != NULL)
		mu->storage_ops->mailbox_close(own);
	if (r != 0) {
		log_warning("APPEND to %s failed: %s", canonical, err.msg);
		session_tagged(s, cmd->tag, "NO", err.resp_code, "%s",
		               err.msg[0] ? err.msg : "The message could not be stored.");
		goto out;
	}
	notify_mailbox_changed(mu->user.name, canonical);
	if (selected)
		cmd_refresh_selected_after_own_change(s);
	char code[64];
	snprintf(code, sizeof(code), "APPENDUID %u %u", validity, uid);
	session_tagged(s, cmd->tag, "OK", code, "Append completed.");
out:
	buf_free(&name);
	pool_destroy(&pool);
}
