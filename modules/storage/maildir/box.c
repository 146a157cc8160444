/*
 * An open folder: its directory descriptors, the change stamp and the scan.
 *
 * Opening repairs instead of refusing: a folder that lost its cur/, new/ or tmp/ (a careless
 * rsync, a backup restore) gets them back and the log says so. It also applies the Maildir
 * spec's rule for tmp/: a file nobody touched for 36 hours is what a crashed writer left.
 *
 * The scan is the one place that reads every name. With take_new it first claims what
 * delivery agents left in new/ by renaming each file into cur/ with an empty ":2," info;
 * a rename that fails with ENOENT means another session or process claimed it first, which
 * is how \Recent goes to exactly one claimant. It then reads cur/ with one stat per file
 * (for the size and the mtime, the INTERNALDATE) and rebuilds the key-to-name table.
 * Without take_new, new/ is read after cur/ and its files reported as they are, so a file
 * moved between the two reads by someone else is missed once rather than seen twice.
 */
#include "maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A directory changed this recently may change again within the same timestamp tick. */
#define MAILDIR_RACY_SECS 2

static atomic_uint_fast64_t maildir_racy_counter;
static pthread_once_t maildir_racy_once = PTHREAD_ONCE_INIT;

/* Stamps are kept in the index across restarts: a counter that started at 1 in every process
 * could repeat a value a previous process stored and make a changed folder look unchanged.
 * It starts at a random point instead. */
static void maildir_racy_seed(void)
{
	uint64_t seed = 0;
	if (getentropy(&seed, sizeof(seed)) != 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	}
	atomic_store(&maildir_racy_counter, seed | 1); /* never 0, which means "not racy" */
}

static uint64_t maildir_racy_next(void)
{
	pthread_once(&maildir_racy_once, maildir_racy_seed);
	uint64_t v = atomic_fetch_add(&maildir_racy_counter, 1) + 1;
	return v != 0 ? v : atomic_fetch_add(&maildir_racy_counter, 1) + 1;
}

static int maildir_open_sub(struct sluice_storage_box *box, const char *sub, int *fd_r,
                            struct sluice_error *err)
{
	struct sluice_storage_user *user = box->user;

	*fd_r = openat(box->dirfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd_r >= 0)
		return 0;
	if (errno == ENOENT) {
		if (mkdirat(box->dirfd, sub, 0700) != 0 && errno != EEXIST)
			return maildir_syserr(user, err, SLUICE_E_IO, errno,
			                      "The mailbox is damaged and could not be repaired.",
			                      "creating %s/%s/%s", user->root, box->dir, sub);
		user->ctx->host->log(user->ctx->host, SLUICE_LOG_WARNING,
		                     "maildir of %s: mailbox \"%s\" had no %s/, created %s/%s/%s",
		                     user->name, box->name, sub, user->root, box->dir, sub);
		*fd_r = openat(box->dirfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (*fd_r >= 0)
			return 0;
	}
	return maildir_syserr(user, err, SLUICE_E_IO, errno, "The mailbox is damaged.",
	                      "opening %s/%s/%s", user->root, box->dir, sub);
}

/* Removes tmp/ files whose access and modification times are both 36 hours old. */
static void maildir_tmp_cleanup(struct sluice_storage_box *box)
{
	time_t cutoff = time(NULL) - MAILDIR_TMP_MAX_AGE;
	int fd = openat(box->tmpfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;
	DIR *d;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(box->tmpfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    S_ISDIR(st.st_mode) || st.st_atime >= cutoff || st.st_mtime >= cutoff)
			continue;
		if (unlinkat(box->tmpfd, e->d_name, 0) == 0)
			box->user->ctx->host->log(box->user->ctx->host, SLUICE_LOG_INFO,
			                          "maildir of %s: removed stale %s/%s/tmp/%s",
			                          box->user->name, box->user->root, box->dir,
			                          e->d_name);
	}
	closedir(d);
}

int maildir_mailbox_open(struct sluice_storage_user *user, const char *name,
                         struct sluice_storage_box **box_r, struct sluice_error *err)
{
	struct sluice_storage_box *box;
	int ret;

	*box_r = NULL;
	box = calloc(1, sizeof(*box));
	if (box == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	box->user = user;
	box->dirfd = box->curfd = box->newfd = box->tmpfd = -1;
	maildir_cache_init(&box->cache);
	box->name = strdup(name);
	if (box->name == NULL) {
		free(box);
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	}
	ret = maildir_folder_dir(name, &box->dir, err);
	if (ret != 0)
		goto fail;
	box->dirfd =
	    openat(user->rootfd, box->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (box->dirfd < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) {
			if (errno == ELOOP)
				user->ctx->host->log(
				    user->ctx->host, SLUICE_LOG_WARNING,
				    "maildir of %s: %s/%s is a symbolic link, which is "
				    "not followed",
				    user->name, user->root, box->dir);
			ret = sluice_error_set(err, SLUICE_NOTFOUND, "NONEXISTENT",
			                       "The mailbox does not exist.");
		} else {
			ret = maildir_syserr(user, err, SLUICE_E_IO, errno,
			                     "The mailbox could not be opened.", "opening %s/%s",
			                     user->root, box->dir);
		}
		goto fail;
	}
	/* A directory with no trace of a Maildir is no mailbox (listing agrees). */
	if (!maildir_is_maildir(user->rootfd, box->dir)) {
		ret = sluice_error_set(err, SLUICE_NOTFOUND, "NONEXISTENT",
		                       "The mailbox does not exist.");
		goto fail;
	}
	ret = maildir_open_sub(box, "cur", &box->curfd, err);
	if (ret == 0)
		ret = maildir_open_sub(box, "new", &box->newfd, err);
	if (ret == 0)
		ret = maildir_open_sub(box, "tmp", &box->tmpfd, err);
	if (ret != 0)
		goto fail;
	maildir_tmp_cleanup(box);
	*box_r = box;
	return 0;
fail:
	maildir_mailbox_close(box);
	return ret;
}

void maildir_mailbox_close(struct sluice_storage_box *box)
{
	struct sluice_storage_box **p;

	if (box == NULL)
		return;
	if (box->cur_dirty) {
		if (fsync(box->curfd) != 0)
			box->user->ctx->host->log(box->user->ctx->host, SLUICE_LOG_ERROR,
			                          "maildir of %s: fsync of %s/%s/cur: %s",
			                          box->user->name, box->user->root, box->dir,
			                          strerror(errno));
		for (p = &box->user->dirty; *p != NULL; p = &(*p)->dirty_next) {
			if (*p == box) {
				*p = box->dirty_next;
				break;
			}
		}
	}
	if (box->curfd >= 0)
		close(box->curfd);
	if (box->newfd >= 0)
		close(box->newfd);
	if (box->tmpfd >= 0)
		close(box->tmpfd);
	if (box->dirfd >= 0)
		close(box->dirfd);
	maildir_keywords_free(&box->kw);
	maildir_cache_free(&box->cache);
	free(box->scratch);
	free(box->dir);
	free(box->name);
	free(box);
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

/*
 * Bytes 0-7 new/'s mtime, 8-15 cur/'s, 16-23 the keyword file's, each in nanoseconds.
 * File systems stamp directories with a coarse clock, so two changes in one tick leave the
 * same mtime; while a directory changed in the last seconds, bytes 24-31 hold a counter
 * that differs on every call, so the core scans rather than trusting the stamp.
 */
int maildir_mailbox_stamp(struct sluice_storage_box *box, uint8_t stamp_r[32],
                          struct sluice_error *err)
{
	struct stat snew, scur, skw;
	struct timespec now;
	uint64_t racy = 0;

	maildir_user_flush(box->user);
	if (fstat(box->newfd, &snew) != 0 || fstat(box->curfd, &scur) != 0)
		return maildir_syserr(box->user, err, SLUICE_E_IO, errno, MAILDIR_MSG_INTERNAL,
		                      "stat of %s/%s/new or cur", box->user->root, box->dir);
	if (fstatat(box->dirfd, MAILDIR_KEYWORDS_FILE, &skw, AT_SYMLINK_NOFOLLOW) != 0)
		memset(&skw, 0, sizeof(skw));
	clock_gettime(CLOCK_REALTIME, &now);
	if (snew.st_mtim.tv_sec >= now.tv_sec - MAILDIR_RACY_SECS ||
	    scur.st_mtim.tv_sec >= now.tv_sec - MAILDIR_RACY_SECS ||
	    skw.st_mtim.tv_sec >= now.tv_sec - MAILDIR_RACY_SECS)
		racy = maildir_racy_next();
	put_u64(stamp_r, ts_ns(&snew.st_mtim));
	put_u64(stamp_r + 8, ts_ns(&scur.st_mtim));
	put_u64(stamp_r + 16, ts_ns(&skw.st_mtim) ^ (uint64_t)skw.st_ino);
	put_u64(stamp_r + 24, racy);
	return 0;
}

/*
 * new/ and cur/ are where every change shows: a delivery renames into new/, a claim moves a
 * file from new/ to cur/, a flag change renames within cur/, an expunge unlinks. A keyword
 * file change alone does not matter: the renames that use a new letter come with it.
 */
int maildir_mailbox_watch_paths(struct sluice_storage_box *box, sluice_storage_path_cb *cb,
                                void *ctx, struct sluice_error *err)
{
	static const char *const subs[] = {"new", "cur"};
	bool inbox = strcmp(box->dir, ".") == 0;
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		int n = inbox ? snprintf(path, sizeof(path), "%s/%s", box->user->root, subs[i])
		              : snprintf(path, sizeof(path), "%s/%s/%s", box->user->root, box->dir,
		                         subs[i]);
		if (n < 0 || (size_t)n >= sizeof(path))
			return maildir_syserr(box->user, err, SLUICE_E_IO, ENAMETOOLONG,
			                      MAILDIR_MSG_INTERNAL, "the path of %s/%s/%s",
			                      box->user->root, box->dir, subs[i]);
		int r = cb(ctx, path);
		if (r != 0)
			return r;
	}
	return 0;
}

static DIR *maildir_reopen(int fd)
{
	int dup_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	if (dup_fd < 0)
		return NULL;
	d = fdopendir(dup_fd);
	if (d == NULL)
		close(dup_fd);
	return d;
}

/* Reads the names of one directory into @p cache, marked with @p where. */
static int maildir_read_names(struct sluice_storage_box *box, int fd, char where,
                              struct maildir_cache *cache, struct sluice_error *err)
{
	struct dirent *e;
	DIR *d = maildir_reopen(fd);

	if (d == NULL)
		return maildir_syserr(box->user, err, SLUICE_E_IO, errno, MAILDIR_MSG_INTERNAL,
		                      "reading %s/%s/%s", box->user->root, box->dir,
		                      where == 'c' ? "cur" : "new");
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (maildir_cache_put(cache, where, e->d_name) != 0) {
			closedir(d);
			return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
		}
	}
	closedir(d);
	return 0;
}

int maildir_box_refresh(struct sluice_storage_box *box, struct sluice_error *err)
{
	struct maildir_cache fresh;
	int ret;

	maildir_cache_init(&fresh);
	ret = maildir_read_names(box, box->newfd, 'n', &fresh, err);
	/* cur/ second: a name in both (moved meanwhile) ends up pointing at cur/. */
	if (ret == 0)
		ret = maildir_read_names(box, box->curfd, 'c', &fresh, err);
	if (ret == 0)
		maildir_cache_swap(&box->cache, &fresh);
	maildir_cache_free(&fresh);
	return ret;
}

struct maildir_scan {
	struct sluice_storage_box *box;
	sluice_storage_message_cb *cb;
	void *ctx;
	struct maildir_cache fresh;   /* the new key table */
	struct maildir_cache claimed; /* keys this scan moved out of new/ */
};

/* Stats one file and reports it; a file that vanished or is no regular file is skipped. */
static int maildir_scan_report(struct maildir_scan *s, int fd, char where, const char *name,
                               bool recent, struct sluice_error *err)
{
	struct sluice_storage_box *box = s->box;
	char key[NAME_MAX + 1];
	const char *letters = maildir_info_letters(name);
	struct sluice_storage_message msg;
	struct stat st;
	size_t keylen = maildir_key_len(name);
	bool passed;

	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
		return 0;
	if (keylen >= sizeof(key))
		return 0;
	memcpy(key, name, keylen);
	key[keylen] = '\0';
	if (maildir_cache_put(&s->fresh, where, name) != 0)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	msg.key = key;
	msg.flags = maildir_flags_from_info(letters, &passed);
	msg.keywords = maildir_keywords_text(box, letters, passed);
	if (msg.keywords == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	msg.size = (uint64_t)st.st_size;
	msg.mtime = st.st_mtime;
	msg.recent = recent;
	return s->cb(s->ctx, &msg);
}

/* Moves every file of new/ into cur/ with an empty info part, remembering the keys. */
static int maildir_scan_claim(struct maildir_scan *s, struct sluice_error *err)
{
	struct sluice_storage_box *box = s->box;
	char target[NAME_MAX + 1];
	struct dirent *e;
	int ret = 0;
	DIR *d = maildir_reopen(box->newfd);

	if (d == NULL)
		return maildir_syserr(box->user, err, SLUICE_E_IO, errno, MAILDIR_MSG_INTERNAL,
		                      "reading %s/%s/new", box->user->root, box->dir);
	while (ret == 0 && (e = readdir(d)) != NULL) {
		const char *name = e->d_name;
		if (name[0] == '.' || e->d_type == DT_DIR)
			continue;
		if (strchr(name, ':') != NULL)
			snprintf(target, sizeof(target), "%s", name);
		else if ((size_t)snprintf(target, sizeof(target), "%s:2,", name) >= sizeof(target))
			continue;
		if (maildir_rename_noreplace(box->newfd, name, box->curfd, target) != 0) {
			if (errno == ENOENT)
				continue; /* someone else claimed it */
			box->user->ctx->host->log(
			    box->user->ctx->host, SLUICE_LOG_WARNING,
			    "maildir of %s: cannot move %s/%s/new/%s to cur/: %s", box->user->name,
			    box->user->root, box->dir, name, strerror(errno));
			/* Still a message: report it where it is, only never as recent. */
			ret = maildir_scan_report(s, box->newfd, 'n', name, false, err);
			continue;
		}
		if (maildir_cache_put(&s->claimed, 'c', target) != 0)
			ret = sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	}
	closedir(d);
	return ret;
}

static int maildir_scan_dir(struct maildir_scan *s, int fd, char where, struct sluice_error *err)
{
	struct sluice_storage_box *box = s->box;
	struct dirent *e;
	int ret = 0;
	DIR *d = maildir_reopen(fd);

	if (d == NULL)
		return maildir_syserr(box->user, err, SLUICE_E_IO, errno, MAILDIR_MSG_INTERNAL,
		                      "reading %s/%s/%s", box->user->root, box->dir,
		                      where == 'c' ? "cur" : "new");
	while (ret == 0 && (e = readdir(d)) != NULL) {
		char ignored;
		bool recent;
		if (e->d_name[0] == '.' || e->d_type == DT_DIR)
			continue;
		recent = where == 'c' && s->claimed.used > 0 &&
		         maildir_cache_get(&s->claimed, e->d_name, maildir_key_len(e->d_name),
		                           &ignored) != NULL;
		ret = maildir_scan_report(s, fd, where, e->d_name, recent, err);
	}
	closedir(d);
	return ret;
}

int maildir_mailbox_scan(struct sluice_storage_box *box, bool take_new,
                         sluice_storage_message_cb *cb, void *ctx, struct sluice_error *err)
{
	struct maildir_scan s = {.box = box, .cb = cb, .ctx = ctx};
	int ret;

	maildir_user_flush(box->user);
	maildir_cache_init(&s.fresh);
	maildir_cache_init(&s.claimed);
	ret = maildir_keywords_refresh(box, err);
	if (ret == 0 && take_new)
		ret = maildir_scan_claim(&s, err);
	if (ret == 0)
		ret = maildir_scan_dir(&s, box->curfd, 'c', err);
	if (ret == 0 && !take_new)
		ret = maildir_scan_dir(&s, box->newfd, 'n', err);
	/* Even a scan the callback stopped leaves a useful table; misses are re-read. */
	if (ret >= 0)
		maildir_cache_swap(&box->cache, &s.fresh);
	maildir_cache_free(&s.fresh);
	maildir_cache_free(&s.claimed);
	return ret;
}
