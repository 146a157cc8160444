/*
 * IDLE (RFC 2177): the client asks to hear of changes as they happen instead of polling.
 *
 * The session answers "+ idling" and is then parked like any session waiting for input:
 * its socket is armed in epoll, its timer runs to imap_idle_timeout, and no thread waits
 * for it. With a mailbox selected it also subscribes to that mailbox's changes
 * (mailbox/notify.h), whether they come from another session or from another program. A
 * change wakes it with SESSION_EV_NOTIFY; the worker that runs it refreshes the view,
 * which writes the untagged EXPUNGE, EXISTS, RECENT and FETCH responses, and it parks
 * again. During IDLE the session reads lines, not commands: DONE ends it with the tagged
 * OK, any other line ends it with a tagged BAD, since RFC 2177 allows nothing else.
 *
 * The subscription is made before the view is refreshed, so a change that lands between
 * that refresh and the "+" is not lost: it wakes the session a moment later. What an idling
 * session costs is its usual state plus two small allocations; the storage side of its
 * mailbox (Maildir's directory descriptors) is closed while it waits and opened again by
 * each refresh and at DONE.
 */
#include "imap/commands.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailbox/mailbox.h"
#include "mailbox/notify.h"
#include "mailbox/user.h"
#include "util/log.h"

struct idle_wait {
	struct notify_sub *sub; /* NULL without a selected mailbox */
	char tag[];             /* the IDLE command's tag, for its tagged answer */
};

/* Runs on the event loop thread (see notify_wake_fn): only schedules the session. */
static void idle_wake_cb(void *ctx)
{
	session_schedule(ctx, SESSION_EV_NOTIFY);
}

void cmd_idle(struct session *s, const struct imap_command *cmd)
{
	if (!s->conf->s.imap_idle) {
		session_tagged(
		    s, cmd->tag, "BAD", NULL,
		    "IDLE is not offered by this server; use NOOP to check for new mail.");
		return;
	}
	if (cmd->count != 0) {
		cmd_bad_arguments(s, cmd, "(no arguments)");
		return;
	}
	size_t tag_len = strlen(cmd->tag);
	struct idle_wait *w = calloc(1, sizeof(*w) + tag_len + 1);
	if (w == NULL) {
		session_tagged(s, cmd->tag, "NO", "SERVERBUG", "The server is out of memory.");
		return;
	}
	memcpy(w->tag, cmd->tag, tag_len + 1);
	if (s->selected != NULL) {
		struct sluice_error err = SLUICE_ERROR_INIT;
		if (notify_subscribe(s->mail->user.name, s->selected->name, s->mail->storage_ops,
		                     s->selected->sbox, idle_wake_cb, s, &w->sub, &err) < 0) {
			free(w);
			session_tagged(s, cmd->tag, "NO", err.resp_code, "%s", err.msg);
			return;
		}
		/* What changed since the last command is announced before the wait begins. */
		cmd_refresh_selected(s);
		mailbox_storage_release(s->selected);
	}
	s->idle = w;
	session_write(s, "+ idling\r\n", 10);
	/* RFC 2177: an idling client is kept at least 30 minutes (the default), not autologout. */
	ev_timer_set(&s->idle_timer, s->last_activity_ms + s->conf->s.imap_idle_timeout);
}

void cmd_idle_end(struct session *s)
{
	struct idle_wait *w = s->idle;
	if (w == NULL)
		return;
	s->idle = NULL;
	notify_unsubscribe(&w->sub);
	commands_end_deferred(s, w->tag);
	free(w);
}

void cmd_idle_line(struct session *s, const char *line, size_t len)
{
	struct idle_wait *w = s->idle;
	if (w == NULL)
		return;
	bool done = line != NULL && len == 4 && strncasecmp(line, "DONE", 4) == 0;
	if (done)
		session_tagged(s, w->tag, "OK", NULL, "IDLE terminated.");
	else
		session_tagged(
		    s, w->tag, "BAD", NULL,
		    "Only DONE may follow IDLE; IDLE has ended, send the command again.");
	cmd_idle_end(s);
	struct sluice_error err = SLUICE_ERROR_INIT;
	if (s->selected != NULL && mailbox_storage_reopen(s->selected, &err) != 0) {
		/* Deleted or renamed while the client waited: no command can use it any more. */
		log_warning("cannot reopen %s after IDLE: %s", s->selected->name,
		            err.msg[0] ? err.msg : "it no longer exists");
		session_write(s, "* BYE The selected mailbox no longer exists.\r\n", 46);
		s->close_reason = "selected mailbox gone";
		s->closing = true;
		return;
	}
	/* Between commands again: the ordinary limit applies from this line on. */
	ev_timer_set(&s->idle_timer, s->last_activity_ms + s->conf->s.autologout);
}

void cmd_idle_wake(struct session *s)
{
	if (s->idle == NULL || s->selected == NULL || s->closing)
		return; /* a wake-up that was on its way when DONE came */
	cmd_refresh_selected(s);
	mailbox_storage_release(s->selected); /* the refresh opened it again */
}
