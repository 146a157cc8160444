/*
 * Operations on one message of an open folder: open for reading, change flags (a rename),
 * expunge (an unlink) and copy (a hard link where possible).
 *
 * Each finds the message's current file name in the box's key table. Another program may
 * have renamed the file since (mutt setting \Seen, mbsync syncing flags), so an operation
 * that meets ENOENT re-reads the directories once and tries again before it answers
 * SLUICE_NOTFOUND. Files are opened with O_NOFOLLOW: a symbolic link planted in cur/ (to
 * /etc/shadow, say) is refused, never read.
 *
 * A copy links the source file into the destination's cur/ under a new unique name, which
 * costs one link(2) and keeps the bytes shared. A hard link shares the inode and with it
 * the modification time (the INTERNALDATE), so a link is made only when the requested
 * mtime is the source's own; otherwise, or when the file system refuses links (EXDEV,
 * EPERM), the bytes are copied through tmp/ and the copy gets its own mtime. The
 * destination directory's fsync is deferred to the next operation that needs it (see
 * maildir_user_flush), which is what lets 10,000 copies finish well under a second.
 */
#include "maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAILDIR_COPY_CHUNK (1u << 20)
#define MAILDIR_COPY_BUF 65536

static int maildir_msg_notfound(struct sluice_error *err)
{
	return sluice_error_set(err, SLUICE_NOTFOUND, "EXPUNGEISSUED",
	                        "The message has been deleted.");
}

static int maildir_msg_refused(struct sluice_storage_box *box, const char *name, const char *why,
                               struct sluice_error *err)
{
	box->user->ctx->host->log(box->user->ctx->host, SLUICE_LOG_WARNING,
	                          "maildir of %s: refusing %s/%s/%s: %s", box->user->name,
	                          box->user->root, box->dir, name, why);
	return sluice_error_set(err, SLUICE_E_PERM, "SERVERBUG",
	                        "The message cannot be read; the server log has the details.");
}

/*
 * Looks @p key up, re-reading the directories on the second attempt. Copies the name into
 * @p name (the table may move while the caller works) and returns the directory's fd,
 * 0 with *fd_r = -1 when the key is unknown, or a negative code.
 */
static int maildir_locate(struct sluice_storage_box *box, const char *key, int attempt, int *fd_r,
                          char name[NAME_MAX + 1], struct sluice_error *err)
{
	const char *found;
	char where;

	*fd_r = -1;
	if (attempt > 0) {
		int ret = maildir_box_refresh(box, err);
		if (ret != 0)
			return ret;
	}
	found = maildir_cache_get(&box->cache, key, strlen(key), &where);
	if (found == NULL || strlen(found) > NAME_MAX)
		return 0;
	strcpy(name, found);
	*fd_r = where == 'c' ? box->curfd : box->newfd;
	return 0;
}

int maildir_message_open(struct sluice_storage_box *box, const char *key, int *fd_r,
                         struct sluice_error *err)
{
	char name[NAME_MAX + 1];

	*fd_r = -1;
	if (!maildir_key_valid(key))
		return maildir_msg_notfound(err);
	for (int attempt = 0; attempt < 2; attempt++) {
		struct stat st;
		int dirfd, fd, ret;

		ret = maildir_locate(box, key, attempt, &dirfd, name, err);
		if (ret != 0)
			return ret;
		if (dirfd < 0)
			continue;
		/* O_NONBLOCK: a FIFO planted in cur/ must not hang the worker on open. */
		fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			if (errno == ELOOP)
				return maildir_msg_refused(box, name, "it is a symbolic link", err);
			return maildir_syserr(box->user, err, SLUICE_E_IO, errno,
			                      "The message could not be read.", "opening %s/%s/%s",
			                      box->user->root, box->dir, name);
		}
		if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			return maildir_msg_refused(box, name, "it is not a regular file", err);
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		*fd_r = fd;
		return 0;
	}
	return maildir_msg_notfound(err);
}

int maildir_message_set_flags(struct sluice_storage_box *box, const char *key, uint32_t flags,
                              const char *keywords, struct sluice_error *err)
{
	char name[NAME_MAX + 1], target[NAME_MAX + 1], info[MAILDIR_INFO_MAX + 1];
	uint32_t mask, known;
	bool passed;
	int ret;

	if (!maildir_key_valid(key))
		return maildir_msg_notfound(err);
	ret = maildir_keywords_mask(box, keywords, &mask, &passed, err);
	if (ret != 0)
		return ret;
	known = maildir_keywords_known(&box->kw);
	for (int attempt = 0; attempt < 2; attempt++) {
		int dirfd;

		ret = maildir_locate(box, key, attempt, &dirfd, name, err);
		if (ret != 0)
			return ret;
		if (dirfd < 0)
			continue;
		maildir_info_compose(flags & SLUICE_FLAGS_ALL, passed, mask,
		                     maildir_info_letters(name), known, info);
		if ((size_t)snprintf(target, sizeof(target), "%s:2,%s", key, info) >=
		    sizeof(target))
			return sluice_error_set(err, SLUICE_E_LIMIT, "LIMIT",
			                        "The message cannot hold that many flags.");
		if (dirfd == box->curfd && strcmp(name, target) == 0)
			return 0;
		if (renameat(dirfd, name, box->curfd, target) != 0) {
			if (errno == ENOENT)
				continue;
			return maildir_syserr(box->user, err, SLUICE_E_IO, errno,
			                      "The flags could not be stored.", "renaming %s/%s/%s",
			                      box->user->root, box->dir, name);
		}
		if (maildir_cache_put(&box->cache, 'c', target) != 0)
			maildir_cache_del(&box->cache, key, strlen(key));
		return 0;
	}
	return maildir_msg_notfound(err);
}

int maildir_message_expunge(struct sluice_storage_box *box, const char *key,
                            struct sluice_error *err)
{
	char name[NAME_MAX + 1];

	if (!maildir_key_valid(key))
		return maildir_msg_notfound(err);
	/* A MOVE expunges the source right after linking the copy: the link must be durable. */
	maildir_user_flush(box->user);
	for (int attempt = 0; attempt < 2; attempt++) {
		int dirfd, ret;

		ret = maildir_locate(box, key, attempt, &dirfd, name, err);
		if (ret != 0)
			return ret;
		if (dirfd < 0)
			continue;
		if (unlinkat(dirfd, name, 0) != 0) {
			if (errno == ENOENT)
				continue;
			return maildir_syserr(
			    box->user, err, SLUICE_E_IO, errno, "The message could not be deleted.",
			    "unlinking %s/%s/%s", box->user->root, box->dir, name);
		}
		maildir_cache_del(&box->cache, key, strlen(key));
		return 0;
	}
	return maildir_msg_notfound(err);
}

/* Copies what is left of @p src into @p dst; copy_file_range first, read/write if refused. */
static int maildir_copy_fd(int src, int dst)
{
	char *buf = NULL;
	bool plain = false;
	int ret = -1;

	for (;;) {
		ssize_t n;
		if (!plain) {
			n = copy_file_range(src, NULL, dst, NULL, MAILDIR_COPY_CHUNK, 0);
			if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
			              errno == EOPNOTSUPP || errno == EBADF)) {
				plain = true;
				continue;
			}
		} else {
			if (buf == NULL && (buf = malloc(MAILDIR_COPY_BUF)) == NULL)
				break;
			n = read(src, buf, MAILDIR_COPY_BUF);
			for (ssize_t off = 0; n > 0 && off < n;) {
				ssize_t w = write(dst, buf + off, (size_t)(n - off));
				if (w < 0 && errno == EINTR)
					continue;
				if (w < 0) {
					free(buf);
					return -1;
				}
				off += w;
			}
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n == 0 ? 0 : -1;
			break;
		}
	}
	free(buf);
	return ret;
}

int maildir_copy_bytes(struct sluice_storage_box *to, int srcfd, time_t mtime, const char *final,
                       struct sluice_error *err)
{
	struct sluice_storage_user *user = to->user;
	struct timespec times[2] = {{mtime, 0}, {mtime, 0}};
	char tmpname[MAILDIR_UNIQUE_MAX];
	int fd, ret;

	maildir_unique_name(user->ctx, tmpname);
	fd = openat(to->tmpfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return maildir_syserr(user, err, SLUICE_E_IO, errno,
		                      "The message could not be copied.", "creating %s/%s/tmp/%s",
		                      user->root, to->dir, tmpname);
	if (maildir_copy_fd(srcfd, fd) != 0 || (user->fsync && fsync(fd) != 0) ||
	    futimens(fd, times) != 0) {
		ret = maildir_syserr(user, err, SLUICE_E_IO, errno,
		                     "The message could not be copied.", "writing %s/%s/tmp/%s",
		                     user->root, to->dir, tmpname);
		close(fd);
		unlinkat(to->tmpfd, tmpname, 0);
		return ret;
	}
	if (close(fd) != 0 || maildir_rename_noreplace(to->tmpfd, tmpname, to->curfd, final) != 0) {
		ret = maildir_syserr(user, err, SLUICE_E_IO, errno,
		                     "The message could not be copied.",
		                     "moving %s/%s/tmp/%s to cur/", user->root, to->dir, tmpname);
		unlinkat(to->tmpfd, tmpname, 0);
		return ret;
	}
	maildir_box_mark_dirty(to);
	return 0;
}

static bool maildir_link_refused(int e)
{
	return e == EXDEV || e == EPERM || e == EMLINK || e == ENOTSUP || e == EOPNOTSUPP;
}

/* One attempt at copying @p name of @p dirfd; 1 when the source vanished. */
static int maildir_copy_one(struct sluice_storage_box *from, int dirfd, const char *name,
                            struct sluice_storage_box *to, const char *info, time_t mtime,
                            char key_r[NAME_MAX + 1], struct sluice_error *err)
{
	char unique[MAILDIR_UNIQUE_MAX], final[NAME_MAX + 1];
	struct stat st;
	int fd, ret;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return 1;
		return maildir_syserr(from->user, err, SLUICE_E_IO, errno,
		                      "The message could not be copied.", "stat of %s/%s/%s",
		                      from->user->root, from->dir, name);
	}
	if (!S_ISREG(st.st_mode))
		return maildir_msg_refused(from, name, "it is not a regular file", err);
	maildir_unique_name(to->user->ctx, unique);
	snprintf(key_r, NAME_MAX + 1, "%s,S=%llu", unique, (unsigned long long)st.st_size);
	if ((size_t)snprintf(final, sizeof(final), "%s:2,%s", key_r, info) >= sizeof(final))
		return sluice_error_set(err, SLUICE_E_LIMIT, "LIMIT",
		                        "The message cannot hold that many flags.");
	if (st.st_mtime == mtime) {
		if (linkat(dirfd, name, to->curfd, final, 0) == 0) {
			maildir_box_mark_dirty(to);
			return 0;
		}
		if (errno == ENOENT)
			return 1;
		if (!maildir_link_refused(errno))
			return maildir_syserr(from->user, err, SLUICE_E_IO, errno,
			                      "The message could not be copied.",
			                      "linking %s/%s/%s to %s/cur/%s", from->user->root,
			                      from->dir, name, to->dir, final);
	}
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		if (errno == ELOOP)
			return maildir_msg_refused(from, name, "it is a symbolic link", err);
		return maildir_syserr(from->user, err, SLUICE_E_IO, errno,
		                      "The message could not be copied.", "opening %s/%s/%s",
		                      from->user->root, from->dir, name);
	}
	ret = maildir_copy_bytes(to, fd, mtime, final, err);
	close(fd);
	return ret;
}

int maildir_message_copy(struct sluice_storage_box *from, const char *key,
                         struct sluice_storage_box *to, uint32_t flags, const char *keywords,
                         time_t mtime, struct sluice_pool *pool, const char **key_r,
                         struct sluice_error *err)
{
	const struct sluice_host *host = from->user->ctx->host;
	char name[NAME_MAX + 1], info[MAILDIR_INFO_MAX + 1], newkey[NAME_MAX + 1];
	uint32_t mask;
	bool passed;
	int ret;

	*key_r = NULL;
	if (!maildir_key_valid(key))
		return maildir_msg_notfound(err);
	ret = maildir_keywords_mask(to, keywords, &mask, &passed, err);
	if (ret != 0)
		return ret;
	maildir_info_compose(flags & SLUICE_FLAGS_ALL, passed, mask, NULL, 0, info);
	for (int attempt = 0; attempt < 2; attempt++) {
		int dirfd;

		ret = maildir_locate(from, key, attempt, &dirfd, name, err);
		if (ret != 0)
			return ret;
		if (dirfd < 0)
			continue;
		ret = maildir_copy_one(from, dirfd, name, to, info, mtime, newkey, err);
		if (ret == 1)
			continue;
		if (ret != 0)
			return ret;
		{
			char final[NAME_MAX + MAILDIR_INFO_MAX + 8];
			snprintf(final, sizeof(final), "%s:2,%s", newkey, info);
			if (maildir_cache_put(&to->cache, 'c', final) != 0)
				maildir_cache_del(&to->cache, newkey, strlen(newkey));
		}
		*key_r = host->pool_strndup(pool, newkey, strlen(newkey));
		if (*key_r == NULL)
			return sluice_error_set(err, SLUICE_E_NOMEM, "LIMIT", "Out of memory.");
		return 0;
	}
	return maildir_msg_notfound(err);
}
