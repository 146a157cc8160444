/*
 * Unit tests for core/net/event.c's worker pool: slow jobs (a PAM stack waiting for its
 * server) may take only half the workers, so an ordinary job still runs while they block.
 */
#include <CUnit/CUnit.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "net/event.h"

static pthread_mutex_t ev_test_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_test_cond = PTHREAD_COND_INITIALIZER;
static int slow_running, slow_most, slow_done, fast_done;
static bool release;

static void slow_run(struct ev_job *job)
{
	(void)job;
	pthread_mutex_lock(&ev_test_lock);
	slow_running++;
	if (slow_running > slow_most)
		slow_most = slow_running;
	pthread_cond_broadcast(&ev_test_cond);
	while (!release)
		pthread_cond_wait(&ev_test_cond, &ev_test_lock);
	slow_running--;
	slow_done++;
	pthread_cond_broadcast(&ev_test_cond);
	pthread_mutex_unlock(&ev_test_lock);
}

static void fast_run(struct ev_job *job)
{
	(void)job;
	pthread_mutex_lock(&ev_test_lock);
	fast_done++;
	pthread_cond_broadcast(&ev_test_cond);
	pthread_mutex_unlock(&ev_test_lock);
}

/* Waits up to two seconds for *counter to reach @p want. */
static bool wait_for(int *counter, int want)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 2;
	pthread_mutex_lock(&ev_test_lock);
	while (*counter < want)
		if (pthread_cond_timedwait(&ev_test_cond, &ev_test_lock, &deadline) != 0)
			break;
	bool ok = *counter >= want;
	pthread_mutex_unlock(&ev_test_lock);
	return ok;
}

static void test_slow_jobs_leave_workers_for_the_others(void)
{
	struct ev_job slow[3] = {{.run = slow_run}, {.run = slow_run}, {.run = slow_run}};
	struct ev_job fast[4] = {{.run = fast_run}, {.run = fast_run}, {.run = fast_run}, {.run = fast_run}};

	CU_ASSERT_EQUAL_FATAL(ev_init(4), 0);
	for (int i = 0; i < 3; i++)
		ev_queue_slow(&slow[i]);
	CU_ASSERT_TRUE(wait_for(&slow_running, 2));
	/* Two of four workers are stuck in slow jobs; the third slow job waits its turn. */
	for (int i = 0; i < 4; i++)
		ev_queue(&fast[i]);
	CU_ASSERT_TRUE(wait_for(&fast_done, 4));
	pthread_mutex_lock(&ev_test_lock);
	CU_ASSERT_EQUAL(slow_most, 2);
	CU_ASSERT_EQUAL(slow_done, 0);
	release = true;
	pthread_cond_broadcast(&ev_test_cond);
	pthread_mutex_unlock(&ev_test_lock);
	CU_ASSERT_TRUE(wait_for(&slow_done, 3));
	CU_ASSERT_EQUAL(slow_most, 2);
	ev_shutdown();
}

static CU_TestInfo event_tests[] = {
	{"slow jobs leave workers for the others", test_slow_jobs_leave_workers_for_the_others},
	CU_TEST_INFO_NULL,
};

CU_SuiteInfo event_suites[] = {
	{"event", NULL, NULL, NULL, NULL, event_tests},
	CU_SUITE_INFO_NULL,
};
