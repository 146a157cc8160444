/*
 * Writing a new message, the delivery-safe way the Maildir spec describes: the core streams
 * the bytes into a fresh file in tmp/ (created with O_EXCL, mode 0600, under a unique name);
 * commit flushes it (when the fsync setting says so), gives it the INTERNALDATE as mtime and
 * renames it into cur/ as `<unique>,S=<size>:2,<flags>`, then flushes cur/. Until that
 * rename no reader can see the message, and abort (a client that went away mid-APPEND)
 * unlinks the temporary file, so nothing partial is ever left in tmp/ or cur/.
 *
 * An append handle belongs to its box: the core commits or aborts it before closing the box.
 */
#include "maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sluice_storage_append {
	struct sluice_storage_box *box;
	int fd;
	char name[MAILDIR_UNIQUE_MAX];
};

int maildir_append_begin(struct sluice_storage_box *box, struct sluice_storage_append **append_r,
                         int *fd_r, struct sluice_error *err)
{
	struct sluice_storage_append *a;

	*append_r = NULL;
	*fd_r = -1;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	a->box = box;
	/* The counter makes names unique within this process; a clash means another host
	 * or process with our name, and the next name will differ. */
	for (int tries = 0; tries < 3; tries++) {
		maildir_unique_name(box->user->ctx, a->name);
		a->fd = openat(box->tmpfd, a->name,
		               O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (a->fd >= 0 || errno != EEXIST)
			break;
	}
	if (a->fd < 0) {
		int ret = maildir_syserr(
		    box->user, err, SLUICE_E_IO, errno, "The message could not be stored.",
		    "creating %s/%s/tmp/%s", box->user->root, box->dir, a->name);
		free(a);
		return ret;
	}
	*append_r = a;
	*fd_r = a->fd;
	return 0;
}

static void maildir_append_discard(struct sluice_storage_append *a)
{
	if (a->fd >= 0)
		close(a->fd);
	unlinkat(a->box->tmpfd, a->name, 0);
	free(a);
}

int maildir_append_commit(struct sluice_storage_append *a, uint32_t flags, const char *keywords,
                          time_t mtime, struct sluice_pool *pool, const char **key_r,
                          struct sluice_error *err)
{
	struct sluice_storage_box *box = a->box;
	struct sluice_storage_user *user = box->user;
	struct timespec times[2] = {{mtime, 0}, {mtime, 0}};
	char key[NAME_MAX + 1], final[NAME_MAX + MAILDIR_INFO_MAX + 8], info[MAILDIR_INFO_MAX + 1];
	struct stat st;
	uint32_t mask;
	bool passed;
	int ret, fd;

	*key_r = NULL;
	ret = maildir_keywords_mask(box, keywords, &mask, &passed, err);
	if (ret != 0) {
		maildir_append_discard(a);
		return ret;
	}
	maildir_info_compose(flags & SLUICE_FLAGS_ALL, passed, mask, NULL, 0, info);
	if (fstat(a->fd, &st) != 0 || (user->fsync && fsync(a->fd) != 0) ||
	    futimens(a->fd, times) != 0) {
		ret = maildir_syserr(user, err, SLUICE_E_IO, errno,
		                     "The message could not be stored.", "writing %s/%s/tmp/%s",
		                     user->root, box->dir, a->name);
		maildir_append_discard(a);
		return ret;
	}
	snprintf(key, sizeof(key), "%s,S=%llu", a->name, (unsigned long long)st.st_size);
	if ((size_t)snprintf(final, sizeof(final), "%s:2,%s", key, info) > NAME_MAX) {
		maildir_append_discard(a);
		return sluice_error_set(err, SLUICE_E_LIMIT, "LIMIT",
		                        "The message cannot hold that many flags.");
	}
	fd = a->fd;
	a->fd = -1;
	/* close() reports write errors of some file systems (NFS) only now. */
	if (close(fd) != 0 ||
	    maildir_rename_noreplace(box->tmpfd, a->name, box->curfd, final) != 0) {
		ret = maildir_syserr(user, err, SLUICE_E_IO, errno,
		                     "The message could not be stored.",
		                     "moving %s/%s/tmp/%s to cur/", user->root, box->dir, a->name);
		maildir_append_discard(a);
		return ret;
	}
	free(a);
	if (user->fsync && fsync(box->curfd) != 0)
		return maildir_syserr(user, err, SLUICE_E_IO, errno,
		                      "The message could not be stored.", "fsync of %s/%s/cur",
		                      user->root, box->dir);
	if (maildir_cache_put(&box->cache, 'c', final) != 0)
		maildir_cache_del(&box->cache, key, strlen(key));
	*key_r = user->ctx->host->pool_strndup(pool, key, strlen(key));
	if (*key_r == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, "LIMIT", "Out of memory.");
	return 0;
}

void maildir_append_abort(struct sluice_storage_append *a)
{
	if (a != NULL)
		maildir_append_discard(a);
}
