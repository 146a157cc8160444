/*
 * connlimit: a policy module that keeps the server usable when clients open too much. It
 * counts open connections for the whole server and per client address, logins per user
 * and failed logins per connection and per address, and refuses what goes over the
 * configured limits with an RFC 5530 code and a sentence a person can act on:
 *
 *   policy connlimit {
 *     max_connections = 10000      # whole server
 *     max_per_ip = 100             # per client address (trusted_networks are exempt)
 *     max_logins_per_user = 20
 *     max_bad_logins = 3           # per connection; the last one drops it
 *     trusted_networks = 10.1.2.3/32
 *     bad_login_delay = 2s         # per address, doubling with each failure in a row
 *     bad_login_delay_max = 15s
 *     on_limit = refuse            # or close-oldest-idle
 *   }
 *
 * The state is three hash tables behind one mutex: connections by the core's id (what this
 * module counted for each, so a disconnect releases exactly that and a refused connection,
 * never counted, releases nothing), addresses (open connections and recent failures) and
 * users (open logins). Addresses with failures also sit on a list ordered by their last
 * failure, so entries idle for CL_FORGET_MS are forgotten and the number tracked is capped.
 * The limits are an immutable struct swapped by reload: new values apply to the next event
 * and never close a session that is already open. docs/limits.md explains the defaults.
 *
 * With on_limit = close-oldest-idle, a full address or user makes room instead of refusing:
 * each address and user also lists its connections, the command hooks mark the ones inside
 * a command (IDLE is a command too), and the oldest connection that is not is asked to
 * close through the host's session_close. It stops counting at once (it is "closing"), so
 * the newcomer is admitted within the limit; when every connection is busy, the newcomer
 * is refused as with on_limit = refuse. The report op gives sluicectl the limits and how
 * often each was hit.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* getentropy */
#endif

#include <arpa/inet.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sluice/sluice.h>

#include "table.h"

/* A failure record is forgotten after this long without another failure. */
#define CL_FORGET_MS (10 * 60 * 1000)
/* At most this many addresses with recent failures are remembered (about 100 bytes each);
 * past it the one whose last failure is oldest is forgotten first. */
#define CL_FAIL_TRACK_MAX 65536
/* An address key: a family tag (4 or 6) and the address bytes, IPv4 left-aligned. */
#define CL_KEY_LEN 17

/* 1. Settings, filled by the core from the block (see docs/config.md). */
struct connlimit_settings {
	unsigned max_connections;
	unsigned max_per_ip;
	unsigned max_logins_per_user;
	unsigned max_bad_logins;
	const struct sluice_cidr_list *trusted_networks;
	uint64_t bad_login_delay;     /* milliseconds */
	uint64_t bad_login_delay_max; /* milliseconds */
	unsigned on_limit;            /* index into cl_on_limit_choices */
};

enum { CL_ON_LIMIT_REFUSE, CL_ON_LIMIT_CLOSE_OLDEST_IDLE };
static const char *const cl_on_limit_choices[] = {"refuse", "close-oldest-idle", NULL};

#define CS struct connlimit_settings
static const struct sluice_setting connlimit_settings_table[] = {
    SLUICE_SETTING_UINT("max_connections", CS, max_connections, "10000", 0, 10000000,
                        "open connections for the whole server; 0 means no limit"),
    SLUICE_SETTING_UINT("max_per_ip", CS, max_per_ip, "100", 0, 10000000,
                        "open connections from one client address; 0 means no limit"),
    SLUICE_SETTING_UINT("max_logins_per_user", CS, max_logins_per_user, "20", 0, 10000000,
                        "logged-in connections of one user; 0 means no limit"),
    SLUICE_SETTING_UINT("max_bad_logins", CS, max_bad_logins, "3", 0, 1000,
                        "failed logins on one connection before it is dropped; 0 means no limit"),
    SLUICE_SETTING_CIDR_LIST("trusted_networks", CS, trusted_networks, NULL,
                             "addresses exempt from max_per_ip, such as a webmail host"),
    SLUICE_SETTING_DURATION("bad_login_delay", CS, bad_login_delay, "2s", 0, 600000,
                            "delay of an address's first failed login, doubled for each "
                            "further failure in a row; 0 turns the delay off"),
    SLUICE_SETTING_DURATION("bad_login_delay_max", CS, bad_login_delay_max, "15s", 0, 600000,
                            "the longest delay a failed login gets"),
    SLUICE_SETTING_ENUM("on_limit", CS, on_limit, "refuse", cl_on_limit_choices,
                        "when max_per_ip or max_logins_per_user is reached: refuse the "
                        "newcomer, or close-oldest-idle to close the oldest idle connection "
                        "of that address or user and admit the newcomer"),
    SLUICE_SETTING_END,
};
#undef CS

/* 2. The limits as the hooks read them: our own immutable copy, replaced on reload. */
struct cl_limits {
	unsigned max_connections;
	unsigned max_per_ip;
	unsigned max_logins_per_user;
	unsigned max_bad_logins;
	struct sluice_cidr_list *trusted; /* NULL when empty */
	uint64_t bad_login_delay;
	uint64_t bad_login_delay_max;
	bool close_oldest_idle;
};

/* 3. The tables' entries. Each begins with its hash node. An address's and a user's
 * connections are on lists of their own, for close-oldest-idle to choose from; "closing"
 * counts those asked to close to make room, which no longer count against a limit. */
struct cl_conn;

struct cl_ip {
	struct cl_node node;
	uint8_t key[CL_KEY_LEN];
	unsigned open;            /* connections counted for this address */
	unsigned closing;         /* of those, asked to close */
	unsigned failures;        /* failed logins in a row; > 0 means on the failure list */
	uint64_t last_failure_ms; /* host->now_ms() of the latest one */
	struct cl_ip *fail_prev, *fail_next;
	struct cl_conn *conns;
};

struct cl_user {
	struct cl_node node;
	unsigned open;
	unsigned closing;
	struct cl_conn *conns;
	char name[];
};

/* The links of one connection on its address's or its user's list. */
struct cl_link {
	struct cl_conn *prev, *next;
};

struct cl_conn {
	struct cl_node node;
	uint64_t id;
	bool counted;         /* counted in the server's total (and in ip, if set) */
	bool busy;            /* inside a command: between command_begin and command_end */
	bool closing;         /* asked to close to make room: no longer counted */
	struct cl_ip *ip;     /* the address counted, or NULL */
	struct cl_user *user; /* the login counted, or NULL */
	struct cl_link ip_link, user_link;
	unsigned bad_logins;
};

/* How often each limit refused, and how many connections were closed to make room. */
enum cl_event {
	CL_REFUSED_MAX_CONNECTIONS,
	CL_REFUSED_MAX_PER_IP,
	CL_REFUSED_MAX_LOGINS_PER_USER,
	CL_REFUSED_MAX_BAD_LOGINS,
	CL_CLOSED_IDLE_PER_IP,
	CL_CLOSED_IDLE_PER_USER,
	CL_EVENT_COUNT,
};

static const char *const cl_event_keys[CL_EVENT_COUNT] = {
    "refused_max_connections", "refused_max_per_ip",      "refused_max_logins_per_user",
    "refused_max_bad_logins",  "closed_oldest_idle_per_ip", "closed_oldest_idle_per_user",
};

struct connlimit {
	const struct sluice_host *host;
	uint64_t seed;
	pthread_mutex_t lock; /* guards everything below */
	struct cl_limits *limits;
	struct cl_table conns, ips, users;
	unsigned open;                       /* connections counted for the server */
	unsigned closing;                    /* of those, asked to close to make room */
	struct cl_ip *fail_head, *fail_tail; /* oldest failure first */
	size_t fail_count;
	uint64_t events[CL_EVENT_COUNT];
};

/* ---- addresses and text --------------------------------------------------------------- */

/* The address key of a peer; IPv4-mapped IPv6 becomes IPv4. False when it has none. */
static bool cl_addr_key(const struct sluice_peer *peer, uint8_t key[CL_KEY_LEN])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memset(key, 0, CL_KEY_LEN);
	if (peer == NULL || peer->remote == NULL)
		return false;
	/* Byte offsets, as in sluice_cidr_match: the core may pass a plain sockaddr_in. */
	const uint8_t *base = (const uint8_t *)peer->remote;
	if (peer->remote->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, base + offsetof(struct sockaddr_in, sin_addr), 4);
		return true;
	}
	if (peer->remote->sa_family == AF_INET6) {
		const uint8_t *a = base + offsetof(struct sockaddr_in6, sin6_addr);
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			key[0] = 4;
			memcpy(key + 1, a + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a, 16);
		}
		return true;
	}
	return false;
}

static void cl_addr_text(const uint8_t key[CL_KEY_LEN], bool has_addr, char *buf, size_t size)
{
	if (!has_addr ||
	    inet_ntop(key[0] == 4 ? AF_INET : AF_INET6, key + 1, buf, (socklen_t)size) == NULL)
		snprintf(buf, size, "(no address)");
}

/* A user name the client typed, safe for one log line: printable ASCII, at most 64 bytes. */
static void cl_printable(const char *in, char *out, size_t size)
{
	size_t n = 0;

	for (; in != NULL && *in != '\0' && n + 1 < size && n < 64; in++)
		out[n++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
	out[n] = '\0';
}

/* ---- the tables ------------------------------------------------------------------------ */

static uint64_t cl_id_hash(const struct connlimit *cl, uint64_t id)
{
	return cl_hash_bytes(cl->seed, &id, sizeof(id));
}

static struct cl_conn *cl_conn_find(struct connlimit *cl, uint64_t id)
{
	uint64_t h = cl_id_hash(cl, id);

	for (struct cl_node *n = cl_table_first(&cl->conns, h); n != NULL; n = cl_table_next(n))
		if (((struct cl_conn *)n)->id == id)
			return (struct cl_conn *)n;
	return NULL;
}

/* The connection's entry, made (counting nothing) when it has none. NULL: out of memory. */
static struct cl_conn *cl_conn_get(struct connlimit *cl, uint64_t id)
{
	struct cl_conn *c = cl_conn_find(cl, id);

	if (c != NULL)
		return c;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->id = id;
	c->node.hash = cl_id_hash(cl, id);
	if (cl_table_insert(&cl->conns, &c->node) < 0) {
		free(c);
		return NULL;
	}
	return c;
}

static struct cl_ip *cl_ip_find(struct connlimit *cl, const uint8_t key[CL_KEY_LEN])
{
	uint64_t h = cl_hash_bytes(cl->seed, key, CL_KEY_LEN);

	for (struct cl_node *n = cl_table_first(&cl->ips, h); n != NULL; n = cl_table_next(n))
		if (memcmp(((struct cl_ip *)n)->key, key, CL_KEY_LEN) == 0)
			return (struct cl_ip *)n;
	return NULL;
}

static struct cl_ip *cl_ip_get(struct connlimit *cl, const uint8_t key[CL_KEY_LEN])
{
	struct cl_ip *ip = cl_ip_find(cl, key);

	if (ip != NULL)
		return ip;
	if ((ip = calloc(1, sizeof(*ip))) == NULL)
		return NULL;
	memcpy(ip->key, key, CL_KEY_LEN);
	ip->node.hash = cl_hash_bytes(cl->seed, key, CL_KEY_LEN);
	if (cl_table_insert(&cl->ips, &ip->node) < 0) {
		free(ip);
		return NULL;
	}
	return ip;
}

/* Frees an address entry once nothing refers to it any more. */
static void cl_ip_release(struct connlimit *cl, struct cl_ip *ip)
{
	if (ip->open == 0 && ip->failures == 0) {
		cl_table_remove(&cl->ips, &ip->node);
		free(ip);
	}
}

static void cl_fail_unlink(struct connlimit *cl, struct cl_ip *ip)
{
	if (ip->fail_prev != NULL)
		ip->fail_prev->fail_next = ip->fail_next;
	else
		cl->fail_head = ip->fail_next;
	if (ip->fail_next != NULL)
		ip->fail_next->fail_prev = ip->fail_prev;
	else
		cl->fail_tail = ip->fail_prev;
	ip->fail_prev = ip->fail_next = NULL;
}

static void cl_fail_append(struct connlimit *cl, struct cl_ip *ip)
{
	ip->fail_prev = cl->fail_tail;
	ip->fail_next = NULL;
	if (cl->fail_tail != NULL)
		cl->fail_tail->fail_next = ip;
	else
		cl->fail_head = ip;
	cl->fail_tail = ip;
}

/* Forgets an address's failures (after a success, or when they are old). */
static void cl_ip_forgive(struct connlimit *cl, struct cl_ip *ip)
{
	if (ip->failures == 0)
		return;
	cl_fail_unlink(cl, ip);
	cl->fail_count--;
	ip->failures = 0;
	cl_ip_release(cl, ip);
}

static void cl_forget_stale(struct connlimit *cl, uint64_t now)
{
	while (cl->fail_head != NULL && now >= cl->fail_head->last_failure_ms &&
	       now - cl->fail_head->last_failure_ms >= CL_FORGET_MS)
		cl_ip_forgive(cl, cl->fail_head);
}

/* Records one more failure in a row; the list stays ordered by the latest failure. */
static void cl_ip_fail(struct connlimit *cl, struct cl_ip *ip, uint64_t now)
{
	if (ip->failures == 0) {
		if (cl->fail_count >= CL_FAIL_TRACK_MAX && cl->fail_head != NULL)
			cl_ip_forgive(cl, cl->fail_head);
		cl->fail_count++;
	} else {
		cl_fail_unlink(cl, ip);
	}
	cl_fail_append(cl, ip);
	if (ip->failures < UINT_MAX)
		ip->failures++;
	ip->last_failure_ms = now;
}

static struct cl_user *cl_user_find(struct connlimit *cl, const char *name, uint64_t h)
{
	for (struct cl_node *n = cl_table_first(&cl->users, h); n != NULL; n = cl_table_next(n))
		if (strcmp(((struct cl_user *)n)->name, name) == 0)
			return (struct cl_user *)n;
	return NULL;
}

static struct cl_user *cl_user_new(struct connlimit *cl, const char *name, uint64_t h)
{
	size_t len = strlen(name);
	struct cl_user *u = calloc(1, sizeof(*u) + len + 1);

	if (u == NULL)
		return NULL;
	memcpy(u->name, name, len + 1);
	u->node.hash = h;
	if (cl_table_insert(&cl->users, &u->node) < 0) {
		free(u);
		return NULL;
	}
	return u;
}

static void cl_user_release(struct connlimit *cl, struct cl_user *u)
{
	if (--u->open == 0) {
		cl_table_remove(&cl->users, &u->node);
		free(u);
	}
}

/* ---- connections of an address or a user, for close-oldest-idle ---------------------------- */

#define CL_IP_LINK offsetof(struct cl_conn, ip_link)
#define CL_USER_LINK offsetof(struct cl_conn, user_link)

static struct cl_link *cl_link(struct cl_conn *c, size_t link)
{
	return (struct cl_link *)((char *)c + link);
}

static void cl_list_add(struct cl_conn **head, struct cl_conn *c, size_t link)
{
	cl_link(c, link)->prev = NULL;
	cl_link(c, link)->next = *head;
	if (*head != NULL)
		cl_link(*head, link)->prev = c;
	*head = c;
}

static void cl_list_remove(struct cl_conn **head, struct cl_conn *c, size_t link)
{
	struct cl_link *l = cl_link(c, link);

	if (l->prev != NULL)
		cl_link(l->prev, link)->next = l->next;
	else
		*head = l->next;
	if (l->next != NULL)
		cl_link(l->next, link)->prev = l->prev;
	l->prev = l->next = NULL;
}

/* Marks @p c as asked to close (or no longer): it stops (or starts again) counting against
 * the server's, its address's and its user's limits. */
static void cl_closing_set(struct connlimit *cl, struct cl_conn *c, bool closing)
{
	if (c->closing == closing)
		return;
	c->closing = closing;
	if (c->counted) {
		cl->closing += closing ? 1u : -1u;
		if (c->ip != NULL)
			c->ip->closing += closing ? 1u : -1u;
	}
	if (c->user != NULL)
		c->user->closing += closing ? 1u : -1u;
}

/* The connection's login no longer counts (disconnect, or another login on it). */
static void cl_conn_drop_user(struct connlimit *cl, struct cl_conn *c)
{
	if (c->user == NULL)
		return;
	cl_list_remove(&c->user->conns, c, CL_USER_LINK);
	if (c->closing)
		c->user->closing--;
	cl_user_release(cl, c->user);
	c->user = NULL;
}

/*
 * The oldest connection on a list that is neither inside a command nor closing already,
 * other than @p except (the newcomer). Oldest means accepted first: the core numbers
 * connections in the order it accepts them. A list is at most one limit long.
 */
static struct cl_conn *cl_oldest_idle(struct cl_conn *head, size_t link, uint64_t except)
{
	struct cl_conn *best = NULL;

	for (struct cl_conn *c = head; c != NULL; c = cl_link(c, link)->next)
		if (!c->busy && !c->closing && c->id != except && (best == NULL || c->id < best->id))
			best = c;
	return best;
}

/*
 * close-oldest-idle: asks the oldest idle connection on @p head's list to close, so that a
 * newcomer fits under the limit. Called with the lock held (session_close allows it), so
 * no other hook can choose the same connection or fill the room in between.
 * @return true with *victim_r set when a connection was asked to close.
 */
static bool cl_make_room(struct connlimit *cl, struct cl_conn *head, size_t link, uint64_t except,
                         uint64_t *victim_r)
{
	struct cl_conn *v = cl_oldest_idle(head, link, except);

	if (v == NULL)
		return false;
	cl_closing_set(cl, v, true);
	int r = cl->host->session_close(cl->host, v->id, "UNAVAILABLE",
	                                "Connection closed to make room for a new one");
	/* NOTFOUND: it is going away already (an administrator closed it): room all the same. */
	if (r != 0 && r != SLUICE_NOTFOUND) {
		cl_closing_set(cl, v, false);
		return false;
	}
	*victim_r = v->id;
	return true;
}

/* The delay after @p failures failures in a row: base, 2 x base, 4 x base, ... up to max. */
static uint64_t cl_delay(const struct cl_limits *l, unsigned failures)
{
	uint64_t d = l->bad_login_delay;

	if (d == 0 || failures == 0)
		return 0;
	/* Both settings are at most 10 minutes, so doubling below the cap cannot overflow. */
	for (unsigned i = 1; i < failures && d < l->bad_login_delay_max; i++)
		d *= 2;
	return d < l->bad_login_delay_max ? d : l->bad_login_delay_max;
}

/* ---- the hooks ------------------------------------------------------------------------- */

/* Counts an admitted connection. False when out of memory (then nothing is counted). */
static bool cl_count_connection(struct connlimit *cl, uint64_t id, const uint8_t *key)
{
	struct cl_ip *ip = NULL;
	struct cl_conn *c;

	if (key != NULL && (ip = cl_ip_get(cl, key)) == NULL)
		return false;
	if ((c = cl_conn_get(cl, id)) == NULL) {
		if (ip != NULL)
			cl_ip_release(cl, ip);
		return false;
	}
	c->counted = true;
	c->ip = ip;
	if (ip != NULL) {
		ip->open++;
		cl_list_add(&ip->conns, c, CL_IP_LINK);
	}
	cl->open++;
	return true;
}

static int connlimit_connect(void *modctx, const struct sluice_policy_conn *conn,
                             struct sluice_error *err)
{
	struct connlimit *cl = modctx;
	uint8_t key[CL_KEY_LEN];
	bool has_addr = cl_addr_key(conn->peer, key), counted = true;
	const char *limit_name = NULL;
	unsigned limit = 0;
	uint64_t victim = 0;
	char addr[INET6_ADDRSTRLEN];

	pthread_mutex_lock(&cl->lock);
	const struct cl_limits *l = cl->limits;
	struct cl_ip *ip = has_addr ? cl_ip_find(cl, key) : NULL;
	struct cl_conn *c = cl_conn_find(cl, conn->id);
	if (c != NULL && c->counted) {
		/* Asked twice about one connection: it is counted already. */
	} else if (l->max_connections != 0 && cl->open - cl->closing >= l->max_connections) {
		limit_name = "max_connections";
		limit = l->max_connections;
		cl->events[CL_REFUSED_MAX_CONNECTIONS]++;
	} else if (l->max_per_ip != 0 && ip != NULL && ip->open - ip->closing >= l->max_per_ip &&
	           !sluice_cidr_match(l->trusted, conn->peer->remote) &&
	           !(l->close_oldest_idle &&
	             cl_make_room(cl, ip->conns, CL_IP_LINK, conn->id, &victim))) {
		limit_name = "max_per_ip";
		limit = l->max_per_ip;
		cl->events[CL_REFUSED_MAX_PER_IP]++;
	} else {
		if (victim != 0) {
			cl->events[CL_CLOSED_IDLE_PER_IP]++;
			limit = l->max_per_ip; /* for the log line: l may be replaced once unlocked */
		}
		counted = cl_count_connection(cl, conn->id, has_addr ? key : NULL);
	}
	pthread_mutex_unlock(&cl->lock);

	cl_addr_text(key, has_addr, addr, sizeof(addr));
	if (!counted)
		cl->host->log(cl->host, SLUICE_LOG_WARNING,
		              "out of memory: connection from %s admitted but not counted", addr);
	if (victim != 0)
		cl->host->log(cl->host, SLUICE_LOG_INFO,
		              "max_per_ip=%u reached for %s: closing conn=%llu, its oldest idle "
		              "connection, to make room",
		              limit, addr, (unsigned long long)victim);
	if (limit_name == NULL)
		return SLUICE_DECLINED;
	cl->host->log(cl->host, SLUICE_LOG_INFO, "refused: %s=%u reached for %s", limit_name, limit,
	              addr);
	if (strcmp(limit_name, "max_connections") == 0)
		return sluice_error_set(err, SLUICE_E_REFUSED, "UNAVAILABLE",
		                        "Too many connections to this server (%u open); "
		                        "try again later",
		                        limit);
	return sluice_error_set(err, SLUICE_E_REFUSED, "UNAVAILABLE",
	                        "Too many connections from your address (%u open); close other "
	                        "mail programs or ask your administrator",
	                        limit);
}

static int connlimit_login(void *modctx, const struct sluice_policy_conn *conn,
                           struct sluice_error *err)
{
	struct connlimit *cl = modctx;
	uint8_t key[CL_KEY_LEN];
	bool has_addr = cl_addr_key(conn->peer, key), refused = false, counted = true;
	unsigned limit = 0;
	uint64_t victim = 0;
	char addr[INET6_ADDRSTRLEN], user[72];

	if (conn->user == NULL)
		return SLUICE_DECLINED;
	uint64_t h = cl_hash_bytes(cl->seed, conn->user, strlen(conn->user));
	pthread_mutex_lock(&cl->lock);
	const struct cl_limits *l = cl->limits;
	struct cl_conn *c = cl_conn_get(cl, conn->id);
	if (c != NULL && c->user != NULL) {
		/* A second login on one connection (the first was refused after us): count once. */
		cl_conn_drop_user(cl, c);
	}
	struct cl_user *u = cl_user_find(cl, conn->user, h);
	limit = l->max_logins_per_user;
	if (limit != 0 && u != NULL && u->open - u->closing >= limit &&
	    !(l->close_oldest_idle && cl_make_room(cl, u->conns, CL_USER_LINK, conn->id, &victim))) {
		refused = true;
		cl->events[CL_REFUSED_MAX_LOGINS_PER_USER]++;
	} else if (c == NULL || (u == NULL && (u = cl_user_new(cl, conn->user, h)) == NULL)) {
		counted = false;
	} else {
		if (victim != 0)
			cl->events[CL_CLOSED_IDLE_PER_USER]++;
		u->open++;
		c->user = u;
		cl_list_add(&u->conns, c, CL_USER_LINK);
		if (c->closing)
			u->closing++; /* asked to close already: its login does not count either */
	}
	pthread_mutex_unlock(&cl->lock);

	cl_addr_text(key, has_addr, addr, sizeof(addr));
	cl_printable(conn->user, user, sizeof(user));
	if (!counted)
		cl->host->log(cl->host, SLUICE_LOG_WARNING,
		              "out of memory: login of %s from %s admitted but not counted", user,
		              addr);
	if (victim != 0)
		cl->host->log(cl->host, SLUICE_LOG_INFO,
		              "max_logins_per_user=%u reached for user %s: closing conn=%llu, its "
		              "oldest idle connection, to make room for a login from %s",
		              limit, user, (unsigned long long)victim, addr);
	if (!refused)
		return SLUICE_DECLINED;
	cl->host->log(cl->host, SLUICE_LOG_INFO,
	              "refused: max_logins_per_user=%u reached for user %s from %s", limit, user,
	              addr);
	return sluice_error_set(err, SLUICE_E_REFUSED, "UNAVAILABLE",
	                        "Too many logins for this user (%u open)", limit);
}

static int connlimit_auth_result(void *modctx, const struct sluice_policy_conn *conn,
                                 const char *user, bool success, uint64_t *delay_ms_r,
                                 struct sluice_error *err)
{
	struct connlimit *cl = modctx;
	uint8_t key[CL_KEY_LEN];
	bool has_addr = cl_addr_key(conn->peer, key), refused = false;
	uint64_t delay = 0, now = cl->host->now_ms();
	unsigned limit = 0, failures = 0;
	char addr[INET6_ADDRSTRLEN], name[72];

	pthread_mutex_lock(&cl->lock);
	const struct cl_limits *l = cl->limits;
	cl_forget_stale(cl, now);
	struct cl_ip *ip = has_addr ? cl_ip_find(cl, key) : NULL;
	if (success) {
		if (ip != NULL)
			cl_ip_forgive(cl, ip);
		pthread_mutex_unlock(&cl->lock);
		return SLUICE_DECLINED;
	}
	if (has_addr && l->bad_login_delay != 0 && (ip != NULL || (ip = cl_ip_get(cl, key)))) {
		cl_ip_fail(cl, ip, now);
		failures = ip->failures;
		delay = cl_delay(l, failures);
	}
	struct cl_conn *c = cl_conn_get(cl, conn->id);
	if (c != NULL) {
		c->bad_logins++;
		if (l->max_bad_logins != 0 && c->bad_logins >= l->max_bad_logins) {
			refused = true;
			limit = l->max_bad_logins;
			cl->events[CL_REFUSED_MAX_BAD_LOGINS]++;
		}
	}
	pthread_mutex_unlock(&cl->lock);

	if (delay > *delay_ms_r)
		*delay_ms_r = delay;
	if (!refused)
		return SLUICE_DECLINED;
	cl_addr_text(key, has_addr, addr, sizeof(addr));
	cl_printable(user, name, sizeof(name));
	cl->host->log(cl->host, SLUICE_LOG_INFO,
	              "refused: max_bad_logins=%u reached for %s (user %s), closing the connection",
	              limit, addr, name);
	return sluice_error_set(err, SLUICE_E_REFUSED, NULL, "Too many failed login attempts");
}

/* A command starts or ends: close-oldest-idle never picks a connection inside one. A flag,
 * not a count, so that a begin without an end (a later policy refused) is put right by the
 * connection's next command. */
static void cl_set_busy(struct connlimit *cl, uint64_t id, bool busy)
{
	pthread_mutex_lock(&cl->lock);
	struct cl_conn *c = cl_conn_find(cl, id);
	if (c != NULL)
		c->busy = busy;
	pthread_mutex_unlock(&cl->lock);
}

static int connlimit_command_begin(void *modctx, const struct sluice_policy_conn *conn,
                                   const struct sluice_policy_command *cmd,
                                   struct sluice_error *err)
{
	cl_set_busy(modctx, conn->id, true);
	return SLUICE_DECLINED;
}

static void connlimit_command_end(void *modctx, const struct sluice_policy_conn *conn,
                                  const struct sluice_policy_command *cmd)
{
	cl_set_busy(modctx, conn->id, false);
}

static void connlimit_report(void *modctx, void (*emit)(void *ctx, const char *key, int64_t value),
                             void *ctx)
{
	struct connlimit *cl = modctx;
	uint64_t events[CL_EVENT_COUNT];

	pthread_mutex_lock(&cl->lock);
	const struct cl_limits *l = cl->limits;
	const int64_t figures[] = {
	    l->max_connections, l->max_per_ip,    l->max_logins_per_user,
	    l->max_bad_logins,  l->close_oldest_idle, (int64_t)cl->open - cl->closing,
	};
	memcpy(events, cl->events, sizeof(events));
	pthread_mutex_unlock(&cl->lock);

	static const char *const keys[] = {
	    "max_connections", "max_per_ip",        "max_logins_per_user",
	    "max_bad_logins",  "close_oldest_idle", "counted_connections",
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		emit(ctx, keys[i], figures[i]);
	for (size_t i = 0; i < CL_EVENT_COUNT; i++)
		emit(ctx, cl_event_keys[i], events[i] > INT64_MAX ? INT64_MAX : (int64_t)events[i]);
}

static void connlimit_disconnect(void *modctx, const struct sluice_policy_conn *conn)
{
	struct connlimit *cl = modctx;
	uint64_t now = cl->host->now_ms();

	pthread_mutex_lock(&cl->lock);
	struct cl_conn *c = cl_conn_find(cl, conn->id);
	if (c != NULL) {
		cl_table_remove(&cl->conns, &c->node);
		cl_conn_drop_user(cl, c);
		cl_closing_set(cl, c, false);
		if (c->counted) {
			cl->open--;
			if (c->ip != NULL) {
				cl_list_remove(&c->ip->conns, c, CL_IP_LINK);
				c->ip->open--;
				cl_ip_release(cl, c->ip);
			}
		}
		free(c);
	}
	cl_forget_stale(cl, now);
	pthread_mutex_unlock(&cl->lock);
}

/* ---- life cycle ------------------------------------------------------------------------ */

static void cl_limits_free(struct cl_limits *l)
{
	if (l != NULL)
		free(l->trusted);
	free(l);
}

static struct cl_limits *cl_limits_build(const struct connlimit_settings *set)
{
	struct cl_limits *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->max_connections = set->max_connections;
	l->max_per_ip = set->max_per_ip;
	l->max_logins_per_user = set->max_logins_per_user;
	l->max_bad_logins = set->max_bad_logins;
	l->bad_login_delay = set->bad_login_delay;
	l->bad_login_delay_max = set->bad_login_delay_max;
	l->close_oldest_idle = set->on_limit == CL_ON_LIMIT_CLOSE_OLDEST_IDLE;
	if (set->trusted_networks != NULL && set->trusted_networks->count > 0) {
		size_t bytes =
		    sizeof(*set->trusted_networks) +
		    set->trusted_networks->count * sizeof(set->trusted_networks->items[0]);
		if ((l->trusted = malloc(bytes)) == NULL) {
			free(l);
			return NULL;
		}
		memcpy(l->trusted, set->trusted_networks, bytes);
	}
	return l;
}

static size_t cl_trusted_count(const struct cl_limits *l)
{
	return l->trusted != NULL ? l->trusted->count : 0;
}

/* "max_connections=10000 max_per_ip=100 ..." with "(was N)" after the values that changed. */
static void cl_limits_text(const struct cl_limits *l, const struct cl_limits *old, char *buf,
                           size_t size)
{
	struct {
		const char *name;
		unsigned long long now, before;
	} items[] = {
	    {"max_connections", l->max_connections, old ? old->max_connections : 0},
	    {"max_per_ip", l->max_per_ip, old ? old->max_per_ip : 0},
	    {"max_logins_per_user", l->max_logins_per_user, old ? old->max_logins_per_user : 0},
	    {"max_bad_logins", l->max_bad_logins, old ? old->max_bad_logins : 0},
	    {"trusted_networks", cl_trusted_count(l), old ? cl_trusted_count(old) : 0},
	    {"bad_login_delay_ms", l->bad_login_delay, old ? old->bad_login_delay : 0},
	    {"bad_login_delay_max_ms", l->bad_login_delay_max, old ? old->bad_login_delay_max : 0},
	};
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]) && len < size; i++) {
		int n;
		if (old != NULL && items[i].now != items[i].before)
			n = snprintf(buf + len, size - len, "%s%s=%llu (was %llu)", i ? " " : "",
			             items[i].name, items[i].now, items[i].before);
		else
			n = snprintf(buf + len, size - len, "%s%s=%llu", i ? " " : "",
			             items[i].name, items[i].now);
		if (n < 0)
			break;
		len += (size_t)n;
	}
	if (len < size)
		snprintf(buf + len, size - len, " on_limit=%s%s",
		         cl_on_limit_choices[l->close_oldest_idle],
		         old != NULL && old->close_oldest_idle != l->close_oldest_idle
		             ? (l->close_oldest_idle ? " (was refuse)" : " (was close-oldest-idle)")
		             : "");
}

/* Whether the core can close a session for us (host ABI 1.1); close-oldest-idle needs it. */
static int cl_check_host(const struct connlimit *cl, const struct cl_limits *l,
                         struct sluice_error *err)
{
	if (l->close_oldest_idle && (!SLUICE_HAS_MEMBER(cl->host, struct sluice_host, session_close) ||
	                             cl->host->session_close == NULL))
		return sluice_error_set(err, SLUICE_E_CONFIG, NULL,
		                        "on_limit = close-oldest-idle needs a server that can close "
		                        "sessions for a module (module ABI 1.1 or later)");
	return 0;
}

static int connlimit_init(const struct sluice_host *host, const void *conf, void **modctx_r,
                          struct sluice_error *err)
{
	struct connlimit *cl = calloc(1, sizeof(*cl));
	char text[512];

	if (cl == NULL || (cl->limits = cl_limits_build(conf)) == NULL) {
		free(cl);
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "out of memory");
	}
	if (pthread_mutex_init(&cl->lock, NULL) != 0) {
		cl_limits_free(cl->limits);
		free(cl);
		return sluice_error_set(err, SLUICE_E_INTERNAL, NULL, "cannot create a lock");
	}
	if (getentropy(&cl->seed, sizeof(cl->seed)) != 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		cl->seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uintptr_t)cl;
	}
	cl->host = host;
	if (cl_check_host(cl, cl->limits, err) < 0) {
		pthread_mutex_destroy(&cl->lock);
		cl_limits_free(cl->limits);
		free(cl);
		return SLUICE_E_CONFIG;
	}
	cl_limits_text(cl->limits, NULL, text, sizeof(text));
	host->log(host, SLUICE_LOG_INFO, "limits: %s", text);
	*modctx_r = cl;
	return 0;
}

static int connlimit_reload(void *modctx, const void *conf, struct sluice_error *err)
{
	struct connlimit *cl = modctx;
	struct cl_limits *fresh = cl_limits_build(conf), *old;
	char text[512];

	if (fresh == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "out of memory");
	if (cl_check_host(cl, fresh, err) < 0) {
		cl_limits_free(fresh);
		return SLUICE_E_CONFIG;
	}
	/* Only the limits change: counts stay, so open sessions are never closed by a lower
	 * limit; they just keep new ones out until enough have ended. */
	pthread_mutex_lock(&cl->lock);
	old = cl->limits;
	cl->limits = fresh;
	pthread_mutex_unlock(&cl->lock);

	cl_limits_text(fresh, old, text, sizeof(text));
	cl->host->log(cl->host, SLUICE_LOG_INFO, "reloaded: %s", text);
	cl_limits_free(old);
	return 0;
}

static void cl_free_node(struct cl_node *n)
{
	free(n);
}

static void connlimit_deinit(void *modctx)
{
	struct connlimit *cl = modctx;

	cl_table_clear(&cl->conns, cl_free_node);
	cl_table_clear(&cl->users, cl_free_node);
	cl_table_clear(&cl->ips, cl_free_node);
	pthread_mutex_destroy(&cl->lock);
	cl_limits_free(cl->limits);
	free(cl);
}

/* ---- the descriptor -------------------------------------------------------------------- */

static const struct sluice_policy_ops connlimit_ops = {
    .size = sizeof(struct sluice_policy_ops),
    .connect = connlimit_connect,
    .auth_result = connlimit_auth_result,
    .login = connlimit_login,
    .command_begin = connlimit_command_begin,
    .command_end = connlimit_command_end,
    .disconnect = connlimit_disconnect,
    .report = connlimit_report,
};

SLUICE_MODULE(.kind = SLUICE_KIND_POLICY, .name = "connlimit", .version = "1.0",
              .description = "limits connections per server, address and user, and failed logins",
              .settings = connlimit_settings_table, .conf_size = sizeof(struct connlimit_settings),
              .init = connlimit_init, .deinit = connlimit_deinit, .reload = connlimit_reload,
              .ops = &connlimit_ops);
