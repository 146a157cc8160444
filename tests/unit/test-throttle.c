/*
 * Tests of the throttle policy module, loaded as the server loads it (dlopen of
 * build/modules/throttle.so through the module fixture) and driven by calling its hooks as
 * the core does: command_begin for a FETCH or SEARCH, again after each wake, command_end
 * when answered, disconnect when a connection goes. The test host records every
 * session_wake (whom, and for when) and its clock is moved by hand, so queue order,
 * deadlines and the dropping of repeated SEARCHes are checked without sleeping.
 */
#include <CUnit/CUnit.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/policy.h>

#include "module-fixture.h"

static struct fixture_module th_module;
static const struct sluice_policy_ops *th_ops;

static _Atomic uint64_t th_clock = 5000000;

static uint64_t th_test_now(void)
{
	return atomic_load(&th_clock);
}

/* The wakes the module asked for, in order. */
#define MAX_WAKES 256
struct wake {
	uint64_t id, at;
};
static struct wake wakes[MAX_WAKES];
static size_t wake_count;

static int th_test_wake(const struct sluice_host *host, uint64_t conn_id, uint64_t at_ms)
{
	(void)host;
	if (wake_count < MAX_WAKES)
		wakes[wake_count++] = (struct wake){conn_id, at_ms};
	return 0;
}

/* True when the module woke @p id at once (at_ms == 0) since the last clear. */
static bool woken_now(uint64_t id)
{
	for (size_t i = 0; i < wake_count; i++)
		if (wakes[i].id == id && wakes[i].at == 0)
			return true;
	return false;
}

static void wakes_clear(void)
{
	wake_count = 0;
}

static void start(const char *settings)
{
	void *conf = NULL;
	struct sluice_error err = SLUICE_ERROR_INIT;

	wakes_clear();
	CU_ASSERT_FATAL(fixture_conf_new(&th_module, settings, &conf) == 0);
	CU_ASSERT_FATAL(fixture_module_init(&th_module, conf, &err) == 0);
}

static void stop(void)
{
	fixture_module_stop(&th_module);
}

static struct sluice_error last_err;

/* Asks about connection @p id's command, as the core does when it arrives or is woken. */
static int ask(uint64_t id, const char *user, const char *name, const char *mailbox, const char *args)
{
	struct sluice_policy_conn conn = {.id = id, .user = user};
	struct sluice_policy_command cmd = {.tag = "a", .name = name, .mailbox = mailbox, .args = args};

	memset(&last_err, 0, sizeof(last_err));
	return th_ops->command_begin(th_module.modctx, &conn, &cmd, &last_err);
}

static int fetch(uint64_t id, const char *user)
{
	return ask(id, user, "FETCH", "INBOX", "1:* (FLAGS)");
}

static void end(uint64_t id, const char *user, const char *name)
{
	struct sluice_policy_conn conn = {.id = id, .user = user};
	struct sluice_policy_command cmd = {.tag = "a", .name = name, .mailbox = "INBOX", .args = ""};

	th_ops->command_end(th_module.modctx, &conn, &cmd);
}

static void gone(uint64_t id, const char *user)
{
	struct sluice_policy_conn conn = {.id = id, .user = user};

	th_ops->disconnect(th_module.modctx, &conn);
}

static void test_other_commands_and_logged_out_sessions_are_not_counted(void)
{
	start("fetch_per_user=1;search_per_user=1");
	CU_ASSERT_EQUAL(ask(1, "ann", "STORE", "INBOX", "1 +FLAGS (\\Seen)"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(ask(2, "ann", "STORE", "INBOX", "1 +FLAGS (\\Seen)"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(ask(3, NULL, "FETCH", NULL, ""), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(fetch(4, "ann"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(wake_count, 0);
	stop();
}

static void test_uid_fetch_counts_as_fetch_and_waits_with_a_deadline(void)
{
	start("fetch_per_user=1;fetch_wait=40s");
	CU_ASSERT_EQUAL(fetch(1, "ann"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(ask(2, "ann", "UID FETCH", "INBOX", "1:* (UID)"), SLUICE_WAIT);
	/* The module asked to be woken at the deadline at the latest. */
	CU_ASSERT_EQUAL(wake_count, 1);
	CU_ASSERT_EQUAL(wakes[0].id, 2);
	CU_ASSERT_EQUAL(wakes[0].at, th_test_now() + 40000);
	/* Another user is not held up by ann's limit. */
	CU_ASSERT_EQUAL(fetch(3, "bob"), SLUICE_DECLINED);
	end(1, "ann", "FETCH");
	CU_ASSERT_TRUE(woken_now(2));
	CU_ASSERT_EQUAL(ask(2, "ann", "UID FETCH", "INBOX", "1:* (UID)"), SLUICE_DECLINED);
	end(2, "ann", "UID FETCH");
	end(3, "bob", "FETCH");
	stop();
}

static void test_queue_is_first_in_first_out(void)
{
	start("fetch_per_user=1");
	CU_ASSERT_EQUAL(fetch(1, "ann"), SLUICE_DECLINED);
	for (uint64_t id = 2; id <= 5; id++)
		CU_ASSERT_EQUAL(fetch(id, "ann"), SLUICE_WAIT);
	for (uint64_t id = 1; id <= 4; id++) {
		wakes_clear();
		end(id, "ann", "FETCH");
		/* Exactly the next one in order is woken, and it runs when asked again. */
		CU_ASSERT_TRUE(woken_now(id + 1));
		CU_ASSERT_EQUAL(wake_count, 1);
		CU_ASSERT_EQUAL(fetch(id + 1, "ann"), SLUICE_DECLINED);
	}
	end(5, "ann", "FETCH");
	stop();
}

static void test_granted_slot_cannot_be_taken_by_a_newcomer(void)
{
	start("fetch_per_user=1");
	CU_ASSERT_EQUAL(fetch(1, "ann"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(fetch(2, "ann"), SLUICE_WAIT);
	end(1, "ann", "FETCH");
	CU_ASSERT_TRUE(woken_now(2));
	/* Before connection 2 runs again, a new FETCH arrives: it must queue behind. */
	CU_ASSERT_EQUAL(fetch(3, "ann"), SLUICE_WAIT);
	CU_ASSERT_EQUAL(fetch(2, "ann"), SLUICE_DECLINED);
	end(2, "ann", "FETCH");
	CU_ASSERT_EQUAL(fetch(3, "ann"), SLUICE_DECLINED);
	end(3, "ann", "FETCH");
	stop();
}

static void test_deadline_fails_with_the_limit_sentence(void)
{
	start("fetch_per_user=1;fetch_wait=40s;search_per_user=1;search_wait=30s");
	CU_ASSERT_EQUAL(fetch(1, "ann"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(fetch(2, "ann"), SLUICE_WAIT);
	atomic_fetch_add(&th_clock, 39999);
	CU_ASSERT_EQUAL(fetch(2, "ann"), SLUICE_WAIT); /* woken early by something: still waits */
	atomic_fetch_add(&th_clock, 1);
	CU_ASSERT_EQUAL(fetch(2, "ann"), SLUICE_E_REFUSED);
	CU_ASSERT_STRING_EQUAL(last_err.resp_code, "LIMIT");
	CU_ASSERT_STRING_EQUAL(last_err.msg, "Too many FETCH commands are running for this user; try again later");

	CU_ASSERT_EQUAL(ask(3, "ann", "SEARCH", "INBOX", "ALL"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(ask(4, "ann", "UID SEARCH", "INBOX", "TEXT \"x\""), SLUICE_WAIT);
	atomic_fetch_add(&th_clock, 30000);
	CU_ASSERT_EQUAL(ask(4, "ann", "UID SEARCH", "INBOX", "TEXT \"x\""), SLUICE_E_REFUSED);
	CU_ASSERT_STRING_EQUAL(last_err.msg, "Too many SEARCH commands are running for this user; try again later");

	/* The one that timed out is forgotten: the slot of 1 frees nothing for it. */
	wakes_clear();
	end(1, "ann", "FETCH");
	CU_ASSERT_EQUAL(wake_count, 0);
	CU_ASSERT_EQUAL(fetch(2, "ann"), SLUICE_DECLINED);
	end(2, "ann", "FETCH");
	end(3, "ann", "SEARCH");
	stop();
}

static void test_server_limit_names_the_server(void)
{
	start("fetch_per_user=0;fetch_total=2;fetch_wait=0");
	CU_ASSERT_EQUAL(fetch(1, "ann"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(fetch(2, "bob"), SLUICE_DECLINED);
	/* fetch_wait = 0: no queue, the answer comes at once. */
	CU_ASSERT_EQUAL(fetch(3, "cy"), SLUICE_E_REFUSED);
	CU_ASSERT_STRING_EQUAL(last_err.msg, "Too many FETCH commands are running on this server; try again later");
	CU_ASSERT_EQUAL(wake_count, 0);
	end(1, "ann", "FETCH");
	CU_ASSERT_EQUAL(fetch(3, "cy"), SLUICE_DECLINED);
	end(2, "bob", "FETCH");
	end(3, "cy", "FETCH");
	stop();
}

static void test_user_at_its_limit_does_not_hold_up_others_in_the_queue(void)
{
	start("fetch_per_user=1;fetch_total=2");
	CU_ASSERT_EQUAL(fetch(1, "ann"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(fetch(2, "bob"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(fetch(3, "ann"), SLUICE_WAIT); /* ann's own limit */
	CU_ASSERT_EQUAL(fetch(4, "cy"), SLUICE_WAIT);  /* the server's limit */
	wakes_clear();
	end(2, "bob", "FETCH");
	/* ann's queued FETCH still cannot run (ann's 1 runs); cy's, behind it, can. */
	CU_ASSERT_FALSE(woken_now(3));
	CU_ASSERT_TRUE(woken_now(4));
	CU_ASSERT_EQUAL(fetch(4, "cy"), SLUICE_DECLINED);
	end(1, "ann", "FETCH");
	CU_ASSERT_TRUE(woken_now(3));
	CU_ASSERT_EQUAL(fetch(3, "ann"), SLUICE_DECLINED);
	end(3, "ann", "FETCH");
	end(4, "cy", "FETCH");
	stop();
}

static void test_repeated_search_replaces_the_queued_copy_and_keeps_its_turn(void)
{
	start("search_per_user=1");
	CU_ASSERT_EQUAL(ask(1, "ann", "SEARCH", "INBOX", "BODY \"invoice\""), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(ask(2, "ann", "UID SEARCH", "INBOX", "TEXT \"report\""), SLUICE_WAIT);
	CU_ASSERT_EQUAL(ask(3, "ann", "UID SEARCH", "INBOX", "FROM \"x\""), SLUICE_WAIT);
	/* The client gave up on 2 and sends the same search on a new connection. */
	wakes_clear();
	CU_ASSERT_EQUAL(ask(4, "ann", "UID SEARCH", "INBOX", "TEXT \"report\""), SLUICE_WAIT);
	CU_ASSERT_TRUE(woken_now(2));
	CU_ASSERT_EQUAL(ask(2, "ann", "UID SEARCH", "INBOX", "TEXT \"report\""), SLUICE_E_REFUSED);
	CU_ASSERT_STRING_EQUAL(last_err.resp_code, "LIMIT");
	CU_ASSERT_PTR_NOT_NULL(strstr(last_err.msg, "sent again"));
	CU_ASSERT_EQUAL(fixture_log_count(&th_module, "queued copy is dropped"), 1);
	/* The newer copy runs before 3, in the turn 2 had. */
	wakes_clear();
	end(1, "ann", "SEARCH");
	CU_ASSERT_TRUE(woken_now(4));
	CU_ASSERT_FALSE(woken_now(3));
	CU_ASSERT_EQUAL(ask(4, "ann", "UID SEARCH", "INBOX", "TEXT \"report\""), SLUICE_DECLINED);
	end(4, "ann", "UID SEARCH");
	CU_ASSERT_EQUAL(ask(3, "ann", "UID SEARCH", "INBOX", "FROM \"x\""), SLUICE_DECLINED);
	end(3, "ann", "UID SEARCH");
	stop();
}

static void test_same_search_elsewhere_is_not_a_repeat(void)
{
	start("search_per_user=1");
	CU_ASSERT_EQUAL(ask(1, "ann", "SEARCH", "INBOX", "ALL"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(ask(2, "ann", "SEARCH", "INBOX", "TEXT \"a\""), SLUICE_WAIT);
	wakes_clear();
	/* Another mailbox, or another user: both wait, nobody is dropped. */
	CU_ASSERT_EQUAL(ask(3, "ann", "SEARCH", "Archive", "TEXT \"a\""), SLUICE_WAIT);
	CU_ASSERT_EQUAL(ask(4, "bob", "SEARCH", "INBOX", "TEXT \"a\""), SLUICE_DECLINED);
	CU_ASSERT_FALSE(woken_now(2));
	gone(1, "ann");
	gone(2, "ann");
	gone(3, "ann");
	gone(4, "bob");
	stop();
}

static void test_disconnect_frees_slots_and_queue_places(void)
{
	start("fetch_per_user=1");
	CU_ASSERT_EQUAL(fetch(1, "ann"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(fetch(2, "ann"), SLUICE_WAIT);
	CU_ASSERT_EQUAL(fetch(3, "ann"), SLUICE_WAIT);
	/* A queued client hangs up: it leaves the queue without being woken. */
	wakes_clear();
	gone(2, "ann");
	CU_ASSERT_EQUAL(wake_count, 0);
	/* The running one's connection drops: its slot goes to the next, 3. */
	gone(1, "ann");
	CU_ASSERT_TRUE(woken_now(3));
	/* 3 is granted but hangs up before running: the slot is free again. */
	gone(3, "ann");
	CU_ASSERT_EQUAL(fetch(4, "ann"), SLUICE_DECLINED);
	end(4, "ann", "FETCH");
	stop();
}

static void test_reload_with_a_higher_limit_wakes_the_queue(void)
{
	void *conf = NULL;
	struct sluice_error err = SLUICE_ERROR_INIT;

	start("fetch_per_user=1");
	CU_ASSERT_EQUAL(fetch(1, "ann"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(fetch(2, "ann"), SLUICE_WAIT);
	CU_ASSERT_EQUAL(fetch(3, "ann"), SLUICE_WAIT);
	wakes_clear();
	CU_ASSERT_FATAL(fixture_conf_new(&th_module, "fetch_per_user=3", &conf) == 0);
	CU_ASSERT_EQUAL(th_module.desc->reload(th_module.modctx, conf, &err), 0);
	free(conf);
	CU_ASSERT_TRUE(woken_now(2));
	CU_ASSERT_TRUE(woken_now(3));
	CU_ASSERT_EQUAL(fetch(2, "ann"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(fetch(3, "ann"), SLUICE_DECLINED);
	/* Lowering it stops nothing that runs; new ones wait. */
	CU_ASSERT_FATAL(fixture_conf_new(&th_module, "fetch_per_user=1", &conf) == 0);
	CU_ASSERT_EQUAL(th_module.desc->reload(th_module.modctx, conf, &err), 0);
	free(conf);
	CU_ASSERT_EQUAL(fetch(4, "ann"), SLUICE_WAIT);
	wakes_clear();
	end(1, "ann", "FETCH");
	end(2, "ann", "FETCH");
	CU_ASSERT_FALSE(woken_now(4)); /* 3 still runs: ann is at her limit of 1 */
	end(3, "ann", "FETCH");
	CU_ASSERT_TRUE(woken_now(4));
	gone(4, "ann");
	stop();
}

/* The figures sluicectl shows, collected by name. */
struct figures {
	char keys[32][64];
	int64_t values[32];
	size_t n;
};

static void collect(void *ctx, const char *key, int64_t value)
{
	struct figures *f = ctx;
	if (f->n < 32) {
		snprintf(f->keys[f->n], sizeof(f->keys[0]), "%s", key);
		f->values[f->n++] = value;
	}
}

static int64_t figure(const struct figures *f, const char *key)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->keys[i], key) == 0)
			return f->values[i];
	CU_FAIL("a figure is missing");
	return -1;
}

static void test_report_shows_limits_queues_and_counters(void)
{
	struct figures f = {0};

	start("fetch_per_user=1;fetch_wait=40s;search_per_user=1");
	CU_ASSERT_EQUAL(fetch(1, "ann"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(fetch(2, "ann"), SLUICE_WAIT);
	CU_ASSERT_EQUAL(fetch(3, "ann"), SLUICE_WAIT);
	CU_ASSERT_EQUAL(ask(4, "ann", "SEARCH", "INBOX", "ALL"), SLUICE_DECLINED);
	CU_ASSERT_EQUAL(ask(5, "ann", "SEARCH", "INBOX", "TEXT \"a\""), SLUICE_WAIT);
	CU_ASSERT_EQUAL(ask(6, "ann", "SEARCH", "INBOX", "TEXT \"a\""), SLUICE_WAIT);
	atomic_fetch_add(&th_clock, 40000);
	CU_ASSERT_EQUAL(fetch(3, "ann"), SLUICE_E_REFUSED);
	th_ops->report(th_module.modctx, collect, &f);
	CU_ASSERT_EQUAL(figure(&f, "fetch_per_user"), 1);
	CU_ASSERT_EQUAL(figure(&f, "fetch_wait_ms"), 40000);
	CU_ASSERT_EQUAL(figure(&f, "running_fetch"), 1);
	CU_ASSERT_EQUAL(figure(&f, "queue_fetch"), 1);
	CU_ASSERT_EQUAL(figure(&f, "waited_fetch"), 2);
	CU_ASSERT_EQUAL(figure(&f, "refused_fetch_wait"), 1);
	CU_ASSERT_EQUAL(figure(&f, "running_search"), 1);
	CU_ASSERT_EQUAL(figure(&f, "queue_search"), 1); /* the repeat replaced its copy */
	CU_ASSERT_EQUAL(figure(&f, "dropped_repeated_search"), 1);
	for (uint64_t id = 1; id <= 6; id++)
		gone(id, "ann");
	stop();
}

static void test_a_server_without_session_wake_is_refused(void)
{
	void *conf = NULL;
	struct sluice_error err = SLUICE_ERROR_INIT;

	th_module.host.session_wake = NULL;
	CU_ASSERT_FATAL(fixture_conf_new(&th_module, NULL, &conf) == 0);
	CU_ASSERT_EQUAL(fixture_module_init(&th_module, conf, &err), SLUICE_E_ABI);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "ABI 1.1"));
	fixture_module_stop(&th_module);
	th_module.host.session_wake = th_test_wake;
}

static int th_suite_init(void)
{
	if (fixture_module_load(&th_module, "throttle.so", SLUICE_KIND_POLICY) < 0)
		return -1;
	th_module.host.now_ms = th_test_now;
	th_module.host.session_wake = th_test_wake;
	th_ops = th_module.desc->ops;
	return 0;
}

static int th_suite_cleanup(void)
{
	fixture_module_unload(&th_module);
	return 0;
}

static CU_TestInfo th_tests[] = {
    {"other commands and logged-out sessions are not counted",
     test_other_commands_and_logged_out_sessions_are_not_counted},
    {"UID FETCH counts as FETCH and waits with a deadline",
     test_uid_fetch_counts_as_fetch_and_waits_with_a_deadline},
    {"queue is first in, first out", test_queue_is_first_in_first_out},
    {"granted slot cannot be taken by a newcomer", test_granted_slot_cannot_be_taken_by_a_newcomer},
    {"deadline fails with the LIMIT sentence", test_deadline_fails_with_the_limit_sentence},
    {"server limit names the server", test_server_limit_names_the_server},
    {"user at its limit does not hold up others in the queue",
     test_user_at_its_limit_does_not_hold_up_others_in_the_queue},
    {"repeated SEARCH replaces the queued copy and keeps its turn",
     test_repeated_search_replaces_the_queued_copy_and_keeps_its_turn},
    {"same SEARCH elsewhere is not a repeat", test_same_search_elsewhere_is_not_a_repeat},
    {"disconnect frees slots and queue places", test_disconnect_frees_slots_and_queue_places},
    {"reload with a higher limit wakes the queue", test_reload_with_a_higher_limit_wakes_the_queue},
    {"report shows limits, queues and counters", test_report_shows_limits_queues_and_counters},
    {"a server without session_wake is refused", test_a_server_without_session_wake_is_refused},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo throttle_suites[] = {
    {"throttle", th_suite_init, th_suite_cleanup, NULL, NULL, th_tests},
    CU_SUITE_INFO_NULL,
};
