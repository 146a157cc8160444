/*
 * The event loop and the worker pool.
 *
 * One thread (the caller of ev_run) waits in epoll for sockets and runs due timers;
 * it never reads from a client nor does any slow work. Ready work is handed to a pool
 * of worker threads as jobs. Sockets of sessions are registered with EPOLLONESHOT, so
 * an event reaches one job at a time and the worker re-arms the socket when it is done.
 * Timer callbacks run on the loop thread with the timer lock held: they must only hand
 * work over (queue a job), never block. Work that may block for long goes through
 * ev_queue_slow, which keeps it to part of the pool.
 */
#ifndef SLUICE_EVENT_H
#define SLUICE_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Something with a file descriptor in the epoll set. */
struct ev_source {
	int fd;
	/** Called on the loop thread with the epoll event bits. */
	void (*on_event)(struct ev_source *src, uint32_t events);
};

struct ev_timer {
	uint64_t due;  /* monotonic ms */
	size_t index;  /* position in the heap, 0 = not armed */
	void (*fire)(struct ev_timer *t);
};

struct ev_job {
	struct ev_job *next;
	void (*run)(struct ev_job *job);
};

/** Creates the epoll set and starts @p workers threads (0 = one per core). */
int ev_init(unsigned workers);
/** Stops and joins the workers, closes the loop. Safe after a failed ev_init. */
void ev_shutdown(void);
unsigned ev_worker_count(void);

int ev_add(struct ev_source *src, uint32_t events);
int ev_modify(struct ev_source *src, uint32_t events);
int ev_remove(struct ev_source *src);

uint64_t ev_now_ms(void);
/** Arms (or moves) @p t to fire at monotonic time @p due. Any thread. */
void ev_timer_set(struct ev_timer *t, uint64_t due);
/** Disarms @p t; when this returns its fire callback is not running and will not run. */
void ev_timer_cancel(struct ev_timer *t);

/** Hands a job to the worker pool. Any thread. */
void ev_queue(struct ev_job *job);
/**
 * Hands the pool a job that may block for long (a PAM conversation that waits for an
 * LDAP server). At most half the workers (at least one) run slow jobs at a time; the
 * others keep serving ordinary jobs, so slow work never starves every session. Slow
 * jobs wait their turn in their own queue, holding no thread. Any thread.
 */
void ev_queue_slow(struct ev_job *job);

/** Called on the loop thread after each batch of events, e.g. to free closed sessions. */
void ev_set_batch_hook(void (*hook)(void));
/** Makes the loop run its batch hook soon. Any thread. */
void ev_wakeup(void);

/** Runs the loop on the calling thread until ev_stop. */
int ev_run(void);
void ev_stop(void);

#endif
