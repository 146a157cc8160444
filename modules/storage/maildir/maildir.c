/*
 * The maildir storage module's descriptor, settings and instance, and the few helpers
 * every other file of the module uses: error reporting (a sentence for the client, the
 * path and strerror for the log), unique file names as the Maildir spec prescribes, the
 * dotlocked replacement of small control files and the deferred directory fsync of copies.
 * Enabled in modules.conf with
 *
 *   storage maildir {
 *     root = ~/Maildir          # or a template such as /var/mail/%d/%n
 *     fsync = yes
 *   }
 */
#include "maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef MAILDIR_VERSION
#define MAILDIR_VERSION "0"
#endif

/* A dotlock older than this was left by a crashed process (Dovecot uses similar ages). */
#define MAILDIR_LOCK_STALE_SECS 60
#define MAILDIR_LOCK_TRIES 200
#define MAILDIR_LOCK_WAIT_NS (10 * 1000 * 1000)

static const struct sluice_setting maildir_settings_table[] = {
    SLUICE_SETTING_STRING("root", struct maildir_settings, root, "~/Maildir",
                          "Where a user's Maildir is: ~ or %h is the home, %u the user name, %n "
                          "its part before @, %d its domain, %% a percent sign."),
    SLUICE_SETTING_BOOL("fsync", struct maildir_settings, fsync, "yes",
                        "Flush new messages and their directories to disk before answering."),
    SLUICE_SETTING_END,
};

int maildir_syserr(const struct sluice_storage_user *user, struct sluice_error *err, int code,
                   int e, const char *client_msg, const char *fmt, ...)
{
	const struct sluice_host *host = user->ctx->host;
	char what[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	host->log(host, SLUICE_LOG_ERROR, "maildir of %s: %s: %s", user->name, what,
	          e != 0 ? strerror(e) : "failed");
	sluice_error_set(err, code, code == SLUICE_E_TEMPFAIL ? "INUSE" : "SERVERBUG", "%s",
	                 client_msg);
	if (err != NULL)
		err->sys_errno = e;
	return code;
}

void maildir_unique_name(struct maildir_ctx *ctx, char buf[MAILDIR_UNIQUE_MAX])
{
	struct timespec ts;
	unsigned n = atomic_fetch_add(&ctx->counter, 1) + 1;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, MAILDIR_UNIQUE_MAX, "%lld.M%ldP%ldQ%u.%s", (long long)ts.tv_sec,
	         ts.tv_nsec / 1000, (long)getpid(), n, ctx->host_escaped);
}

static bool maildir_write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		data += n;
		len -= (size_t)n;
	}
	return true;
}

/* Takes the dotlock: creates name.lock exclusively, breaking a stale one. */
static int maildir_lock_create(const struct sluice_storage_user *user, int dirfd,
                               const char *dirlog, const char *lock, struct sluice_error *err)
{
	for (int tries = 0; tries < MAILDIR_LOCK_TRIES; tries++) {
		struct timespec wait = {0, MAILDIR_LOCK_WAIT_NS};
		struct stat st;
		int fd =
		    openat(dirfd, lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return maildir_syserr(user, err, SLUICE_E_IO, errno, MAILDIR_MSG_INTERNAL,
			                      "creating %s/%s", dirlog, lock);
		if (fstatat(dirfd, lock, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    st.st_mtime < time(NULL) - MAILDIR_LOCK_STALE_SECS) {
			user->ctx->host->log(user->ctx->host, SLUICE_LOG_WARNING,
			                     "removing stale lock %s/%s", dirlog, lock);
			unlinkat(dirfd, lock, 0);
			continue;
		}
		nanosleep(&wait, NULL);
	}
	return maildir_syserr(user, err, SLUICE_E_TEMPFAIL, EWOULDBLOCK,
	                      "Another program is changing the mailbox; try again.",
	                      "%s/%s is held by another process", dirlog, lock);
}

int maildir_file_replace(const struct sluice_storage_user *user, int dirfd, const char *dirlog,
                         const char *name, const char *data, size_t len, struct sluice_error *err)
{
	char lock[128];
	int fd, ret;

	snprintf(lock, sizeof(lock), "%s.lock", name);
	fd = maildir_lock_create(user, dirfd, dirlog, lock, err);
	if (fd < 0)
		return fd;
	if (!maildir_write_all(fd, data, len) || (user->fsync && fsync(fd) != 0)) {
		ret = maildir_syserr(user, err, SLUICE_E_IO, errno, MAILDIR_MSG_INTERNAL,
		                     "writing %s/%s", dirlog, lock);
		close(fd);
		unlinkat(dirfd, lock, 0);
		return ret;
	}
	if (close(fd) != 0 || renameat(dirfd, lock, dirfd, name) != 0) {
		ret = maildir_syserr(user, err, SLUICE_E_IO, errno, MAILDIR_MSG_INTERNAL,
		                     "replacing %s/%s", dirlog, name);
		unlinkat(dirfd, lock, 0);
		return ret;
	}
	return 0;
}

int maildir_file_read(const struct sluice_storage_user *user, int dirfd, const char *dirlog,
                      const char *name, char **data_r, size_t *len_r, struct sluice_error *err)
{
	size_t len = 0, cap = 4096;
	char *data;
	int fd;

	*data_r = NULL;
	*len_r = 0;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return SLUICE_NOTFOUND;
		return maildir_syserr(user, err, SLUICE_E_IO, errno, MAILDIR_MSG_INTERNAL,
		                      "opening %s/%s", dirlog, name);
	}
	data = malloc(cap);
	if (data == NULL) {
		close(fd);
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	}
	for (;;) {
		ssize_t n;
		if (cap - len < 2) {
			char *bigger = cap > (16u << 20) ? NULL : realloc(data, cap * 2);
			if (bigger == NULL) {
				free(data);
				close(fd);
				return maildir_syserr(user, err, SLUICE_E_IO, EFBIG,
				                      MAILDIR_MSG_INTERNAL, "reading %s/%s", dirlog,
				                      name);
			}
			data = bigger;
			cap *= 2;
		}
		n = read(fd, data + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(data);
			close(fd);
			return maildir_syserr(user, err, SLUICE_E_IO, e, MAILDIR_MSG_INTERNAL,
			                      "reading %s/%s", dirlog, name);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	data[len] = '\0';
	*data_r = data;
	*len_r = len;
	return 0;
}

int maildir_file_lines(struct sluice_storage_user *user, const char *name,
                       int (*line)(void *ctx, char *text, size_t len), void *ctx,
                       struct sluice_error *err)
{
	char *data, *save = NULL;
	size_t len;
	int ret = maildir_file_read(user, user->rootfd, user->root, name, &data, &len, err);
	if (ret == SLUICE_NOTFOUND)
		return 0;
	for (char *l = ret == 0 ? strtok_r(data, "\n", &save) : NULL; l != NULL && ret == 0;
	     l = strtok_r(NULL, "\n", &save)) {
		size_t n = strcspn(l, "\r");
		l[n] = '\0';
		ret = line(ctx, l, n);
	}
	free(data);
	return ret;
}

/* renameat2(RENAME_NOREPLACE) where the kernel has it, else a checked rename. */
int maildir_rename_noreplace(int fromfd, const char *from, int tofd, const char *to)
{
	struct stat st;
	if (renameat2(fromfd, from, tofd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (fstatat(tofd, to, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	return renameat(fromfd, from, tofd, to);
}

void maildir_box_mark_dirty(struct sluice_storage_box *box)
{
	if (!box->user->fsync || box->cur_dirty)
		return;
	box->cur_dirty = true;
	box->dirty_next = box->user->dirty;
	box->user->dirty = box;
}

/*
 * A COPY of 10,000 messages cannot afford 10,000 directory fsyncs, so copies only mark
 * the destination and the fsync happens once, at the next operation that must not overtake
 * them: an expunge (a MOVE must never lose the only link), a scan, a stamp or a close.
 */
void maildir_user_flush(struct sluice_storage_user *user)
{
	while (user->dirty != NULL) {
		struct sluice_storage_box *box = user->dirty;
		user->dirty = box->dirty_next;
		box->dirty_next = NULL;
		box->cur_dirty = false;
		if (fsync(box->curfd) != 0)
			user->ctx->host->log(user->ctx->host, SLUICE_LOG_ERROR,
			                     "maildir of %s: fsync of %s/%s/cur: %s", user->name,
			                     user->root, box->dir, strerror(errno));
	}
}

/* The Maildir spec: '/' becomes \057 and ':' becomes \072 in the host part of names. */
static void maildir_escape_host(const char *in, char *out, size_t size)
{
	size_t n = 0;
	for (; *in != '\0' && n + 5 < size; in++) {
		if (*in == '/' || *in == ':') {
			n += (size_t)snprintf(out + n, size - n, "\\%03o", (unsigned char)*in);
		} else {
			out[n++] = *in;
		}
	}
	out[n] = '\0';
}

static int maildir_init(const struct sluice_host *host, const void *conf, void **modctx_r,
                        struct sluice_error *err)
{
	struct maildir_ctx *ctx = calloc(1, sizeof(*ctx));
	char hostname[256];

	if (ctx == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	ctx->host = host;
	ctx->set = conf;
	pthread_mutex_init(&ctx->conf_lock, NULL);
	pthread_mutex_init(&ctx->file_lock, NULL);
	pthread_mutex_init(&ctx->roots_lock, NULL);
	atomic_init(&ctx->counter, 0);
	if (gethostname(hostname, sizeof(hostname)) != 0 || hostname[0] == '\0')
		snprintf(hostname, sizeof(hostname), "localhost");
	hostname[sizeof(hostname) - 1] = '\0';
	maildir_escape_host(hostname, ctx->host_escaped, sizeof(ctx->host_escaped));
	*modctx_r = ctx;
	return 0;
}

static void maildir_deinit(void *modctx)
{
	struct maildir_ctx *ctx = modctx;
	if (ctx == NULL)
		return;
	pthread_mutex_destroy(&ctx->conf_lock);
	pthread_mutex_destroy(&ctx->file_lock);
	pthread_mutex_destroy(&ctx->roots_lock);
	free(ctx);
}

/* Users opened before a reload keep what they copied at user_open. */
static int maildir_reload(void *modctx, const void *conf, struct sluice_error *err)
{
	struct maildir_ctx *ctx = modctx;
	(void)err;
	pthread_mutex_lock(&ctx->conf_lock);
	ctx->set = conf;
	pthread_mutex_unlock(&ctx->conf_lock);
	return 0;
}

static const struct sluice_storage_ops maildir_ops = {
    .size = sizeof(struct sluice_storage_ops),
    .user_open = maildir_user_open,
    .user_close = maildir_user_close,
    .mailbox_list = maildir_mailbox_list,
    .mailbox_create = maildir_mailbox_create,
    .mailbox_delete = maildir_mailbox_delete,
    .mailbox_rename = maildir_mailbox_rename,
    .mailbox_subscribe = maildir_mailbox_subscribe,
    .mailbox_open = maildir_mailbox_open,
    .mailbox_close = maildir_mailbox_close,
    .mailbox_stamp = maildir_mailbox_stamp,
    .mailbox_scan = maildir_mailbox_scan,
    .message_open = maildir_message_open,
    .message_set_flags = maildir_message_set_flags,
    .message_expunge = maildir_message_expunge,
    .message_copy = maildir_message_copy,
    .append_begin = maildir_append_begin,
    .append_commit = maildir_append_commit,
    .append_abort = maildir_append_abort,
    .mailbox_watch_paths = maildir_mailbox_watch_paths,
    .mailbox_set_special_use = maildir_mailbox_set_special_use,
};

SLUICE_MODULE(.kind = SLUICE_KIND_STORAGE, .name = "maildir", .version = MAILDIR_VERSION,
              .description = "Maildir with Maildir++ folders, flags in file names",
              .settings = maildir_settings_table, .conf_size = sizeof(struct maildir_settings),
              .init = maildir_init, .deinit = maildir_deinit, .reload = maildir_reload,
              .ops = &maildir_ops);
