/*
 * sluice-bench: the load client behind tools/bench/compare.
 *
 * One process, one thread, one epoll loop drives every connection, so the client's own
 * cost stays small and predictable next to the server it measures. The pieces:
 *   loop.c      the epoll set and the clock;
 *   conn.c      a client connection: non-blocking connect from a loopback source address,
 *               optional TLS, IMAP responses read line by line with literals skipped,
 *               one tagged command at a time with its start time;
 *   stats.c     latency samples per command and their percentiles;
 *   procmem.c   resident memory summed over a server's whole process tree;
 *   corpus.c    messages loaded from a Maildir for APPEND;
 *   scen-*.c    the scenarios (idle, mixed, bigbox, logins).
 * Every figure is printed as a line "RESULT<TAB>key<TAB>value<TAB>unit<TAB>note" on
 * standard output; progress and errors go to standard error. The exit status is 0 when
 * the scenario ran to its end, 1 when it could not (a server refused, answered BAD where
 * it must not, closed a connection or missed a deadline), 2 for a usage error.
 */
#ifndef SLUICE_BENCH_H
#define SLUICE_BENCH_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- options (main.c) --------------------------------------------------------------- */

struct bench_opts {
	int port;               /* server port on 127.0.0.1 */
	bool tls;               /* implicit TLS from the first byte */
	const char *user_prefix; /* user names are PREFIX1 .. PREFIXn, or PREFIX alone */
	unsigned users;         /* n above; 0 = the prefix is the whole name */
	const char *password;
	unsigned sources;       /* loopback source addresses 127.0.0.1 .. 127.0.0.n */
	double timeout;         /* seconds the whole scenario may take */
	double cmd_timeout;     /* seconds one command may take */
	unsigned seed;
	const char *label;      /* prefix of every RESULT key after the scenario's name */

	/* idle */
	pid_t pid;              /* server process whose tree is measured */
	unsigned count;         /* connections */
	unsigned parallel;      /* connections being set up at once */
	double settle;          /* seconds between the last connection and the measurement */

	/* mixed, logins */
	unsigned clients;
	double seconds;
	unsigned threshold;     /* mailbox size the mixed clients keep (imaptest's msgs=30) */
	const char *append_dir; /* Maildir whose cur/ and new/ messages APPEND sends */

	/* bigbox */
	const char *steps;
	const char *rare_word;
	const char *common_word;
	unsigned copy_n, move_n, expunge_n, append_n;
	double append_seconds;  /* the append step stops after this long */
};

extern struct bench_opts opt;

/* The name of user i (0-based, taken modulo opt.users) into buf. */
void bench_user(unsigned i, char *buf, size_t size);

/* A RESULT line: key is opt.label-prefixed by the caller; note may be NULL. */
void result(const char *key, double value, const char *unit, const char *note);

/* Reports a failure on stderr and exits 1 (the scenario could not run). */
void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Progress on stderr. */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A small deterministic generator (xorshift64*), one per client so runs repeat. */
struct rng {
	uint64_t s;
};
void rng_seed(struct rng *r, uint64_t seed);
uint32_t rng_below(struct rng *r, uint32_t n); /* 0 .. n-1; n > 0 */
bool rng_pct(struct rng *r, unsigned pct);      /* true with probability pct % */

/* ---- loop.c ------------------------------------------------------------------------ */

uint64_t now_us(void);
void loop_init(void);
void loop_watch(int fd, uint32_t events, void *ptr);  /* add or change */
void loop_forget(int fd);
/* Waits up to timeout_ms for events and hands each to conn_event(); returns their count. */
int loop_wait(int timeout_ms);

/* ---- conn.c ------------------------------------------------------------------------ */

enum reply { REPLY_OK, REPLY_NO, REPLY_BAD };

struct conn;

struct conn_handler {
	/* The server's greeting arrived (after the TLS handshake). */
	void (*ready)(struct conn *c);
	/* An untagged line ("* ..."), literals replaced by their {n} markers. */
	void (*untagged)(struct conn *c, const char *line, size_t len);
	/* A continuation request ("+ ..."). */
	void (*cont)(struct conn *c, const char *line, size_t len);
	/* The tagged answer to the command in progress. */
	void (*done)(struct conn *c, enum reply r, const char *text);
	/* The connection failed or the server closed it; c is freed after this returns. */
	void (*lost)(struct conn *c, const char *why);
};

/* Starts connecting (index picks the source address); NULL when no socket was left. */
struct conn *conn_open(unsigned index, const struct conn_handler *h, void *ud);
void *conn_ud(const struct conn *c);
/* Sends "TAG <command>\r\n"; one command at a time. */
void conn_cmd(struct conn *c, const char *command);
/* Sends "TAG <prefix> {len+}\r\n<data>\r\n" (LITERAL+, which both servers offer). */
void conn_cmd_literal(struct conn *c, const char *prefix, const void *data, size_t len);
/* Sends bytes without a tag (IDLE's DONE). */
void conn_raw(struct conn *c, const char *s);
/* Microseconds since the command in progress (or the connection) started. */
uint64_t conn_elapsed_us(const struct conn *c);
bool conn_busy(const struct conn *c);
/* Closes now, without LOGOUT; c is freed at the end of the current event. */
void conn_close(struct conn *c);
/* Called by loop_wait for each event. */
void conn_event(void *ptr, uint32_t events);
/* Fails connections whose command has run longer than opt.cmd_timeout; call often. */
void conn_sweep(void);
/* Frees connections closed during the last round of events. */
void conn_reap(void);
unsigned conn_live(void);
/* Total bytes received over every connection, literals included. */
uint64_t conn_bytes_in(void);
void conn_tls_init(void);

/* ---- stats.c ----------------------------------------------------------------------- */

struct lat {
	const char *name;   /* as printed in keys: "FETCH", "STORE_DELETED" */
	uint32_t *us;       /* samples in microseconds */
	size_t n, cap;
};
void lat_add(struct lat *l, uint64_t us);
double lat_pct(struct lat *l, double pct); /* milliseconds; sorts the samples */
/* RESULT lines <prefix>.<name>.{count,p50_ms,p99_ms} */
void lat_report(struct lat *l, const char *prefix);

/* ---- procmem.c --------------------------------------------------------------------- */

struct procmem {
	uint64_t rss_kib, pss_kib;
	unsigned procs;
};
/* Sums RSS and PSS over root and all its descendants; -1 if root is gone. */
int procmem_tree(pid_t root, struct procmem *m);

/* ---- corpus.c ---------------------------------------------------------------------- */

struct message {
	char *data; /* CRLF line ends */
	size_t len;
};
/* Loads up to max messages from dir/cur and dir/new, in name order; fails when none. */
void corpus_load(const char *dir, unsigned max, struct message **msgs_r, unsigned *n_r);

/* ---- scenarios --------------------------------------------------------------------- */

int scen_idle(void);
int scen_mixed(void);
int scen_bigbox(void);
int scen_logins(void);

/* Case-insensitive prefix test on a response line. */
bool starts_with_ci(const char *s, size_t len, const char *prefix);
/* Parses "* N WORD": true with *n and word (upper-cased comparison) when it has that shape. */
bool untagged_number(const char *line, size_t len, const char *word, uint32_t *n);

#endif
