/*
 * Session life cycle, scheduling and I/O (see session.h for the threading model).
 *
 * A run of a session does, in order: finish a TLS handshake, flush pending output,
 * parse and execute buffered commands, and read more input, until one of these would
 * block. It then records which socket events it waits for (session->want), and the
 * worker re-arms the socket in epoll with EPOLLONESHOT. A failed login's delay holds
 * the session's output instead of a thread: a timer ends the hold.
 *
 * Closed sessions are not freed by the worker that closed them: the event loop may still
 * hold a pointer from its current epoll batch. They go to a graveyard that the loop
 * thread empties two batches later, once no worker is running them.
 */
#include "imap/session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <openssl/err.h>

#include "auth/identity.h"
#include "imap/commands.h"
#include "mailbox/mailbox.h"
#include "mailbox/user.h"
#include "policy/policy.h"
#include "server.h"
#include "util/log.h"

#define SESSION_READ_CHUNK 4096
#define SESSION_ROUNDS_PER_RUN 64
#define PREAUTH_MAX_LITERAL 8192

static pthread_mutex_t grave_lock = PTHREAD_MUTEX_INITIALIZER;
static struct session *grave_new, *grave_old;

static void session_job_run(struct ev_job *job);

static void session_idle_fire(struct ev_timer *t)
{
	struct session *s = (struct session *)((char *)t - offsetof(struct session, idle_timer));
	session_schedule(s, SESSION_EV_IDLE_TIMER);
}

static void session_delay_fire(struct ev_timer *t)
{
	struct session *s = (struct session *)((char *)t - offsetof(struct session, delay_timer));
	session_schedule(s, SESSION_EV_DELAY_DONE);
}

static void session_wait_fire(struct ev_timer *t)
{
	struct session *s = (struct session *)((char *)t - offsetof(struct session, wait_timer));
	pthread_mutex_lock(&s->lock);
	s->wait_due = 0;
	pthread_mutex_unlock(&s->lock);
	session_schedule(s, SESSION_EV_WAKE);
}

void session_wait_over(struct session *s)
{
	pthread_mutex_lock(&s->lock);
	bool armed = s->wait_due != 0;
	s->wait_due = 0;
	pthread_mutex_unlock(&s->lock);
	if (armed)
		ev_timer_cancel(&s->wait_timer);
}

static void session_on_socket(struct ev_source *src, uint32_t events)
{
	unsigned why = SESSION_EV_IO;
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		why |= SESSION_EV_HANGUP;
	session_schedule((struct session *)src, why);
}

/* The registered session with id @p id, or NULL. Call with server.sessions_lock held: it
 * keeps the session from being freed until the lock is released. */
static struct session *session_find_locked(uint64_t id)
{
	for (struct session *s = server.sessions; s != NULL; s = s->reg_next)
		if (s->id == id)
			return s;
	return NULL;
}

int session_wake(uint64_t id, uint64_t at_ms)
{
	pthread_mutex_lock(&server.sessions_lock);
	struct session *s = session_find_locked(id);
	if (s != NULL && at_ms == 0) {
		session_schedule(s, SESSION_EV_WAKE);
	} else if (s != NULL) {
		pthread_mutex_lock(&s->lock);
		bool arm = !s->closed && (s->wait_due == 0 || at_ms < s->wait_due);
		if (arm)
			s->wait_due = at_ms;
		pthread_mutex_unlock(&s->lock);
		if (arm)
			ev_timer_set(&s->wait_timer, at_ms);
	}
	pthread_mutex_unlock(&server.sessions_lock);
	return s != NULL ? 0 : SLUICE_NOTFOUND;
}

void session_schedule(struct session *s, unsigned events)
{
	pthread_mutex_lock(&s->lock);
	if (!s->closed) {
		s->pending |= events;
		if (!s->queued && !s->running) {
			s->queued = true;
			ev_queue(&s->job);
		}
	}
	pthread_mutex_unlock(&s->lock);
}

void session_update_log_context(struct session *s)
{
	char ctx[192];
	if (s->user != NULL)
		snprintf(ctx, sizeof(ctx), "conn=%llu ip=%s user=%s", (unsigned long long)s->id,
			 s->remote_ip, s->user);
	else
		snprintf(ctx, sizeof(ctx), "conn=%llu ip=%s", (unsigned long long)s->id, s->remote_ip);
	log_set_context(ctx);
}

static void session_parser_limits(struct session *s)
{
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	lim.max_line = (size_t)s->conf->s.max_line;
	if (s->state == IMAP_STATE_NOT_AUTH)
		lim.max_literal = PREAUTH_MAX_LITERAL;
	else
		lim.max_literal = (size_t)s->conf->s.max_literal;
	lim.max_command = lim.max_literal + 1024 * 1024;
	if (s->conf->s.nonsync_literals == 1)
		lim.max_nonsync = 4096; /* LITERAL- */
	imap_parser_set_limits(s->parser, &lim);
}

static bool session_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127;
	}
	return false;
}

void session_accept(int fd, const struct sockaddr_storage *remote, const struct sockaddr_storage *local,
		    const struct listener_conf *listener)
{
	struct session *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		close(fd);
		return;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->src.fd = fd;
	s->src.on_event = session_on_socket;
	s->job.run = session_job_run;
	s->idle_timer.fire = session_idle_fire;
	s->delay_timer.fire = session_delay_fire;
	s->wait_timer.fire = session_wait_fire;
	s->id = atomic_fetch_add(&server.next_session_id, 1) + 1;
	s->remote = *remote;
	s->local = *local;
	s->listener = listener;
	s->conf = server_current_conf();
	s->state = IMAP_STATE_NOT_AUTH;
	s->spool_fd = -1;
	s->connected_ms = s->last_activity_ms = ev_now_ms();
	s->command_ms = s->connected_ms;
	s->shown_state = s->state;
	if (remote->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)remote;
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
			inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], s->remote_ip, sizeof(s->remote_ip));
		else
			inet_ntop(AF_INET6, &a->sin6_addr, s->remote_ip, sizeof(s->remote_ip));
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)remote)->sin_addr, s->remote_ip,
			  sizeof(s->remote_ip));
	}
	s->loopback = session_is_loopback(remote);
	s->peer.remote = (const struct sockaddr *)&s->remote;
	s->peer.remote_ip = s->remote_ip;
	s->peer.local = (const struct sockaddr *)&s->local;
	s->peer.loopback = s->loopback;
	if (listener->tls != LISTENER_TLS_NONE)
		s->tls = server_current_tls();
	s->parser = imap_parser_create(NULL);
	if (s->parser == NULL) {
		server_conf_unref(&s->conf);
		tls_set_unref(&s->tls);
		pthread_mutex_destroy(&s->lock);
		free(s);
		close(fd);
		return;
	}
	session_parser_limits(s);

	pthread_mutex_lock(&server.sessions_lock);
	s->reg_next = server.sessions;
	if (server.sessions != NULL)
		server.sessions->reg_prev = s;
	server.sessions = s;
	server.session_count++;
	pthread_mutex_unlock(&server.sessions_lock);

	/* Registered disarmed: the first run decides what to wait for. */
	if (ev_add(&s->src, EPOLLONESHOT) < 0)
		log_error("conn=%llu: cannot watch the socket: %s", (unsigned long long)s->id,
			  strerror(errno));
	ev_timer_set(&s->idle_timer, s->connected_ms + s->conf->s.preauth_timeout);
	session_schedule(s, SESSION_EV_START);
}

void session_write(struct session *s, const char *data, size_t len)
{
	if (buf_append(&s->out, data, len) < 0) {
		s->close_reason = "out of memory";
		s->closing = true;
	}
}

void session_printf(struct session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (buf_vprintf(&s->out, fmt, ap) < 0) {
		s->close_reason = "out of memory";
		s->closing = true;
	}
	va_end(ap);
}

void session_tagged(struct session *s, const char *tag, const char *status, const char *code,
		    const char *fmt, ...)
{
	va_list ap;
	session_printf(s, "%s %s ", tag != NULL ? tag : "*", status);
	if (code != NULL)
		session_printf(s, "[%s] ", code);
	va_start(ap, fmt);
	if (buf_vprintf(&s->out, fmt, ap) < 0)
		s->closing = true;
	va_end(ap);
	session_write(s, "\r\n", 2);
}

void session_hold_output(struct session *s, uint64_t ms)
{
	if (ms == 0)
		return;
	s->hold_output = true;
	ev_timer_set(&s->delay_timer, ev_now_ms() + ms);
}

char session_delimiter(const struct session *s)
{
	return s->conf->s.mailbox_delimiter == 1 ? '/' : '.';
}

bool session_plaintext_allowed(const struct session *s)
{
	if (s->tls_state == SESSION_TLS_ON)
		return true;
	if (s->conf->s.tls_required)
		return false;
	return sluice_cidr_match(s->conf->s.plaintext_auth_networks, (const struct sockaddr *)&s->remote);
}

void session_logged_in(struct session *s, const char *user)
{
	char *shown = strdup(user);

	free(s->user);
	s->user = strdup(user);
	s->state = IMAP_STATE_AUTH;
	pthread_mutex_lock(&s->lock);
	free(s->shown_user);
	s->shown_user = shown;
	s->shown_state = s->state;
	pthread_mutex_unlock(&s->lock);
	session_parser_limits(s);
	session_update_log_context(s);
	/* From now on the authenticated idle limit applies. */
	ev_timer_set(&s->idle_timer, s->last_activity_ms + s->conf->s.autologout);
}

/* Socket I/O. Returns bytes, 0 at end of stream, -1 on error, -2 would block. */

/* Maps an SSL_read/SSL_write result of @p n <= 0 to the codes above, noting which socket
 * event the TLS layer waits for (a read can need to write, and the other way round). */
static ssize_t session_ssl_result(struct session *s, int n)
{
	switch (SSL_get_error(s->ssl, n)) {
	case SSL_ERROR_WANT_READ:
		s->want |= EPOLLIN;
		return -2;
	case SSL_ERROR_WANT_WRITE:
		s->want |= EPOLLOUT;
		return -2;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		ERR_clear_error();
		return -1;
	}
}

static ssize_t session_io_read(struct session *s, void *dst, size_t len)
{
	if (s->ssl != NULL) {
		/* SSL_get_error reads the thread's error queue: whatever another session left
		 * there on this worker would turn a plain WANT_READ into a fatal error. */
		ERR_clear_error();
		int n = SSL_read(s->ssl, dst, len > INT32_MAX ? INT32_MAX : (int)len);
		return n > 0 ? n : session_ssl_result(s, n);
	}
	ssize_t n = read(s->src.fd, dst, len);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		s->want |= EPOLLIN;
		return -2;
	}
	return -1;
}

static ssize_t session_io_write(struct session *s, const void *src, size_t len)
{
	if (s->ssl != NULL) {
		ERR_clear_error();
		int n = SSL_write(s->ssl, src, len > INT32_MAX ? INT32_MAX : (int)len);
		if (n > 0)
			return n;
		/* A closed TLS stream while writing is a failed write, not an end of input. */
		ssize_t r = session_ssl_result(s, n);
		return r == 0 ? -1 : r;
	}
	ssize_t n = send(s->src.fd, src, len, MSG_NOSIGNAL);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		s->want |= EPOLLOUT;
		return -2;
	}
	return -1;
}

/* Returns 1 when everything was sent, 0 when the socket is full, -1 on error. */
static int session_flush(struct session *s)
{
	while (buf_len(&s->out) > 0) {
		ssize_t n = session_io_write(s, buf_head(&s->out), buf_len(&s->out));
		if (n == -2)
			return 0;
		if (n <= 0)
			return -1;
		s->bytes_out += (uint64_t)n;
		buf_consume(&s->out, (size_t)n);
	}
	return 1;
}

static void session_greet(struct session *s)
{
	session_write(s, "* OK [CAPABILITY ", 17);
	session_write_capabilities(s);
	session_write(s, "] Sluice ready.\r\n", 17);
}

/* Returns 1 when the handshake is done, 0 when it must wait, -1 when it failed. */
static int session_handshake(struct session *s)
{
	ERR_clear_error();
	int r = SSL_do_handshake(s->ssl);
	if (r == 1) {
		s->tls_state = SESSION_TLS_ON;
		s->peer.tls = true;
		log_info("tls established version=%s cipher=%s", SSL_get_version(s->ssl),
			 SSL_get_cipher_name(s->ssl));
		return 1;
	}
	switch (SSL_get_error(s->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		s->want |= EPOLLIN;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		s->want |= EPOLLOUT;
		return 0;
	default: {
		char why[160];
		unsigned long e = ERR_get_error();
		if (e != 0)
			ERR_error_string_n(e, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "connection closed during the handshake");
		ERR_clear_error();
		log_info("tls handshake failed: %s", why);
		s->close_reason = "TLS handshake failed";
		return -1;
	}
	}
}

static int session_start_tls(struct session *s)
{
	if (s->tls == NULL)
		return -1;
	s->ssl = tls_set_new_ssl(s->tls, s->src.fd);
	if (s->ssl == NULL) {
		log_error("cannot create a TLS session");
		return -1;
	}
	s->tls_state = SESSION_TLS_HANDSHAKE;
	return 0;
}

static char *text_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *text_printf(const char *fmt, ...)
{
	va_list ap;
	char *out = NULL;
	va_start(ap, fmt);
	if (vasprintf(&out, fmt, ap) < 0)
		out = NULL;
	va_end(ap);
	return out;
}

static void session_start(struct session *s)
{
	struct sluice_error err = SLUICE_ERROR_INIT;

	log_info("connect listener=%s", s->listener->name);
	if (policy_connect(s, &err) != 0) {
		s->close_reason = "refused by policy";
		if (s->listener->tls != LISTENER_TLS_IMPLICIT) {
			session_tagged(s, NULL, "BYE", err.resp_code, "%s", err.msg);
			s->closing = true;
			return;
		}
		/* On an implicit TLS port the client can only read the refusal after the
		 * handshake: keep it until then. */
		if (err.resp_code != NULL)
			s->refusal = text_printf("* BYE [%s] %s\r\n", err.resp_code, err.msg);
		else
			s->refusal = text_printf("* BYE %s\r\n", err.msg);
		if (s->refusal == NULL)
			s->closing = true;
	}
	if (s->listener->tls == LISTENER_TLS_IMPLICIT) {
		if (session_start_tls(s) < 0) {
			s->close_reason = "TLS unavailable";
			s->closing = true;
		}
		return; /* the greeting follows the handshake */
	}
	session_greet(s);
}

static void session_check_idle(struct session *s)
{
	uint64_t limit = s->state == IMAP_STATE_NOT_AUTH ? s->conf->s.preauth_timeout
	                 : s->idle != NULL              ? s->conf->s.imap_idle_timeout
	                                                : s->conf->s.autologout;
	uint64_t now = ev_now_ms();
	if (s->closing)
		return;
	if (s->auth != NULL) {
		/* Waiting for the passdbs is the server's doing, not an idle client. */
		ev_timer_set(&s->idle_timer, now + limit);
		return;
	}
	if (now - s->last_activity_ms >= limit) {
		log_info("idle timeout after %llu s", (unsigned long long)(limit / 1000));
		session_printf(s, "* BYE Disconnecting after %llu seconds without a command.\r\n",
			       (unsigned long long)(limit / 1000));
		s->close_reason = "idle timeout";
		s->closing = true;
		s->hold_output = false;
		return;
	}
	ev_timer_set(&s->idle_timer, s->last_activity_ms + limit);
}

/*
 * Appends a chunk of a streamed APPEND literal to the session's spool, an unnamed file in the
 * temporary directory that disappears with its descriptor, whatever happens to the session.
 * A failure is remembered for the command (it answers NO) and the rest of the literal is
 * still read, so that the client's byte stream stays in step.
 */
static void session_spool(struct session *s, const unsigned char *data, size_t len)
{
	if (s->spool_failed)
		return;
	if (s->spool_fd < 0) {
		const char *dir = P_tmpdir;

		s->spool_fd = open(dir != NULL && dir[0] != '\0' ? dir : "/tmp",
		                   O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (s->spool_fd < 0) {
			log_error("cannot create a spool file for APPEND: %s", strerror(errno));
			s->spool_failed = true;
			return;
		}
	}
	while (len > 0) {
		ssize_t n = write(s->spool_fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_error("cannot write the spool file for APPEND: %s",
			          n < 0 ? strerror(errno) : "no space");
			s->spool_failed = true;
			return;
		}
		data += n;
		len -= (size_t)n;
	}
}

/* Throws away the spooled literal once its command has been answered. */
static void session_spool_close(struct session *s)
{
	if (s->spool_fd >= 0)
		close(s->spool_fd);
	s->spool_fd = -1;
	s->spool_failed = false;
}

/* The parsed command is answered: make room for the next one. */
static void session_command_finish(struct session *s)
{
	imap_parser_next(s->parser);
	session_spool_close(s);
}

/*
 * A command parked by a policy module (SLUICE_WAIT). Nothing more is read or run until a
 * wake asks the module again; meanwhile only a hang-up is watched for, so that a client
 * that gave up leaves the queue at once. Returns true when the run may go on.
 */
static bool session_wait_step(struct session *s)
{
	if (s->wake_pending) {
		s->wake_pending = false;
		if (commands_resume(s)) {
			session_command_finish(s);
			return true;
		}
	}
	if (s->hangup) {
		if (s->close_reason == NULL)
			s->close_reason = "client closed the connection while its command waited";
		s->closing = true;
		buf_free(&s->out);
		s->want = 0;
		return false;
	}
	s->want = EPOLLRDHUP;
	return false;
}

/* Parses buffered input and runs what is complete; true if anything happened. */
static bool session_handle_input(struct session *s)
{
	size_t used = 0;
	enum imap_parse_result r;

	if (s->sasl != NULL || s->idle != NULL) {
		const char *line;
		size_t len;
		r = imap_parser_feed_line(s->parser, buf_head(&s->in), buf_len(&s->in), &used, &line, &len);
		buf_consume(&s->in, used);
		if (r == IMAP_PARSE_COMMAND) {
			s->last_activity_ms = ev_now_ms();
			if (s->sasl != NULL)
				cmd_authenticate_continue(s, line, len);
			else
				cmd_idle_line(s, line, len);
			imap_parser_next(s->parser);
			if (s->sasl == NULL)
				session_command_done(s); /* AUTHENTICATE was answered */
			return true;
		}
		if (r == IMAP_PARSE_ERROR) {
			if (s->sasl != NULL)
				cmd_authenticate_abort(s, imap_parser_error(s->parser)->message);
			else
				cmd_idle_line(s, NULL, 0);
			imap_parser_next(s->parser);
			session_command_done(s);
			return true;
		}
		return false;
	}

	r = imap_parser_feed(s->parser, buf_head(&s->in), buf_len(&s->in), &used);
	if (r == IMAP_PARSE_LITERAL_DATA) {
		const unsigned char *chunk;
		size_t len;
		/* The chunk points into s->in: store it before consuming. While a literal
		 * streams, the emptied buffer is kept for the next read instead of being freed
		 * and allocated again for every few KiB. */
		imap_parser_literal_chunk(s->parser, &chunk, &len);
		session_spool(s, chunk, len);
		s->last_activity_ms = ev_now_ms();
		if (used == buf_len(&s->in)) {
			buf_reset(&s->in);
			return true;
		}
	}
	buf_consume(&s->in, used);
	switch (r) {
	case IMAP_PARSE_NEED_MORE:
		return false;
	case IMAP_PARSE_CONTINUE:
		session_write(s, "+ Ready for literal data\r\n", 26);
		return true;
	case IMAP_PARSE_LITERAL_DATA:
		return true;
	case IMAP_PARSE_COMMAND:
		s->last_activity_ms = ev_now_ms();
		if (commands_dispatch(s, imap_parser_command(s->parser)))
			session_command_finish(s);
		return true;
	case IMAP_PARSE_ERROR: {
		const struct imap_parse_error *e = imap_parser_error(s->parser);
		if (e->fatal) {
			session_tagged(s, NULL, "BYE", e->resp_code, "%s", e->message);
			s->close_reason = "protocol error";
			s->closing = true;
		} else {
			/* RFC 7889: a message over APPENDLIMIT gets NO, once APPEND is allowed. */
			bool no = e->append_too_big && s->state != IMAP_STATE_NOT_AUTH;
			session_tagged(s, e->tag, no ? "NO" : "BAD", e->resp_code, "%s", e->message);
		}
		imap_parser_next(s->parser);
		session_spool_close(s);
		return true;
	}
	}
	return false;
}

/* Returns 1 when bytes arrived, 0 when it must wait, -1 at end of stream or error. */
static int session_read(struct session *s)
{
	unsigned char *p = buf_reserve(&s->in, SESSION_READ_CHUNK);
	if (p == NULL)
		return -1;
	ssize_t n = session_io_read(s, p, SESSION_READ_CHUNK);
	if (n == -2) {
		if (buf_len(&s->in) == 0)
			buf_free(&s->in); /* an idle connection keeps no input buffer */
		return 0;
	}
	if (n <= 0) {
		if (s->close_reason == NULL)
			s->close_reason = n == 0 ? "client closed the connection" : "read error";
		return -1;
	}
	buf_commit(&s->in, (size_t)n);
	s->bytes_in += (uint64_t)n;
	return 1;
}

static void session_run_steps(struct session *s)
{
	for (int round = 0; round < SESSION_ROUNDS_PER_RUN; round++) {
		s->want = 0;
		if (s->tls_state == SESSION_TLS_HANDSHAKE) {
			int r = session_handshake(s);
			if (r < 0) {
				s->closing = true;
				buf_free(&s->out);
				s->want = 0;
				return;
			}
			if (r == 0)
				return;
			if (s->refusal != NULL) {
				session_write(s, s->refusal, strlen(s->refusal));
				s->closing = true;
			} else if (s->listener->tls == LISTENER_TLS_IMPLICIT && s->bytes_out == 0) {
				session_greet(s);
			}
			continue;
		}
		if (s->hold_output || s->auth != NULL)
			return; /* parked until the delay timer fires or the passdbs answer */
		if (buf_len(&s->out) > 0) {
			int r = session_flush(s);
			if (r < 0) {
				if (s->close_reason == NULL)
					s->close_reason = "write error";
				s->closing = true;
				buf_free(&s->out);
				s->want = 0;
				return;
			}
			if (r == 0)
				return;
		}
		if (s->closing) {
			s->want = 0;
			return;
		}
		if (s->starttls_pending) {
			/* Bytes the client sent after STARTTLS were not protected: drop them. */
			s->starttls_pending = false;
			buf_free(&s->in);
			if (session_start_tls(s) < 0) {
				s->close_reason = "TLS unavailable";
				s->closing = true;
			}
			continue;
		}
		if (s->waiting) {
			if (session_wait_step(s))
				continue;
			return;
		}
		if (buf_len(&s->in) > 0 && session_handle_input(s))
			continue;
		int r = session_read(s);
		if (r < 0) {
			s->closing = true;
			s->want = 0;
			return;
		}
		if (r == 0)
			return;
	}
	/* Let other sessions have the worker; come back for the rest. */
	session_schedule(s, SESSION_EV_CONTINUE);
	s->want = 0;
}

static void session_close(struct session *s)
{
	uint64_t secs = (ev_now_ms() - s->connected_ms) / 1000;
	log_info("disconnect reason=\"%s\" duration=%llus in=%llu out=%llu",
		 s->close_reason ? s->close_reason : "closed", (unsigned long long)secs,
		 (unsigned long long)s->bytes_in, (unsigned long long)s->bytes_out);
	/* IDLE ends first: no wake-up may reach the session once it is in the graveyard, and
	 * the policies hear of the IDLE's end before the connection's. */
	cmd_idle_end(s);
	policy_disconnect(s);
	ev_timer_cancel(&s->idle_timer);
	ev_timer_cancel(&s->delay_timer);
	ev_remove(&s->src);
	if (s->ssl != NULL) {
		if (s->tls_state == SESSION_TLS_ON)
			SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
		ERR_clear_error(); /* a shutdown on a dead socket queues errors: leave none */
		s->ssl = NULL;
	}
	close(s->src.fd);
	s->src.fd = -1;

	pthread_mutex_lock(&server.sessions_lock);
	if (s->reg_prev != NULL)
		s->reg_prev->reg_next = s->reg_next;
	else
		server.sessions = s->reg_next;
	if (s->reg_next != NULL)
		s->reg_next->reg_prev = s->reg_prev;
	server.session_count--;
	pthread_mutex_unlock(&server.sessions_lock);
	/* Only now: until it left the registry, session_wake could arm it again. */
	ev_timer_cancel(&s->wait_timer);

	pthread_mutex_lock(&grave_lock);
	s->grave_next = grave_new;
	grave_new = s;
	pthread_mutex_unlock(&grave_lock);
	ev_wakeup();
}

static void session_free(struct session *s)
{
	cmd_authenticate_free(s);
	session_spool_close(s);
	imap_parser_destroy(&s->parser);
	buf_free(&s->in);
	buf_free(&s->out);
	mailbox_close(&s->selected); /* before the user whose handles it uses */
	pool_destroy(&s->searchres_pool);
	mail_user_close(&s->mail);
	free(s->user);
	free(s->refusal);
	free(s->policy_args);
	free(s->shown_user);
	free(s->close_line);
	free(s->close_why);
	server_conf_unref(&s->conf);
	tls_set_unref(&s->tls);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void session_reap(void)
{
	pthread_mutex_lock(&grave_lock);
	struct session *old = grave_old;
	grave_old = grave_new;
	grave_new = NULL;
	pthread_mutex_unlock(&grave_lock);
	while (old != NULL) {
		struct session *next = old->grave_next;
		pthread_mutex_lock(&old->lock);
		bool busy = old->running || old->queued;
		pthread_mutex_unlock(&old->lock);
		if (busy) {
			/* Still finishing its last run: try again next batch. */
			pthread_mutex_lock(&grave_lock);
			old->grave_next = grave_new;
			grave_new = old;
			pthread_mutex_unlock(&grave_lock);
		} else {
			session_free(old);
		}
		old = next;
	}
}

/* Another thread asked for this session to close (session_request_close): say why. */
static void session_close_requested(struct session *s)
{
	pthread_mutex_lock(&s->lock);
	char *line = s->close_line;
	s->close_line = NULL;
	pthread_mutex_unlock(&s->lock);
	if (line == NULL || s->closing) {
		free(line);
		return;
	}
	s->hold_output = false;
	session_write(s, line, strlen(line));
	free(line);
	/* close_why is written once, before the request was scheduled, and freed with s. */
	s->close_reason = s->close_why;
	s->closing = true;
}

static void session_job_run(struct ev_job *job)
{
	struct session *s = (struct session *)((char *)job - offsetof(struct session, job));

	pthread_mutex_lock(&s->lock);
	s->queued = false;
	s->running = true;
	unsigned events = s->pending;
	s->pending = 0;
	pthread_mutex_unlock(&s->lock);

	session_update_log_context(s);
	/* A logged-in session touches files only as its user (auth/identity.h). */
	if (s->mail != NULL && identity_enter(&s->mail->id) < 0 && !s->closing) {
		session_printf(s, "* BYE The server cannot act as your account right now.\r\n");
		s->close_reason = "cannot take on the user's identity";
		s->closing = true;
		s->hold_output = false;
	}
	if (events & SESSION_EV_START)
		session_start(s);
	if (events & SESSION_EV_AUTH_DONE)
		cmd_auth_done(s);
	if ((events & SESSION_EV_DELAY_DONE) && s->hold_output)
		s->hold_output = false;
	if (events & SESSION_EV_IDLE_TIMER)
		session_check_idle(s);
	if ((events & SESSION_EV_WAKE) && s->waiting)
		s->wake_pending = true;
	if ((events & SESSION_EV_HANGUP) && s->waiting)
		s->hangup = true;
	if (events & SESSION_EV_NOTIFY)
		cmd_idle_wake(s);
	if (events & SESSION_EV_CLOSE_REQUEST)
		session_close_requested(s);
	if ((events & SESSION_EV_SHUTDOWN) && !s->closing) {
		s->hold_output = false;
		session_write(s, "* BYE Server shutting down.\r\n", 29);
		s->close_reason = "server shutdown";
		s->closing = true;
	}

	session_run_steps(s);

	bool close_now = s->closing && s->want == 0 && !s->hold_output && s->auth == NULL;
	if (close_now) {
		session_close(s);
		identity_leave();
		pthread_mutex_lock(&s->lock);
		s->closed = true;
		s->running = false;
		pthread_mutex_unlock(&s->lock);
		return;
	}
	identity_leave();
	if (s->want != 0)
		ev_modify(&s->src, s->want | EPOLLONESHOT | EPOLLRDHUP);

	pthread_mutex_lock(&s->lock);
	s->running = false;
	if (s->pending != 0 && !s->queued && !s->closed) {
		s->queued = true;
		ev_queue(&s->job);
	}
	pthread_mutex_unlock(&s->lock);
}

size_t session_shutdown_all(void)
{
	size_t n = 0;
	pthread_mutex_lock(&server.sessions_lock);
	for (struct session *s = server.sessions; s != NULL; s = s->reg_next) {
		session_schedule(s, SESSION_EV_SHUTDOWN);
		n++;
	}
	pthread_mutex_unlock(&server.sessions_lock);
	return n;
}

size_t session_live_count(void)
{
	pthread_mutex_lock(&server.sessions_lock);
	size_t n = server.session_count;
	pthread_mutex_unlock(&server.sessions_lock);
	return n;
}

int session_request_close(uint64_t id, const char *resp_code, const char *text, const char *why)
{
	char *line = resp_code != NULL ? text_printf("* BYE [%s] %s\r\n", resp_code, text)
	                               : text_printf("* BYE %s\r\n", text);
	char *reason = strdup(why);
	int rc = SLUICE_NOTFOUND;

	if (line == NULL || reason == NULL) {
		free(line);
		free(reason);
		return SLUICE_E_NOMEM;
	}
	pthread_mutex_lock(&server.sessions_lock);
	struct session *found = session_find_locked(id);
	if (found != NULL) {
		pthread_mutex_lock(&found->lock);
		if (!found->closed && !found->close_requested) {
			found->close_requested = true;
			found->close_line = line;
			found->close_why = reason;
			line = reason = NULL;
			rc = 0;
		}
		pthread_mutex_unlock(&found->lock);
		/* Still registered, so not freed: the registry lock keeps it alive. */
		if (rc == 0)
			session_schedule(found, SESSION_EV_CLOSE_REQUEST);
	}
	pthread_mutex_unlock(&server.sessions_lock);
	free(line);
	free(reason);
	return rc;
}

int session_views(struct session_view **views_r, size_t *count_r)
{
	struct session_view *v = NULL;
	size_t n = 0;
	int rc = 0;

	*views_r = NULL;
	*count_r = 0;
	pthread_mutex_lock(&server.sessions_lock);
	size_t total = server.session_count;
	if (total > 0 && (v = calloc(total, sizeof(*v))) == NULL)
		rc = -1;
	/* The registry holds the newest first: fill from the end for oldest first. */
	for (struct session *s = server.sessions; rc == 0 && s != NULL && n < total;
	     s = s->reg_next, n++) {
		struct session_view *x = &v[total - 1 - n];
		x->id = s->id;
		memcpy(x->remote_ip, s->remote_ip, sizeof(x->remote_ip));
		x->listener = s->listener->name;
		x->connected_ms = s->connected_ms;
		pthread_mutex_lock(&s->lock);
		x->state = s->shown_state;
		memcpy(x->command, s->shown_command, sizeof(x->command));
		x->command_ms = s->command_ms;
		if (s->shown_user != NULL && (x->user = strdup(s->shown_user)) == NULL)
			rc = -1;
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_unlock(&server.sessions_lock);
	if (rc < 0) {
		session_views_free(v, total);
		return -1;
	}
	*views_r = v;
	*count_r = total;
	return 0;
}

void session_views_free(struct session_view *views, size_t count)
{
	for (size_t i = 0; views != NULL && i < count; i++)
		free(views[i].user);
	free(views);
}

void session_command_started(struct session *s, const char *name)
{
	pthread_mutex_lock(&s->lock);
	snprintf(s->shown_command, sizeof(s->shown_command), "%s", name);
	s->command_ms = ev_now_ms();
	pthread_mutex_unlock(&s->lock);
}

void session_command_done(struct session *s)
{
	pthread_mutex_lock(&s->lock);
	s->shown_command[0] = '\0';
	s->command_ms = ev_now_ms();
	s->shown_state = s->state;
	pthread_mutex_unlock(&s->lock);
}
