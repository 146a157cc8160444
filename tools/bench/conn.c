/*
 * One client connection to the server under test.
 *
 * A connection goes CONNECTING (non-blocking connect, from 127.0.0.N when several
 * loopback source addresses are asked for, so that ten thousand connections never run
 * out of ports) -> HANDSHAKE (TLS only) -> GREETING -> OPEN. Input is parsed as IMAP
 * responses: a logical line ends at a CRLF that is not announced as a literal ("{n}" or
 * "{n+}" at the end of the physical line); literal bytes are counted and skipped, never
 * stored, so a FETCH of a whole mailbox costs the client no memory. Each logical line
 * goes to the scenario's handler as untagged, continuation or the tagged answer to the
 * one command in progress, whose start time is kept for the latency figures.
 *
 * Closing is deferred: conn_close() shuts the socket at once but frees the structure
 * after the current batch of events, so an event already fetched for it is ignored.
 */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* A logical response line longer than this is a server fault, not something to buffer. */
#define LINE_MAX_BYTES (256u << 20)
/* Bytes read from one connection per event, so one big FETCH does not starve the rest. */
#define READ_BUDGET (512u << 10)

enum conn_state { CS_CONNECTING, CS_HANDSHAKE, CS_GREETING, CS_OPEN, CS_CLOSED };

struct conn {
	int fd;
	SSL *ssl;
	enum conn_state st;
	const struct conn_handler *h;
	void *ud;
	uint32_t events; /* what epoll watches now */

	char *line; /* the logical line being assembled, literals left out */
	size_t line_len, line_cap;
	uint64_t lit_left;

	char *out;
	size_t out_len, out_off, out_cap;
	bool read_wants_write; /* SSL_read asked for writability */

	char tag[16];
	unsigned tagno;
	bool busy;
	uint64_t started;

	struct conn *prev, *next; /* live connections */
	struct conn *reap_next;
};

static SSL_CTX *tls_ctx;
static struct conn *live_head;
static struct conn *reap_head;
static unsigned live_count;
static uint64_t bytes_in;
static char rbuf[64 << 10];

void conn_tls_init(void)
{
	tls_ctx = SSL_CTX_new(TLS_client_method());
	if (tls_ctx == NULL)
		fail("SSL_CTX_new failed");
	/* The servers use a self-signed certificate; the bench measures, it does not trust. */
	SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
	/* Every connection pays a full handshake, as a new client does. */
	SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(tls_ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
}

void *conn_ud(const struct conn *c)
{
	return c->ud;
}

bool conn_busy(const struct conn *c)
{
	return c->busy;
}

uint64_t conn_elapsed_us(const struct conn *c)
{
	return now_us() - c->started;
}

unsigned conn_live(void)
{
	return live_count;
}

uint64_t conn_bytes_in(void)
{
	return bytes_in;
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (q == NULL)
		fail("out of memory (%zu bytes)", n);
	return q;
}

static void set_events(struct conn *c)
{
	uint32_t want;
	if (c->st == CS_CLOSED)
		return;
	if (c->st == CS_CONNECTING)
		want = EPOLLOUT;
	else
		want = EPOLLIN;
	if (c->out_off < c->out_len || c->read_wants_write)
		want |= EPOLLOUT;
	if (want != c->events) {
		loop_watch(c->fd, want, c);
		c->events = want;
	}
}

static void conn_unlink(struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		live_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	live_count--;
}

void conn_close(struct conn *c)
{
	if (c->st == CS_CLOSED)
		return;
	c->st = CS_CLOSED;
	loop_forget(c->fd);
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	close(c->fd);
	c->fd = -1;
	conn_unlink(c);
	c->reap_next = reap_head;
	reap_head = c;
}

void conn_reap(void)
{
	while (reap_head != NULL) {
		struct conn *c = reap_head;
		reap_head = c->reap_next;
		free(c->line);
		free(c->out);
		free(c);
	}
}

static void conn_fail(struct conn *c, const char *why)
{
	if (c->st == CS_CLOSED)
		return;
	const struct conn_handler *h = c->h;
	conn_close(c);
	h->lost(c, why);
}

struct conn *conn_open(unsigned index, const struct conn_handler *h, void *ud)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE)
			return NULL;
		fail("socket: %s", strerror(errno));
	}
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (opt.sources > 1) {
		/* The port is chosen at connect time against the whole 4-tuple, so each source
		 * address brings its own range of ephemeral ports. */
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		struct sockaddr_in src = {.sin_family = AF_INET};
		src.sin_addr.s_addr = htonl(0x7f000001u + index % opt.sources);
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
			fail("bind to 127.0.0.%u: %s", 1 + index % opt.sources, strerror(errno));
	}
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
	dst.sin_addr.s_addr = htonl(0x7f000001u);
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS) {
		if (errno == EADDRNOTAVAIL)
			fail("no local port left for connection %u (use more --sources)", index);
		fail("connect to 127.0.0.1:%d: %s", opt.port, strerror(errno));
	}
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		fail("out of memory");
	c->fd = fd;
	c->st = CS_CONNECTING;
	c->h = h;
	c->ud = ud;
	c->started = now_us();
	c->next = live_head;
	if (live_head)
		live_head->prev = c;
	live_head = c;
	live_count++;
	set_events(c);
	return c;
}

/* ---- output ----------------------------------------------------------------------- */

static void out_append(struct conn *c, const void *data, size_t len)
{
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 512;
		while (cap < c->out_len + len)
			cap *= 2;
		c->out = xrealloc(c->out, cap);
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
}

/* Writes what is pending; false when the connection failed. */
static bool flush_out(struct conn *c)
{
	while (c->out_off < c->out_len) {
		size_t n = c->out_len - c->out_off;
		if (c->ssl != NULL) {
			ERR_clear_error();
			int w = SSL_write(c->ssl, c->out + c->out_off, n > (1u << 30) ? 1 << 30 : (int)n);
			if (w <= 0) {
				int e = SSL_get_error(c->ssl, w);
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
					break;
				conn_fail(c, "TLS write failed");
				return false;
			}
			c->out_off += (size_t)w;
		} else {
			ssize_t w = send(c->fd, c->out + c->out_off, n, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				conn_fail(c, strerror(errno));
				return false;
			}
			c->out_off += (size_t)w;
		}
	}
	set_events(c);
	return true;
}

static void begin_cmd(struct conn *c)
{
	if (c->st != CS_OPEN)
		fail("internal: command on a connection that is not open");
	if (c->busy)
		fail("internal: a second command while one is in progress");
	snprintf(c->tag, sizeof(c->tag), "t%u", ++c->tagno);
	c->busy = true;
	c->started = now_us();
	out_append(c, c->tag, strlen(c->tag));
	out_append(c, " ", 1);
}

void conn_cmd(struct conn *c, const char *command)
{
	begin_cmd(c);
	out_append(c, command, strlen(command));
	out_append(c, "\r\n", 2);
	flush_out(c);
}

void conn_cmd_literal(struct conn *c, const char *prefix, const void *data, size_t len)
{
	char head[64];
	begin_cmd(c);
	out_append(c, prefix, strlen(prefix));
	int n = snprintf(head, sizeof(head), " {%zu+}\r\n", len);
	out_append(c, head, (size_t)n);
	out_append(c, data, len);
	out_append(c, "\r\n", 2);
	flush_out(c);
}

void conn_raw(struct conn *c, const char *s)
{
	out_append(c, s, strlen(s));
	flush_out(c);
}

/* ---- input ------------------------------------------------------------------------ */

static void line_append(struct conn *c, const char *p, size_t n)
{
	if (c->line_len + n + 1 > c->line_cap) {
		size_t cap = c->line_cap ? c->line_cap : 1024;
		while (cap < c->line_len + n + 1)
			cap *= 2;
		if (cap > LINE_MAX_BYTES)
			fail("a response line passed %u MiB", LINE_MAX_BYTES >> 20);
		c->line = xrealloc(c->line, cap);
		c->line_cap = cap;
	}
	memcpy(c->line + c->line_len, p, n);
	c->line_len += n;
	c->line[c->line_len] = '\0';
}

/* The size of a literal announced at the end of the line so far ("{123}" or "{123+}"). */
static bool literal_at_end(const struct conn *c, uint64_t *n)
{
	size_t i = c->line_len;
	if (i < 3 || c->line[i - 1] != '}')
		return false;
	i--;
	if (c->line[i - 1] == '+')
		i--;
	size_t end = i;
	while (i > 0 && c->line[i - 1] >= '0' && c->line[i - 1] <= '9')
		i--;
	if (i == end || i == 0 || c->line[i - 1] != '{')
		return false;
	uint64_t v = 0;
	for (size_t k = i; k < end; k++)
		v = v * 10 + (uint64_t)(c->line[k] - '0');
	*n = v;
	return true;
}

static void dispatch(struct conn *c)
{
	const char *s = c->line;
	size_t len = c->line_len;
	if (c->st == CS_GREETING) {
		if (!starts_with_ci(s, len, "* OK")) {
			char why[160];
			snprintf(why, sizeof(why), "greeting was not * OK: %.100s", s);
			conn_fail(c, why);
			return;
		}
		c->st = CS_OPEN;
		c->h->ready(c);
		return;
	}
	if (len >= 2 && s[0] == '*' && s[1] == ' ') {
		c->h->untagged(c, s, len);
		return;
	}
	if (len >= 1 && s[0] == '+') {
		c->h->cont(c, s, len);
		return;
	}
	size_t tl = strlen(c->tag);
	if (c->busy && len > tl && memcmp(s, c->tag, tl) == 0 && s[tl] == ' ') {
		const char *r = s + tl + 1;
		size_t rl = len - tl - 1;
		enum reply rep;
		if (starts_with_ci(r, rl, "OK"))
			rep = REPLY_OK;
		else if (starts_with_ci(r, rl, "NO"))
			rep = REPLY_NO;
		else
			rep = REPLY_BAD;
		c->busy = false;
		c->h->done(c, rep, r);
		return;
	}
	char why[160];
	snprintf(why, sizeof(why), "unexpected response line: %.100s", s);
	conn_fail(c, why);
}

/* Parses n received bytes; stops early if the handler closed the connection. */
static void consume(struct conn *c, const char *p, size_t n)
{
	bytes_in += n;
	while (n > 0 && c->st != CS_CLOSED) {
		if (c->lit_left > 0) {
			size_t take = c->lit_left < n ? (size_t)c->lit_left : n;
			c->lit_left -= take;
			p += take;
			n -= take;
			continue;
		}
		const char *nl = memchr(p, '\n', n);
		if (nl == NULL) {
			line_append(c, p, n);
			return;
		}
		size_t seg = (size_t)(nl - p);
		line_append(c, p, seg);
		p = nl + 1;
		n -= seg + 1;
		if (c->line_len > 0 && c->line[c->line_len - 1] == '\r')
			c->line[--c->line_len] = '\0';
		uint64_t lit;
		if (literal_at_end(c, &lit)) {
			c->lit_left = lit;
			continue; /* the logical line goes on after the literal */
		}
		dispatch(c);
		c->line_len = 0;
	}
}

static void do_read(struct conn *c)
{
	size_t budget = READ_BUDGET;
	c->read_wants_write = false;
	while (budget > 0 && c->st != CS_CLOSED) {
		ssize_t n;
		if (c->ssl != NULL) {
			ERR_clear_error();
			int r = SSL_read(c->ssl, rbuf, (int)sizeof(rbuf));
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ)
					break;
				if (e == SSL_ERROR_WANT_WRITE) {
					c->read_wants_write = true;
					break;
				}
				conn_fail(c, e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL
				                 ? "server closed the connection"
				                 : "TLS read failed");
				return;
			}
			n = r;
		} else {
			n = recv(c->fd, rbuf, sizeof(rbuf), 0);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				conn_fail(c, strerror(errno));
				return;
			}
			if (n == 0) {
				conn_fail(c, "server closed the connection");
				return;
			}
		}
		consume(c, rbuf, (size_t)n);
		budget = (size_t)n < budget ? budget - (size_t)n : 0;
	}
	set_events(c);
}

static void do_handshake(struct conn *c)
{
	ERR_clear_error();
	int r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->st = CS_GREETING;
		set_events(c);
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		c->read_wants_write = false;
		set_events(c);
	} else if (e == SSL_ERROR_WANT_WRITE) {
		c->read_wants_write = true; /* reuse: wait for writability */
		set_events(c);
	} else {
		char why[200];
		unsigned long ec = ERR_peek_error();
		snprintf(why, sizeof(why), "TLS handshake failed: %s",
		         ec ? ERR_reason_error_string(ec) : "connection closed");
		conn_fail(c, why);
	}
}

static void connected(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0) {
		conn_fail(c, strerror(err));
		return;
	}
	if (opt.tls) {
		c->ssl = SSL_new(tls_ctx);
		if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
			fail("SSL_new failed");
		SSL_set_tlsext_host_name(c->ssl, "localhost");
		SSL_set_connect_state(c->ssl);
		c->st = CS_HANDSHAKE;
		do_handshake(c);
	} else {
		c->st = CS_GREETING;
		set_events(c);
	}
}

void conn_event(void *ptr, uint32_t events)
{
	struct conn *c = ptr;
	if (c->st == CS_CLOSED)
		return;
	if (c->st == CS_CONNECTING) {
		connected(c);
		return;
	}
	if (c->st == CS_HANDSHAKE) {
		do_handshake(c);
		return;
	}
	if (events & EPOLLOUT) {
		if (c->read_wants_write)
			do_read(c);
		if (c->st != CS_CLOSED && !flush_out(c))
			return;
	}
	if (c->st != CS_CLOSED && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		do_read(c);
}

void conn_sweep(void)
{
	uint64_t now = now_us();
	uint64_t limit = (uint64_t)(opt.cmd_timeout * 1e6);
	struct conn *c = live_head;
	while (c != NULL) {
		struct conn *next = c->next;
		bool waiting = c->busy || c->st != CS_OPEN;
		if (waiting && now - c->started > limit) {
			char why[96];
			snprintf(why, sizeof(why), "no answer within %.0f s (%s)", opt.cmd_timeout,
			         c->st == CS_OPEN ? "command" : "connection set-up");
			conn_fail(c, why);
		}
		c = next;
	}
}
