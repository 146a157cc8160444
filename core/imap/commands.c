/*
 * Command dispatch: looks the command up, checks that it is allowed in the session's
 * state, asks the policy modules, then runs its handler. Unknown commands and commands
 * in the wrong state get a BAD that says which and why.
 */
#include "imap/commands.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "policy/policy.h"

static const struct imap_command_def command_table[] = {
	{"CAPABILITY", IMAP_STATE_ANY, cmd_capability, false},
	{"NOOP", IMAP_STATE_ANY, cmd_noop, false},
	{"LOGOUT", IMAP_STATE_ANY, cmd_logout, false},
	{"ID", IMAP_STATE_ANY, cmd_id, false},
	{"ENABLE", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_enable, false},
	{"STARTTLS", IMAP_STATE_NOT_AUTH, cmd_starttls, false},
	{"LOGIN", IMAP_STATE_NOT_AUTH, cmd_login, false},
	{"AUTHENTICATE", IMAP_STATE_NOT_AUTH, cmd_authenticate, false},
	{"LIST", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_list, false},
	{"LSUB", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_lsub, false},
	{"NAMESPACE", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_namespace, false},
	{"CREATE", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_create, false},
	{"DELETE", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_delete, false},
	{"RENAME", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_rename, false},
	{"SUBSCRIBE", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_subscribe, false},
	{"UNSUBSCRIBE", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_unsubscribe, false},
	{"SELECT", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_select, false},
	{"EXAMINE", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_examine, false},
	{"STATUS", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_status, false},
	{"CHECK", IMAP_STATE_SELECTED, cmd_check, false},
	{"CLOSE", IMAP_STATE_SELECTED, cmd_close, false},
	{"UNSELECT", IMAP_STATE_SELECTED, cmd_unselect, false},
	{"APPEND", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_append, false},
	{"EXPUNGE", IMAP_STATE_SELECTED, cmd_expunge, true},
	{"COPY", IMAP_STATE_SELECTED, cmd_copy, true},
	{"MOVE", IMAP_STATE_SELECTED, cmd_move, true},
	{"FETCH", IMAP_STATE_SELECTED, cmd_fetch, true},
	{"STORE", IMAP_STATE_SELECTED, cmd_store, true},
	{"SEARCH", IMAP_STATE_SELECTED, cmd_search, true},
};

/* Commands a client may reasonably send that this server does not offer yet. */
static const char *const commands_known_elsewhere[] = {
	"IDLE",
};

static const char *state_words(unsigned states)
{
	if (states == IMAP_STATE_NOT_AUTH)
		return "only before login";
	if (states == (IMAP_STATE_AUTH | IMAP_STATE_SELECTED))
		return "only after login";
	if (states == IMAP_STATE_SELECTED)
		return "only with a mailbox selected";
	return "not in this state";
}

void cmd_bad_arguments(struct session *s, const struct imap_command *cmd, const char *usage)
{
	session_tagged(s, cmd->tag, "BAD", NULL, "Invalid arguments; usage: %s %s", cmd->name, usage);
}

static const struct imap_command_def *command_find(const char *name)
{
	for (size_t i = 0; i < sizeof(command_table) / sizeof(command_table[0]); i++)
		if (strcmp(command_table[i].name, name) == 0)
			return &command_table[i];
	return NULL;
}

/* "UID FETCH ..." runs FETCH's handler with s->uid_command set and the arguments after
 * the command name; policies see the command as "UID FETCH". */
static const struct imap_command_def *command_resolve_uid(struct session *s, const struct imap_command *cmd,
							  struct imap_command *sub, char *name, size_t name_len)
{
	if (cmd->count < 1 || cmd->args[0].type != IMAP_ARG_ATOM || cmd->args[0].len >= name_len - 4) {
		session_tagged(s, cmd->tag, "BAD", NULL,
			       "UID must be followed by FETCH, STORE, SEARCH, COPY, MOVE or EXPUNGE.");
		return NULL;
	}
	char upper[64];
	size_t i;
	for (i = 0; i < cmd->args[0].len && i < sizeof(upper) - 1; i++)
		upper[i] = (char)((cmd->args[0].str[i] >= 'a' && cmd->args[0].str[i] <= 'z')
					  ? cmd->args[0].str[i] - 32
					  : cmd->args[0].str[i]);
	upper[i] = '\0';
	const struct imap_command_def *def = command_find(upper);
	if (def == NULL || !def->uid_form) {
		session_tagged(s, cmd->tag, "BAD", NULL, "UID %.40s is not a command this server knows.",
			       upper);
		return NULL;
	}
	snprintf(name, name_len, "UID %s", upper);
	sub->tag = cmd->tag;
	sub->name = def->name;
	sub->args = cmd->args + 1;
	sub->count = cmd->count - 1;
	return def;
}

void commands_dispatch(struct session *s, const struct imap_command *cmd)
{
	struct imap_command sub;
	char uid_name[80];
	const char *policy_name = cmd->name;
	bool uid = strcmp(cmd->name, "UID") == 0;
	const struct imap_command_def *def;

	if (uid) {
		if (s->state != IMAP_STATE_SELECTED) {
			session_tagged(s, cmd->tag, "BAD", NULL, "UID commands are allowed only with a mailbox selected.");
			return;
		}
		def = command_resolve_uid(s, cmd, &sub, uid_name, sizeof(uid_name));
		if (def == NULL)
			return;
		cmd = &sub;
		policy_name = uid_name;
	} else {
		def = command_find(cmd->name);
	}
	if (def == NULL) {
		for (size_t i = 0; i < sizeof(commands_known_elsewhere) / sizeof(char *); i++) {
			if (strcmp(commands_known_elsewhere[i], cmd->name) == 0) {
				if (s->state == IMAP_STATE_NOT_AUTH)
					session_tagged(s, cmd->tag, "BAD", NULL,
						       "Log in first: %s is not allowed before login.", cmd->name);
				else
					session_tagged(s, cmd->tag, "BAD", NULL,
						       "%s is not supported by this server yet.", cmd->name);
				return;
			}
		}
		/* The name is an atom (the parser checked), short enough to echo. */
		session_tagged(s, cmd->tag, "BAD", NULL, "Unknown command %.40s.", cmd->name);
		return;
	}
	if ((def->states & s->state) == 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s is allowed %s.", def->name,
			       state_words(def->states));
		return;
	}
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct sluice_policy_command pc = {
		.tag = cmd->tag,
		.name = policy_name,
		.mailbox = NULL,
	};
	session_command_started(s, policy_name);
	if (policy_command_begin(s, &pc, &err) != 0) {
		session_tagged(s, cmd->tag, "NO", err.resp_code, "%s", err.msg);
		session_command_done(s);
		return;
	}
	s->uid_command = uid;
	def->run(s, cmd);
	s->uid_command = false;
	policy_command_end(s, &pc);
	/* AUTHENTICATE goes on with the client's responses; session.c ends it. */
	if (s->sasl == NULL)
		session_command_done(s);
}
