/*
 * Tests of the connlimit policy module, loaded the way the server loads it (dlopen of
 * build/modules/connlimit.so through the shared module fixture) and driven by calling its
 * hooks with fake connections: an id, a socket address and, after a login, a user name.
 * The host clock is moved by hand, so delays and the forgetting of old failures are
 * tested without sleeping. The tests read the module's counts the way a client would (a
 * limit of N admits exactly N more connections when nothing is counted, and refuses the
 * N+1st) and through its report op, as sluicectl does. The host's session_close records
 * which connections close-oldest-idle asks to close, and answers what the test says.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/policy.h>

#include "module-fixture.h"

static struct fixture_module cl_module;
static const struct sluice_policy_ops *cl_ops;

/* The clock of the test host, which the tests move by hand. */
static _Atomic uint64_t cl_clock = 1000000;

static uint64_t cl_test_now(void)
{
	return atomic_load(&cl_clock);
}

static void advance(uint64_t ms)
{
	atomic_fetch_add(&cl_clock, ms);
}

/* A connection as the core describes it to policy modules. */
struct fake {
	struct sockaddr_storage ss;
	struct sluice_peer peer;
	struct sluice_policy_conn conn;
	char ip[64];
};

/* Fills @p f; false when @p ip does not parse. Asserts nothing, so threads may call it. */
static bool fake_fill(struct fake *f, uint64_t id, const char *ip)
{
	int ok;

	memset(f, 0, sizeof(*f));
	snprintf(f->ip, sizeof(f->ip), "%s", ip);
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&f->ss;
		s6->sin6_family = AF_INET6;
		ok = inet_pton(AF_INET6, ip, &s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&f->ss;
		s4->sin_family = AF_INET;
		ok = inet_pton(AF_INET, ip, &s4->sin_addr);
	}
	f->peer.remote = (const struct sockaddr *)&f->ss;
	f->peer.remote_ip = f->ip;
	f->conn.id = id;
	f->conn.peer = &f->peer;
	return ok == 1;
}

static void fake_init(struct fake *f, uint64_t id, const char *ip)
{
	CU_ASSERT_FATAL(fake_fill(f, id, ip));
}

static void *start(const char *settings)
{
	void *conf = NULL;
	struct sluice_error err = SLUICE_ERROR_INIT;

	fixture_log_clear(&cl_module);
	if (fixture_conf_new(&cl_module, settings, &conf) < 0)
		return NULL;
	if (fixture_module_init(&cl_module, conf, &err) != 0)
		return NULL;
	return cl_module.modctx;
}

static void stop(void)
{
	fixture_module_stop(&cl_module);
}

static int reload(const char *settings)
{
	void *conf = NULL;
	struct sluice_error err = SLUICE_ERROR_INIT;

	if (fixture_conf_new(&cl_module, settings, &conf) < 0)
		return -1;
	int r = cl_module.desc->reload(cl_module.modctx, conf, &err);
	free(conf); /* the module keeps its own copy of the limits */
	return r;
}

static struct sluice_error last_err;

/* The host's session_close: what close-oldest-idle asked for, and what it is answered. */
#define CLOSES_KEPT 64
static pthread_mutex_t closes_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t closes[CLOSES_KEPT];
static size_t close_count;
static char close_code[32], close_text[128];
static int close_answer; /* what the next calls return */

static int fake_session_close(const struct sluice_host *host, uint64_t conn_id,
                              const char *resp_code, const char *text)
{
	pthread_mutex_lock(&closes_lock);
	if (close_count < CLOSES_KEPT)
		closes[close_count] = conn_id;
	close_count++;
	snprintf(close_code, sizeof(close_code), "%s", resp_code != NULL ? resp_code : "(null)");
	snprintf(close_text, sizeof(close_text), "%s", text);
	int r = close_answer;
	pthread_mutex_unlock(&closes_lock);
	return r;
}

static void closes_reset(int answer)
{
	pthread_mutex_lock(&closes_lock);
	close_count = 0;
	close_answer = answer;
	close_code[0] = close_text[0] = '\0';
	pthread_mutex_unlock(&closes_lock);
}

/* The core marks a command's start and end for every policy. */
static void command(struct fake *f, bool begin)
{
	struct sluice_policy_command cmd = {.tag = "a1", .name = "NOOP"};
	struct sluice_error err = SLUICE_ERROR_INIT;

	if (begin) {
		CU_ASSERT_EQUAL(cl_ops->command_begin(cl_module.modctx, &f->conn, &cmd, &err),
		                SLUICE_DECLINED);
	} else {
		cl_ops->command_end(cl_module.modctx, &f->conn, &cmd);
	}
}

/* One figure of the module's report; -1 when it reports no such key. */
struct figure_query {
	const char *key;
	int64_t value;
	unsigned seen;
};

static void figure_emit(void *ctx, const char *key, int64_t value)
{
	struct figure_query *q = ctx;

	if (strcmp(key, q->key) == 0) {
		q->value = value;
		q->seen++;
	}
}

static int64_t figure(const char *key)
{
	struct figure_query q = {.key = key, .value = -1};

	cl_ops->report(cl_module.modctx, figure_emit, &q);
	CU_ASSERT(q.seen <= 1);
	return q.value;
}

/* Connects a fake connection with id @p id from @p ip; returns the hook's answer. */
static int conn_open(struct fake *f, uint64_t id, const char *ip)
{
	fake_init(f, id, ip);
	memset(&last_err, 0, sizeof(last_err));
	return cl_ops->connect(cl_module.modctx, &f->conn, &last_err);
}

static void conn_close(struct fake *f)
{
	cl_ops->disconnect(cl_module.modctx, &f->conn);
}

static int login(struct fake *f, const char *user)
{
	memset(&last_err, 0, sizeof(last_err));
	f->conn.user = user;
	int r =
	    cl_ops->auth_result(cl_module.modctx, &f->conn, user, true, &(uint64_t){0}, &last_err);
	if (r < 0)
		return r;
	r = cl_ops->login(cl_module.modctx, &f->conn, &last_err);
	f->conn.user = NULL; /* the core clears it when a login is refused */
	return r;
}

/* One failed login; *delay_r gets the delay asked for (starting from @p floor). */
static int fail_login(struct fake *f, const char *user, uint64_t floor, uint64_t *delay_r)
{
	uint64_t delay = floor;

	memset(&last_err, 0, sizeof(last_err));
	int r = cl_ops->auth_result(cl_module.modctx, &f->conn, user, false, &delay, &last_err);
	if (delay_r != NULL)
		*delay_r = delay;
	return r;
}

static unsigned log_count(const char *needle)
{
	return fixture_log_count(&cl_module, needle);
}

static const struct sluice_setting *setting(const char *key)
{
	for (const struct sluice_setting *s = cl_module.desc->settings; s->key != NULL; s++)
		if (strcmp(s->key, key) == 0)
			return s;
	return NULL;
}

/* ---- descriptor and settings ----------------------------------------------------------- */

static void test_descriptor_declares_the_documented_defaults(void)
{
	static const struct {
		const char *key, *def;
		enum sluice_setting_type type;
	} want[] = {
	    {"max_connections", "10000", SLUICE_SETTING_UINT},
	    {"max_per_ip", "100", SLUICE_SETTING_UINT},
	    {"max_logins_per_user", "20", SLUICE_SETTING_UINT},
	    {"max_bad_logins", "3", SLUICE_SETTING_UINT},
	    {"trusted_networks", NULL, SLUICE_SETTING_CIDR_LIST},
	    {"bad_login_delay", "2s", SLUICE_SETTING_DURATION},
	    {"bad_login_delay_max", "15s", SLUICE_SETTING_DURATION},
	    {"on_limit", "refuse", SLUICE_SETTING_ENUM},
	};

	CU_ASSERT_STRING_EQUAL(cl_module.desc->name, "connlimit");
	CU_ASSERT_EQUAL(cl_ops->size, sizeof(struct sluice_policy_ops));
	CU_ASSERT_PTR_NOT_NULL(cl_module.desc->reload);
	CU_ASSERT_PTR_NOT_NULL(cl_ops->connect);
	CU_ASSERT_PTR_NOT_NULL(cl_ops->auth_result);
	CU_ASSERT_PTR_NOT_NULL(cl_ops->login);
	CU_ASSERT_PTR_NOT_NULL(cl_ops->disconnect);
	CU_ASSERT_PTR_NOT_NULL(cl_ops->command_begin);
	CU_ASSERT_PTR_NOT_NULL(cl_ops->command_end);
	CU_ASSERT_PTR_NOT_NULL(cl_ops->report);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct sluice_setting *s = setting(want[i].key);
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		CU_ASSERT_EQUAL(s->type, want[i].type);
		if (want[i].def == NULL) {
			CU_ASSERT_PTR_NULL(s->default_value);
		} else {
			CU_ASSERT_STRING_EQUAL(s->default_value, want[i].def);
		}
		CU_ASSERT_EQUAL(s->min, 0); /* 0 is always accepted: "no limit" or "off" */
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(start(NULL));
	CU_ASSERT_EQUAL(log_count("limits: max_connections=10000 max_per_ip=100 "
	                          "max_logins_per_user=20 max_bad_logins=3"),
	                1);
	stop();
}

/* ---- connections ----------------------------------------------------------------------- */

static void test_max_per_ip_refuses_with_its_sentence_and_log_line(void)
{
	struct fake a, b, c, other;

	CU_ASSERT_PTR_NOT_NULL_FATAL(start("max_per_ip=2"));
	CU_ASSERT_EQUAL(conn_open(&a, 1, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&b, 2, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&c, 3, "192.0.2.7"), SLUICE_E_REFUSED);
	CU_ASSERT_EQUAL(last_err.code, SLUICE_E_REFUSED);
	CU_ASSERT_STRING_EQUAL(last_err.resp_code, "UNAVAILABLE");
	CU_ASSERT_STRING_EQUAL(last_err.msg, "Too many connections from your address (2 open); "
	                                     "close other mail programs or ask your administrator");
	CU_ASSERT_EQUAL(log_count("refused: max_per_ip=2 reached for 192.0.2.7"), 1);
	CU_ASSERT_EQUAL(conn_open(&other, 4, "198.51.100.1"), SLUICE_DECLINED);
	conn_close(&c);
	conn_close(&a);
	conn_close(&b);
	conn_close(&other);
	stop();
}

static void test_refused_connection_is_not_counted_nor_released(void)
{
	struct fake a, b, c, d;

	CU_ASSERT_PTR_NOT_NULL_FATAL(start("max_per_ip=2"));
	CU_ASSERT_EQUAL(conn_open(&a, 1, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&b, 2, "192.0.2.7"), SLUICE_DECLINED);
	/* The core calls disconnect for a refused connection too: it must release nothing. */
	for (uint64_t id = 10; id < 20; id++) {
		CU_ASSERT_EQUAL(conn_open(&c, id, "192.0.2.7"), SLUICE_E_REFUSED);
		conn_close(&c);
	}
	CU_ASSERT_EQUAL(conn_open(&c, 20, "192.0.2.7"), SLUICE_E_REFUSED);
	conn_close(&c);
	/* One real close frees exactly one place. */
	conn_close(&a);
	CU_ASSERT_EQUAL(conn_open(&c, 21, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&d, 22, "192.0.2.7"), SLUICE_E_REFUSED);
	conn_close(&d);
	conn_close(&b);
	conn_close(&c);
	/* A disconnect the module never heard of is harmless. */
	fake_init(&d, 999, "192.0.2.7");
	conn_close(&d);
	stop();
}

static void test_max_connections_counts_the_whole_server(void)
{
	struct fake a, b, c, d;

	CU_ASSERT_PTR_NOT_NULL_FATAL(start("max_connections=2"));
	CU_ASSERT_EQUAL(conn_open(&a, 1, "192.0.2.1"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&b, 2, "2001:db8::1"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&c, 3, "198.51.100.9"), SLUICE_E_REFUSED);
	CU_ASSERT_STRING_EQUAL(last_err.resp_code, "UNAVAILABLE");
	CU_ASSERT_STRING_EQUAL(last_err.msg,
	                       "Too many connections to this server (2 open); try again later");
	CU_ASSERT_EQUAL(log_count("refused: max_connections=2 reached for 198.51.100.9"), 1);
	conn_close(&c);
	CU_ASSERT_EQUAL(conn_open(&c, 4, "198.51.100.9"), SLUICE_E_REFUSED);
	conn_close(&c);
	conn_close(&b);
	CU_ASSERT_EQUAL(conn_open(&c, 5, "198.51.100.9"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&d, 6, "198.51.100.10"), SLUICE_E_REFUSED);
	conn_close(&d);
	conn_close(&a);
	conn_close(&c);
	stop();
}

static void test_ipv4_mapped_ipv6_counts_as_ipv4(void)
{
	struct fake a, b, c, d, e;

	CU_ASSERT_PTR_NOT_NULL_FATAL(start("max_per_ip=1"));
	CU_ASSERT_EQUAL(conn_open(&a, 1, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&b, 2, "::ffff:192.0.2.7"), SLUICE_E_REFUSED);
	CU_ASSERT_EQUAL(log_count("refused: max_per_ip=1 reached for 192.0.2.7"), 1);
	conn_close(&b);
	/* Real IPv6 addresses are counted each on their own. */
	CU_ASSERT_EQUAL(conn_open(&c, 3, "2001:db8::1"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&d, 4, "2001:db8::2"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&e, 5, "2001:db8::1"), SLUICE_E_REFUSED);
	CU_ASSERT_EQUAL(log_count("refused: max_per_ip=1 reached for 2001:db8::1"), 1);
	conn_close(&e);
	/* Closing the IPv4 one frees the place for the mapped form. */
	conn_close(&a);
	CU_ASSERT_EQUAL(conn_open(&b, 6, "::ffff:192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&e, 7, "192.0.2.7"), SLUICE_E_REFUSED);
	conn_close(&e);
	conn_close(&b);
	conn_close(&c);
	conn_close(&d);
	stop();
}

static void test_trusted_networks_are_exempt_from_max_per_ip_only(void)
{
	struct fake t[5], x, y, z;

	CU_ASSERT_PTR_NOT_NULL_FATAL(
	    start("max_per_ip=1;max_connections=7;trusted_networks=192.0.2.0/24, 2001:db8::/32"));
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(conn_open(&t[i], (uint64_t)i + 1, "192.0.2.80"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&t[3], 4, "::ffff:192.0.2.80"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&t[4], 5, "2001:db8::5"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&x, 6, "198.51.100.1"), SLUICE_DECLINED);
	/* The untrusted address is still limited... */
	CU_ASSERT_EQUAL(conn_open(&y, 7, "198.51.100.1"), SLUICE_E_REFUSED);
	CU_ASSERT_EQUAL(log_count("refused: max_per_ip=1 reached for 198.51.100.1"), 1);
	conn_close(&y);
	/* ...and trusted ones still count towards the server's total. */
	CU_ASSERT_EQUAL(conn_open(&y, 8, "192.0.2.81"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&z, 9, "192.0.2.82"), SLUICE_E_REFUSED);
	CU_ASSERT_EQUAL(log_count("refused: max_connections=7 reached for 192.0.2.82"), 1);
	conn_close(&z);
	conn_close(&y);
	for (int i = 0; i < 5; i++)
		conn_close(&t[i]);
	conn_close(&x);
	stop();
}

static void test_zero_means_no_limit(void)
{
	static struct fake f[300];

	CU_ASSERT_PTR_NOT_NULL_FATAL(
	    start("max_connections=0;max_per_ip=0;max_logins_per_user=0;max_bad_logins=0"));
	for (int i = 0; i < 300; i++) {
		CU_ASSERT_EQUAL(conn_open(&f[i], (uint64_t)i + 1, "192.0.2.7"), SLUICE_DECLINED);
		CU_ASSERT_EQUAL(login(&f[i], "alice"), SLUICE_DECLINED);
	}
	for (int i = 0; i < 20; i++)
		CU_ASSERT_EQUAL(fail_login(&f[0], "alice", 0, NULL), SLUICE_DECLINED);
	for (int i = 0; i < 300; i++)
		conn_close(&f[i]);
	CU_ASSERT_EQUAL(log_count("refused"), 0);
	stop();
}

/* ---- logins ---------------------------------------------------------------------------- */

static void test_max_logins_per_user_refuses_and_releases_at_disconnect(void)
{
	struct fake a, b, c, other, upper;

	CU_ASSERT_PTR_NOT_NULL_FATAL(start("max_logins_per_user=2"));
	CU_ASSERT_EQUAL(conn_open(&a, 1, "192.0.2.1"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&b, 2, "192.0.2.2"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&c, 3, "192.0.2.3"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&other, 4, "192.0.2.4"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&upper, 5, "192.0.2.5"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(login(&a, "alice"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(login(&b, "alice"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(login(&c, "alice"), SLUICE_E_REFUSED);
	CU_ASSERT_STRING_EQUAL(last_err.resp_code, "UNAVAILABLE");
	CU_ASSERT_STRING_EQUAL(last_err.msg, "Too many logins for this user (2 open)");
	CU_ASSERT_EQUAL(
	    log_count("refused: max_logins_per_user=2 reached for user alice from 192.0.2.3"), 1);
	/* The refused attempt counted nothing: trying again is still refused. */
	CU_ASSERT_EQUAL(login(&c, "alice"), SLUICE_E_REFUSED);
	/* Other users, and names that differ only in case, are counted apart. */
	CU_ASSERT_EQUAL(login(&other, "bob"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(login(&upper, "Alice"), SLUICE_DECLINED);
	/* A disconnect gives the login back. */
	conn_close(&a);
	CU_ASSERT_EQUAL(login(&c, "alice"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&a, 6, "192.0.2.1"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(login(&a, "alice"), SLUICE_E_REFUSED);
	conn_close(&a);
	conn_close(&b);
	conn_close(&c);
	conn_close(&other);
	conn_close(&upper);
	stop();
}

static void test_second_login_on_one_connection_counts_once(void)
{
	struct fake a, b;

	CU_ASSERT_PTR_NOT_NULL_FATAL(start("max_logins_per_user=1"));
	CU_ASSERT_EQUAL(conn_open(&a, 1, "192.0.2.1"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(login(&a, "alice"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(login(&a, "alice"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&b, 2, "192.0.2.1"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(login(&b, "alice"), SLUICE_E_REFUSED);
	conn_close(&a);
	CU_ASSERT_EQUAL(login(&b, "alice"), SLUICE_DECLINED);
	conn_close(&b);
	stop();
}

/* ---- failed logins --------------------------------------------------------------------- */

static void test_last_bad_login_refuses_the_connection(void)
{
	struct fake a, b;

	CU_ASSERT_PTR_NOT_NULL_FATAL(start("bad_login_delay=0"));
	CU_ASSERT_EQUAL(conn_open(&a, 1, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(fail_login(&a, "bob", 0, NULL), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(fail_login(&a, "bob", 0, NULL), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(log_count("refused"), 0);
	CU_ASSERT_EQUAL(fail_login(&a, "bob", 0, NULL), SLUICE_E_REFUSED);
	CU_ASSERT_EQUAL(last_err.code, SLUICE_E_REFUSED);
	/* The core sends it as "* BYE Too many failed login attempts": no response code. */
	CU_ASSERT_PTR_NULL(last_err.resp_code);
	CU_ASSERT_STRING_EQUAL(last_err.msg, "Too many failed login attempts");
	CU_ASSERT_EQUAL(log_count("refused: max_bad_logins=3 reached for 192.0.2.7 (user bob)"), 1);
	/* The count is per connection: another one from the same address starts afresh. */
	CU_ASSERT_EQUAL(conn_open(&b, 2, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(fail_login(&b, "bob", 0, NULL), SLUICE_DECLINED);
	conn_close(&a);
	conn_close(&b);
	stop();
}

static void test_max_bad_logins_of_one_drops_at_the_first_failure(void)
{
	struct fake a;

	CU_ASSERT_PTR_NOT_NULL_FATAL(start("max_bad_logins=1;bad_login_delay=0"));
	CU_ASSERT_EQUAL(conn_open(&a, 1, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(fail_login(&a, "x", 0, NULL), SLUICE_E_REFUSED);
	conn_close(&a);
	stop();
}

static void test_logged_user_name_is_made_printable(void)
{
	struct fake a;

	CU_ASSERT_PTR_NOT_NULL_FATAL(start("max_bad_logins=1;bad_login_delay=0"));
	CU_ASSERT_EQUAL(conn_open(&a, 1, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(fail_login(&a, "eve\r\nforged line", 0, NULL), SLUICE_E_REFUSED);
	CU_ASSERT_EQUAL(log_count("(user eve??forged line)"), 1);
	CU_ASSERT_EQUAL(log_count("\r"), 0);
	conn_close(&a);
	stop();
}

static void test_delay_grows_per_address_up_to_the_cap_and_resets_after_success(void)
{
	static const uint64_t want[] = {2000, 4000, 8000, 15000, 15000, 15000};
	struct fake a, b, other;
	uint64_t delay;

	CU_ASSERT_PTR_NOT_NULL_FATAL(start("max_bad_logins=0"));
	CU_ASSERT_EQUAL(conn_open(&a, 1, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&b, 2, "::ffff:192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&other, 3, "198.51.100.1"), SLUICE_DECLINED);
	/* Failures from one address add up across its connections. */
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		CU_ASSERT_EQUAL(fail_login(i % 2 ? &b : &a, "bob", 0, &delay), SLUICE_DECLINED);
		CU_ASSERT_EQUAL(delay, want[i]);
	}
	/* Another address starts at the base delay. */
	CU_ASSERT_EQUAL(fail_login(&other, "bob", 0, &delay), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(delay, 2000);
	/* A larger delay asked for by someone else is never lowered. */
	CU_ASSERT_EQUAL(fail_login(&other, "bob", 60000, &delay), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(delay, 60000);
	/* A success from the address resets it; the other address keeps its count. */
	CU_ASSERT_EQUAL(login(&a, "bob"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(fail_login(&b, "bob", 0, &delay), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(delay, 2000);
	CU_ASSERT_EQUAL(fail_login(&other, "bob", 0, &delay), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(delay, 8000);
	conn_close(&a);
	conn_close(&b);
	conn_close(&other);
	stop();
}

static void test_delay_setting_of_zero_turns_it_off(void)
{
	struct fake a;
	uint64_t delay;

	CU_ASSERT_PTR_NOT_NULL_FATAL(start("max_bad_logins=0;bad_login_delay=0"));
	CU_ASSERT_EQUAL(conn_open(&a, 1, "192.0.2.7"), SLUICE_DECLINED);
	for (int i = 0; i < 5; i++) {
		CU_ASSERT_EQUAL(fail_login(&a, "bob", 0, &delay), SLUICE_DECLINED);
		CU_ASSERT_EQUAL(delay, 0);
	}
	conn_close(&a);
	stop();
}

static void test_failures_are_forgotten_after_ten_idle_minutes(void)
{
	struct fake a;
	uint64_t delay;

	CU_ASSERT_PTR_NOT_NULL_FATAL(start("max_bad_logins=0;bad_login_delay=1s"));
	CU_ASSERT_EQUAL(conn_open(&a, 1, "192.0.2.7"), SLUICE_DECLINED);
	for (int i = 0; i < 3; i++)
		fail_login(&a, "bob", 0, &delay);
	CU_ASSERT_EQUAL(delay, 4000);
	/* The address disconnects; its failure record outlives the connection... */
	conn_close(&a);
	advance(9 * 60 * 1000);
	CU_ASSERT_EQUAL(conn_open(&a, 2, "192.0.2.7"), SLUICE_DECLINED);
	fail_login(&a, "bob", 0, &delay);
	CU_ASSERT_EQUAL(delay, 8000);
	conn_close(&a);
	/* ...until ten minutes pass without a failure. */
	advance(10 * 60 * 1000);
	CU_ASSERT_EQUAL(conn_open(&a, 3, "192.0.2.7"), SLUICE_DECLINED);
	fail_login(&a, "bob", 0, &delay);
	CU_ASSERT_EQUAL(delay, 1000);
	conn_close(&a);
	stop();
}

static void test_failure_table_is_capped_forgetting_the_oldest(void)
{
	struct fake f;
	char ip[64];
	uint64_t delay;

	CU_ASSERT_PTR_NOT_NULL_FATAL(start("max_bad_logins=0;bad_login_delay=1s"));
	/* Failures from 70000 addresses that never connected (as an AUTHENTICATE storm would
	 * look): the table keeps the newest 65536. */
	for (unsigned i = 0; i < 70000; i++) {
		snprintf(ip, sizeof(ip), "2001:db8::%x:%x", i >> 16, i & 0xffff);
		fake_init(&f, 1000 + i, ip);
		fail_login(&f, "x", 0, &delay);
		fail_login(&f, "x", 0, &delay);
		conn_close(&f);
	}
	CU_ASSERT_EQUAL(delay, 2000);
	/* The newest is remembered... */
	fake_init(&f, 1, ip);
	fail_login(&f, "x", 0, &delay);
	CU_ASSERT_EQUAL(delay, 4000);
	conn_close(&f);
	/* ...the oldest was forgotten. */
	fake_init(&f, 2, "2001:db8::0:0");
	fail_login(&f, "x", 0, &delay);
	CU_ASSERT_EQUAL(delay, 1000);
	conn_close(&f);
	stop();
}

/* ---- reload ---------------------------------------------------------------------------- */

static void test_reload_changes_limits_without_touching_counts(void)
{
	struct fake a, b, c, d, u1, u2;

	CU_ASSERT_PTR_NOT_NULL_FATAL(start("max_per_ip=2;max_logins_per_user=2"));
	CU_ASSERT_EQUAL(conn_open(&a, 1, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&b, 2, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(login(&a, "alice"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(login(&b, "alice"), SLUICE_DECLINED);

	/* Lowering: the two open connections and logins stay; new ones are refused. */
	CU_ASSERT_EQUAL(reload("max_per_ip=1;max_logins_per_user=1"), 0);
	CU_ASSERT_EQUAL(log_count("reloaded: max_connections=10000 max_per_ip=1 (was 2) "
	                          "max_logins_per_user=1 (was 2) max_bad_logins=3"),
	                1);
	CU_ASSERT_EQUAL(conn_open(&c, 3, "192.0.2.7"), SLUICE_E_REFUSED);
	CU_ASSERT_STRING_EQUAL(last_err.msg, "Too many connections from your address (1 open); "
	                                     "close other mail programs or ask your administrator");
	conn_close(&c);
	CU_ASSERT_EQUAL(conn_open(&u1, 4, "198.51.100.1"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(login(&u1, "alice"), SLUICE_E_REFUSED);
	CU_ASSERT_STRING_EQUAL(last_err.msg, "Too many logins for this user (1 open)");

	/* Raising: the counts were kept, so exactly one more fits under 3. */
	CU_ASSERT_EQUAL(reload("max_per_ip=3;max_logins_per_user=3"), 0);
	CU_ASSERT_EQUAL(conn_open(&c, 5, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&d, 6, "192.0.2.7"), SLUICE_E_REFUSED);
	conn_close(&d);
	CU_ASSERT_EQUAL(login(&u1, "alice"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&u2, 7, "198.51.100.2"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(login(&u2, "alice"), SLUICE_E_REFUSED);

	/* Closing the connections opened before the reloads releases what they counted. */
	conn_close(&a);
	conn_close(&b);
	CU_ASSERT_EQUAL(login(&u2, "alice"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&a, 8, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&b, 9, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&d, 10, "192.0.2.7"), SLUICE_E_REFUSED);
	conn_close(&d);
	conn_close(&a);
	conn_close(&b);
	conn_close(&c);
	conn_close(&u1);
	conn_close(&u2);
	stop();
}

static void test_reload_of_trusted_networks_applies_to_new_connections(void)
{
	struct fake a, b, c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(start("max_per_ip=1"));
	CU_ASSERT_EQUAL(conn_open(&a, 1, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&b, 2, "192.0.2.7"), SLUICE_E_REFUSED);
	conn_close(&b);
	CU_ASSERT_EQUAL(reload("max_per_ip=1;trusted_networks=192.0.2.7"), 0);
	CU_ASSERT_EQUAL(conn_open(&b, 3, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(reload("max_per_ip=1"), 0);
	CU_ASSERT_EQUAL(conn_open(&c, 4, "192.0.2.7"), SLUICE_E_REFUSED);
	conn_close(&c);
	conn_close(&a);
	conn_close(&b);
	stop();
}


/* ---- close-oldest-idle ----------------------------------------------------------------- */

#define ROOM_TEXT "Connection closed to make room for a new one"

static void test_close_oldest_idle_per_ip_picks_the_oldest_idle_of_that_address(void)
{
	struct fake f[12], other;

	closes_reset(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(start("max_per_ip=3;on_limit=close-oldest-idle"));
	CU_ASSERT_EQUAL(conn_open(&f[1], 1, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&f[2], 2, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&other, 3, "198.51.100.1"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&f[4], 4, "::ffff:192.0.2.7"), SLUICE_DECLINED);
	command(&f[1], true); /* the oldest is inside a command (or IDLE) */

	/* Full: the oldest idle one of that address (2, not the busy 1) makes room. */
	CU_ASSERT_EQUAL(conn_open(&f[5], 5, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL_FATAL(close_count, 1);
	CU_ASSERT_EQUAL(closes[0], 2);
	CU_ASSERT_STRING_EQUAL(close_code, "UNAVAILABLE");
	CU_ASSERT_STRING_EQUAL(close_text, ROOM_TEXT);
	CU_ASSERT_EQUAL(log_count("max_per_ip=3 reached for 192.0.2.7: closing conn=2, its oldest "
	                          "idle connection, to make room"),
	                1);
	/* One asked to close no longer counts, and is not asked twice. */
	CU_ASSERT_EQUAL(conn_open(&f[6], 6, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL_FATAL(close_count, 2);
	CU_ASSERT_EQUAL(closes[1], 4);
	CU_ASSERT_EQUAL(conn_open(&f[7], 7, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL_FATAL(close_count, 3);
	CU_ASSERT_EQUAL(closes[2], 5);
	/* The command ended: the oldest is idle again and goes first. */
	command(&f[1], false);
	CU_ASSERT_EQUAL(conn_open(&f[8], 8, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL_FATAL(close_count, 4);
	CU_ASSERT_EQUAL(closes[3], 1);

	/* Every connection left (6, 7, 8) inside a command: the newcomer is refused. */
	command(&f[6], true);
	command(&f[7], true);
	command(&f[8], true);
	CU_ASSERT_EQUAL(conn_open(&f[9], 9, "192.0.2.7"), SLUICE_E_REFUSED);
	CU_ASSERT_STRING_EQUAL(last_err.msg, "Too many connections from your address (3 open); "
	                                     "close other mail programs or ask your administrator");
	CU_ASSERT_EQUAL(close_count, 4);
	conn_close(&f[9]);
	/* The other address was never touched, and the victims' disconnects release nothing
	 * twice: after them the address holds exactly 6, 7 and 8. */
	for (int i = 1; i <= 5; i++)
		if (i != 3)
			conn_close(&f[i]);
	CU_ASSERT_EQUAL(figure("counted_connections"), 4);
	CU_ASSERT_EQUAL(figure("closed_oldest_idle_per_ip"), 4);
	CU_ASSERT_EQUAL(figure("refused_max_per_ip"), 1);
	command(&f[7], false);
	CU_ASSERT_EQUAL(conn_open(&f[10], 10, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(closes[4], 7);
	for (int i = 6; i <= 8; i++)
		conn_close(&f[i]);
	conn_close(&f[10]);
	conn_close(&other);
	CU_ASSERT_EQUAL(figure("counted_connections"), 0);
	stop();
}

static void test_close_oldest_idle_per_user_closes_that_users_oldest_idle_login(void)
{
	struct fake a, b, c, d, e, bob;

	closes_reset(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(start("max_logins_per_user=2;on_limit=close-oldest-idle"));
	CU_ASSERT_EQUAL(conn_open(&a, 1, "192.0.2.1"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&b, 2, "192.0.2.2"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&bob, 3, "192.0.2.3"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&c, 4, "192.0.2.4"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&d, 5, "192.0.2.5"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&e, 6, "192.0.2.6"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(login(&bob, "bob"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(login(&a, "alice"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(login(&b, "alice"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(close_count, 0);
	command(&a, true);
	/* alice is full: her oldest idle login (b; a is in a command) makes room. */
	CU_ASSERT_EQUAL(login(&c, "alice"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL_FATAL(close_count, 1);
	CU_ASSERT_EQUAL(closes[0], 2);
	CU_ASSERT_STRING_EQUAL(close_text, ROOM_TEXT);
	CU_ASSERT_EQUAL(log_count("max_logins_per_user=2 reached for user alice: closing conn=2, "
	                          "its oldest idle connection, to make room for a login from "
	                          "192.0.2.4"),
	                1);
	/* Now a (busy) and c (in its LOGIN's command... here idle): c goes next. */
	CU_ASSERT_EQUAL(login(&d, "alice"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL_FATAL(close_count, 2);
	CU_ASSERT_EQUAL(closes[1], 4);
	command(&d, true);
	CU_ASSERT_EQUAL(login(&e, "alice"), SLUICE_E_REFUSED);
	CU_ASSERT_STRING_EQUAL(last_err.msg, "Too many logins for this user (2 open)");
	CU_ASSERT_EQUAL(close_count, 2);
	CU_ASSERT_EQUAL(figure("closed_oldest_idle_per_user"), 2);
	CU_ASSERT_EQUAL(figure("refused_max_logins_per_user"), 1);
	/* bob's logins were never candidates. */
	for (size_t i = 0; i < close_count; i++)
		CU_ASSERT_NOT_EQUAL(closes[i], 3);
	conn_close(&b);
	conn_close(&c);
	conn_close(&a);
	CU_ASSERT_EQUAL(login(&e, "alice"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(close_count, 2);
	conn_close(&d);
	conn_close(&e);
	conn_close(&bob);
	stop();
}

static void test_close_oldest_idle_refuses_when_the_core_cannot_close(void)
{
	struct fake a, b, c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(start("max_per_ip=1;on_limit=close-oldest-idle"));
	CU_ASSERT_EQUAL(conn_open(&a, 1, "192.0.2.7"), SLUICE_DECLINED);
	/* The core is out of memory: nothing was asked to close, so the newcomer is refused
	 * and the old connection still counts. */
	closes_reset(SLUICE_E_NOMEM);
	CU_ASSERT_EQUAL(conn_open(&b, 2, "192.0.2.7"), SLUICE_E_REFUSED);
	conn_close(&b);
	CU_ASSERT_EQUAL(figure("counted_connections"), 1);
	/* The session is going away already (an administrator kicked it): room all the same. */
	closes_reset(SLUICE_NOTFOUND);
	CU_ASSERT_EQUAL(conn_open(&c, 3, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(close_count, 1);
	CU_ASSERT_EQUAL(closes[0], 1);
	conn_close(&a);
	conn_close(&c);
	stop();
	closes_reset(0);
}

static void test_close_oldest_idle_needs_a_host_that_can_close(void)
{
	void *conf = NULL;
	struct sluice_error err = SLUICE_ERROR_INIT;

	cl_module.host.session_close = NULL;
	CU_ASSERT_EQUAL_FATAL(fixture_conf_new(&cl_module, "on_limit=close-oldest-idle", &conf), 0);
	CU_ASSERT_EQUAL(fixture_module_init(&cl_module, conf, &err), SLUICE_E_CONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "on_limit = close-oldest-idle needs a server"));
	fixture_module_stop(&cl_module);
	/* Started with refuse, it cannot be switched over by a reload either. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(start(NULL));
	CU_ASSERT_EQUAL(reload("on_limit=close-oldest-idle"), SLUICE_E_CONFIG);
	stop();
	cl_module.host.session_close = fake_session_close;
}

static void test_reload_switches_on_limit_for_the_next_newcomer(void)
{
	struct fake a, b, c;

	closes_reset(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(start("max_per_ip=1"));
	CU_ASSERT_EQUAL(conn_open(&a, 1, "192.0.2.7"), SLUICE_DECLINED);
	command(&a, true); /* tracked even while refusing: the switch sees it as busy */
	command(&a, false);
	CU_ASSERT_EQUAL(conn_open(&b, 2, "192.0.2.7"), SLUICE_E_REFUSED);
	conn_close(&b);
	CU_ASSERT_EQUAL(close_count, 0);
	CU_ASSERT_EQUAL(reload("max_per_ip=1;on_limit=close-oldest-idle"), 0);
	CU_ASSERT_EQUAL(log_count("on_limit=close-oldest-idle (was refuse)"), 1);
	CU_ASSERT_EQUAL(conn_open(&c, 3, "192.0.2.7"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(close_count, 1);
	conn_close(&a);
	conn_close(&c);
	stop();
}

/* ---- report ---------------------------------------------------------------------------- */

static void test_report_gives_the_limits_and_a_counter_per_limit(void)
{
	struct fake a, b, c, d;

	CU_ASSERT_PTR_NOT_NULL_FATAL(
	    start("max_connections=3;max_per_ip=1;max_logins_per_user=1;max_bad_logins=1"));
	CU_ASSERT_EQUAL(figure("max_connections"), 3);
	CU_ASSERT_EQUAL(figure("max_per_ip"), 1);
	CU_ASSERT_EQUAL(figure("max_logins_per_user"), 1);
	CU_ASSERT_EQUAL(figure("max_bad_logins"), 1);
	CU_ASSERT_EQUAL(figure("close_oldest_idle"), 0);
	CU_ASSERT_EQUAL(conn_open(&a, 1, "192.0.2.1"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&b, 2, "192.0.2.1"), SLUICE_E_REFUSED);
	conn_close(&b);
	CU_ASSERT_EQUAL(conn_open(&b, 3, "192.0.2.2"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&c, 4, "192.0.2.3"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&d, 5, "192.0.2.4"), SLUICE_E_REFUSED);
	conn_close(&d);
	CU_ASSERT_EQUAL(login(&a, "alice"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(login(&b, "alice"), SLUICE_E_REFUSED);
	CU_ASSERT_EQUAL(login(&b, "alice"), SLUICE_E_REFUSED);
	CU_ASSERT_EQUAL(fail_login(&c, "bob", 0, NULL), SLUICE_E_REFUSED);
	CU_ASSERT_EQUAL(figure("counted_connections"), 3);
	CU_ASSERT_EQUAL(figure("refused_max_connections"), 1);
	CU_ASSERT_EQUAL(figure("refused_max_per_ip"), 1);
	CU_ASSERT_EQUAL(figure("refused_max_logins_per_user"), 2);
	CU_ASSERT_EQUAL(figure("refused_max_bad_logins"), 1);
	CU_ASSERT_EQUAL(figure("closed_oldest_idle_per_ip"), 0);
	/* A reload changes the limits shown, never the counters. */
	CU_ASSERT_EQUAL(reload("max_connections=0;max_per_ip=7"), 0);
	CU_ASSERT_EQUAL(figure("max_connections"), 0);
	CU_ASSERT_EQUAL(figure("max_per_ip"), 7);
	CU_ASSERT_EQUAL(figure("refused_max_logins_per_user"), 2);
	conn_close(&a);
	conn_close(&b);
	conn_close(&c);
	stop();
}

/* ---- threads --------------------------------------------------------------------------- */

#define HAMMER_THREADS 4
#define HAMMER_ROUNDS 3000
#define HAMMER_OPEN 4

static const char *const hammer_ips[] = {"192.0.2.1", "::ffff:192.0.2.1", "192.0.2.2",
                                         "2001:db8::1", "198.51.100.7"};
static const char *const hammer_users[] = {"alice", "bob", "carol"};

struct hammer {
	int thread;
	atomic_uint *refused;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	struct fake f[HAMMER_OPEN];
	struct sluice_error err;
	unsigned seed = (unsigned)h->thread * 7919u + 1;

	for (int round = 0; round < HAMMER_ROUNDS; round++) {
		for (int i = 0; i < HAMMER_OPEN; i++) {
			uint64_t id =
			    ((uint64_t)h->thread << 40) | ((uint64_t)round << 8) | (uint64_t)i;
			seed = seed * 1103515245u + 12345u;
			fake_fill(&f[i], id, hammer_ips[(seed >> 16) % 5]);
			memset(&err, 0, sizeof(err));
			if (cl_ops->connect(cl_module.modctx, &f[i].conn, &err) < 0) {
				atomic_fetch_add(h->refused, 1);
				continue; /* disconnect still follows below, as in the core */
			}
			uint64_t delay = 0;
			if ((seed >> 8) % 3 == 0)
				cl_ops->auth_result(cl_module.modctx, &f[i].conn, "x", false,
				                    &delay, &err);
			f[i].conn.user = hammer_users[(seed >> 12) % 3];
			if (cl_ops->login(cl_module.modctx, &f[i].conn, &err) < 0)
				atomic_fetch_add(h->refused, 1);
			f[i].conn.user = NULL;
			/* Half of them stay inside a command, so close-oldest-idle has to skip. */
			struct sluice_policy_command cmd = {.tag = "a", .name = "IDLE"};
			cl_ops->command_begin(cl_module.modctx, &f[i].conn, &cmd, &err);
			if ((seed >> 4) % 2 == 0)
				cl_ops->command_end(cl_module.modctx, &f[i].conn, &cmd);
		}
		/* Close in another order than opened. */
		for (int i = HAMMER_OPEN - 1; i >= 0; i--)
			cl_ops->disconnect(cl_module.modctx, &f[i].conn);
	}
	return NULL;
}

static void test_four_threads_hammering_leave_every_count_at_zero(void)
{
	pthread_t threads[HAMMER_THREADS];
	struct hammer h[HAMMER_THREADS];
	atomic_uint refused = 0;
	struct fake f[8];

	/* Limits low enough that threads refuse each other all the time. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(start("max_connections=9;max_per_ip=3;max_logins_per_user=2;"
	                                   "max_bad_logins=2;bad_login_delay=10ms"));
	for (int i = 0; i < HAMMER_THREADS; i++) {
		h[i] = (struct hammer){.thread = i, .refused = &refused};
		CU_ASSERT_EQUAL_FATAL(pthread_create(&threads[i], NULL, hammer_run, &h[i]), 0);
	}
	/* Reloads race with the hooks, as SIGHUP would, switching on_limit back and forth:
	 * victims asked to close are disconnected at the end of their round like the rest. */
	closes_reset(0);
	for (int i = 0; i < 50; i++)
		CU_ASSERT_EQUAL(
		    reload(i % 2 ? "max_connections=9;max_per_ip=3;max_logins_per_user=2"
		                 : "max_connections=6;max_per_ip=2;max_logins_per_user=1;"
		                   "on_limit=close-oldest-idle"),
		    0);
	for (int i = 0; i < HAMMER_THREADS; i++)
		pthread_join(threads[i], NULL);
	CU_ASSERT(atomic_load(&refused) > 0);
	CU_ASSERT_EQUAL(figure("counted_connections"), 0);

	/* Nothing is counted any more: a limit of 1 admits exactly one of each. */
	CU_ASSERT_EQUAL(reload("max_connections=1;max_per_ip=1;max_logins_per_user=1"), 0);
	CU_ASSERT_EQUAL(conn_open(&f[0], 1, "203.0.113.1"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(conn_open(&f[1], 2, "203.0.113.2"), SLUICE_E_REFUSED);
	conn_close(&f[1]);
	conn_close(&f[0]);
	CU_ASSERT_EQUAL(reload("max_connections=0;max_per_ip=1;max_logins_per_user=1"), 0);
	for (int i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(conn_open(&f[i], (uint64_t)i + 10, hammer_ips[i]),
		                i == 1 ? SLUICE_E_REFUSED
		                       : SLUICE_DECLINED); /* 1 is 0's mapped form */
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(login(i == 1 ? &f[3] : &f[i], hammer_users[i]), SLUICE_DECLINED);
	for (int i = 0; i < 5; i++)
		conn_close(&f[i]);
	stop();
}

static int cl_suite_init(void)
{
	if (fixture_module_load(&cl_module, "connlimit.so", SLUICE_KIND_POLICY) < 0)
		return -1;
	cl_module.host.now_ms = cl_test_now;
	cl_module.host.session_close = fake_session_close;
	cl_ops = cl_module.desc->ops;
	return 0;
}

static int cl_suite_cleanup(void)
{
	fixture_module_unload(&cl_module);
	return 0;
}

static CU_TestInfo cl_tests[] = {
    {"descriptor declares the documented defaults",
     test_descriptor_declares_the_documented_defaults},
    {"max_per_ip refuses with its sentence and log line",
     test_max_per_ip_refuses_with_its_sentence_and_log_line},
    {"refused connection is not counted nor released",
     test_refused_connection_is_not_counted_nor_released},
    {"max_connections counts the whole server", test_max_connections_counts_the_whole_server},
    {"IPv4-mapped IPv6 counts as IPv4", test_ipv4_mapped_ipv6_counts_as_ipv4},
    {"trusted networks are exempt from max_per_ip only",
     test_trusted_networks_are_exempt_from_max_per_ip_only},
    {"zero means no limit", test_zero_means_no_limit},
    {"max_logins_per_user refuses and releases at disconnect",
     test_max_logins_per_user_refuses_and_releases_at_disconnect},
    {"second login on one connection counts once", test_second_login_on_one_connection_counts_once},
    {"last bad login refuses the connection", test_last_bad_login_refuses_the_connection},
    {"max_bad_logins of one drops at the first failure",
     test_max_bad_logins_of_one_drops_at_the_first_failure},
    {"logged user name is made printable", test_logged_user_name_is_made_printable},
    {"delay grows per address up to the cap and resets after success",
     test_delay_grows_per_address_up_to_the_cap_and_resets_after_success},
    {"delay setting of zero turns it off", test_delay_setting_of_zero_turns_it_off},
    {"failures are forgotten after ten idle minutes",
     test_failures_are_forgotten_after_ten_idle_minutes},
    {"failure table is capped, forgetting the oldest",
     test_failure_table_is_capped_forgetting_the_oldest},
    {"reload changes limits without touching counts",
     test_reload_changes_limits_without_touching_counts},
    {"reload of trusted networks applies to new connections",
     test_reload_of_trusted_networks_applies_to_new_connections},
    {"close-oldest-idle per IP picks the oldest idle of that address",
     test_close_oldest_idle_per_ip_picks_the_oldest_idle_of_that_address},
    {"close-oldest-idle per user closes that user's oldest idle login",
     test_close_oldest_idle_per_user_closes_that_users_oldest_idle_login},
    {"close-oldest-idle refuses when the core cannot close",
     test_close_oldest_idle_refuses_when_the_core_cannot_close},
    {"close-oldest-idle needs a host that can close",
     test_close_oldest_idle_needs_a_host_that_can_close},
    {"reload switches on_limit for the next newcomer",
     test_reload_switches_on_limit_for_the_next_newcomer},
    {"report gives the limits and a counter per limit",
     test_report_gives_the_limits_and_a_counter_per_limit},
    {"four threads hammering leave every count at zero",
     test_four_threads_hammering_leave_every_count_at_zero},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo connlimit_suites[] = {
    {"connlimit", cl_suite_init, cl_suite_cleanup, NULL, NULL, cl_tests},
    CU_SUITE_INFO_NULL,
};
