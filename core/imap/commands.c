/*
 * Command dispatch: looks the command up, checks that it is allowed in the session's
 * state, asks the policy modules, then runs its handler. Unknown commands and commands
 * in the wrong state get a BAD that says which and why.
 */
#include "imap/commands.h"

#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>

#include "mailbox/mailbox.h"
#include "util/buffer.h"

#include "policy/policy.h"

/* How much of a command's arguments policy modules see (enough to tell two SEARCHes apart). */
#define COMMAND_ARGS_TEXT_MAX 4096

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
	{"IDLE", IMAP_STATE_AUTH | IMAP_STATE_SELECTED, cmd_idle, false},
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
 * the command name; policies see the command as "UID FETCH". Returns NULL with the reason
 * in *why_r when the word after UID is not a UID command. */
static const struct imap_command_def *command_resolve_uid(const struct imap_command *cmd,
							  struct imap_command *sub, char *name, size_t name_len,
							  char *why, size_t why_len)
{
	if (cmd->count < 1 || cmd->args[0].type != IMAP_ARG_ATOM || cmd->args[0].len >= name_len - 4) {
		snprintf(why, why_len, "UID must be followed by FETCH, STORE, SEARCH, COPY, MOVE or EXPUNGE.");
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
		snprintf(why, why_len, "UID %.40s is not a command this server knows.", upper);
		return NULL;
	}
	snprintf(name, name_len, "UID %s", upper);
	sub->tag = cmd->tag;
	sub->name = def->name;
	sub->args = cmd->args + 1;
	sub->count = cmd->count - 1;
	return def;
}

/*
 * Finds what @p cmd runs and checks that the session's state allows it. On success the
 * command to hand to the handler is in *run_r (@p sub for UID commands) and the name
 * policies see is in s->policy_name. Otherwise the client has its BAD and NULL is returned.
 * Deterministic, so that a parked command is found again the same way when resumed.
 */
static const struct imap_command_def *command_prepare(struct session *s, const struct imap_command *cmd,
						      struct imap_command *sub,
						      const struct imap_command **run_r)
{
	const struct imap_command_def *def;
	char why[128];

	*run_r = cmd;
	snprintf(s->policy_name, sizeof(s->policy_name), "%s", cmd->name);
	if (strcmp(cmd->name, "UID") == 0) {
		if (s->state != IMAP_STATE_SELECTED) {
			session_tagged(s, cmd->tag, "BAD", NULL, "UID commands are allowed only with a mailbox selected.");
			return NULL;
		}
		def = command_resolve_uid(cmd, sub, s->policy_name, sizeof(s->policy_name), why, sizeof(why));
		if (def == NULL) {
			session_tagged(s, cmd->tag, "BAD", NULL, "%s", why);
			return NULL;
		}
		*run_r = sub;
		return def;
	}
	def = command_find(cmd->name);
	if (def == NULL) {
		/* The name is an atom (the parser checked), short enough to echo. */
		session_tagged(s, cmd->tag, "BAD", NULL, "Unknown command %.40s.", cmd->name);
		return NULL;
	}
	if ((def->states & s->state) == 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s is allowed %s.", def->name,
			       state_words(def->states));
		return NULL;
	}
	return def;
}

/* Appends the arguments as one line of text: atoms as sent, strings quoted, lists in
 * parentheses, a streamed literal as its size. Stops at @p max bytes. */
static void args_text_append(struct buf *out, const struct imap_arg *args, size_t count, size_t max)
{
	for (size_t i = 0; i < count && buf_len(out) < max; i++) {
		const struct imap_arg *a = &args[i];
		if (i > 0)
			buf_append(out, " ", 1);
		switch (a->type) {
		case IMAP_ARG_ATOM:
			buf_append(out, a->str, a->len);
			break;
		case IMAP_ARG_LIST:
			buf_append(out, "(", 1);
			args_text_append(out, a->list, a->count, max);
			buf_append(out, ")", 1);
			break;
		default:
			if (a->str == NULL) {
				char n[32];
				int k = snprintf(n, sizeof(n), "{%zu}", a->len);
				buf_append(out, n, (size_t)k);
				break;
			}
			buf_append(out, "\"", 1);
			for (size_t j = 0; j < a->len && buf_len(out) < max; j++) {
				unsigned char c = (unsigned char)a->str[j];
				if (c == '"' || c == '\\') {
					buf_append(out, "\\", 1);
					buf_append(out, &a->str[j], 1);
				} else if (c < 0x20 || c == 0x7f) {
					buf_append(out, "?", 1);
				} else {
					buf_append(out, &a->str[j], 1);
				}
			}
			buf_append(out, "\"", 1);
			break;
		}
	}
}

/* The arguments as policy modules see them, malloc'ed; NULL when out of memory. */
static char *args_text(const struct imap_arg *args, size_t count)
{
	struct buf out = {0};
	args_text_append(&out, args, count, COMMAND_ARGS_TEXT_MAX);
	size_t len = buf_len(&out) < COMMAND_ARGS_TEXT_MAX ? buf_len(&out) : COMMAND_ARGS_TEXT_MAX;
	char *text = malloc(len + 1);
	if (text != NULL) {
		if (len > 0)
			memcpy(text, buf_head(&out), len);
		text[len] = '\0';
	}
	buf_free(&out);
	return text;
}

static void command_policy_view(const struct session *s, const char *tag,
				struct sluice_policy_command *pc)
{
	*pc = (struct sluice_policy_command){
	    .tag = tag,
	    .name = s->policy_name,
	    .mailbox = s->selected != NULL ? s->selected->name : NULL,
	    .args = s->policy_args != NULL ? s->policy_args : "",
	};
}

/*
 * Asks the policy modules from s->policy_next on, then runs the handler. Returns false
 * when a module answered SLUICE_WAIT: the command stays parsed and parked until a module
 * wakes the session (commands_resume).
 */
static bool command_admit_and_run(struct session *s, const struct imap_command *cmd,
				  const struct imap_command_def *def, bool uid)
{
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct sluice_policy_command pc;

	command_policy_view(s, cmd->tag, &pc);
	int r = policy_command_begin(s, &pc, &s->policy_next, &err);
	if (r == SLUICE_WAIT) {
		s->waiting = true;
		s->wake_pending = false;
		s->hangup = false;
		return false;
	}
	if (s->waiting) {
		s->waiting = false;
		session_wait_over(s);
	}
	if (r != 0) {
		session_tagged(s, cmd->tag, "NO", err.resp_code, "%s", err.msg);
		policy_command_end(s, &pc, s->policy_next);
		session_command_done(s);
	} else {
		s->uid_command = uid;
		def->run(s, cmd);
		s->uid_command = false;
		/* AUTHENTICATE goes on with the client's responses and IDLE until DONE: the
		 * listing shows them running until session.c ends them, and an IDLE stays in
		 * its command for the policies until cmd-idle.c ends it (commands_end_deferred). */
		if (s->idle != NULL)
			s->policy_end_deferred = true;
		else
			policy_command_end(s, &pc, s->policy_next);
		if (s->sasl == NULL && s->idle == NULL)
			session_command_done(s);
	}
	free(s->policy_args);
	s->policy_args = NULL;
	return true;
}

bool commands_dispatch(struct session *s, const struct imap_command *cmd)
{
	struct imap_command sub;
	const struct imap_command *run;
	const struct imap_command_def *def = command_prepare(s, cmd, &sub, &run);

	if (def == NULL)
		return true;
	s->policy_next = 0;
	session_command_started(s, s->policy_name);
	free(s->policy_args);
	s->policy_args = policy_has_modules() ? args_text(run->args, run->count)
					      : NULL;
	return command_admit_and_run(s, run, def, run != cmd);
}

void commands_end_deferred(struct session *s, const char *tag)
{
	if (!s->policy_end_deferred)
		return;
	s->policy_end_deferred = false;
	struct sluice_policy_command pc;
	command_policy_view(s, tag, &pc); /* its arguments are gone by now: args is "" */
	policy_command_end(s, &pc, s->policy_next);
}

bool commands_resume(struct session *s)
{
	const struct imap_command *cmd = imap_parser_command(s->parser);
	struct imap_command sub;
	const struct imap_command *run;
	const struct imap_command_def *def = command_prepare(s, cmd, &sub, &run);

	if (def == NULL) { /* cannot happen: it was found when it arrived */
		s->waiting = false;
		return true;
	}
	return command_admit_and_run(s, run, def, run != cmd);
}
