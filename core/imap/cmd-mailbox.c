/*
 * Mailbox management: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE (RFC 3501 6.3.3 to
 * 6.3.7). Names are checked and converted in one place (mailbox/name.c); answers carry
 * the RFC 5530 response codes clients act on (ALREADYEXISTS, NONEXISTENT, CANNOT).
 */
#include "imap/commands.h"

#include <string.h>

#include "mailbox/name.h"
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

void cmd_create(struct session *s, const struct imap_command *cmd)
{
	struct buf name = {0};
	if (cmd->count != 1 || !imap_arg_is_astring(&cmd->args[0])) {
		cmd_bad_arguments(s, cmd, "mailbox");
		return;
	}
	if (!cmd_require_storage(s, cmd) || !cmd_mailbox_arg(s, cmd, &cmd->args[0], true, &name))
		return;
	const char *canonical = (const char *)buf_head(&name);
	struct sluice_error err = SLUICE_ERROR_INIT;
	int r = strcmp(canonical, "INBOX") == 0
			? SLUICE_E_EXISTS
			: s->mail->storage_ops->mailbox_create(s->mail->storage, canonical, &err);
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
		if (r == 0)
			session_tagged(s, cmd->tag, "OK", NULL, "Delete completed.");
		else
			mailbox_answer_error(s, cmd->tag, r, &err);
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
		int r = s->mail->storage_ops->mailbox_rename(s->mail->storage, f, t, &err);
		if (r == 0)
			session_tagged(s, cmd->tag, "OK", NULL, "Rename completed.");
		else
			mailbox_answer_error(s, cmd->tag, r, &err);
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
