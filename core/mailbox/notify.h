/*
 * Mailbox change notification: which sessions wait to hear that a mailbox changed (IDLE),
 * and the two ways the news arrives.
 *
 * - From this server: the mailbox layer and the commands that write into a mailbox (STORE,
 *   EXPUNGE, APPEND, COPY, MOVE, a sync that found outside changes) call
 *   notify_mailbox_changed() with the user and the mailbox name.
 * - From other programs (a delivery agent writing into new/, mutt renaming a file in cur/):
 *   one inotify instance watches the directories the storage module names for each mailbox
 *   that has a subscriber (the mailbox_watch_paths op, ABI 1.1). A storage without that op
 *   gets the first kind only.
 *
 * Both only mark the mailbox; a timer on the event loop fires NOTIFY_COALESCE_MS after the
 * first mark and calls the wake function of every subscriber of every marked mailbox once,
 * so a burst of a thousand deliveries costs each idler a handful of refreshes, not a
 * thousand. The wake function hands the work to a worker (session_schedule); nothing here
 * reads the mailbox. A mailbox is known by the user's login name and its canonical name;
 * two users whose logins share one Maildir hear each other through inotify only.
 *
 * Cost: a subscription is one small allocation and a mailbox entry exists only while it has
 * subscribers, with at most NOTIFY_MAX_PATHS inotify watches (two for Maildir) shared by
 * every subscriber of that mailbox. Everything is guarded by one mutex; the lock order is
 * the event loop's timer lock, then this one, then a session's lock.
 */
#ifndef SLUICE_MAILBOX_NOTIFY_H
#define SLUICE_MAILBOX_NOTIFY_H

#include <sluice/storage.h>

/* How long the first change of a burst waits for the rest before subscribers are woken. */
#define NOTIFY_COALESCE_MS 50
/* Directories watched per mailbox at most; more are ignored (and logged). */
#define NOTIFY_MAX_PATHS 4

struct notify_sub;

/*
 * Wakes a subscriber. Runs on the event loop thread with the timer lock and the notify lock
 * held: it must only hand work over (session_schedule), never block or call notify_*.
 */
typedef void notify_wake_fn(void *ctx);

/**
 * Creates the inotify instance and registers it with the event loop (after ev_init, main
 * thread). @return 0; -1 when inotify is not available (logged): subscriptions then hear
 * only of changes made through this server.
 */
int notify_init(void);

/**
 * Stops watching (before ev_shutdown, main thread): cancels the timer, closes the inotify
 * instance. Later calls of the other functions are harmless and wake nobody. Mailbox
 * entries still subscribed (sessions that outlived the shutdown deadline) are left to them.
 */
void notify_shutdown(void);

/**
 * Subscribes to changes of @p mailbox of @p user.
 * @param[in]  user, mailbox  the key (copied)
 * @param[in]  ops, sbox      the storage module and the mailbox open in it; used during the
 *                            call only, to learn what to watch (ops may lack the op, see
 *                            storage.h; NULL ops watch nothing)
 * @param[in]  wake, ctx      called (see notify_wake_fn) after each burst of changes
 * @param[out] sub_r          the subscription, ended with notify_unsubscribe
 * @return 0; SLUICE_E_NOMEM with err filled. Directories that cannot be watched (the
 *         kernel's fs.inotify.max_user_watches reached, a directory missing) are logged and
 *         are not an error: the subscription then hears of this server's changes only.
 * Any thread except from a wake function.
 */
int notify_subscribe(const char *user, const char *mailbox, const struct sluice_storage_ops *ops,
                     struct sluice_storage_box *sbox, notify_wake_fn *wake, void *ctx,
                     struct notify_sub **sub_r, struct sluice_error *err);

/**
 * Ends a subscription and sets *sub to NULL (NULL accepted). When it returns, its wake
 * function is not running and will not be called again. The last subscriber of a mailbox
 * takes its inotify watches with it. Any thread except from a wake function.
 */
void notify_unsubscribe(struct notify_sub **sub);

/** A session of this server changed @p mailbox of @p user: wake its subscribers. Any thread. */
void notify_mailbox_changed(const char *user, const char *mailbox);

/** Mailboxes with subscribers and inotify watches held now (for tests and diagnostics). */
void notify_counts(size_t *mailboxes_r, size_t *watches_r);

#endif
