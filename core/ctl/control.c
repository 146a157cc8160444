/*
 * The control socket (see control.h): creating it safely, accepting administrators'
 * connections, reading one request line, and writing the answer back.
 *
 * A connection goes through three phases. READING and WRITING belong to the loop thread,
 * which reads and writes without blocking and re-arms the socket (EPOLLONESHOT) when it
 * would block. WORKING belongs to the worker building a `status` or `kick` answer: it
 * fills the output, moves the phase to WRITING and re-arms the socket for writing, and
 * from then on the loop owns the connection again. So at any moment exactly one thread
 * touches a connection, and only the loop frees it. Once the answer is out, the server
 * ends its side and reads (DRAINING) until the client closes: closing with unread bytes
 * (a request that was too long) would reset the connection and lose the answer. A
 * connection that has not finished within CTL_TIMEOUT_MS is shut down by a timer, which
 * makes its next event fail.
 */
#include "ctl/control.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/requests.h"
#include "imap/session.h"
#include "net/event.h"
#include "server.h"
#include "util/json.h"
#include "util/log.h"
#include "util/utf8.h"

#define CTL_MAX_REQUEST 1024
#define CTL_MAX_CONNS 16
#define CTL_TIMEOUT_MS 10000
#define CTL_ACCEPTS_PER_EVENT 16

#define CTL_REQUESTS "status, kick user NAME, kick address ADDRESS, reload"

enum ctl_phase { CTL_READING, CTL_WORKING, CTL_WRITING, CTL_DRAINING };
enum ctl_kind { CTL_STATUS, CTL_KICK_USER, CTL_KICK_ADDRESS };

struct ctl_conn {
	struct ev_source src; /* first: the loop hands back this pointer */
	struct ev_job job;
	struct ev_timer deadline;
	_Atomic int phase; /* enum ctl_phase; the worker's store publishes out */
	enum ctl_kind kind;
	char req[CTL_MAX_REQUEST + 1];
	size_t req_len;
	const char *arg; /* into req: the user or the normalized address of a kick */
	char addr[INET6_ADDRSTRLEN];
	struct buf out;
	struct ctl_conn *prev, *next;
};

static struct ev_source ctl_listener = {-1, NULL};
static char *ctl_path;
static ino_t ctl_inode;
static struct ctl_conn *ctl_conns;
static size_t ctl_conn_count;
static uint64_t ctl_started_ms;

/* ---- creating the socket ---------------------------------------------------------------- */

/* Whether a server answers on the socket file at @p addr (a stale file refuses). */
static bool ctl_socket_alive(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive = fd >= 0 && connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;

	if (fd >= 0)
		close(fd);
	return alive;
}

/* Makes the socket's folder (one level, mode 0700) when it is missing, as /run/sluice is
 * after a reboot when systemd does not make it. */
static void ctl_make_folder(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0700) == 0)
		log_info("created the folder %s for the control socket", dir);
}

/* Binds @p path; -1 with a sentence in @p why when it cannot. */
static int ctl_bind(const char *path, char *why, size_t why_len)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct stat st;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(why, why_len, "the path is longer than %zu bytes", sizeof(addr.sun_path) - 1);
		return -1;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(why, why_len, "it exists and is not a socket; remove it or choose "
					       "another control_socket");
			return -1;
		}
		if (ctl_socket_alive(&addr)) {
			snprintf(why, why_len, "another server answers on it");
			return -1;
		}
		unlink(path); /* left behind by a server that did not stop cleanly */
	} else {
		ctl_make_folder(path);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, why_len, "%s", strerror(errno));
		return -1;
	}
	/* The file is born 0600: no moment in which another user could connect. No other
	 * thread runs yet, so changing the process umask for the bind is safe. */
	mode_t old = umask(0177);
	int r = bind(fd, (const struct sockaddr *)&addr, sizeof(addr));
	int bind_errno = errno;
	umask(old);
	if (r < 0 || chmod(path, 0600) < 0 || listen(fd, CTL_MAX_CONNS) < 0 || stat(path, &st) < 0) {
		snprintf(why, why_len, "%s", strerror(r < 0 ? bind_errno : errno));
		if (r == 0)
			unlink(path);
		close(fd);
		return -1;
	}
	ctl_inode = st.st_ino;
	return fd;
}

void control_open(const struct server_conf *conf)
{
	const char *path = conf->s.control_socket;
	char why[160];

	ctl_started_ms = ev_now_ms();
	if (path == NULL || path[0] == '\0') {
		log_info("no control socket (control_socket is empty): sluicectl cannot reach "
			 "this server");
		return;
	}
	int fd = ctl_bind(path, why, sizeof(why));
	if (fd < 0) {
		log_warning("control socket %s not created: %s; sluicectl cannot reach this server",
			    path, why);
		return;
	}
	if ((ctl_path = strdup(path)) == NULL) {
		unlink(path);
		close(fd);
		log_warning("control socket %s not created: out of memory", path);
		return;
	}
	ctl_listener.fd = fd;
	log_info("control socket %s (mode 0600) for sluicectl", path);
}

/* ---- connections ------------------------------------------------------------------------ */

static void ctl_on_event(struct ev_source *src, uint32_t events);

static void ctl_deadline_fire(struct ev_timer *t)
{
	struct ctl_conn *c = (struct ctl_conn *)((char *)t - offsetof(struct ctl_conn, deadline));

	/* Timers may only hand work over: the shutdown makes the next read or write fail,
	 * and whoever owns the connection then closes it. */
	shutdown(c->src.fd, SHUT_RDWR);
}

/* Loop thread, with the connection owned by the loop (READING or WRITING). */
static void ctl_conn_free(struct ctl_conn *c)
{
	ev_timer_cancel(&c->deadline);
	ev_remove(&c->src);
	close(c->src.fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ctl_conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	ctl_conn_count--;
	buf_free(&c->out);
	free(c);
}

/* Reads and drops what the client still sends, until it closes. */
static void ctl_drain(struct ctl_conn *c)
{
	char sink[4096];

	for (;;) {
		ssize_t n = recv(c->src.fd, sink, sizeof(sink), 0);
		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    ev_modify(&c->src, EPOLLIN | EPOLLONESHOT) == 0)
			return;
		ctl_conn_free(c);
		return;
	}
}

/* Writes what is left of the answer; then ends the server's side and drains. */
static void ctl_write(struct ctl_conn *c)
{
	while (buf_len(&c->out) > 0) {
		ssize_t n = send(c->src.fd, buf_head(&c->out), buf_len(&c->out), MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (ev_modify(&c->src, EPOLLOUT | EPOLLONESHOT) == 0)
				return;
			break;
		}
		if (n <= 0)
			break;
		buf_consume(&c->out, (size_t)n);
	}
	if (buf_len(&c->out) > 0 || shutdown(c->src.fd, SHUT_WR) < 0) {
		ctl_conn_free(c);
		return;
	}
	atomic_store(&c->phase, CTL_DRAINING);
	ctl_drain(c);
}

static void ctl_answer_error(struct ctl_conn *c, const char *message)
{
	buf_free(&c->out);
	ctl_error(&c->out, message);
	atomic_store(&c->phase, CTL_WRITING);
	ctl_write(c);
}

/* Worker: builds a status or kick answer, then gives the connection back to the loop. */
static void ctl_job_run(struct ev_job *job)
{
	struct ctl_conn *c = (struct ctl_conn *)((char *)job - offsetof(struct ctl_conn, job));

	log_set_context("control");
	if (c->kind == CTL_STATUS) {
		ctl_status(&c->out, ctl_started_ms);
	} else {
		ctl_kick(&c->out, c->kind == CTL_KICK_ADDRESS, c->arg);
	}
	atomic_store(&c->phase, CTL_WRITING);
	/* From here on the loop owns the connection: touch nothing after this call. If it
	 * fails (the loop is going away) control_close frees the connection. */
	ev_modify(&c->src, EPOLLOUT | EPOLLONESHOT);
}

static void ctl_reload(struct ctl_conn *c)
{
	struct conf_errors errs = {0};

	log_info("control: reload requested through the control socket");
	/* The same reload as SIGHUP's, on the same (loop) thread. */
	int rc = server_reload(&errs);
	if (rc == 0) {
		buf_printf(&c->out, "{\"ok\":true,\"connections_kept\":%zu}\n",
			   session_live_count());
	} else {
		buf_printf(&c->out, "{\"ok\":false,\"error\":\"reload failed: the previous "
				    "configuration stays in force\",\"details\":[");
		for (size_t i = 0; i < errs.count; i++) {
			if (i > 0)
				buf_append(&c->out, ",", 1);
			json_string(&c->out, errs.lines[i] != NULL ? errs.lines[i] : "(out of memory)");
		}
		buf_printf(&c->out, "]}\n");
	}
	conf_errors_free(&errs);
	atomic_store(&c->phase, CTL_WRITING);
	ctl_write(c);
}

/* "::ffff:192.0.2.7" and "192.0.2.7" alike become the form session views carry. */
static bool ctl_normalize_address(const char *text, char *out, size_t size)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, text, &a4) == 1)
		return inet_ntop(AF_INET, &a4, out, (socklen_t)size) != NULL;
	if (inet_pton(AF_INET6, text, &a6) != 1)
		return false;
	if (IN6_IS_ADDR_V4MAPPED(&a6))
		return inet_ntop(AF_INET, &a6.s6_addr[12], out, (socklen_t)size) != NULL;
	return inet_ntop(AF_INET6, &a6, out, (socklen_t)size) != NULL;
}

/* Decides what the request line in c->req asks for and starts it. */
static void ctl_request(struct ctl_conn *c)
{
	char *line = c->req, msg[CTL_MAX_REQUEST + 128];

	line[c->req_len] = '\0';
	if (c->req_len > 0 && line[c->req_len - 1] == '\r')
		line[--c->req_len] = '\0';
	bool text = utf8_valid(line, c->req_len) && strlen(line) == c->req_len;
	for (size_t i = 0; text && i < c->req_len; i++)
		text = (unsigned char)line[i] >= 0x20 && line[i] != 0x7f;
	if (!text) {
		ctl_answer_error(c, "the request is not a line of UTF-8 text; requests are: " CTL_REQUESTS);
		return;
	}
	if (strcmp(line, "reload") == 0) {
		ctl_reload(c);
		return;
	}
	if (strcmp(line, "status") == 0) {
		c->kind = CTL_STATUS;
	} else if (strncmp(line, "kick user ", 10) == 0 && line[10] != '\0') {
		c->kind = CTL_KICK_USER;
		c->arg = line + 10;
	} else if (strncmp(line, "kick address ", 13) == 0) {
		if (!ctl_normalize_address(line + 13, c->addr, sizeof(c->addr))) {
			snprintf(msg, sizeof(msg), "'%.100s' is not an IPv4 or IPv6 address", line + 13);
			ctl_answer_error(c, msg);
			return;
		}
		c->kind = CTL_KICK_ADDRESS;
		c->arg = c->addr;
	} else {
		snprintf(msg, sizeof(msg), "unknown request '%.100s'; requests are: " CTL_REQUESTS,
			 line);
		ctl_answer_error(c, msg);
		return;
	}
	atomic_store(&c->phase, CTL_WORKING);
	ev_queue(&c->job);
}

/* Reads until the request line is complete; then hands it to ctl_request. */
static void ctl_read(struct ctl_conn *c)
{
	for (;;) {
		if (c->req_len == CTL_MAX_REQUEST) {
			ctl_answer_error(c, "the request is longer than 1024 bytes");
			return;
		}
		ssize_t n = recv(c->src.fd, c->req + c->req_len, CTL_MAX_REQUEST - c->req_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (ev_modify(&c->src, EPOLLIN | EPOLLONESHOT) < 0)
				ctl_conn_free(c);
			return;
		}
		if (n < 0 || (n == 0 && c->req_len == 0)) {
			ctl_conn_free(c);
			return;
		}
		/* A request without a newline before the end of the stream counts as a line. */
		char *nl = n > 0 ? memchr(c->req + c->req_len, '\n', (size_t)n) : NULL;
		c->req_len += (size_t)n;
		if (nl != NULL || n == 0) {
			if (nl != NULL)
				c->req_len = (size_t)(nl - c->req);
			ctl_request(c);
			return;
		}
	}
}

static void ctl_on_event(struct ev_source *src, uint32_t events)
{
	struct ctl_conn *c = (struct ctl_conn *)src;

	(void)events;
	switch (atomic_load(&c->phase)) {
	case CTL_READING:
		ctl_read(c);
		break;
	case CTL_WRITING:
		ctl_write(c);
		break;
	case CTL_DRAINING:
		ctl_drain(c);
		break;
	default:
		break; /* a worker owns it; it re-arms the socket when done */
	}
}

/* Only the server's own user (and root) may control it, whatever the file's mode. */
static bool ctl_peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

/* Refuses a connection in one best-effort write; it never waits for the client. */
static void ctl_refuse(int fd, const char *message)
{
	struct buf b = {0};

	ctl_error(&b, message);
	if (send(fd, buf_head(&b), buf_len(&b), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("control: could not send a refusal: %s", strerror(errno));
	buf_free(&b);
	close(fd);
}

static void ctl_accept(struct ev_source *src, uint32_t events)
{
	(void)events;
	for (int i = 0; i < CTL_ACCEPTS_PER_EVENT; i++) {
		int fd = accept4(src->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warning("control socket: accept failed: %s", strerror(errno));
			return;
		}
		if (!ctl_peer_allowed(fd)) {
			log_warning("control socket: refused a connection from another user");
			ctl_refuse(fd, "permission denied: only the server's own user may use the "
				       "control socket");
			continue;
		}
		struct ctl_conn *c = ctl_conn_count < CTL_MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
		if (c == NULL) {
			ctl_refuse(fd, "too many control connections at once; try again");
			continue;
		}
		c->src.fd = fd;
		c->src.on_event = ctl_on_event;
		c->job.run = ctl_job_run;
		c->deadline.fire = ctl_deadline_fire;
		atomic_init(&c->phase, CTL_READING);
		if (ev_add(&c->src, EPOLLIN | EPOLLONESHOT) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = ctl_conns;
		if (ctl_conns != NULL)
			ctl_conns->prev = c;
		ctl_conns = c;
		ctl_conn_count++;
		ev_timer_set(&c->deadline, ev_now_ms() + CTL_TIMEOUT_MS);
	}
}

void control_start(void)
{
	ctl_listener.on_event = ctl_accept;
	if (ctl_listener.fd >= 0 && ev_add(&ctl_listener, EPOLLIN) < 0)
		log_warning("control socket: cannot watch it: %s", strerror(errno));
}

void control_stop(void)
{
	if (ctl_listener.fd >= 0) {
		ev_remove(&ctl_listener);
		close(ctl_listener.fd);
		ctl_listener.fd = -1;
	}
	for (struct ctl_conn *c = ctl_conns; c != NULL; c = c->next)
		ev_timer_cancel(&c->deadline);
}

void control_close(void)
{
	control_stop();
	/* The workers are gone: every connection is the loop's to free, whatever its phase. */
	while (ctl_conns != NULL)
		ctl_conn_free(ctl_conns);
	if (ctl_path != NULL) {
		struct stat st;
		/* Only our own socket: another server may have replaced it meanwhile. */
		if (lstat(ctl_path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == ctl_inode)
			unlink(ctl_path);
		free(ctl_path);
		ctl_path = NULL;
	}
}
