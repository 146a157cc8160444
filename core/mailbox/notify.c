/*
 * Mailbox change notification (see notify.h for who calls what, and when).
 *
 * Two hash tables, both chained and grown by doubling: mailboxes by (user, name), and
 * inotify watch descriptors by number. The kernel gives one descriptor per directory inode
 * and instance, so two mailbox entries that reach the same directory (two logins sharing a
 * Maildir) share a descriptor: each descriptor lists its mailboxes, and the watch is removed
 * only when the last of them goes. Watches are added and removed under the lock, so an
 * entry never holds a descriptor that another thread has just removed.
 *
 * Marking is cheap and happens under the lock; arming the timer happens after the lock is
 * released, because the timer's callback runs with the event loop's timer lock held and
 * then takes this one (see the lock order in notify.h).
 */
#include "mailbox/notify.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "net/event.h"
#include "util/log.h"

/*
 * Entries appearing, leaving or being renamed, and the directory itself going away. The
 * watch never follows a symbolic link and ignores events of files already unlinked.
 */
#define NOTIFY_MASK                                                                                \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |     \
	 IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

struct notify_sub {
	struct notify_box *box;
	struct notify_sub *prev, *next;
	notify_wake_fn *wake;
	void *ctx;
};

struct notify_box {
	struct notify_box *hnext;      /* hash chain */
	struct notify_box *dirty_next; /* while dirty */
	struct notify_sub *subs;
	uint32_t hash;
	bool dirty;
	size_t nwds;
	int wds[NOTIFY_MAX_PATHS];
	size_t key_len;
	char key[]; /* user NUL mailbox NUL */
};

struct notify_wd {
	struct notify_wd *hnext;
	int wd;
	size_t nboxes, cap;
	struct notify_box **boxes;
};

struct notify_table {
	void **slots; /* chains of notify_box or notify_wd, linked through hnext */
	size_t size, count;
};

static pthread_mutex_t notify_lock = PTHREAD_MUTEX_INITIALIZER;
static struct notify_table notify_boxes, notify_wds;
static struct notify_box *notify_dirty;
static bool notify_flush_armed, notify_stopped;
static bool notify_warned_watches;
static struct ev_source notify_source = {-1, NULL};
static struct ev_timer notify_flush_timer;

static uint32_t notify_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* ---- the tables ------------------------------------------------------------------------ */

/* The chain heads of a table are void pointers to either type; both start with hnext. */
static void **box_next(void *e)
{
	return (void **)&((struct notify_box *)e)->hnext;
}

static void **wd_next(void *e)
{
	return (void **)&((struct notify_wd *)e)->hnext;
}

static uint32_t box_hash(void *e)
{
	return ((struct notify_box *)e)->hash;
}

static uint32_t wd_hash(void *e)
{
	return (uint32_t)((struct notify_wd *)e)->wd * 2654435761u;
}

/* Doubles the table when it is full; staying small is fine when memory is short. */
static void table_grow(struct notify_table *t, void **(*next)(void *), uint32_t (*hash)(void *))
{
	if (t->count < t->size)
		return;
	size_t size = t->size ? t->size * 2 : 64;
	void **slots = calloc(size, sizeof(*slots));
	if (slots == NULL)
		return;
	for (size_t i = 0; i < t->size; i++) {
		void *e = t->slots[i];
		while (e != NULL) {
			void *n = *next(e);
			size_t at = hash(e) & (size - 1);
			*next(e) = slots[at];
			slots[at] = e;
			e = n;
		}
	}
	free(t->slots);
	t->slots = slots;
	t->size = size;
}

static void table_insert(struct notify_table *t, void *e, void **(*next)(void *),
                         uint32_t (*hash)(void *))
{
	table_grow(t, next, hash);
	size_t at = hash(e) & (t->size - 1);
	*next(e) = t->slots[at];
	t->slots[at] = e;
	t->count++;
}

static void table_remove(struct notify_table *t, void *e, void **(*next)(void *),
                         uint32_t (*hash)(void *))
{
	for (void **p = &t->slots[hash(e) & (t->size - 1)]; *p != NULL; p = next(*p)) {
		if (*p == e) {
			*p = *next(e);
			t->count--;
			break;
		}
	}
	if (t->count == 0) {
		free(t->slots);
		t->slots = NULL;
		t->size = 0;
	}
}

static struct notify_box *box_find(const char *key, size_t key_len, uint32_t hash)
{
	if (notify_boxes.size == 0)
		return NULL;
	struct notify_box *b = notify_boxes.slots[hash & (notify_boxes.size - 1)];
	for (; b != NULL; b = b->hnext)
		if (b->hash == hash && b->key_len == key_len && memcmp(b->key, key, key_len) == 0)
			return b;
	return NULL;
}

static struct notify_wd *wd_find(int wd)
{
	if (notify_wds.size == 0)
		return NULL;
	struct notify_wd probe = {.wd = wd};
	struct notify_wd *w = notify_wds.slots[wd_hash(&probe) & (notify_wds.size - 1)];
	while (w != NULL && w->wd != wd)
		w = w->hnext;
	return w;
}

/* ---- marking and waking ---------------------------------------------------------------- */

/* Marks @p b; true when the caller must arm the timer (after unlocking). Lock held. */
static bool box_mark(struct notify_box *b)
{
	if (b->dirty || b->subs == NULL || notify_stopped)
		return false;
	b->dirty = true;
	b->dirty_next = notify_dirty;
	notify_dirty = b;
	if (notify_flush_armed)
		return false;
	notify_flush_armed = true;
	return true;
}

static void flush_arm(void)
{
	ev_timer_set(&notify_flush_timer, ev_now_ms() + NOTIFY_COALESCE_MS);
}

/* The timer: runs on the loop thread with the timer lock held. */
static void flush_fire(struct ev_timer *t)
{
	(void)t;
	pthread_mutex_lock(&notify_lock);
	notify_flush_armed = false;
	while (notify_dirty != NULL) {
		struct notify_box *b = notify_dirty;
		notify_dirty = b->dirty_next;
		b->dirty = false;
		b->dirty_next = NULL;
		for (struct notify_sub *s = b->subs; s != NULL; s = s->next)
			s->wake(s->ctx);
	}
	pthread_mutex_unlock(&notify_lock);
}

void notify_mailbox_changed(const char *user, const char *mailbox)
{
	size_t ulen = strlen(user), mlen = strlen(mailbox);
	size_t len = ulen + 1 + mlen + 1;
	char stack[256];
	char *key = len <= sizeof(stack) ? stack : malloc(len);
	if (key == NULL)
		return;
	memcpy(key, user, ulen + 1);
	memcpy(key + ulen + 1, mailbox, mlen + 1);
	uint32_t hash = notify_hash(key, len);

	pthread_mutex_lock(&notify_lock);
	struct notify_box *b = box_find(key, len, hash);
	bool arm = b != NULL && box_mark(b);
	pthread_mutex_unlock(&notify_lock);
	if (key != stack)
		free(key);
	if (arm)
		flush_arm();
}

/* ---- inotify --------------------------------------------------------------------------- */

/* Forgets a descriptor the kernel dropped (its directory is gone). Lock held. */
static void wd_forget(struct notify_wd *w)
{
	for (size_t i = 0; i < w->nboxes; i++) {
		struct notify_box *b = w->boxes[i];
		for (size_t j = 0; j < b->nwds; j++) {
			if (b->wds[j] == w->wd) {
				b->wds[j] = b->wds[--b->nwds];
				break;
			}
		}
	}
	table_remove(&notify_wds, w, wd_next, wd_hash);
	free(w->boxes);
	free(w);
}

/* Marks every mailbox: the kernel's queue overflowed and events were lost. Lock held. */
static bool mark_all(void)
{
	bool arm = false;
	for (size_t i = 0; i < notify_boxes.size; i++)
		for (struct notify_box *b = notify_boxes.slots[i]; b != NULL; b = b->hnext)
			arm |= box_mark(b);
	return arm;
}

/* Handles one buffer of events. Lock held. */
static bool handle_events(const char *buf, size_t len)
{
	bool arm = false;
	size_t pos = 0;
	while (pos + sizeof(struct inotify_event) <= len) {
		struct inotify_event ev;
		memcpy(&ev, buf + pos, sizeof(ev)); /* the buffer is a char array: no aliasing */
		pos += sizeof(ev) + ev.len;
		if (ev.mask & IN_Q_OVERFLOW) {
			log_warning(
			    "the kernel's inotify queue overflowed; waking every IDLE client");
			arm |= mark_all();
			continue;
		}
		struct notify_wd *w = wd_find(ev.wd);
		if (w == NULL)
			continue; /* removed by us a moment ago */
		for (size_t i = 0; i < w->nboxes; i++)
			arm |= box_mark(w->boxes[i]);
		if (ev.mask & IN_IGNORED)
			wd_forget(w);
	}
	return arm;
}

static void notify_on_inotify(struct ev_source *src, uint32_t events)
{
	/* Aligned for the kernel's records; read whole records only, as inotify hands out. */
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool arm = false;
	(void)events;
	/* Bounded: the loop comes back while the descriptor stays readable. */
	for (int round = 0; round < 16; round++) {
		ssize_t n = read(src->fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		pthread_mutex_lock(&notify_lock);
		arm |= handle_events(buf, (size_t)n);
		pthread_mutex_unlock(&notify_lock);
	}
	if (arm)
		flush_arm();
}

int notify_init(void)
{
	pthread_mutex_lock(&notify_lock);
	notify_stopped = false;
	notify_flush_armed = false;
	notify_warned_watches = false;
	pthread_mutex_unlock(&notify_lock);
	notify_flush_timer.fire = flush_fire;
	notify_source.on_event = notify_on_inotify;
	notify_source.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (notify_source.fd < 0) {
		log_warning("inotify is not available (%s): IDLE clients hear only of changes made "
		            "through this server",
		            strerror(errno));
		return -1;
	}
	if (ev_add(&notify_source, EPOLLIN) < 0) {
		log_warning("cannot watch the inotify descriptor: %s", strerror(errno));
		close(notify_source.fd);
		notify_source.fd = -1;
		return -1;
	}
	return 0;
}

void notify_shutdown(void)
{
	pthread_mutex_lock(&notify_lock);
	notify_stopped = true;
	pthread_mutex_unlock(&notify_lock);
	/* Outside the lock: the timer's callback takes it under the timer lock. */
	ev_timer_cancel(&notify_flush_timer);
	pthread_mutex_lock(&notify_lock);
	notify_dirty = NULL;
	notify_flush_armed = false;
	for (size_t i = 0; i < notify_boxes.size; i++) {
		for (struct notify_box *b = notify_boxes.slots[i]; b != NULL; b = b->hnext) {
			b->dirty = false;
			b->nwds = 0; /* the instance goes away with its watches */
		}
	}
	for (size_t i = 0; i < notify_wds.size; i++) {
		struct notify_wd *w = notify_wds.slots[i];
		while (w != NULL) {
			struct notify_wd *n = w->hnext;
			free(w->boxes);
			free(w);
			w = n;
		}
	}
	free(notify_wds.slots);
	memset(&notify_wds, 0, sizeof(notify_wds));
	if (notify_source.fd >= 0) {
		ev_remove(&notify_source);
		close(notify_source.fd);
		notify_source.fd = -1;
	}
	pthread_mutex_unlock(&notify_lock);
}

/* ---- subscriptions --------------------------------------------------------------------- */

struct path_list {
	char *paths[NOTIFY_MAX_PATHS];
	size_t n;
	bool too_many;
};

static int path_collect(void *ctx, const char *path)
{
	struct path_list *l = ctx;
	if (l->n == NOTIFY_MAX_PATHS) {
		l->too_many = true;
		return 0;
	}
	l->paths[l->n] = strdup(path);
	if (l->paths[l->n] == NULL)
		return SLUICE_E_NOMEM;
	l->n++;
	return 0;
}

static bool storage_can_watch(const struct sluice_storage_ops *ops)
{
	return ops != NULL &&
	       ops->size >= offsetof(struct sluice_storage_ops, mailbox_watch_paths) +
	                        sizeof(ops->mailbox_watch_paths) &&
	       ops->mailbox_watch_paths != NULL;
}

/* Adds one watch for @p b. Lock held. */
static void box_watch(struct notify_box *b, const char *path)
{
	int wd = inotify_add_watch(notify_source.fd, path, NOTIFY_MASK);
	if (wd < 0) {
		if (errno == ENOSPC && !notify_warned_watches) {
			notify_warned_watches = true;
			log_warning("cannot watch more directories: raise the kernel's "
			            "fs.inotify.max_user_watches; until then IDLE clients of some "
			            "mailboxes hear only of changes made through this server");
		} else if (errno != ENOSPC) {
			log_warning("cannot watch %s for IDLE clients: %s", path, strerror(errno));
		}
		return;
	}
	for (size_t i = 0; i < b->nwds; i++)
		if (b->wds[i] == wd)
			return; /* two paths of one directory */
	struct notify_wd *w = wd_find(wd);
	if (w == NULL) {
		if ((w = calloc(1, sizeof(*w))) == NULL) {
			inotify_rm_watch(notify_source.fd, wd);
			return;
		}
		w->wd = wd;
		table_insert(&notify_wds, w, wd_next, wd_hash);
	}
	if (w->nboxes == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 2;
		struct notify_box **n = realloc(w->boxes, cap * sizeof(*n));
		if (n == NULL) {
			if (w->nboxes == 0) {
				table_remove(&notify_wds, w, wd_next, wd_hash);
				inotify_rm_watch(notify_source.fd, wd);
				free(w->boxes);
				free(w);
			}
			return;
		}
		w->boxes = n;
		w->cap = cap;
	}
	w->boxes[w->nboxes++] = b;
	b->wds[b->nwds++] = wd;
}

/* Removes @p b from its descriptors, and the watches nobody else needs. Lock held. */
static void box_unwatch(struct notify_box *b)
{
	for (size_t i = 0; i < b->nwds; i++) {
		struct notify_wd *w = wd_find(b->wds[i]);
		if (w == NULL)
			continue;
		for (size_t j = 0; j < w->nboxes; j++) {
			if (w->boxes[j] == b) {
				w->boxes[j] = w->boxes[--w->nboxes];
				break;
			}
		}
		if (w->nboxes == 0) {
			if (notify_source.fd >= 0)
				inotify_rm_watch(notify_source.fd, w->wd);
			table_remove(&notify_wds, w, wd_next, wd_hash);
			free(w->boxes);
			free(w);
		}
	}
	b->nwds = 0;
}

static void sub_link(struct notify_box *b, struct notify_sub *s)
{
	s->box = b;
	s->prev = NULL;
	s->next = b->subs;
	if (b->subs != NULL)
		b->subs->prev = s;
	b->subs = s;
}

int notify_subscribe(const char *user, const char *mailbox, const struct sluice_storage_ops *ops,
                     struct sluice_storage_box *sbox, notify_wake_fn *wake, void *ctx,
                     struct notify_sub **sub_r, struct sluice_error *err)
{
	size_t ulen = strlen(user), mlen = strlen(mailbox);
	size_t len = ulen + 1 + mlen + 1;
	struct notify_sub *s = calloc(1, sizeof(*s));
	struct notify_box *fresh = calloc(1, sizeof(*fresh) + len);
	struct path_list paths = {0};

	*sub_r = NULL;
	if (s == NULL || fresh == NULL) {
		free(s);
		free(fresh);
		return sluice_error_set(err, SLUICE_E_NOMEM, "SERVERBUG",
		                        "The server is out of memory.");
	}
	s->wake = wake;
	s->ctx = ctx;
	memcpy(fresh->key, user, ulen + 1);
	memcpy(fresh->key + ulen + 1, mailbox, mlen + 1);
	fresh->key_len = len;
	fresh->hash = notify_hash(fresh->key, len);

	pthread_mutex_lock(&notify_lock);
	struct notify_box *b = box_find(fresh->key, len, fresh->hash);
	bool watchable = b == NULL && notify_source.fd >= 0 && !notify_stopped;
	if (b != NULL)
		sub_link(b, s);
	pthread_mutex_unlock(&notify_lock);
	if (b != NULL) {
		free(fresh);
		*sub_r = s;
		return 0;
	}

	/* The first subscriber: ask the storage what to watch, outside the lock. */
	if (watchable && storage_can_watch(ops)) {
		struct sluice_error werr = SLUICE_ERROR_INIT;
		int r = ops->mailbox_watch_paths(sbox, path_collect, &paths, &werr);
		if (r != 0)
			log_warning("cannot learn what to watch in %s for IDLE clients: %s",
			            mailbox, r == SLUICE_E_NOMEM ? "out of memory" : werr.msg);
		if (paths.too_many)
			log_warning(
			    "the storage names more than %d directories to watch in %s; the "
			    "rest are not watched",
			    NOTIFY_MAX_PATHS, mailbox);
	}

	pthread_mutex_lock(&notify_lock);
	b = box_find(fresh->key, len, fresh->hash); /* another session may have been quicker */
	if (b == NULL) {
		b = fresh;
		fresh = NULL;
		table_insert(&notify_boxes, b, box_next, box_hash);
		for (size_t i = 0; i < paths.n && notify_source.fd >= 0 && !notify_stopped; i++)
			box_watch(b, paths.paths[i]);
	}
	sub_link(b, s);
	pthread_mutex_unlock(&notify_lock);
	free(fresh);
	for (size_t i = 0; i < paths.n; i++)
		free(paths.paths[i]);
	*sub_r = s;
	return 0;
}

void notify_unsubscribe(struct notify_sub **subp)
{
	struct notify_sub *s = *subp;
	if (s == NULL)
		return;
	*subp = NULL;
	pthread_mutex_lock(&notify_lock);
	struct notify_box *b = s->box;
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		b->subs = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	if (b->subs == NULL) {
		if (b->dirty) {
			struct notify_box **p = &notify_dirty;
			while (*p != b)
				p = &(*p)->dirty_next;
			*p = b->dirty_next;
		}
		box_unwatch(b);
		table_remove(&notify_boxes, b, box_next, box_hash);
		free(b);
	}
	pthread_mutex_unlock(&notify_lock);
	free(s);
}

void notify_counts(size_t *mailboxes_r, size_t *watches_r)
{
	pthread_mutex_lock(&notify_lock);
	*mailboxes_r = notify_boxes.count;
	*watches_r = notify_wds.count;
	pthread_mutex_unlock(&notify_lock);
}
