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
	{"CAPABILITY", IMAP_STATE_ANY, cmd_capability},
	{"NOOP", IMAP_STATE_ANY, cmd_noop},
	{"LOGOUT", IMAP_STATE_ANY, cmd_logout},
	{"ID", IMAP_STATE_ANY, cmd_id},
	{"ENABLE", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_enable},
	{"STARTTLS", IMAP_STATE_NOT_AUTH, cmd_starttls},
	{"LOGIN", IMAP_STATE_NOT_AUTH, cmd_login},
	{"AUTHENTICATE", IMAP_STATE_NOT_AUTH, cmd_authenticate},
	{"LIST", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_list},
	{"LSUB", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_lsub},
	{"CREATE", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_create},
	{"DELETE", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_delete},
	{"RENAME", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_rename},
	{"SUBSCRIBE", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_subscribe},
	{"UNSUBSCRIBE", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_unsubscribe},
	{"SELECT", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_select},
	{"EXAMINE", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_examine},
	{"STATUS", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_status},
	{"CHECK", IMAP_STATE_SELECTED, cmd_check},
	{"CLOSE", IMAP_STATE_SELECTED, cmd_close},
	{"UNSELECT", IMAP_STATE_SELECTED, cmd_unselect},
};

/* Commands a client may reasonably send that this server does not offer yet. */
static const char *const commands_known_elsewhere[] = {
	"APPEND", "EXPUNGE", "SEARCH", "FETCH", "STORE", "COPY", "MOVE", "UID", "IDLE", "NAMESPACE",
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

void commands_dispatch(struct session *s, const struct imap_command *cmd)
{
	const struct imap_command_def *def = NULL;

	for (size_t i = 0; i < sizeof(command_table) / sizeof(command_table[0]); i++) {
		if (strcmp(command_table[i].name, cmd->name) == 0) {
			def = &command_table[i];
			break;
		}
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
	struct sluice_policy_command pc = {.tag = cmd->tag, .name = cmd->name, .mailbox = NULL};
	if (policy_command_begin(s, &pc, &err) != 0) {
		session_tagged(s, cmd->tag, "NO", err.resp_code, "%s", err.msg);
		return;
	}
	def->run(s, cmd);
	policy_command_end(s, &pc);
}
