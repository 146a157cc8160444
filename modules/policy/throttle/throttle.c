/*
 * throttle: a policy module that caps how many FETCH and SEARCH commands run at once, per
 * user and for the whole server, so that one badly behaved client (or a storm of them)
 * cannot keep every worker busy with slow commands:
 *
 *   policy throttle {
 *     fetch_per_user = 4      search_per_user = 2
 *     fetch_total = 64        search_total = 16
 *     fetch_wait = 40s        search_wait = 30s
 *   }
 *
 * UID FETCH and UID SEARCH count as FETCH and SEARCH. A command over a limit is answered
 * SLUICE_WAIT: the core parks it, holding no thread, and the module keeps it in a FIFO
 * queue of its class. When a slot frees, the oldest queued command that fits is granted
 * the slot (counted at once, so nothing newer can take it) and its session is woken. At
 * its deadline (the core asks again then) it fails with NO [LIMIT] and a sentence.
 *
 * Repeated SEARCH: clients that wait too long send the same SEARCH again, often on another
 * connection, and forget the first. When a SEARCH arrives that is identical (same user,
 * mailbox and arguments) to one still queued, the queued copy is dropped (answered NO, its
 * client no longer waits for it) and the new one takes its place in the queue, so retries
 * neither pile up nor lose their turn. A copy that already runs cannot be recalled; the
 * new one then waits for a slot like any other (docs/limits.md).
 *
 * Everything sits behind one mutex. The tracked commands (running and queued) are kept in
 * plain lists: their number is bounded by the limits and the queue, not by the number of
 * connections.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/sluice.h>

enum th_class { TH_FETCH, TH_SEARCH, TH_CLASSES };

static const char *const th_class_names[TH_CLASSES] = {"FETCH", "SEARCH"};

/* 1. Settings, filled by the core from the block (docs/limits.md). */
struct throttle_settings {
	unsigned fetch_per_user, fetch_total;
	uint64_t fetch_wait; /* milliseconds */
	unsigned search_per_user, search_total;
	uint64_t search_wait;
};

#define TS struct throttle_settings
static const struct sluice_setting throttle_settings_table[] = {
    SLUICE_SETTING_UINT("fetch_per_user", TS, fetch_per_user, "4", 0, 1000000,
                        "FETCH commands of one user running at once; 0 means no limit"),
    SLUICE_SETTING_UINT("fetch_total", TS, fetch_total, "64", 0, 1000000,
                        "FETCH commands running at once on the whole server; 0 means no limit"),
    SLUICE_SETTING_DURATION("fetch_wait", TS, fetch_wait, "40s", 0, 3600000,
                            "how long a FETCH over a limit waits for a slot before it fails; "
                            "0 fails it at once"),
    SLUICE_SETTING_UINT("search_per_user", TS, search_per_user, "2", 0, 1000000,
                        "SEARCH commands of one user running at once; 0 means no limit"),
    SLUICE_SETTING_UINT("search_total", TS, search_total, "16", 0, 1000000,
                        "SEARCH commands running at once on the whole server; 0 means no limit"),
    SLUICE_SETTING_DURATION("search_wait", TS, search_wait, "30s", 0, 3600000,
                            "how long a SEARCH over a limit waits for a slot before it fails; "
                            "0 fails it at once"),
    SLUICE_SETTING_END,
};
#undef TS

/* 2. The limits of one class as the hooks read them. */
struct th_limits {
	unsigned per_user, total;
	uint64_t wait_ms;
};

enum th_state {
	TH_QUEUED,  /* waiting in its class's queue */
	TH_GRANTED, /* a slot is counted for it; its session was woken to run it */
	TH_RUNNING, /* admitted: released by command_end or disconnect */
	TH_DROPPED, /* a newer identical SEARCH replaced it: refuse when asked again */
};

struct th_user {
	struct th_user *next;
	unsigned running[TH_CLASSES]; /* granted or running */
	unsigned tracked;             /* commands of any state pointing here */
	char name[];
};

/* One connection's FETCH or SEARCH that this module counts or queues. */
struct th_cmd {
	struct th_cmd *next, *prev;   /* all tracked commands */
	struct th_cmd *qnext, *qprev; /* its class's queue, while TH_QUEUED */
	uint64_t id;
	enum th_class cls;
	enum th_state state;
	struct th_user *user;
	uint64_t deadline_ms;
	char *key; /* SEARCH: "mailbox\nargs", for finding a repeated one; else NULL */
};

struct th_queue {
	struct th_cmd *head, *tail;
	size_t length;
	unsigned running; /* granted or running, whole server */
};

struct throttle {
	const struct sluice_host *host;
	pthread_mutex_t lock; /* guards everything below */
	struct th_limits limits[TH_CLASSES];
	struct th_queue queues[TH_CLASSES];
	struct th_cmd *cmds;
	struct th_user *users;
	/* Counters for the log and reports: commands that waited, failed at their deadline,
	 * and queued SEARCHes dropped for a newer identical one. */
	uint64_t waited[TH_CLASSES], timed_out[TH_CLASSES], dropped_duplicates;
};

static void th_limits_set(struct throttle *th, const struct throttle_settings *ts)
{
	th->limits[TH_FETCH] = (struct th_limits){ts->fetch_per_user, ts->fetch_total, ts->fetch_wait};
	th->limits[TH_SEARCH] = (struct th_limits){ts->search_per_user, ts->search_total, ts->search_wait};
}

/* FETCH and UID FETCH, SEARCH and UID SEARCH; -1 for every other command. */
static int th_classify(const char *name)
{
	if (strncmp(name, "UID ", 4) == 0)
		name += 4;
	if (strcmp(name, "FETCH") == 0)
		return TH_FETCH;
	if (strcmp(name, "SEARCH") == 0)
		return TH_SEARCH;
	return -1;
}

/* ---- users and tracked commands --------------------------------------------------------- */

static struct th_user *th_user_get(struct throttle *th, const char *name)
{
	for (struct th_user *u = th->users; u != NULL; u = u->next)
		if (strcmp(u->name, name) == 0)
			return u;
	size_t len = strlen(name);
	struct th_user *u = calloc(1, sizeof(*u) + len + 1);
	if (u == NULL)
		return NULL;
	memcpy(u->name, name, len + 1);
	u->next = th->users;
	th->users = u;
	return u;
}

static void th_user_put(struct throttle *th, struct th_user *u)
{
	if (--u->tracked > 0)
		return;
	for (struct th_user **p = &th->users; *p != NULL; p = &(*p)->next) {
		if (*p == u) {
			*p = u->next;
			break;
		}
	}
	free(u);
}

static struct th_cmd *th_cmd_find(struct throttle *th, uint64_t id)
{
	for (struct th_cmd *c = th->cmds; c != NULL; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

static void th_queue_unlink(struct throttle *th, struct th_cmd *c)
{
	struct th_queue *q = &th->queues[c->cls];

	if (c->qprev != NULL)
		c->qprev->qnext = c->qnext;
	else
		q->head = c->qnext;
	if (c->qnext != NULL)
		c->qnext->qprev = c->qprev;
	else
		q->tail = c->qprev;
	c->qnext = c->qprev = NULL;
	q->length--;
}

/* Queues @p c after @p after (NULL: at the tail). */
static void th_queue_insert(struct throttle *th, struct th_cmd *c, struct th_cmd *after)
{
	struct th_queue *q = &th->queues[c->cls];

	if (after == NULL)
		after = q->tail;
	c->qprev = after;
	c->qnext = after != NULL ? after->qnext : q->head;
	if (c->qnext != NULL)
		c->qnext->qprev = c;
	else
		q->tail = c;
	if (after != NULL)
		after->qnext = c;
	else
		q->head = c;
	q->length++;
}

/* Forgets @p c: leaves the queue, gives back its slot, frees it. */
static void th_cmd_remove(struct throttle *th, struct th_cmd *c)
{
	if (c->state == TH_QUEUED)
		th_queue_unlink(th, c);
	if (c->state == TH_GRANTED || c->state == TH_RUNNING) {
		th->queues[c->cls].running--;
		c->user->running[c->cls]--;
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		th->cmds = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	th_user_put(th, c->user);
	free(c->key);
	free(c);
}

/* ---- slots -------------------------------------------------------------------------------- */

static bool th_user_full(const struct throttle *th, enum th_class cls, const struct th_user *u)
{
	unsigned limit = th->limits[cls].per_user;
	return limit > 0 && u->running[cls] >= limit;
}

static bool th_server_full(const struct throttle *th, enum th_class cls)
{
	unsigned limit = th->limits[cls].total;
	return limit > 0 && th->queues[cls].running >= limit;
}

static void th_take_slot(struct throttle *th, struct th_cmd *c, enum th_state state)
{
	th->queues[c->cls].running++;
	c->user->running[c->cls]++;
	c->state = state;
}

/*
 * Gives free slots to the oldest queued commands that fit (a user at its own limit does
 * not hold up other users behind it) and wakes their sessions. Called whenever a slot
 * frees or the limits change, so a queued command that fits never stays queued.
 */
static void th_grant(struct throttle *th, enum th_class cls)
{
	struct th_cmd *c = th->queues[cls].head;

	while (c != NULL && !th_server_full(th, cls)) {
		struct th_cmd *next = c->qnext;
		if (!th_user_full(th, cls, c->user)) {
			th_queue_unlink(th, c);
			th_take_slot(th, c, TH_GRANTED);
			th->host->session_wake(th->host, c->id, 0);
		}
		c = next;
	}
}

/* ---- answers ----------------------------------------------------------------------------- */

static int th_refuse_full(struct throttle *th, const struct th_cmd *c, struct sluice_error *err)
{
	const char *who = th_user_full(th, c->cls, c->user) ? "for this user" : "on this server";
	sluice_error_set(err, SLUICE_E_REFUSED, "LIMIT",
	                 "Too many %s commands are running %s; try again later",
	                 th_class_names[c->cls], who);
	return SLUICE_E_REFUSED;
}

/* A command asked about again after it waited: decide from its record. */
static int th_ask_again(struct throttle *th, struct th_cmd *c, struct sluice_error *err)
{
	switch (c->state) {
	case TH_GRANTED:
		c->state = TH_RUNNING;
		return SLUICE_DECLINED;
	case TH_RUNNING: /* a resumed command is asked only once more; admit it */
		return SLUICE_DECLINED;
	case TH_DROPPED:
		th_cmd_remove(th, c);
		sluice_error_set(err, SLUICE_E_REFUSED, "LIMIT",
		                 "The same SEARCH was sent again; this copy was dropped and the newer "
		                 "one answers instead");
		return SLUICE_E_REFUSED;
	case TH_QUEUED:
		break;
	}
	if (th->host->now_ms() < c->deadline_ms)
		return SLUICE_WAIT;
	th->timed_out[c->cls]++;
	int r = th_refuse_full(th, c, err);
	th_cmd_remove(th, c);
	return r;
}

/* A queued SEARCH of the same user that asks exactly what @p key asks, or NULL. */
static struct th_cmd *th_find_repeat(struct throttle *th, const struct th_user *u, const char *key)
{
	for (struct th_cmd *q = th->queues[TH_SEARCH].head; q != NULL; q = q->qnext)
		if (q->user == u && q->key != NULL && strcmp(q->key, key) == 0)
			return q;
	return NULL;
}

static int th_begin_new(struct throttle *th, const struct sluice_policy_conn *conn,
                        const struct sluice_policy_command *cmd, enum th_class cls,
                        struct sluice_error *err)
{
	struct th_cmd *c = calloc(1, sizeof(*c));
	struct th_user *u = th_user_get(th, conn->user);

	if (c == NULL || u == NULL) {
		free(c);
		if (u != NULL && u->tracked == 0) {
			u->tracked = 1;
			th_user_put(th, u);
		}
		return SLUICE_DECLINED; /* out of memory: do not stand in the client's way */
	}
	u->tracked++;
	c->id = conn->id;
	c->cls = cls;
	c->user = u;
	c->next = th->cmds;
	if (th->cmds != NULL)
		th->cmds->prev = c;
	th->cmds = c;

	if (!th_server_full(th, cls) && !th_user_full(th, cls, u)) {
		th_take_slot(th, c, TH_RUNNING);
		return SLUICE_DECLINED;
	}
	const struct th_limits *lim = &th->limits[cls];
	if (lim->wait_ms == 0) {
		int r = th_refuse_full(th, c, err);
		th_cmd_remove(th, c);
		return r;
	}

	struct th_cmd *replaced = NULL;
	if (cls == TH_SEARCH) {
		size_t mlen = cmd->mailbox != NULL ? strlen(cmd->mailbox) : 0;
		const char *args = cmd->args != NULL ? cmd->args : "";
		c->key = malloc(mlen + strlen(args) + 2);
		if (c->key != NULL) {
			memcpy(c->key, cmd->mailbox != NULL ? cmd->mailbox : "", mlen);
			c->key[mlen] = '\n';
			strcpy(c->key + mlen + 1, args);
			replaced = th_find_repeat(th, u, c->key);
		}
	}
	c->state = TH_QUEUED;
	c->deadline_ms = th->host->now_ms() + lim->wait_ms;
	th_queue_insert(th, c, replaced);
	th->waited[cls]++;
	if (replaced != NULL) {
		/* The newer copy keeps the older one's turn; the older one's client gave up. */
		th_queue_unlink(th, replaced);
		replaced->state = TH_DROPPED;
		th->dropped_duplicates++;
		th->host->log(th->host, SLUICE_LOG_INFO,
		              "SEARCH of conn=%llu sent again on conn=%llu: the queued copy is dropped",
		              (unsigned long long)replaced->id, (unsigned long long)c->id);
		th->host->session_wake(th->host, replaced->id, 0);
	}
	th->host->session_wake(th->host, c->id, c->deadline_ms);
	return SLUICE_WAIT;
}

/* ---- hooks ------------------------------------------------------------------------------- */

static int throttle_command_begin(void *modctx, const struct sluice_policy_conn *conn,
                                  const struct sluice_policy_command *cmd, struct sluice_error *err)
{
	struct throttle *th = modctx;
	int cls = th_classify(cmd->name);

	if (cls < 0 || conn->user == NULL)
		return SLUICE_DECLINED;
	pthread_mutex_lock(&th->lock);
	struct th_cmd *c = th_cmd_find(th, conn->id);
	int r = c != NULL ? th_ask_again(th, c, err) : th_begin_new(th, conn, cmd, (enum th_class)cls, err);
	pthread_mutex_unlock(&th->lock);
	return r;
}

/* The connection's command is answered or the connection is gone: free what it held. */
static void th_release(struct throttle *th, uint64_t id)
{
	pthread_mutex_lock(&th->lock);
	struct th_cmd *c = th_cmd_find(th, id);
	if (c != NULL) {
		enum th_class cls = c->cls;
		bool held = c->state == TH_GRANTED || c->state == TH_RUNNING;
		th_cmd_remove(th, c);
		if (held)
			th_grant(th, cls);
	}
	pthread_mutex_unlock(&th->lock);
}

static void throttle_command_end(void *modctx, const struct sluice_policy_conn *conn,
                                 const struct sluice_policy_command *cmd)
{
	if (th_classify(cmd->name) >= 0)
		th_release(modctx, conn->id);
}

static void throttle_disconnect(void *modctx, const struct sluice_policy_conn *conn)
{
	th_release(modctx, conn->id);
}

/* What sluicectl status shows: the limits, what runs and waits now, and what happened. */
static void throttle_report(void *modctx, void (*emit)(void *ctx, const char *key, int64_t value),
                            void *ctx)
{
	struct throttle *th = modctx;
	static const char *const keys[TH_CLASSES][7] = {
	    {"fetch_per_user", "fetch_total", "fetch_wait_ms", "running_fetch", "queue_fetch",
	     "waited_fetch", "refused_fetch_wait"},
	    {"search_per_user", "search_total", "search_wait_ms", "running_search", "queue_search",
	     "waited_search", "refused_search_wait"},
	};
	int64_t figures[TH_CLASSES][7];

	pthread_mutex_lock(&th->lock);
	for (int c = 0; c < TH_CLASSES; c++) {
		figures[c][0] = th->limits[c].per_user;
		figures[c][1] = th->limits[c].total;
		figures[c][2] = (int64_t)th->limits[c].wait_ms;
		figures[c][3] = th->queues[c].running;
		figures[c][4] = (int64_t)th->queues[c].length;
		figures[c][5] = (int64_t)th->waited[c];
		figures[c][6] = (int64_t)th->timed_out[c];
	}
	int64_t dropped = (int64_t)th->dropped_duplicates;
	pthread_mutex_unlock(&th->lock);
	for (int c = 0; c < TH_CLASSES; c++)
		for (int i = 0; i < 7; i++)
			emit(ctx, keys[c][i], figures[c][i]);
	emit(ctx, "dropped_repeated_search", dropped);
}

static const struct sluice_policy_ops throttle_ops = {
    .size = sizeof(struct sluice_policy_ops),
    .command_begin = throttle_command_begin,
    .command_end = throttle_command_end,
    .disconnect = throttle_disconnect,
    .report = throttle_report,
};

/* ---- life cycle -------------------------------------------------------------------------- */

static int throttle_init(const struct sluice_host *host, const void *conf, void **modctx_r,
                         struct sluice_error *err)
{
	if (host->size < offsetof(struct sluice_host, session_wake) + sizeof(host->session_wake) ||
	    host->session_wake == NULL)
		return sluice_error_set(err, SLUICE_E_ABI, NULL,
		                        "throttle needs a server with module ABI 1.1 (session_wake)");
	struct throttle *th = calloc(1, sizeof(*th));
	if (th == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "out of memory");
	th->host = host;
	pthread_mutex_init(&th->lock, NULL);
	th_limits_set(th, conf);
	*modctx_r = th;
	return 0;
}

/* New limits apply at once: raised ones let queued commands run now, lowered ones never
 * stop a running command; they only make new ones wait. */
static int throttle_reload(void *modctx, const void *conf, struct sluice_error *err)
{
	struct throttle *th = modctx;

	(void)err;
	pthread_mutex_lock(&th->lock);
	th_limits_set(th, conf);
	for (int cls = 0; cls < TH_CLASSES; cls++)
		th_grant(th, (enum th_class)cls);
	pthread_mutex_unlock(&th->lock);
	return 0;
}

static void throttle_deinit(void *modctx)
{
	struct throttle *th = modctx;

	while (th->cmds != NULL)
		th_cmd_remove(th, th->cmds);
	pthread_mutex_destroy(&th->lock);
	free(th);
}

SLUICE_MODULE(.kind = SLUICE_KIND_POLICY, .name = "throttle", .version = "1.0",
              .description = "caps concurrent FETCH and SEARCH per user and per server, with a queue",
              .settings = throttle_settings_table, .conf_size = sizeof(struct throttle_settings),
              .init = throttle_init, .deinit = throttle_deinit, .reload = throttle_reload,
              .ops = &throttle_ops);
