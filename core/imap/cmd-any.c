/*
 * Commands valid in every state: CAPABILITY, NOOP, LOGOUT (RFC 3501 6.1), and ID
 * (RFC 2971); plus ENABLE (RFC 5161), valid once logged in, which turns on CONDSTORE
 * and QRESYNC (RFC 7162).
 */
#include "imap/commands.h"

#include <string.h>

void session_write_capabilities(struct session *s)
{
	bool authed = s->state != IMAP_STATE_NOT_AUTH;
	session_printf(s, "IMAP4rev1 %s SASL-IR ID ENABLE",
	               s->conf->s.nonsync_literals == 1 ? "LITERAL-" : "LITERAL+");
	if (authed) {
		session_printf(s, " NAMESPACE UNSELECT UIDPLUS MOVE CONDSTORE QRESYNC ESEARCH "
		                  "SEARCHRES");
		if (s->conf->s.imap_idle)
			session_printf(s, " IDLE");
		cmd_write_mailbox_capabilities(s);
		return;
	}
	if (s->tls_state == SESSION_TLS_OFF && s->tls != NULL &&
	    s->listener->tls == LISTENER_TLS_STARTTLS)
		session_printf(s, " STARTTLS");
	bool plaintext = session_plaintext_allowed(s);
	if (!plaintext)
		session_printf(s, " LOGINDISABLED");
	cmd_write_auth_mechanisms(s, plaintext);
}

void cmd_capability(struct session *s, const struct imap_command *cmd)
{
	if (cmd->count != 0) {
		cmd_bad_arguments(s, cmd, "(no arguments)");
		return;
	}
	session_write(s, "* CAPABILITY ", 13);
	session_write_capabilities(s);
	session_write(s, "\r\n", 2);
	session_tagged(s, cmd->tag, "OK", NULL, "Capability completed.");
}

void cmd_noop(struct session *s, const struct imap_command *cmd)
{
	if (cmd->count != 0) {
		cmd_bad_arguments(s, cmd, "(no arguments)");
		return;
	}
	/* Clients poll with NOOP: this is where new mail and expunges reach them. */
	if (s->selected != NULL)
		cmd_refresh_selected(s);
	session_tagged(s, cmd->tag, "OK", NULL, "NOOP completed.");
}

void cmd_logout(struct session *s, const struct imap_command *cmd)
{
	if (cmd->count != 0) {
		cmd_bad_arguments(s, cmd, "(no arguments)");
		return;
	}
	session_write(s, "* BYE Logging out.\r\n", 20);
	session_tagged(s, cmd->tag, "OK", NULL, "Logout completed.");
	s->state = IMAP_STATE_LOGOUT;
	s->close_reason = "logout";
	s->closing = true;
}

/* ID takes NIL or a list of up to 30 field/value pairs of strings (RFC 2971 3.3). */
void cmd_id(struct session *s, const struct imap_command *cmd)
{
	const struct imap_arg *a = cmd->count == 1 ? &cmd->args[0] : NULL;
	bool ok = a != NULL && (imap_arg_is_nil(a) || a->type == IMAP_ARG_LIST);
	if (ok && a->type == IMAP_ARG_LIST) {
		ok = a->count % 2 == 0 && a->count <= 60;
		for (size_t i = 0; ok && i < a->count; i++)
			ok = imap_arg_is_string(&a->list[i]) || (i % 2 == 1 && imap_arg_is_nil(&a->list[i]));
	}
	if (!ok) {
		cmd_bad_arguments(s, cmd, "NIL or (\"field\" \"value\" ...)");
		return;
	}
	/* RFC 2971 lets a server say nothing about itself; some sites prefer that. */
	if (s->conf->s.imap_id)
		session_printf(s, "* ID (\"name\" \"Sluice\" \"version\" \"%s\")\r\n", SLUICE_VERSION);
	else
		session_write(s, "* ID NIL\r\n", 10);
	session_tagged(s, cmd->tag, "OK", NULL, "ID completed.");
}

/* What ENABLE can turn on; QRESYNC brings CONDSTORE with it (RFC 7162). */
static const struct {
	const char *name;
	unsigned bit, implies;
} enable_table[] = {
    {"CONDSTORE", SESSION_ENABLED_CONDSTORE, 0},
    {"QRESYNC", SESSION_ENABLED_QRESYNC, SESSION_ENABLED_CONDSTORE},
};

/*
 * ENABLED lists what this command turned on, each name once and as the server spells it;
 * a name already on, or unknown (RFC 5161 says to ignore those), is left out.
 */
void cmd_enable(struct session *s, const struct imap_command *cmd)
{
	if (cmd->count == 0) {
		cmd_bad_arguments(s, cmd, "capability ...");
		return;
	}
	for (size_t i = 0; i < cmd->count; i++) {
		if (cmd->args[i].type != IMAP_ARG_ATOM) {
			cmd_bad_arguments(s, cmd, "capability ...");
			return;
		}
	}
	session_write(s, "* ENABLED", 9);
	for (size_t i = 0; i < cmd->count; i++) {
		for (size_t k = 0; k < sizeof(enable_table) / sizeof(enable_table[0]); k++) {
			if (!imap_arg_is_atom(&cmd->args[i], enable_table[k].name) ||
			    (s->enabled & enable_table[k].bit) != 0)
				continue;
			s->enabled |= enable_table[k].bit | enable_table[k].implies;
			session_printf(s, " %s", enable_table[k].name);
		}
	}
	session_write(s, "\r\n", 2);
	session_tagged(s, cmd->tag, "OK", NULL, "Enabled.");
}
