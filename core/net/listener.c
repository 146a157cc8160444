/* Listening sockets and the accept loop (see listener.h). */
#include "net/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "imap/session.h"
#include "net/event.h"
#include "server.h"
#include "util/log.h"

#define ACCEPTS_PER_EVENT 64

struct listener {
	struct ev_source src;
	const struct listener_conf *conf;
	struct ev_timer pause_timer;
};

static struct listener *listeners;
static size_t listener_count;

static void listener_resume(struct ev_timer *t)
{
	struct listener *l = (struct listener *)((char *)t - offsetof(struct listener, pause_timer));
	if (l->src.fd >= 0)
		ev_modify(&l->src, EPOLLIN);
}

static void listener_on_event(struct ev_source *src, uint32_t events)
{
	struct listener *l = (struct listener *)src;
	(void)events;
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage remote, local;
		socklen_t rlen = sizeof(remote), llen = sizeof(local);
		int fd = accept4(l->src.fd, (struct sockaddr *)&remote, &rlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
				return;
			/* Out of descriptors: stop accepting for a moment instead of spinning. */
			log_error("listener %s: accept failed: %s; pausing for one second", l->conf->name,
				  strerror(errno));
			ev_modify(&l->src, 0);
			ev_timer_set(&l->pause_timer, ev_now_ms() + 1000);
			return;
		}
		if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0)
			memset(&local, 0, sizeof(local));
		/* Answers are whole lines written at once; Nagle's algorithm would hold a small
		 * one (the greeting, a TLS record) until the client's delayed ACK, ~40 ms. */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		session_accept(fd, &remote, &local, l->conf);
	}
}

static int listener_bind(struct listener *l, struct conf_errors *errs)
{
	const struct listener_conf *c = l->conf;
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE, .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", c->port);
	int r = getaddrinfo(c->address, port, &hints, &ai);
	if (r != 0) {
		conf_error_add(errs, c->file, c->line, "listener %s: address %s is not a numeric IP address",
			       c->name, c->address);
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
		conf_error_add(errs, c->file, c->line, "listener %s: cannot listen on %s port %u: %s", c->name,
			       c->address, c->port, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	l->src.fd = fd;
	l->src.on_event = listener_on_event;
	l->pause_timer.fire = listener_resume;
	return 0;
}

int listeners_open(const struct server_conf *conf, struct conf_errors *errs)
{
	listeners = calloc(conf->listener_count, sizeof(*listeners));
	if (listeners == NULL)
		return -1;
	listener_count = conf->listener_count;
	int rc = 0;
	for (size_t i = 0; i < listener_count; i++) {
		listeners[i].src.fd = -1;
		listeners[i].conf = &conf->listeners[i];
		if (listener_bind(&listeners[i], errs) < 0)
			rc = -1;
	}
	return rc;
}

void listeners_start(void)
{
	for (size_t i = 0; i < listener_count; i++) {
		struct listener *l = &listeners[i];
		if (l->src.fd >= 0 && ev_add(&l->src, EPOLLIN) == 0)
			log_info("listening on %s port %u (%s)", l->conf->address, l->conf->port,
				 l->conf->tls == LISTENER_TLS_IMPLICIT   ? "implicit TLS"
				 : l->conf->tls == LISTENER_TLS_STARTTLS ? "STARTTLS"
									 : "no TLS");
	}
}

void listeners_close(void)
{
	for (size_t i = 0; i < listener_count; i++) {
		struct listener *l = &listeners[i];
		ev_timer_cancel(&l->pause_timer);
		if (l->src.fd >= 0) {
			ev_remove(&l->src);
			close(l->src.fd);
			l->src.fd = -1;
		}
	}
}

void listeners_free(void)
{
	listeners_close();
	free(listeners);
	listeners = NULL;
	listener_count = 0;
}
