/*
 * An IMAP session: one client connection and its protocol state.
 *
 * A session never owns a thread. The event loop or a timer schedules it, a worker runs
 * it until it must wait (for input, for room to write, for a delay to pass), and it is
 * then parked: its socket is re-armed in epoll or a timer is set, and the worker moves
 * on. Only one worker runs a session at a time (see session_schedule).
 */
#ifndef SLUICE_SESSION_H
#define SLUICE_SESSION_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>
#include <sluice/passdb.h>

#include "conf/server-conf.h"
#include "imap/parser.h"
#include "imap/seqset.h"
#include "net/event.h"
#include "net/tls.h"
#include "util/buffer.h"
#include "util/pool.h"

enum imap_state {
	IMAP_STATE_NOT_AUTH = 1 << 0,
	IMAP_STATE_AUTH = 1 << 1,
	IMAP_STATE_SELECTED = 1 << 2,
	IMAP_STATE_LOGOUT = 1 << 3,
};
#define IMAP_STATE_ANY (IMAP_STATE_NOT_AUTH | IMAP_STATE_AUTH | IMAP_STATE_SELECTED)

/* Why a session was scheduled. */
enum {
	SESSION_EV_START = 1 << 0,
	SESSION_EV_IO = 1 << 1,
	SESSION_EV_IDLE_TIMER = 1 << 2,
	SESSION_EV_DELAY_DONE = 1 << 3,
	SESSION_EV_SHUTDOWN = 1 << 4,
	SESSION_EV_CONTINUE = 1 << 5,
	SESSION_EV_WAKE = 1 << 6,   /* a policy module woke a parked command */
	SESSION_EV_HANGUP = 1 << 7, /* the peer closed or the socket failed */
	SESSION_EV_NOTIFY = 1 << 8, /* the mailbox an IDLE waits on changed (cmd-idle.c) */
	SESSION_EV_CLOSE_REQUEST = 1 << 9, /* session_request_close: say BYE and close */
	SESSION_EV_AUTH_DONE = 1 << 10, /* the passdb chain has answered a login (cmd-auth.c) */
};

enum session_tls { SESSION_TLS_OFF, SESSION_TLS_HANDSHAKE, SESSION_TLS_ON };

/* Extensions the client turned on, with ENABLE (RFC 5161) or implicitly (RFC 7162 3.1). */
enum {
	SESSION_ENABLED_CONDSTORE = 1 << 0, /* MODSEQ in every FETCH of flags */
	SESSION_ENABLED_QRESYNC = 1 << 1,   /* VANISHED instead of EXPUNGE; implies CONDSTORE */
};

struct sasl_exchange;
struct idle_wait;
struct auth_job;
struct mail_user;
struct mailbox;

struct session {
	struct ev_source src; /* src.fd is the client socket */
	struct ev_job job;
	struct ev_timer idle_timer;
	struct ev_timer delay_timer;
	struct ev_timer wait_timer; /* a parked command's deadline (sluice_host.session_wake) */

	pthread_mutex_t lock; /* guards the scheduling fields below */
	unsigned pending;
	bool queued, running, closed;

	/* Also guarded by lock, for other threads (sluicectl, modules): what the session is
	 * doing, and a close another thread asked for. shown_command is the command running
	 * now ("UID FETCH"), empty between commands; command_ms is when it began or, between
	 * commands, when the last one was answered. close_line is the "* BYE" line to send. */
	char shown_command[24];
	uint64_t command_ms;
	enum imap_state shown_state;
	char *shown_user;
	bool close_requested;
	char *close_line, *close_why;

	struct session *reg_next, *reg_prev; /* server registry */
	struct session *grave_next;

	uint64_t id;
	struct sockaddr_storage remote, local;
	char remote_ip[64];
	bool loopback;
	const struct listener_conf *listener;
	struct server_conf *conf; /* reference: the configuration this session started with */
	struct sluice_peer peer;

	struct tls_set *tls;
	SSL *ssl;
	enum session_tls tls_state;
	bool starttls_pending; /* STARTTLS answered: begin the handshake once output is flushed */

	struct imap_parser *parser;
	struct buf in, out;
	enum imap_state state;
	char *user;
	struct mail_user *mail; /* NULL before login or when no storage is configured */
	struct mailbox *selected; /* set exactly when state is IMAP_STATE_SELECTED */

	bool uid_command; /* the running command came as "UID <command>" */
	unsigned enabled; /* SESSION_ENABLED_* */
	/* SEARCHRES (RFC 5182): the UIDs saved by the last SEARCH RETURN (SAVE) in the selected
	 * mailbox, for `$`; empty (count 0) when there are none. Ranges in searchres_pool. */
	struct seqset searchres;
	struct sluice_pool *searchres_pool;

	/* The command policy modules see (commands.c): its name ("UID FETCH"), its arguments
	 * as text, and how many modules have admitted it (they get command_end). waiting: a
	 * module answered SLUICE_WAIT; the parser keeps the command, nothing else is read
	 * until a wake (wake_pending) asks that module again. */
	char policy_name[80];
	char *policy_args;
	size_t policy_next;
	bool waiting, wake_pending, hangup;
	bool policy_end_deferred; /* an IDLE: command_end is due at its DONE */
	uint64_t wait_due; /* when wait_timer fires, 0 when unarmed; under lock */

	/* The streamed literal of the APPEND being read (parser.h, stream_min): an unnamed
	 * temporary file, -1 when there is none. spool_failed: a byte could not be stored, the
	 * command must fail. Both are reset once the command is answered. */
	int spool_fd;
	bool spool_failed;

	struct sasl_exchange *sasl; /* AUTHENTICATE in progress: input is read line by line */
	struct idle_wait *idle;     /* IDLE in progress (cmd-idle.c): input is read line by line */
	/* A login being checked by the passdbs as a slow job: the session reads and runs
	 * nothing more, and is not closed, until the job hands its answer back. */
	struct auth_job *auth;

	bool hold_output; /* a failed login's delay: nothing is sent or read until it passes */
	bool closing;     /* close once the output is flushed */
	uint32_t want;    /* epoll bits to re-arm with when the run ends */

	uint64_t connected_ms, last_activity_ms;
	uint64_t bytes_in, bytes_out;
	const char *close_reason;
	char *refusal; /* a policy's BYE line, kept until an implicit TLS handshake is done */
};

/** Creates a session for an accepted socket (loop thread) and schedules its start. */
void session_accept(int fd, const struct sockaddr_storage *remote, const struct sockaddr_storage *local,
		    const struct listener_conf *listener);
/** Asks for the session to be run by a worker with the reasons in @p events. Any thread. */
void session_schedule(struct session *s, unsigned events);
/**
 * Wakes the session with id @p id whose command waits for a policy module: now when
 * @p at_ms is 0, else at that monotonic time unless an earlier one is set. Any thread.
 * @return 0, or SLUICE_NOTFOUND when no such session is connected.
 */
int session_wake(uint64_t id, uint64_t at_ms);
/** The parked command was admitted or refused: forget its deadline. Its own worker. */
void session_wait_over(struct session *s);
/** Schedules every live session with SESSION_EV_SHUTDOWN; returns how many were live. */
size_t session_shutdown_all(void);
size_t session_live_count(void);
/** Frees sessions closed before the previous batch (loop thread only). */
void session_reap(void);

/**
 * Asks the live session @p id to send `* BYE [resp_code] text` (@p resp_code may be NULL)
 * and close, logging @p why as the reason of its disconnect. Any thread; calls no module.
 * @return 0 when scheduled, SLUICE_NOTFOUND when no live session has that id or a close
 * was asked for already, SLUICE_E_NOMEM.
 */
int session_request_close(uint64_t id, const char *resp_code, const char *text, const char *why);

/** What other threads may know of a session, copied by session_views(). */
struct session_view {
	uint64_t id;
	char remote_ip[64];
	char *user; /* NULL before login */
	const char *listener;
	enum imap_state state;
	char command[24]; /* "" between commands */
	uint64_t connected_ms, command_ms; /* ev_now_ms() clock; command_ms as in struct session */
};

/**
 * Copies the view of every live session, oldest first. Holds the registry lock only while
 * copying. Any thread. @return 0 with *views_r (free with session_views_free) and
 * *count_r, or -1 when out of memory.
 */
int session_views(struct session_view **views_r, size_t *count_r);
void session_views_free(struct session_view *views, size_t count);

/** Records that the command @p name (as policies see it) starts now. The session's worker. */
void session_command_started(struct session *s, const char *name);
/** Records that the running command has been answered. The session's worker. */
void session_command_done(struct session *s);

/* Output helpers for command handlers. */
void session_write(struct session *s, const char *data, size_t len);
void session_printf(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Writes "TAG STATUS [CODE] text\r\n"; @p code may be NULL. */
void session_tagged(struct session *s, const char *tag, const char *status, const char *code,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/** Delays everything the session sends next by @p ms, holding no thread. */
void session_hold_output(struct session *s, uint64_t ms);
/** True when LOGIN and plaintext SASL mechanisms are allowed on this connection now. */
bool session_plaintext_allowed(const struct session *s);
/** Writes the capability list for the session's current state (no "* CAPABILITY" prefix). */
void session_write_capabilities(struct session *s);
/** Switches to the authenticated state as @p user; sets parser limits and log context. */
void session_logged_in(struct session *s, const char *user);
/** The hierarchy delimiter clients see ('.' or '/'). */
char session_delimiter(const struct session *s);
void session_update_log_context(struct session *s);

#endif
