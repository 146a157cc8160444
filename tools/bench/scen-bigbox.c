/*
 * Scenario bigbox: single commands over a large mailbox, one connection, timed from
 * the command's first byte to its tagged answer (untagged answers read and counted on
 * the way, never stored). --steps lists what to do, in order, after LOGIN:
 *
 *   select          SELECT INBOX
 *   fetch-flags     FETCH 1:* (UID FLAGS)          every message must answer
 *   fetch-envelope  FETCH 1:* (ENVELOPE)           every message must answer
 *   search-body     UID SEARCH BODY <--rare>       hits reported
 *   search-text     UID SEARCH TEXT <--common>     hits reported
 *   copy            COPY 1:<--copy> BenchCopy      (CREATE first, not timed)
 *   move            MOVE 1:<--move> BenchMove      "unsupported" without MOVE
 *   store           STORE 1:* +FLAGS (\Flagged)    some message must answer
 *   expunge         STORE 1:<--expunge> +FLAGS.SILENT (\Deleted), then EXPUNGE
 *   append          <--append> APPENDs, one after the other, for at most
 *                   --append-seconds; if that runs out first, the time for all of
 *                   them is extrapolated from those done, and the figure says so
 *
 * A step may carry a label after a colon (select:cold), which goes into its key, so
 * that tools/bench/compare can time a SELECT before and after a server restart.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct conn *bc;
static bool greeted, answered, logging_out;
static enum reply last_reply;
static char last_text[512];
static uint64_t last_us;
static uint32_t exists, fetches, expunges, hits;
static bool has_move;
static uint64_t deadline;

static void scan_caps(const char *s)
{
	/* " MOVE" as a whole word in a CAPABILITY response or [CAPABILITY ...] code. */
	for (const char *p = strstr(s, " MOVE"); p != NULL; p = strstr(p + 1, " MOVE"))
		if (p[5] == '\0' || p[5] == ' ' || p[5] == ']')
			has_move = true;
}

static void on_ready(struct conn *c)
{
	greeted = true;
}

static void on_untagged(struct conn *c, const char *line, size_t len)
{
	uint32_t n;
	if (untagged_number(line, len, "EXISTS", &n))
		exists = n;
	else if (untagged_number(line, len, "FETCH", &n))
		fetches++;
	else if (untagged_number(line, len, "EXPUNGE", &n)) {
		expunges++;
		if (exists > 0)
			exists--;
	} else if (starts_with_ci(line, len, "* SEARCH")) {
		for (size_t i = 8; i < len; i++)
			if (line[i] == ' ' && i + 1 < len && line[i + 1] >= '0' && line[i + 1] <= '9')
				hits++;
	} else if (starts_with_ci(line, len, "* CAPABILITY")) {
		scan_caps(line);
	}
}

static void on_cont(struct conn *c, const char *line, size_t len)
{
	fail("unexpected continuation request: %.100s", line);
}

static void on_done(struct conn *c, enum reply r, const char *text)
{
	last_us = conn_elapsed_us(c);
	last_reply = r;
	snprintf(last_text, sizeof(last_text), "%s", text);
	answered = true;
	if (r == REPLY_OK)
		scan_caps(text);
}

static void on_lost(struct conn *c, const char *why)
{
	bc = NULL;
	/* After LOGOUT's answer the server closes, possibly in the same read. */
	if (!(logging_out && answered))
		fail("connection lost: %s", why);
}

static const struct conn_handler handler = {
	.ready = on_ready,
	.untagged = on_untagged,
	.cont = on_cont,
	.done = on_done,
	.lost = on_lost,
};

static void wait_until(const bool *flag)
{
	while (!*flag) {
		loop_wait(100);
		conn_sweep();
		if (now_us() > deadline)
			fail("the scenario passed its --timeout of %.0f s", opt.timeout);
	}
}

/* Runs one command; returns its answer. Counters are reset before it is sent. */
static enum reply run(const char *cmd)
{
	fetches = expunges = hits = 0;
	answered = false;
	conn_cmd(bc, cmd);
	wait_until(&answered);
	return last_reply;
}

static void run_ok(const char *what, const char *cmd)
{
	if (run(cmd) != REPLY_OK)
		fail("%s: %.200s", what, last_text);
}

static void timed(const char *key, const char *cmd)
{
	run_ok(key, cmd);
	result(key, (double)last_us / 1e6, "s", NULL);
}

static void expect(const char *what, uint32_t got, uint32_t want)
{
	if (got != want)
		fail("%s answered for %u messages instead of %u", what, got, want);
}

static uint32_t clamp(uint32_t want)
{
	return want < exists ? want : exists;
}

static void step(const char *name, const char *label)
{
	char key[128], cmd[512];
	uint32_t n;
#define KEY(base) snprintf(key, sizeof(key), "bigbox.%s%s%s", base, *label ? "_" : "", label)
	if (strcmp(name, "select") == 0) {
		KEY("select");
		timed(key, "SELECT INBOX");
		KEY("messages");
		result(key, exists, "messages", NULL);
	} else if (strcmp(name, "fetch-flags") == 0) {
		KEY("fetch_flags");
		n = exists;
		timed(key, "FETCH 1:* (UID FLAGS)");
		expect("FETCH (UID FLAGS)", fetches, n);
	} else if (strcmp(name, "fetch-envelope") == 0) {
		KEY("fetch_envelope");
		n = exists;
		timed(key, "FETCH 1:* (ENVELOPE)");
		expect("FETCH (ENVELOPE)", fetches, n);
	} else if (strcmp(name, "search-body") == 0) {
		KEY("search_body");
		snprintf(cmd, sizeof(cmd), "UID SEARCH BODY %s", opt.rare_word);
		timed(key, cmd);
		KEY("search_body_hits");
		result(key, hits, "messages", NULL);
	} else if (strcmp(name, "search-text") == 0) {
		KEY("search_text");
		snprintf(cmd, sizeof(cmd), "UID SEARCH TEXT %s", opt.common_word);
		timed(key, cmd);
		KEY("search_text_hits");
		result(key, hits, "messages", NULL);
	} else if (strcmp(name, "copy") == 0) {
		(void)run("CREATE BenchCopy"); /* NO when it exists already: fine */
		n = clamp(opt.copy_n);
		snprintf(key, sizeof(key), "bigbox.copy_%u%s%s", opt.copy_n, *label ? "_" : "", label);
		snprintf(cmd, sizeof(cmd), "COPY 1:%u BenchCopy", n);
		timed(key, cmd);
	} else if (strcmp(name, "move") == 0) {
		snprintf(key, sizeof(key), "bigbox.move_%u%s%s", opt.move_n, *label ? "_" : "", label);
		if (!has_move) {
			result(key, 0, "s", "unsupported");
			return;
		}
		(void)run("CREATE BenchMove");
		n = clamp(opt.move_n);
		snprintf(cmd, sizeof(cmd), "MOVE 1:%u BenchMove", n);
		if (run(cmd) == REPLY_BAD) {
			result(key, 0, "s", "unsupported");
			return;
		}
		if (last_reply != REPLY_OK)
			fail("MOVE: %.200s", last_text);
		result(key, (double)last_us / 1e6, "s", NULL);
		expect("MOVE (EXPUNGE responses)", expunges, n);
	} else if (strcmp(name, "store") == 0) {
		KEY("store_flagged");
		n = exists;
		timed(key, "STORE 1:* +FLAGS (\\Flagged)");
		/* RFC 3501 says SHOULD for a FETCH per message; one already \Flagged may be
		 * left out, so only an answer for none, or for more than exist, is wrong. */
		if (fetches == 0 || fetches > n)
			fail("STORE +FLAGS answered for %u messages of %u", fetches, n);
	} else if (strcmp(name, "expunge") == 0) {
		n = clamp(opt.expunge_n);
		snprintf(key, sizeof(key), "bigbox.store_deleted_%u%s%s", opt.expunge_n,
		         *label ? "_" : "", label);
		snprintf(cmd, sizeof(cmd), "STORE 1:%u +FLAGS.SILENT (\\Deleted)", n);
		timed(key, cmd);
		snprintf(key, sizeof(key), "bigbox.expunge_%u%s%s", opt.expunge_n, *label ? "_" : "",
		         label);
		timed(key, "EXPUNGE");
		expect("EXPUNGE", expunges, n);
	} else if (strcmp(name, "append") == 0) {
		if (opt.append_dir == NULL)
			fail("the append step needs --append-dir");
		struct message *msgs;
		unsigned nm;
		corpus_load(opt.append_dir, 200, &msgs, &nm);
		struct lat lat = {.name = "append_one"};
		uint64_t t0 = now_us(), stop = t0 + (uint64_t)(opt.append_seconds * 1e6);
		unsigned done = 0;
		for (unsigned i = 0; i < opt.append_n && now_us() < stop; i++) {
			fetches = expunges = 0;
			answered = false;
			conn_cmd_literal(bc, "APPEND INBOX (\\Seen)", msgs[i % nm].data, msgs[i % nm].len);
			wait_until(&answered);
			if (last_reply != REPLY_OK)
				fail("APPEND %u of %u: %.200s", i + 1, opt.append_n, last_text);
			lat_add(&lat, last_us);
			done++;
		}
		double took = (double)(now_us() - t0) / 1e6;
		snprintf(key, sizeof(key), "bigbox.append_%u%s%s", opt.append_n, *label ? "_" : "",
		         label);
		if (done < opt.append_n) {
			char why[96];
			snprintf(why, sizeof(why), "extrapolated from %u in %.0f s", done, took);
			result(key, took * opt.append_n / done, "s", why);
		} else {
			result(key, took, "s", NULL);
		}
		snprintf(key, sizeof(key), "bigbox%s%s", *label ? "_" : "", label);
		lat_report(&lat, key);
		for (unsigned i = 0; i < nm; i++)
			free(msgs[i].data);
		free(msgs);
		free(lat.us);
	} else {
		fail("unknown step '%s'", name);
	}
#undef KEY
}

int scen_bigbox(void)
{
	deadline = now_us() + (uint64_t)(opt.timeout * 1e6);
	bc = conn_open(0, &handler, NULL);
	if (bc == NULL)
		fail("no file descriptor left");
	wait_until(&greeted);
	char user[128], cmd[400];
	bench_user(0, user, sizeof(user));
	snprintf(cmd, sizeof(cmd), "LOGIN \"%s\" \"%s\"", user, opt.password);
	run_ok("LOGIN", cmd);
	run_ok("CAPABILITY", "CAPABILITY");

	char *steps = strdup(opt.steps);
	if (steps == NULL)
		fail("out of memory");
	char *save = NULL;
	for (char *s = strtok_r(steps, ",", &save); s != NULL; s = strtok_r(NULL, ",", &save)) {
		char *label = strchr(s, ':');
		if (label != NULL)
			*label++ = '\0';
		note("bigbox: %s%s%s", s, label ? ":" : "", label ? label : "");
		step(s, label ? label : "");
	}
	free(steps);
	logging_out = true;
	run_ok("LOGOUT", "LOGOUT");
	if (bc != NULL)
		conn_close(bc);
	conn_reap();
	return 0;
}
