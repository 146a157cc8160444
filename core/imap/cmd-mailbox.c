/*
 * Mailbox management: CREATE (with CREATE-SPECIAL-USE's USE parameter, RFC 6154), DELETE,
 * RENAME, SUBSCRIBE, UNSUBSCRIBE (RFC 3501 6.3.3 to 6.3.7). Names are checked and converted
 * in one place (mailbox/name.c); answers carry the RFC 5530 response codes clients act on
 * (ALREADYEXISTS, NONEXISTENT, CANNOT) and RFC 6154's USEATTR.
 */
#include "imap/commands.h"

#include <stdlib.h>
#include <string.h>

#include "mailbox/name.h"
#include "mailbox/special-use.h"
#include "mailbox/user.h"
#include "util/log.h"

bool cmd_mailbox_arg(struct session *s, const struct imap_command *cmd, const struct imap_arg *a,
		     bool strip_trailing_delimiter, struct buf *out)
{
	char name[MAILBOX_NAME_MAX + 2];
	struct sluice_error err = SLUICE_ERROR_INIT;

	if (a->len > MAILBOX_NAME_MAX || memchr(a->str, '\0', a->len) != NULL) {
		session_tagged(s, cmd->tag, "NO", "CANNOT", "The mailbox name is too long or contains NUL.");
		return false;
	}
	memcpy(name, a->str, a->len + 1);
	size_t n = a->len;
	/* RFC 3501: "CREATE foo/" means foo, created so that it can hold children. */
	if (strip_trailing_delimiter && n > 1 && name[n - 1] == session_delimiter(s))
		name[n - 1] = '\0';
	if (mailbox_name_from_imap(name, session_delimiter(s), out, &err) != 0) {
		session_tagged(s, cmd->tag, "NO", err.resp_code, "%s", err.msg);
		return false;
	}
	return true;
}

/* Turns a storage failure into the tagged NO a client can act on. */
static void mailbox_answer_error(struct session *s, const char *tag, int r, const struct sluice_error *err)
{
	switch (r) {
	case SLUICE_NOTFOUND:
		session_tagged(s, tag, "NO", "NONEXISTENT", "No such mailbox.");
		break;
	case SLUICE_E_EXISTS:
		session_tagged(s, tag, "NO", "ALREADYEXISTS", "A mailbox with that name already exists.");
		break;
	case SLUICE_E_PARSE:
	case SLUICE_E_PERM:
		session_tagged(s, tag, "NO", err->resp_code ? err->resp_code : "CANNOT", "%s",
			       err->msg[0] ? err->msg : "That mailbox name cannot be used.");
		break;
	default:
		log_warning("mailbox operation failed: %s", err->msg);
		session_tagged(s, tag, "NO", err->resp_code ? err->resp_code : "SERVERBUG", "%s",
			       err->msg[0] ? err->msg : "The mailbox could not be changed; try again later.");
		break;
	}
}

/*
 * The index follows the storage. It is a cache: when it cannot follow, the failure is
 * logged and the next open of the mailbox resynchronises it, so the client's answer
 * reflects the storage, which holds the mail.
 */
static void index_forget(struct mail_user *mu, const char *name)
{
	struct sluice_index_txn *txn = NULL;
	struct sluice_error err = SLUICE_ERROR_INIT;
	if (mu->index == NULL || mu->index_ops->txn_begin(mu->index, true, &txn, &err) != 0) {
		if (mu->index != NULL)
			log_warning("index: cannot forget mailbox %s: %s", name, err.msg);
		return;
	}
	int r = mu->index_ops->mailbox_delete(txn, name, &err);
	if (r < 0) {
		log_warning("index: cannot forget mailbox %s: %s", name, err.msg);
		mu->index_ops->txn_abort(txn);
		return;
	}
	if (mu->index_ops->txn_commit(txn, &err) != 0)
		log_warning("index: cannot forget mailbox %s: %s", name, err.msg);
}

struct rename_names {
	const char *from;
	size_t from_len;
	char **names; /* the mailbox and its children, canonical, before the rename */
	size_t count, cap;
};

static int rename_collect(void *ctx, const char *name, uint32_t attrs)
{
	struct rename_names *rn = ctx;
	if (attrs & SLUICE_MAILBOX_NONEXISTENT)
		return 0;
	if (strcmp(name, rn->from) != 0 &&
	    (strncmp(name, rn->from, rn->from_len) != 0 || name[rn->from_len] != '/'))
		return 0;
	if (rn->count == rn->cap) {
		size_t cap = rn->cap ? rn->cap * 2 : 8;
		char **n = realloc(rn->names, cap * sizeof(*n));
		if (n == NULL)
			return SLUICE_E_NOMEM;
		rn->names = n;
		rn->cap = cap;
	}
	if ((rn->names[rn->count] = strdup(name)) == NULL)
		return SLUICE_E_NOMEM;
	rn->count++;
	return 0;
}

/* Moves the index state of a renamed mailbox and of its children to their new names. */
static void index_follow_rename(struct mail_user *mu, const struct rename_names *rn, const char *to)
{
	struct sluice_index_txn *txn = NULL;
	struct sluice_error err = SLUICE_ERROR_INIT;
	if (mu->index == NULL || mu->index_ops->txn_begin(mu->index, true, &txn, &err) != 0)
		return;
	for (size_t i = 0; i < rn->count; i++) {
		char *target = NULL;
		if (asprintf(&target, "%s%s", to, rn->names[i] + rn->from_len) < 0)
			break;
		/* A stale entry under the new name would otherwise block the move. */
		mu->index_ops->mailbox_delete(txn, target, &err);
		int r = mu->index_ops->mailbox_rename(txn, rn->names[i], target, &err);
		if (r < 0)
			log_warning("index: cannot move mailbox %s to %s: %s", rn->names[i], target, err.msg);
		free(target);
	}
	if (mu->index_ops->txn_commit(txn, &err) != 0)
		log_warning("index: cannot record the rename of %s: %s", rn->from, err.msg);
}

/*
 * CREATE's parameter list (RFC 4466): CREATE-SPECIAL-USE's (USE (\Sent ...)) is the only
 * parameter this server knows. Answers BAD or NO itself and returns false when the list
 * cannot be honoured; *use_r gets the SLUICE_MAILBOX_SPECIAL_* bits asked for.
 */
static bool create_params(struct session *s, const struct imap_command *cmd,
                          const struct imap_arg *params, uint32_t *use_r)
{
	*use_r = 0;
	for (size_t i = 0; i < params->count; i += 2) {
		const struct imap_arg *name = &params->list[i];
		const struct imap_arg *value = i + 1 < params->count ? &params->list[i + 1] : NULL;
		if (!imap_arg_is_atom(name, "USE") || value == NULL || value->type != IMAP_ARG_LIST) {
			session_tagged(s, cmd->tag, "BAD", NULL,
			               "Unknown CREATE parameter; this server knows only "
			               "USE (\\Sent ...) (RFC 6154).");
			return false;
		}
		for (size_t k = 0; k < value->count; k++) {
			const struct imap_arg *w = &value->list[k];
			if (w->type != IMAP_ARG_ATOM || w->str[0] != '\\') {
				session_tagged(s, cmd->tag, "BAD", NULL,
				               "USE takes special-use attributes such as \\Sent.");
				return false;
			}
			uint32_t bit = special_use_from_word(w->str, w->len);
			if ((bit & SPECIAL_USE_FOR_FOLDERS) == 0) {
				session_tagged(s, cmd->tag, "NO", "USEATTR",
				               "%.40s is not a special use a folder here can have; use "
				               "\\Archive, \\Drafts, \\Junk, \\Sent or \\Trash.",
				               w->str);
				return false;
			}
			*use_r |= bit;
		}
	}
	if (*use_r != 0 && !special_use_storable(s->mail)) {
		session_tagged(s, cmd->tag, "NO", "USEATTR",
		               "This server's mail storage cannot keep special uses.");
		return false;
	}
	return true;
}

void cmd_create(struct session *s, const struct imap_command *cmd)
{
	struct buf name = {0};
	uint32_t use = 0;
	if (cmd->count < 1 || cmd->count > 2 || !imap_arg_is_astring(&cmd->args[0]) ||
	    (cmd->count == 2 && cmd->args[1].type != IMAP_ARG_LIST)) {
		cmd_bad_arguments(s, cmd, "mailbox [(USE (\\Sent ...))]");
		return;
	}
	if (!cmd_require_storage(s, cmd) ||
	    (cmd->count == 2 && !create_params(s, cmd, &cmd->args[1], &use)) ||
	    !cmd_mailbox_arg(s, cmd, &cmd->args[0], true, &name))
		return;
	const char *canonical = (const char *)buf_head(&name);
	struct sluice_error err = SLUICE_ERROR_INIT;
	int r = strcmp(canonical, "INBOX") == 0
			? SLUICE_E_EXISTS
			: s->mail->storage_ops->mailbox_create(s->mail->storage, canonical, &err);
	if (r == 0 && use != 0) {
		r = s->mail->storage_ops->mailbox_set_special_use(s->mail->storage, canonical, use,
		                                                  &err);
		if (r != 0) {
			/* RFC 6154 3: without its special use, the mailbox must not be created. */
			struct sluice_error derr = SLUICE_ERROR_INIT;
			s->mail->storage_ops->mailbox_delete(s->mail->storage, canonical, &derr);
			log_warning("CREATE %s: cannot record its special use: %s", canonical, err.msg);
			session_tagged(s, cmd->tag, "NO", "USEATTR",
			               "The special use could not be recorded; the mailbox was not "
			               "created.");
			buf_free(&name);
			return;
		}
	}
	if (r == 0)
		session_tagged(s, cmd->tag, "OK", NULL, "Create completed.");
	else
		mailbox_answer_error(s, cmd->tag, r, &err);
	buf_free(&name);
}

void cmd_delete(struct session *s, const struct imap_command *cmd)
{
	struct buf name = {0};
	if (cmd->count != 1 || !imap_arg_is_astring(&cmd->args[0])) {
		cmd_bad_arguments(s, cmd, "mailbox");
		return;
	}
	if (!cmd_require_storage(s, cmd) || !cmd_mailbox_arg(s, cmd, &cmd->args[0], false, &name))
		return;
	const char *canonical = (const char *)buf_head(&name);
	struct sluice_error err = SLUICE_ERROR_INIT;
	if (strcmp(canonical, "INBOX") == 0) {
		session_tagged(s, cmd->tag, "NO", "CANNOT", "INBOX cannot be deleted.");
	} else {
		int r = s->mail->storage_ops->mailbox_delete(s->mail->storage, canonical, &err);
		if (r == 0) {
			index_forget(s->mail, canonical);
			session_tagged(s, cmd->tag, "OK", NULL, "Delete completed.");
		} else {
			mailbox_answer_error(s, cmd->tag, r, &err);
		}
	}
	buf_free(&name);
}

void cmd_rename(struct session *s, const struct imap_command *cmd)
{
	struct buf from = {0}, to = {0};
	if (cmd->count != 2 || !imap_arg_is_astring(&cmd->args[0]) || !imap_arg_is_astring(&cmd->args[1])) {
		cmd_bad_arguments(s, cmd, "existing-mailbox new-mailbox");
		return;
	}
	if (!cmd_require_storage(s, cmd) || !cmd_mailbox_arg(s, cmd, &cmd->args[0], false, &from))
		return;
	if (!cmd_mailbox_arg(s, cmd, &cmd->args[1], false, &to)) {
		buf_free(&from);
		return;
	}
	const char *f = (const char *)buf_head(&from), *t = (const char *)buf_head(&to);
	struct sluice_error err = SLUICE_ERROR_INIT;
	if (strcmp(t, "INBOX") == 0) {
		session_tagged(s, cmd->tag, "NO", "ALREADYEXISTS", "INBOX already exists.");
	} else {
		struct rename_names rn = {.from = f, .from_len = strlen(f)};
		struct sluice_error lerr = SLUICE_ERROR_INIT;
		s->mail->storage_ops->mailbox_list(s->mail->storage, rename_collect, &rn, &lerr);
		int r = s->mail->storage_ops->mailbox_rename(s->mail->storage, f, t, &err);
		if (r == 0) {
			index_follow_rename(s->mail, &rn, t);
			session_tagged(s, cmd->tag, "OK", NULL, "Rename completed.");
		} else {
			mailbox_answer_error(s, cmd->tag, r, &err);
		}
		for (size_t i = 0; i < rn.count; i++)
			free(rn.names[i]);
		free(rn.names);
	}
	buf_free(&from);
	buf_free(&to);
}

static void cmd_subscription(struct session *s, const struct imap_command *cmd, bool subscribe)
{
	struct buf name = {0};
	if (cmd->count != 1 || !imap_arg_is_astring(&cmd->args[0])) {
		cmd_bad_arguments(s, cmd, "mailbox");
		return;
	}
	if (!cmd_require_storage(s, cmd) || !cmd_mailbox_arg(s, cmd, &cmd->args[0], false, &name))
		return;
	struct sluice_error err = SLUICE_ERROR_INIT;
	int r = s->mail->storage_ops->mailbox_subscribe(s->mail->storage, (const char *)buf_head(&name),
							 subscribe, &err);
	if (r == 0)
		session_tagged(s, cmd->tag, "OK", NULL, "%s completed.", subscribe ? "Subscribe" : "Unsubscribe");
	else
		mailbox_answer_error(s, cmd->tag, r, &err);
	buf_free(&name);
}

void cmd_subscribe(struct session *s, const struct imap_command *cmd)
{
	cmd_subscription(s, cmd, true);
}

void cmd_unsubscribe(struct session *s, const struct imap_command *cmd)
{
	cmd_subscription(s, cmd, false);
}
