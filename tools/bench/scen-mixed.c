/*
 * Scenario mixed: C clients loop through whole sessions for T seconds, in the order and
 * with the probabilities of imaptest's default profile (Dovecot's stress tester,
 * src/client-state.c there): LOGIN 100 %, LIST 50 %, STATUS 50 %, SELECT 100 %,
 * FETCH 100 % (up to 100 random messages, 1-4 random items), FETCH of one body part
 * 100 % (again 30 %), STORE of flags 50 %, STORE \Deleted 100 %, EXPUNGE 100 %,
 * APPEND 100 % (again 5 %) while the mailbox holds fewer than --threshold messages,
 * LOGOUT 100 %, then a new connection. imaptest leaves COPY out unless given a
 * destination, and so does this. Unlike imaptest, a client sends one command at a
 * time (imaptest's no_pipelining), so each latency is one command's.
 *
 * Client i logs in as user i (modulo --users): with as many users as clients, every
 * client has its own mailbox and a NO can only mean a server fault; FETCH and STORE
 * may still get NO when users are shared (a message expunged by another session),
 * which is counted, not fatal. Latencies count from the moment the command is written
 * to the moment its tagged answer is read; "connect" is TCP connect to greeting.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum step {
	S_CONNECT, S_LOGIN, S_LIST, S_STATUS, S_SELECT, S_FETCH, S_FETCH2, S_STORE, S_DELETE,
	S_EXPUNGE, S_APPEND, S_LOGOUT, S_COUNT
};

static struct lat lats[S_COUNT] = {
	{.name = "connect"}, {.name = "LOGIN"}, {.name = "LIST"}, {.name = "STATUS"},
	{.name = "SELECT"}, {.name = "FETCH"}, {.name = "FETCH_BODY"}, {.name = "STORE"},
	{.name = "STORE_DELETED"}, {.name = "EXPUNGE"}, {.name = "APPEND"}, {.name = "LOGOUT"},
};
/* imaptest's default probability of each step, and of doing it once more right after. */
static const unsigned prob[S_COUNT] = {100, 100, 50, 50, 100, 100, 100, 50, 100, 100, 100, 100};
static const unsigned again[S_COUNT] = {0, 0, 0, 0, 0, 0, 30, 0, 0, 0, 5, 0};

struct mclient {
	struct conn *c;
	unsigned index, sessions;
	struct rng rng;
	enum step st;
	uint32_t msgs; /* messages in the selected mailbox, from EXISTS and EXPUNGE */
	bool selected;
};

static struct mclient *clients;
static struct message *appends;
static unsigned n_appends;
static bool measuring, running;
static uint64_t tolerated_no, sessions_done;

static void start_session(struct mclient *mc);

/* A random message set of up to want sequence numbers in 1..msgs, as ranges. */
static void random_set(struct mclient *mc, uint32_t want, char *out, size_t size)
{
	uint32_t n = mc->msgs;
	uint8_t *pick = calloc(n + 2, 1);
	if (pick == NULL)
		fail("out of memory");
	for (uint32_t i = 0; i < want; i++)
		pick[1 + rng_below(&mc->rng, n)] = 1;
	size_t o = 0;
	out[0] = '\0';
	for (uint32_t s = 1; s <= n; s++) {
		if (!pick[s])
			continue;
		uint32_t e = s;
		while (e + 1 <= n && pick[e + 1])
			e++;
		int w = e > s ? snprintf(out + o, size - o, "%s%u:%u", o ? "," : "", s, e)
		              : snprintf(out + o, size - o, "%s%u", o ? "," : "", s);
		if (w < 0 || (size_t)w >= size - o)
			break;
		o += (size_t)w;
		s = e;
	}
	free(pick);
}

/* A random flag list such as "\Seen $Label2" (possibly empty), as imaptest sends. */
static void random_flags(struct mclient *mc, char *out, size_t size)
{
	static const char *const flags[] = {"\\Seen", "\\Answered", "\\Flagged", "\\Draft",
	                                    "$Label1", "$Label2", "$Label3"};
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (!rng_pct(&mc->rng, i < 4 ? 50 : 20))
			continue;
		int w = snprintf(out + o, size - o, "%s%s", o ? " " : "", flags[i]);
		if (w > 0 && (size_t)w < size - o)
			o += (size_t)w;
	}
}

static void fetch_items(struct mclient *mc, char *out, size_t size)
{
	static const char *const items[] = {"UID", "FLAGS", "ENVELOPE", "INTERNALDATE", "BODY",
	                                    "BODYSTRUCTURE", "RFC822.SIZE"};
	static const char *const headers[] = {"From", "To", "Cc", "Subject", "References",
	                                      "In-Reply-To", "Message-ID", "Delivered-To"};
	size_t o = 0;
	for (unsigned i = 1 + rng_below(&mc->rng, 4); i > 0; i--) {
		int w;
		if (!rng_pct(&mc->rng, 25)) {
			w = snprintf(out + o, size - o, "%s%s", o ? " " : "", items[rng_below(&mc->rng, 7)]);
		} else {
			char names[200] = "";
			size_t no = 0;
			for (unsigned j = 1 + rng_below(&mc->rng, 4); j > 0; j--) {
				int k = snprintf(names + no, sizeof(names) - no, "%s%s", no ? " " : "",
				                 headers[rng_below(&mc->rng, 8)]);
				if (k > 0 && (size_t)k < sizeof(names) - no)
					no += (size_t)k;
			}
			w = snprintf(out + o, size - o, "%sBODY.PEEK[HEADER.FIELDS (%s)]", o ? " " : "",
			             names);
		}
		if (w > 0 && (size_t)w < size - o)
			o += (size_t)w;
	}
}

/* Sends the command of step s; false when imaptest would skip it in this state. */
static bool issue(struct mclient *mc, enum step s)
{
	char cmd[8192], set[4096], extra[1024];
	char user[128];
	uint32_t n = mc->msgs, count;
	bool needs_mail = s >= S_FETCH && s <= S_EXPUNGE;
	if (needs_mail && (!mc->selected || n == 0))
		return false;
	mc->st = s;
	switch (s) {
	case S_LOGIN:
		bench_user(mc->index, user, sizeof(user));
		snprintf(cmd, sizeof(cmd), "LOGIN \"%s\" \"%s\"", user, opt.password);
		break;
	case S_LIST:
		snprintf(cmd, sizeof(cmd), "LIST \"\" *");
		break;
	case S_STATUS:
		snprintf(cmd, sizeof(cmd), "STATUS INBOX (MESSAGES UNSEEN RECENT)");
		break;
	case S_SELECT:
		snprintf(cmd, sizeof(cmd), "SELECT INBOX");
		break;
	case S_FETCH:
		random_set(mc, n < 100 ? n : 100, set, sizeof(set));
		fetch_items(mc, extra, sizeof(extra));
		snprintf(cmd, sizeof(cmd), "FETCH %s (%s)", set, extra);
		break;
	case S_FETCH2: {
		static const char *const parts[] = {"BODY.PEEK[HEADER]", "RFC822.HEADER", "BODY.PEEK[]",
		                                    "BODY.PEEK[1]", "BODY.PEEK[TEXT]"};
		snprintf(cmd, sizeof(cmd), "FETCH %u (UID %s)", 1 + rng_below(&mc->rng, n),
		         parts[rng_below(&mc->rng, 5)]);
		break;
	}
	case S_STORE: {
		count = rng_below(&mc->rng, n < 10 ? n : (n / 5 < 50 ? n / 5 : 50));
		if (count == 0)
			return false;
		random_set(mc, count, set, sizeof(set));
		random_flags(mc, extra, sizeof(extra));
		static const char *const how[] = {"+", "-", ""};
		snprintf(cmd, sizeof(cmd), "STORE %s %sFLAGS%s (%s)", set, how[rng_below(&mc->rng, 3)],
		         rng_pct(&mc->rng, 50) ? ".SILENT" : "", extra);
		break;
	}
	case S_DELETE:
		count = n > opt.threshold + 5 ? rng_below(&mc->rng, n - opt.threshold)
		                              : rng_below(&mc->rng, 5);
		if (count == 0)
			return false;
		random_set(mc, count, set, sizeof(set));
		snprintf(cmd, sizeof(cmd), "STORE %s +FLAGS%s (\\Deleted)", set,
		         rng_pct(&mc->rng, 50) ? ".SILENT" : "");
		break;
	case S_EXPUNGE:
		snprintf(cmd, sizeof(cmd), "EXPUNGE");
		break;
	case S_APPEND: {
		if (!mc->selected || n >= opt.threshold)
			return false;
		const struct message *m = &appends[rng_below(&mc->rng, n_appends)];
		char flags[256] = "";
		if (rng_pct(&mc->rng, 50))
			random_flags(mc, flags, sizeof(flags));
		snprintf(cmd, sizeof(cmd), "APPEND INBOX (%s)%s", flags,
		         rng_pct(&mc->rng, 50) ? " \"15-Mar-2024 10:20:30 +0100\"" : "");
		conn_cmd_literal(mc->c, cmd, m->data, m->len);
		return true;
	}
	case S_LOGOUT:
		snprintf(cmd, sizeof(cmd), "LOGOUT");
		break;
	default:
		fail("internal: step %d", (int)s);
	}
	conn_cmd(mc->c, cmd);
	return true;
}

/* After step `from` finished: the next step imaptest's plan would take. */
static void advance(struct mclient *mc, enum step from)
{
	if (again[from] && rng_pct(&mc->rng, again[from]) && issue(mc, from))
		return;
	for (int s = (int)from + 1; s < S_COUNT; s++)
		if (rng_pct(&mc->rng, prob[s]) && issue(mc, (enum step)s))
			return;
	fail("internal: client %u has no step after %s", mc->index, lats[from].name);
}

static void on_ready(struct conn *c)
{
	struct mclient *mc = conn_ud(c);
	if (measuring)
		lat_add(&lats[S_CONNECT], conn_elapsed_us(c));
	advance(mc, S_CONNECT);
}

static void on_untagged(struct conn *c, const char *line, size_t len)
{
	struct mclient *mc = conn_ud(c);
	uint32_t n;
	if (untagged_number(line, len, "EXISTS", &n))
		mc->msgs = n;
	else if (untagged_number(line, len, "EXPUNGE", &n) && mc->msgs > 0)
		mc->msgs--;
}

static void on_cont(struct conn *c, const char *line, size_t len)
{
	struct mclient *mc = conn_ud(c);
	fail("client %u: unexpected continuation request in %s: %.80s", mc->index,
	     lats[mc->st].name, line);
}

static void on_done(struct conn *c, enum reply r, const char *text)
{
	struct mclient *mc = conn_ud(c);
	enum step s = mc->st;
	if (measuring)
		lat_add(&lats[s], conn_elapsed_us(c));
	if (r == REPLY_BAD)
		fail("client %u: %s answered BAD: %.120s", mc->index, lats[s].name, text);
	if (r == REPLY_NO) {
		bool tolerable = s == S_FETCH || s == S_FETCH2 || s == S_STORE || s == S_DELETE;
		if (!tolerable || opt.users >= opt.clients)
			fail("client %u: %s answered NO: %.120s", mc->index, lats[s].name, text);
		tolerated_no++;
	}
	if (s == S_SELECT)
		mc->selected = true;
	if (s == S_LOGOUT) {
		conn_close(c);
		mc->c = NULL;
		if (measuring)
			sessions_done++;
		if (running)
			start_session(mc);
		return;
	}
	if (!running) {
		conn_close(c);
		mc->c = NULL;
		return;
	}
	advance(mc, s);
}

static void on_lost(struct conn *c, const char *why)
{
	struct mclient *mc = conn_ud(c);
	if (running)
		fail("client %u lost its connection in %s: %s", mc->index, lats[mc->st].name, why);
	mc->c = NULL;
}

static const struct conn_handler handler = {
	.ready = on_ready,
	.untagged = on_untagged,
	.cont = on_cont,
	.done = on_done,
	.lost = on_lost,
};

static void start_session(struct mclient *mc)
{
	mc->st = S_CONNECT;
	mc->msgs = 0;
	mc->selected = false;
	mc->c = conn_open(mc->index + opt.clients * mc->sessions++, &handler, mc);
	if (mc->c == NULL)
		fail("out of file descriptors");
}

int scen_mixed(void)
{
	if (opt.append_dir == NULL)
		fail("mixed needs --append-dir (a Maildir with messages to APPEND)");
	corpus_load(opt.append_dir, 200, &appends, &n_appends);
	clients = calloc(opt.clients, sizeof(*clients));
	if (clients == NULL)
		fail("out of memory");
	running = true;
	uint64_t deadline = now_us() + (uint64_t)(opt.timeout * 1e6);
	/* Ramp up: at most --parallel sessions starting at once, so no SYN is dropped. */
	unsigned started = 0;
	while (started < opt.clients) {
		unsigned connecting = 0;
		for (unsigned i = 0; i < started; i++)
			if (clients[i].c != NULL && clients[i].st == S_CONNECT)
				connecting++;
		while (started < opt.clients && connecting < opt.parallel) {
			struct mclient *mc = &clients[started];
			mc->index = started;
			rng_seed(&mc->rng, (uint64_t)opt.seed * 1000003u + started);
			start_session(mc);
			started++;
			connecting++;
		}
		loop_wait(10);
		conn_sweep();
		if (now_us() > deadline)
			fail("could not start %u clients in time", opt.clients);
	}
	note("%u clients started; measuring for %.0f s", opt.clients, opt.seconds);
	measuring = true;
	uint64_t t0 = now_us(), end = t0 + (uint64_t)(opt.seconds * 1e6);
	for (uint64_t now = t0; now < end; now = now_us()) {
		loop_wait((int)((end - now) / 1000) + 1);
		conn_sweep();
	}
	double secs = (double)(now_us() - t0) / 1e6;
	measuring = false;
	running = false;
	for (unsigned i = 0; i < opt.clients; i++)
		if (clients[i].c != NULL)
			conn_close(clients[i].c);
	conn_reap();

	char prefix[64], key[96];
	snprintf(prefix, sizeof(prefix), "mixed.%u", opt.clients);
	size_t commands = 0;
	for (int s = S_LOGIN; s < S_COUNT; s++)
		commands += lats[s].n;
	snprintf(key, sizeof(key), "%s.commands_per_s", prefix);
	result(key, (double)commands / secs, "commands/s", NULL);
	snprintf(key, sizeof(key), "%s.sessions_per_s", prefix);
	result(key, (double)sessions_done / secs, "sessions/s", NULL);
	snprintf(key, sizeof(key), "%s.tolerated_no", prefix);
	result(key, (double)tolerated_no, "answers", NULL);
	for (int s = 0; s < S_COUNT; s++)
		lat_report(&lats[s], prefix);
	if (commands == 0)
		fail("no command completed in %.0f s", secs);
	return 0;
}
