/*
 * The client's event loop: one level-triggered epoll set whose every entry is a
 * connection, and the monotonic clock every latency is measured with. Level-triggered
 * keeps the connection code simple (a read that stops early is simply called again);
 * at the client's scale the extra wake-ups cost nothing measurable.
 */
#include "bench.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

static int epfd = -1;

uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void loop_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		fail("epoll_create1: %s", strerror(errno));
}

void loop_watch(int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = {.events = events, .data.ptr = ptr};
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return;
	if (errno != ENOENT || epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		fail("epoll_ctl: %s", strerror(errno));
}

void loop_forget(int fd)
{
	/* Closing the descriptor removes it too; this only keeps the set tidy before. */
	(void)epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
}

int loop_wait(int timeout_ms)
{
	struct epoll_event evs[256];
	int n = epoll_wait(epfd, evs, 256, timeout_ms);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		fail("epoll_wait: %s", strerror(errno));
	}
	for (int i = 0; i < n; i++)
		conn_event(evs[i].data.ptr, evs[i].events);
	conn_reap();
	return n;
}
