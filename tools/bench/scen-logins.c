/*
 * Scenario logins: new connections per second, each a whole short session: connect,
 * TLS handshake (with --tls; no session resumption, so each one is a full handshake),
 * greeting, LOGIN, LOGOUT. --parallel sessions run at once for --seconds; a session
 * counts when its LOGOUT is answered within that time. Users rotate over --users, so
 * the figure is not one user's cache being hit over and over.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

struct lclient {
	struct conn *c;
	unsigned index;
	bool logging_out;
	uint64_t t0; /* when the session's connect began */
};

static struct lat session = {.name = "session"}; /* connect to LOGOUT answered */
static struct lat setup = {.name = "connect"};   /* connect to greeting (TLS included) */
static struct lat login = {.name = "LOGIN"};
static bool running;
static unsigned serial;

static void start(struct lclient *lc);

static void on_ready(struct conn *c)
{
	struct lclient *lc = conn_ud(c);
	char user[128], cmd[400];
	lat_add(&setup, conn_elapsed_us(c));
	bench_user(lc->index, user, sizeof(user));
	snprintf(cmd, sizeof(cmd), "LOGIN \"%s\" \"%s\"", user, opt.password);
	lc->logging_out = false;
	conn_cmd(c, cmd);
}

static void on_untagged(struct conn *c, const char *line, size_t len)
{
	(void)c, (void)line, (void)len; /* CAPABILITY, BYE */
}

static void on_cont(struct conn *c, const char *line, size_t len)
{
	fail("unexpected continuation request: %.100s", line);
}

static void on_done(struct conn *c, enum reply r, const char *text)
{
	struct lclient *lc = conn_ud(c);
	if (r != REPLY_OK)
		fail("%s refused: %.120s", lc->logging_out ? "LOGOUT" : "LOGIN", text);
	if (!lc->logging_out) {
		lat_add(&login, conn_elapsed_us(c));
		lc->logging_out = true;
		conn_cmd(c, "LOGOUT");
		return;
	}
	conn_close(c);
	lc->c = NULL;
	if (!running)
		return;
	lat_add(&session, now_us() - lc->t0);
	start(lc);
}

static void on_lost(struct conn *c, const char *why)
{
	struct lclient *lc = conn_ud(c);
	if (running)
		fail("session %u lost: %s", lc->index, why);
	lc->c = NULL;
}

static const struct conn_handler handler = {
	.ready = on_ready,
	.untagged = on_untagged,
	.cont = on_cont,
	.done = on_done,
	.lost = on_lost,
};

static void start(struct lclient *lc)
{
	lc->index = serial++;
	lc->t0 = now_us();
	lc->c = conn_open(lc->index, &handler, lc);
	if (lc->c == NULL)
		fail("out of file descriptors");
}

int scen_logins(void)
{
	struct lclient *slots = calloc(opt.parallel, sizeof(*slots));
	if (slots == NULL)
		fail("out of memory");
	running = true;
	uint64_t t0 = now_us(), end = t0 + (uint64_t)(opt.seconds * 1e6);
	for (unsigned i = 0; i < opt.parallel; i++)
		start(&slots[i]);
	for (uint64_t now = t0; now < end; now = now_us()) {
		loop_wait((int)((end - now) / 1000) + 1);
		conn_sweep();
	}
	double secs = (double)(now_us() - t0) / 1e6;
	running = false;
	for (unsigned i = 0; i < opt.parallel; i++)
		if (slots[i].c != NULL)
			conn_close(slots[i].c);
	conn_reap();
	free(slots);

	char prefix[64], key[96];
	snprintf(prefix, sizeof(prefix), "logins.%s", opt.tls ? "tls" : "plain");
	snprintf(key, sizeof(key), "%s.per_s", prefix);
	result(key, (double)session.n / secs, "logins/s", NULL);
	lat_report(&session, prefix);
	lat_report(&setup, prefix);
	lat_report(&login, prefix);
	if (session.n == 0)
		fail("no session completed in %.0f s", secs);
	return 0;
}
