/*
 * epoll loop, timer heap and worker pool (see event.h for the threading rules).
 *
 * Timers live in a binary min-heap guarded by one mutex. The loop sleeps in epoll_wait
 * until the earliest timer is due; arming a timer earlier than that from another thread
 * pokes the loop through an eventfd so it recomputes its sleep.
 */
#include "net/event.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

static int ev_epfd = -1;
static struct ev_source ev_wake_source = {-1, NULL};
static volatile int ev_running;
static void (*ev_batch_hook)(void);

static pthread_mutex_t ev_timer_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ev_timer **ev_heap; /* 1-based */
static size_t ev_heap_len, ev_heap_cap;

static pthread_mutex_t ev_queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_queue_cond = PTHREAD_COND_INITIALIZER;
static struct ev_job *ev_queue_head, *ev_queue_tail;
/* Slow jobs wait in their own queue; at most ev_slow_max of them run at once. */
static struct ev_job *ev_slow_head, *ev_slow_tail;
static unsigned ev_slow_running, ev_slow_max = 1;
static bool ev_workers_stop;
static pthread_t *ev_threads;
static unsigned ev_thread_count;

uint64_t ev_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void ev_heap_swap(size_t a, size_t b)
{
	struct ev_timer *t = ev_heap[a];
	ev_heap[a] = ev_heap[b];
	ev_heap[b] = t;
	ev_heap[a]->index = a;
	ev_heap[b]->index = b;
}

static void ev_heap_up(size_t i)
{
	while (i > 1 && ev_heap[i / 2]->due > ev_heap[i]->due) {
		ev_heap_swap(i, i / 2);
		i /= 2;
	}
}

static void ev_heap_down(size_t i)
{
	for (;;) {
		size_t l = i * 2, r = l + 1, m = i;
		if (l <= ev_heap_len && ev_heap[l]->due < ev_heap[m]->due)
			m = l;
		if (r <= ev_heap_len && ev_heap[r]->due < ev_heap[m]->due)
			m = r;
		if (m == i)
			return;
		ev_heap_swap(i, m);
		i = m;
	}
}

static void ev_heap_remove(struct ev_timer *t)
{
	size_t i = t->index;
	ev_heap_swap(i, ev_heap_len);
	ev_heap_len--;
	t->index = 0;
	if (i <= ev_heap_len) {
		ev_heap_up(i);
		ev_heap_down(i);
	}
}

void ev_timer_set(struct ev_timer *t, uint64_t due)
{
	bool poke;

	pthread_mutex_lock(&ev_timer_lock);
	if (t->index != 0)
		ev_heap_remove(t);
	if (ev_heap_len + 2 > ev_heap_cap) {
		size_t cap = ev_heap_cap ? ev_heap_cap * 2 : 1024;
		struct ev_timer **h = realloc(ev_heap, cap * sizeof(*h));
		if (h == NULL) {
			pthread_mutex_unlock(&ev_timer_lock);
			log_error("out of memory arming a timer");
			abort();
		}
		ev_heap = h;
		ev_heap_cap = cap;
	}
	t->due = due;
	ev_heap[++ev_heap_len] = t;
	t->index = ev_heap_len;
	ev_heap_up(ev_heap_len);
	poke = ev_heap[1] == t;
	pthread_mutex_unlock(&ev_timer_lock);
	if (poke)
		ev_wakeup();
}

void ev_timer_cancel(struct ev_timer *t)
{
	pthread_mutex_lock(&ev_timer_lock);
	if (t->index != 0)
		ev_heap_remove(t);
	pthread_mutex_unlock(&ev_timer_lock);
}

/* Runs due timers; returns the epoll timeout until the next one (-1 = none). */
static int ev_run_timers(void)
{
	int timeout = -1;

	pthread_mutex_lock(&ev_timer_lock);
	uint64_t now = ev_now_ms();
	while (ev_heap_len > 0 && ev_heap[1]->due <= now) {
		struct ev_timer *t = ev_heap[1];
		ev_heap_remove(t);
		t->fire(t);
	}
	if (ev_heap_len > 0) {
		uint64_t wait = ev_heap[1]->due - now;
		timeout = wait > 60000 ? 60000 : (int)wait;
	}
	pthread_mutex_unlock(&ev_timer_lock);
	return timeout;
}

static void ev_list_push(struct ev_job **head, struct ev_job **tail, struct ev_job *job)
{
	job->next = NULL;
	if (*tail != NULL)
		(*tail)->next = job;
	else
		*head = job;
	*tail = job;
}

static struct ev_job *ev_list_pop(struct ev_job **head, struct ev_job **tail)
{
	struct ev_job *job = *head;
	*head = job->next;
	if (*head == NULL)
		*tail = NULL;
	return job;
}

void ev_queue(struct ev_job *job)
{
	pthread_mutex_lock(&ev_queue_lock);
	ev_list_push(&ev_queue_head, &ev_queue_tail, job);
	pthread_cond_signal(&ev_queue_cond);
	pthread_mutex_unlock(&ev_queue_lock);
}

void ev_queue_slow(struct ev_job *job)
{
	pthread_mutex_lock(&ev_queue_lock);
	ev_list_push(&ev_slow_head, &ev_slow_tail, job);
	/* Broadcast: the worker that wakes first may find only slow jobs it may not take. */
	pthread_cond_broadcast(&ev_queue_cond);
	pthread_mutex_unlock(&ev_queue_lock);
}

/* The next job a worker may run, or NULL; called with ev_queue_lock held. */
static struct ev_job *ev_next_job(bool *slow_r)
{
	*slow_r = false;
	if (ev_slow_head != NULL && ev_slow_running < ev_slow_max) {
		ev_slow_running++;
		*slow_r = true;
		return ev_list_pop(&ev_slow_head, &ev_slow_tail);
	}
	if (ev_queue_head != NULL)
		return ev_list_pop(&ev_queue_head, &ev_queue_tail);
	return NULL;
}

static void *ev_worker_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct ev_job *job;
		bool slow;

		pthread_mutex_lock(&ev_queue_lock);
		while ((job = ev_next_job(&slow)) == NULL && !ev_workers_stop)
			pthread_cond_wait(&ev_queue_cond, &ev_queue_lock);
		pthread_mutex_unlock(&ev_queue_lock);
		if (job == NULL)
			return NULL;
		job->run(job);
		log_set_context(NULL);
		if (slow) {
			pthread_mutex_lock(&ev_queue_lock);
			ev_slow_running--;
			if (ev_slow_head != NULL)
				pthread_cond_broadcast(&ev_queue_cond);
			pthread_mutex_unlock(&ev_queue_lock);
		}
	}
}

static void ev_on_wake(struct ev_source *src, uint32_t events)
{
	uint64_t v;
	(void)events;
	ssize_t r = read(src->fd, &v, sizeof(v));
	(void)r;
}

void ev_wakeup(void)
{
	uint64_t one = 1;
	if (ev_wake_source.fd >= 0) {
		ssize_t r = write(ev_wake_source.fd, &one, sizeof(one));
		(void)r;
	}
}

int ev_init(unsigned workers)
{
	if (workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		workers = n > 0 ? (unsigned)n : 2;
	}
	ev_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ev_epfd < 0)
		return -1;
	ev_wake_source.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ev_wake_source.on_event = ev_on_wake;
	if (ev_wake_source.fd < 0 || ev_add(&ev_wake_source, EPOLLIN) < 0)
		return -1;
	ev_threads = calloc(workers, sizeof(*ev_threads));
	if (ev_threads == NULL)
		return -1;
	ev_workers_stop = false;
	/* libuv's rule: slow work may take half the pool, so the rest stays responsive. */
	ev_slow_max = workers / 2 > 0 ? workers / 2 : 1;
	for (unsigned i = 0; i < workers; i++) {
		if (pthread_create(&ev_threads[i], NULL, ev_worker_main, NULL) != 0)
			return -1;
		ev_thread_count++;
	}
	return 0;
}

unsigned ev_worker_count(void)
{
	return ev_thread_count;
}

void ev_shutdown(void)
{
	pthread_mutex_lock(&ev_queue_lock);
	ev_workers_stop = true;
	pthread_cond_broadcast(&ev_queue_cond);
	pthread_mutex_unlock(&ev_queue_lock);
	for (unsigned i = 0; i < ev_thread_count; i++)
		pthread_join(ev_threads[i], NULL);
	free(ev_threads);
	ev_threads = NULL;
	ev_thread_count = 0;
	if (ev_wake_source.fd >= 0)
		close(ev_wake_source.fd);
	ev_wake_source.fd = -1;
	if (ev_epfd >= 0)
		close(ev_epfd);
	ev_epfd = -1;
	free(ev_heap);
	ev_heap = NULL;
	ev_heap_len = ev_heap_cap = 0;
}

static int ev_ctl(int op, struct ev_source *src, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = src};
	return epoll_ctl(ev_epfd, op, src->fd, &ev);
}

int ev_add(struct ev_source *src, uint32_t events)
{
	return ev_ctl(EPOLL_CTL_ADD, src, events);
}

int ev_modify(struct ev_source *src, uint32_t events)
{
	return ev_ctl(EPOLL_CTL_MOD, src, events);
}

int ev_remove(struct ev_source *src)
{
	return ev_ctl(EPOLL_CTL_DEL, src, 0);
}

void ev_set_batch_hook(void (*hook)(void))
{
	ev_batch_hook = hook;
}

int ev_run(void)
{
	struct epoll_event events[256];

	ev_running = 1;
	while (ev_running) {
		int timeout = ev_run_timers();
		int n = epoll_wait(ev_epfd, events, 256, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("epoll_wait failed: %s", strerror(errno));
			return -1;
		}
		for (int i = 0; i < n; i++) {
			struct ev_source *src = events[i].data.ptr;
			src->on_event(src, events[i].events);
		}
		if (ev_batch_hook != NULL)
			ev_batch_hook();
	}
	return 0;
}

void ev_stop(void)
{
	ev_running = 0;
	ev_wakeup();
}
