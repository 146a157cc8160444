/*
 * Scenario idle: what N logged-in clients sitting in IDLE cost the server in memory.
 *
 * Each connection logs in, selects INBOX and starts IDLE; at most --parallel of them are
 * being set up at once, so the server's accept queue never overflows. A server that
 * answers IDLE with BAD or NO keeps the connection selected without IDLE, and the
 * figures say "no IDLE". Once all N are in place and --settle seconds have passed, the
 * resident memory of the server's whole process tree is compared with what it was
 * before the first connection.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

enum idle_phase { IP_CONNECT, IP_LOGIN, IP_SELECT, IP_IDLE, IP_PLACED };

struct idle_client {
	struct conn *c;
	unsigned index;
	enum idle_phase ph;
};

static unsigned placed, refused_idle;
static bool finishing;

static void placed_one(struct idle_client *ic)
{
	ic->ph = IP_PLACED;
	placed++;
}

static void on_ready(struct conn *c)
{
	struct idle_client *ic = conn_ud(c);
	char user[128], cmd[400];
	bench_user(ic->index, user, sizeof(user));
	snprintf(cmd, sizeof(cmd), "LOGIN \"%s\" \"%s\"", user, opt.password);
	ic->ph = IP_LOGIN;
	conn_cmd(c, cmd);
}

static void on_untagged(struct conn *c, const char *line, size_t len)
{
	(void)c, (void)line, (void)len; /* EXISTS, FLAGS, "still here": nothing to do */
}

static void on_cont(struct conn *c, const char *line, size_t len)
{
	struct idle_client *ic = conn_ud(c);
	if (ic->ph != IP_IDLE)
		fail("connection %u: continuation request outside IDLE: %.80s", ic->index, line);
	placed_one(ic);
}

static void on_done(struct conn *c, enum reply r, const char *text)
{
	struct idle_client *ic = conn_ud(c);
	switch (ic->ph) {
	case IP_LOGIN:
		if (r != REPLY_OK)
			fail("connection %u: LOGIN refused: %.100s", ic->index, text);
		ic->ph = IP_SELECT;
		conn_cmd(c, "SELECT INBOX");
		break;
	case IP_SELECT:
		if (r != REPLY_OK)
			fail("connection %u: SELECT INBOX refused: %.100s", ic->index, text);
		ic->ph = IP_IDLE;
		conn_cmd(c, "IDLE");
		break;
	case IP_IDLE:
		if (r == REPLY_OK)
			fail("connection %u: IDLE ended before it began: %.100s", ic->index, text);
		/* IDLE refused: the connection stays logged in with INBOX selected. */
		refused_idle++;
		placed_one(ic);
		break;
	default:
		fail("connection %u: unexpected tagged answer: %.100s", ic->index, text);
	}
}

static void on_lost(struct conn *c, const char *why)
{
	struct idle_client *ic = conn_ud(c);
	if (!finishing)
		fail("connection %u lost: %s", ic->index, why);
}

static const struct conn_handler handler = {
	.ready = on_ready,
	.untagged = on_untagged,
	.cont = on_cont,
	.done = on_done,
	.lost = on_lost,
};

int scen_idle(void)
{
	if (opt.pid == 0)
		fail("idle needs --pid (the server's main process)");
	const char *mode = opt.tls ? "tls" : "plain";
	struct procmem before, after;
	if (procmem_tree(opt.pid, &before) < 0)
		fail("no process %d to measure", (int)opt.pid);

	struct idle_client *clients = calloc(opt.count, sizeof(*clients));
	if (clients == NULL)
		fail("out of memory");
	uint64_t start = now_us(), deadline = start + (uint64_t)(opt.timeout * 1e6);
	unsigned opened = 0;
	while (placed < opt.count) {
		while (opened < opt.count && opened - placed < opt.parallel) {
			struct idle_client *ic = &clients[opened];
			ic->index = opened;
			ic->c = conn_open(opened, &handler, ic);
			if (ic->c == NULL)
				fail("out of file descriptors after %u connections", opened);
			opened++;
		}
		loop_wait(100);
		conn_sweep();
		if (now_us() > deadline)
			fail("only %u of %u connections in place after %.0f s", placed, opt.count,
			     opt.timeout);
	}
	double setup = (double)(now_us() - start) / 1e6;
	note("%u %s connections in place in %.1f s%s", opt.count, mode, setup,
	     refused_idle ? " (IDLE refused)" : "");

	/* Let the server finish what the logins set off (index opens, lazy frees). */
	uint64_t settle_end = now_us() + (uint64_t)(opt.settle * 1e6);
	for (uint64_t now = now_us(); now < settle_end; now = now_us())
		loop_wait((int)((settle_end - now) / 1000) + 1);
	if (procmem_tree(opt.pid, &after) < 0)
		fail("the server (process %d) is gone", (int)opt.pid);
	if (conn_live() != opt.count)
		fail("%u of %u connections survived", conn_live(), opt.count);

	char why[64] = "";
	if (refused_idle == opt.count)
		snprintf(why, sizeof(why), "no IDLE");
	else if (refused_idle > 0)
		snprintf(why, sizeof(why), "no IDLE on %u of %u", refused_idle, opt.count);
	char key[128];
	double n = opt.count;
	snprintf(key, sizeof(key), "idle.%s.%u.rss_total", mode, opt.count);
	result(key, (double)after.rss_kib / 1024.0, "MiB", why);
	snprintf(key, sizeof(key), "idle.%s.%u.rss_per_conn", mode, opt.count);
	result(key, ((double)after.rss_kib - (double)before.rss_kib) / n, "KiB", why);
	snprintf(key, sizeof(key), "idle.%s.%u.pss_total", mode, opt.count);
	result(key, (double)after.pss_kib / 1024.0, "MiB", why);
	snprintf(key, sizeof(key), "idle.%s.%u.pss_per_conn", mode, opt.count);
	result(key, ((double)after.pss_kib - (double)before.pss_kib) / n, "KiB", why);
	snprintf(key, sizeof(key), "idle.%s.%u.processes", mode, opt.count);
	result(key, after.procs, "processes", NULL);
	snprintf(key, sizeof(key), "idle.%s.%u.setup", mode, opt.count);
	result(key, setup, "s", NULL);

	finishing = true;
	for (unsigned i = 0; i < opt.count; i++)
		conn_close(clients[i].c);
	conn_reap();
	free(clients);
	return 0;
}
