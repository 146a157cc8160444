/*
 * Folders in Maildir++: INBOX is the mail root itself, and the mailbox `a/b` (a canonical
 * name at the ABI, see mail.h) is the directory `.a.b` in the root, each level written in
 * modified UTF-7 as Courier and Dovecot do, with its own cur/, new/ and tmp/ and an empty
 * `maildirfolder` file that tells delivery agents it is a folder. Because '.' separates the
 * levels on disk, a level containing '.' cannot be stored and is refused with a sentence.
 *
 * The hierarchy exists only in the names, so listing reads the root once, keeps the
 * directories that are Maildirs, adds the parents that exist only by implication (\Noselect)
 * and works out the children from the sorted names. Creating makes missing parents real
 * folders; deleting removes one folder's directory (its children stay, and the parent turns
 * into an implicit \Noselect one); renaming moves a folder and every directory below it,
 * and renaming INBOX moves its messages into a new folder.
 */
#include "maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAILDIR_REMOVE_DEPTH 8

struct maildir_list_entry {
	char *name;
	bool real;
	uint32_t attrs;
};

struct maildir_list {
	struct maildir_list_entry *items;
	size_t count, cap;
};

static bool maildir_is_inbox(const char *s, size_t n)
{
	return n == 5 && strncasecmp(s, "INBOX", 5) == 0;
}

int maildir_folder_dir(const char *name, char **dir_r, struct sluice_error *err)
{
	char buf[NAME_MAX + 1];
	size_t len = 0;
	bool first = true;

	*dir_r = NULL;
	if (maildir_is_inbox(name, strlen(name))) {
		*dir_r = strdup(".");
		return *dir_r != NULL
		           ? 0
		           : sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	}
	for (const char *p = name; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return sluice_error_set(err, SLUICE_E_PARSE, "CANNOT",
			                        "Mailbox names cannot contain control characters.");
	buf[len++] = '.';
	for (const char *p = name;;) {
		size_t n = strcspn(p, "/");
		int enc;

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return sluice_error_set(err, SLUICE_E_PARSE, "CANNOT",
			                        "Mailbox names cannot have empty, \".\" or \"..\" "
			                        "levels.");
		if (memchr(p, '.', n) != NULL)
			return sluice_error_set(err, SLUICE_E_PARSE, "CANNOT",
			                        "This server stores folders in Maildir++, where a "
			                        "mailbox name cannot contain a dot.");
		if (first && maildir_is_inbox(p, n)) {
			memcpy(buf + len, "INBOX", 6);
			enc = 5;
		} else {
			enc = maildir_mutf7_encode(p, n, buf + len, sizeof(buf) - len);
		}
		if (enc < 0)
			return sluice_error_set(err, SLUICE_E_PARSE, "CANNOT",
			                        "The mailbox name is too long or not valid UTF-8.");
		len += (size_t)enc;
		p += n;
		if (*p == '\0')
			break;
		p++;
		if (len + 2 >= sizeof(buf))
			return sluice_error_set(err, SLUICE_E_PARSE, "CANNOT",
			                        "The mailbox name is too long.");
		buf[len++] = '.';
		first = false;
	}
	buf[len] = '\0';
	*dir_r = strdup(buf);
	return *dir_r != NULL ? 0 : sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
}

/* ".a.b" → "a/b"; false for a directory no canonical name maps to. */
static bool maildir_dir_to_name(const char *d, char *out, size_t size)
{
	size_t len = 0;
	bool first = true;

	if (d[0] != '.' || d[1] == '\0')
		return false;
	for (const char *p = d + 1;;) {
		size_t n = strcspn(p, ".");
		int dec;
		if (n == 0)
			return false;
		if (first && maildir_is_inbox(p, n)) {
			/* Only the canonical spelling: "INBOX/x" always maps to ".INBOX.x". */
			if (strncmp(p, "INBOX", 5) != 0 || len + 6 > size)
				return false;
			memcpy(out, "INBOX", 6);
			dec = 5;
		} else {
			dec = maildir_mutf7_decode(p, n, out + len, size - len);
			if (dec < 0)
				return false;
		}
		len += (size_t)dec;
		p += n;
		if (*p == '\0')
			break;
		p++;
		if (len + 2 >= size)
			return false;
		out[len++] = '/';
		out[len] = '\0';
		first = false;
	}
	return true;
}

bool maildir_is_maildir(int rootfd, const char *dir)
{
	static const char *const marks[] = {"cur", "new", MAILDIR_FOLDER_MARKER};
	struct stat st;
	bool yes = false;
	int fd;

	if (strcmp(dir, ".") == 0)
		return true;
	fd = openat(rootfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]) && !yes; i++)
		yes = fstatat(fd, marks[i], &st, AT_SYMLINK_NOFOLLOW) == 0;
	close(fd);
	return yes;
}

static DIR *maildir_opendir_at(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (d == NULL)
		close(fd);
	return d;
}

static int maildir_list_add(struct maildir_list *l, const char *name, size_t len, bool real)
{
	if (l->count == l->cap) {
		size_t cap = l->cap == 0 ? 32 : l->cap * 2;
		struct maildir_list_entry *items = realloc(l->items, cap * sizeof(*items));
		if (items == NULL)
			return -1;
		l->items = items;
		l->cap = cap;
	}
	l->items[l->count].name = strndup(name, len);
	if (l->items[l->count].name == NULL)
		return -1;
	l->items[l->count].real = real;
	l->items[l->count].attrs = 0;
	l->count++;
	return 0;
}

static void maildir_list_free(struct maildir_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->items[i].name);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static int maildir_list_cmp(const void *a, const void *b)
{
	return strcmp(((const struct maildir_list_entry *)a)->name,
	              ((const struct maildir_list_entry *)b)->name);
}

static struct maildir_list_entry *maildir_list_find(struct maildir_list *l, const char *name)
{
	struct maildir_list_entry key = {(char *)name, false, 0};
	return bsearch(&key, l->items, l->count, sizeof(key), maildir_list_cmp);
}

/* Whether directory entry @p e of the root is a folder directory (not a symlink). */
static bool maildir_entry_is_dir(int rootfd, const struct dirent *e)
{
	struct stat st;
	if (e->d_type == DT_DIR)
		return true;
	if (e->d_type != DT_UNKNOWN)
		return false;
	return fstatat(rootfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* Every folder directory of the root, with the implicit parents, sorted and unique. */
static int maildir_list_collect(struct sluice_storage_user *user, struct maildir_list *l,
                                struct sluice_error *err)
{
	char name[NAME_MAX * 4 + 8];
	struct dirent *e;
	size_t real_count, n;
	DIR *d;

	if (maildir_list_add(l, "INBOX", 5, true) != 0)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	d = maildir_opendir_at(user->rootfd, ".");
	if (d == NULL)
		return maildir_syserr(user, err, SLUICE_E_IO, errno, MAILDIR_MSG_INTERNAL,
		                      "reading %s", user->root);
	while ((errno = 0, e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.' || e->d_name[1] == '.' || e->d_name[1] == '\0')
			continue;
		if (!maildir_entry_is_dir(user->rootfd, e) ||
		    !maildir_is_maildir(user->rootfd, e->d_name))
			continue;
		if (!maildir_dir_to_name(e->d_name, name, sizeof(name))) {
			user->ctx->host->log(user->ctx->host, SLUICE_LOG_DEBUG,
			                     "%s/%s: not a folder name this server can show",
			                     user->root, e->d_name);
			continue;
		}
		if (maildir_list_add(l, name, strlen(name), true) != 0) {
			closedir(d);
			return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
		}
	}
	closedir(d);
	real_count = l->count;
	for (size_t i = 0; i < real_count; i++) {
		for (const char *p = l->items[i].name; (p = strchr(p, '/')) != NULL; p++) {
			if (maildir_list_add(l, l->items[i].name, (size_t)(p - l->items[i].name),
			                     false) != 0)
				return sluice_error_set(err, SLUICE_E_NOMEM, NULL,
				                        "Out of memory.");
		}
	}
	qsort(l->items, l->count, sizeof(*l->items), maildir_list_cmp);
	n = 0;
	for (size_t i = 0; i < l->count; i++) {
		if (n > 0 && strcmp(l->items[n - 1].name, l->items[i].name) == 0) {
			l->items[n - 1].real |= l->items[i].real;
			free(l->items[i].name);
			continue;
		}
		l->items[n++] = l->items[i];
	}
	l->count = n;
	return 0;
}

int maildir_mailbox_list(struct sluice_storage_user *user, sluice_storage_mailbox_cb *cb, void *ctx,
                         struct sluice_error *err)
{
	struct maildir_list l = {NULL, 0, 0};
	struct maildir_special *special = NULL;
	char **subs = NULL;
	size_t nsubs = 0, nspecial = 0;
	int ret;

	ret = maildir_list_collect(user, &l, err);
	if (ret == 0) {
		/* An unreadable subscriptions or special-use file (logged) costs the flags, not
		 * the listing. */
		struct sluice_error ignored = SLUICE_ERROR_INIT;
		maildir_subs_read(user, &subs, &nsubs, &ignored);
		maildir_special_read(user, &special, &nspecial, &ignored);
	}
	if (ret != 0) {
		maildir_list_free(&l);
		return ret;
	}
	for (size_t i = 0; i < l.count; i++) {
		const char *slash = strrchr(l.items[i].name, '/');
		if (slash != NULL) {
			struct maildir_list_entry *parent;
			char *up = strndup(l.items[i].name, (size_t)(slash - l.items[i].name));
			if (up == NULL) {
				ret = sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
				break;
			}
			parent = maildir_list_find(&l, up);
			free(up);
			if (parent != NULL)
				parent->attrs |= SLUICE_MAILBOX_HASCHILDREN;
		}
	}
	for (size_t i = 0; i < nsubs; i++) {
		struct maildir_list_entry *s = maildir_list_find(&l, subs[i]);
		if (s != NULL)
			s->attrs |= SLUICE_MAILBOX_SUBSCRIBED;
	}
	for (size_t i = 0; i < nspecial; i++) {
		struct maildir_list_entry *s = maildir_list_find(&l, special[i].name);
		if (s != NULL && s->real)
			s->attrs |= special[i].bits;
	}
	for (size_t i = 0; i < l.count && ret == 0; i++) {
		uint32_t attrs = l.items[i].attrs;
		if (!(attrs & SLUICE_MAILBOX_HASCHILDREN))
			attrs |= SLUICE_MAILBOX_HASNOCHILDREN;
		if (!l.items[i].real)
			attrs |= SLUICE_MAILBOX_NOSELECT;
		ret = cb(ctx, l.items[i].name, attrs);
	}
	/* RFC 3501 LSUB lists a subscription even after its mailbox is gone. */
	for (size_t i = 0; i < nsubs && ret == 0; i++)
		if (maildir_list_find(&l, subs[i]) == NULL)
			ret = cb(ctx, subs[i], SLUICE_MAILBOX_SUBSCRIBED | SLUICE_MAILBOX_NONEXISTENT);
	maildir_subs_free(subs, nsubs);
	maildir_special_free(special, nspecial);
	maildir_list_free(&l);
	return ret;
}

/* Makes @p dir a folder: the directory, cur/, new/, tmp/ and maildirfolder. */
static int maildir_make_folder(struct sluice_storage_user *user, const char *dir,
                               struct sluice_error *err)
{
	static const char *const subdirs[] = {"cur", "new", "tmp"};
	int fd, mfd;

	if (mkdirat(user->rootfd, dir, 0700) != 0) {
		if (errno != EEXIST)
			return maildir_syserr(user, err, SLUICE_E_IO, errno,
			                      "The mailbox could not be created.", "creating %s/%s",
			                      user->root, dir);
		if (maildir_is_maildir(user->rootfd, dir))
			return sluice_error_set(err, SLUICE_E_EXISTS, "ALREADYEXISTS",
			                        "The mailbox already exists.");
	}
	fd = openat(user->rootfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return maildir_syserr(user, err, SLUICE_E_IO, errno,
		                      "The mailbox could not be created.", "opening %s/%s",
		                      user->root, dir);
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if (mkdirat(fd, subdirs[i], 0700) != 0 && errno != EEXIST) {
			int ret = maildir_syserr(user, err, SLUICE_E_IO, errno,
			                         "The mailbox could not be created.",
			                         "creating %s/%s/%s", user->root, dir, subdirs[i]);
			close(fd);
			return ret;
		}
	}
	mfd = openat(fd, MAILDIR_FOLDER_MARKER, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (mfd < 0) {
		int ret = maildir_syserr(user, err, SLUICE_E_IO, errno,
		                         "The mailbox could not be created.", "creating %s/%s/%s",
		                         user->root, dir, MAILDIR_FOLDER_MARKER);
		close(fd);
		return ret;
	}
	close(mfd);
	close(fd);
	return 0;
}

/* Creates the missing parents of @p name as real folders (INBOX exists already). */
static int maildir_make_parents(struct sluice_storage_user *user, const char *name,
                                struct sluice_error *err)
{
	char *prefix = strdup(name);
	int ret = 0;

	if (prefix == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	for (char *p = prefix; ret == 0 && (p = strchr(p, '/')) != NULL; p++) {
		char *dir;
		*p = '\0';
		ret = maildir_folder_dir(prefix, &dir, err);
		*p = '/';
		if (ret != 0)
			break;
		if (!maildir_is_maildir(user->rootfd, dir)) {
			ret = maildir_make_folder(user, dir, err);
			if (ret == SLUICE_E_EXISTS)
				ret = 0;
		}
		free(dir);
	}
	free(prefix);
	return ret;
}

int maildir_mailbox_create(struct sluice_storage_user *user, const char *name,
                           struct sluice_error *err)
{
	char *dir;
	int ret;

	ret = maildir_folder_dir(name, &dir, err);
	if (ret != 0)
		return ret;
	maildir_user_flush(user);
	if (strcmp(dir, ".") == 0)
		ret = sluice_error_set(err, SLUICE_E_EXISTS, "ALREADYEXISTS",
		                       "The mailbox already exists.");
	if (ret == 0)
		ret = maildir_make_parents(user, name, err);
	if (ret == 0)
		ret = maildir_make_folder(user, dir, err);
	free(dir);
	return ret;
}

/* Removes a directory tree without following symbolic links and without leaving it. */
static int maildir_remove_tree(int parentfd, const char *name, int depth)
{
	struct dirent *e;
	int ret = 0;
	DIR *d;

	d = maildir_opendir_at(parentfd, name);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0 || errno == ENOENT)
			continue;
		if ((errno == EISDIR || errno == EPERM) && depth < MAILDIR_REMOVE_DEPTH &&
		    maildir_remove_tree(dirfd(d), e->d_name, depth + 1) == 0)
			continue;
		ret = -1;
	}
	closedir(d);
	if (unlinkat(parentfd, name, AT_REMOVEDIR) != 0)
		ret = -1;
	return ret;
}

static int maildir_notfound(struct sluice_error *err)
{
	return sluice_error_set(err, SLUICE_NOTFOUND, "NONEXISTENT", "The mailbox does not exist.");
}

int maildir_mailbox_delete(struct sluice_storage_user *user, const char *name,
                           struct sluice_error *err)
{
	char trash[MAILDIR_UNIQUE_MAX + 32], unique[MAILDIR_UNIQUE_MAX];
	struct stat st;
	char *dir;
	int ret;

	ret = maildir_folder_dir(name, &dir, err);
	if (ret != 0)
		return ret;
	maildir_user_flush(user);
	if (strcmp(dir, ".") == 0) {
		free(dir);
		return sluice_error_set(err, SLUICE_E_PERM, "CANNOT", "INBOX cannot be deleted.");
	}
	if (fstatat(user->rootfd, dir, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) ||
	    !maildir_is_maildir(user->rootfd, dir)) {
		free(dir);
		return maildir_notfound(err);
	}
	/* Out of sight first, in one rename, so no one opens a half-deleted folder. */
	maildir_unique_name(user->ctx, unique);
	snprintf(trash, sizeof(trash), "..deleted.%s", unique);
	if (renameat(user->rootfd, dir, user->rootfd, trash) != 0) {
		ret = errno == ENOENT
		          ? maildir_notfound(err)
		          : maildir_syserr(user, err, SLUICE_E_IO, errno,
		                           "The mailbox could not be deleted.",
		                           "renaming %s/%s to %s", user->root, dir, trash);
		free(dir);
		return ret;
	}
	if (maildir_remove_tree(user->rootfd, trash, 0) != 0)
		user->ctx->host->log(user->ctx->host, SLUICE_LOG_WARNING,
		                     "maildir of %s: could not remove all of %s/%s (was %s): %s",
		                     user->name, user->root, trash, dir, strerror(errno));
	free(dir);
	/* The folder is gone; a stale special use would only mislead (and is logged). */
	struct sluice_error ignored = SLUICE_ERROR_INIT;
	maildir_special_forget(user, name, &ignored);
	return 0;
}

/* Whether @p e is @p dir itself or a directory below it ("dir." prefix). */
static bool maildir_dir_under(const char *e, const char *dir, size_t len)
{
	return strncmp(e, dir, len) == 0 && (e[len] == '\0' || e[len] == '.');
}

/* Moves the messages of INBOX's @p sub (cur or new) into @p tofd's. */
static int maildir_move_files(struct sluice_storage_user *user, int fromfd, int tofd,
                              const char *sub, const char *todir, struct sluice_error *err)
{
	int sfd = openat(fromfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int dfd = openat(tofd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *e;
	int ret = 0;
	DIR *d = NULL;

	if (sfd < 0 || dfd < 0 || (d = fdopendir(sfd)) == NULL) {
		ret = maildir_syserr(
		    user, err, SLUICE_E_IO, errno, "The mailbox could not be renamed.",
		    "opening %s/%s or %s/%s/%s", user->root, sub, user->root, todir, sub);
		if (sfd >= 0)
			close(sfd);
		if (dfd >= 0)
			close(dfd);
		return ret;
	}
	while (ret == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (renameat(dirfd(d), e->d_name, dfd, e->d_name) != 0 && errno != ENOENT)
			ret = maildir_syserr(user, err, SLUICE_E_IO, errno,
			                     "Some messages could not be moved out of INBOX.",
			                     "moving %s/%s/%s to %s/%s", user->root, sub, e->d_name,
			                     todir, sub);
	}
	closedir(d);
	if (ret == 0 && user->fsync && fsync(dfd) != 0)
		ret = maildir_syserr(user, err, SLUICE_E_IO, errno, MAILDIR_MSG_INTERNAL,
		                     "fsync of %s/%s/%s", user->root, todir, sub);
	close(dfd);
	return ret;
}

/* Whether a folder named by @p dir exists, really or as the parent of others. */
static int maildir_dir_exists(struct sluice_storage_user *user, const char *dir, bool *exists_r,
                              char ***entries_r, size_t *count_r, struct sluice_error *err)
{
	size_t len = strlen(dir), count = 0, cap = 0;
	char **entries = NULL;
	struct dirent *e;
	DIR *d;

	*exists_r = false;
	d = maildir_opendir_at(user->rootfd, ".");
	if (d == NULL)
		return maildir_syserr(user, err, SLUICE_E_IO, errno, MAILDIR_MSG_INTERNAL,
		                      "reading %s", user->root);
	while ((e = readdir(d)) != NULL) {
		if (!maildir_dir_under(e->d_name, dir, len))
			continue;
		if (maildir_is_maildir(user->rootfd, e->d_name))
			*exists_r = true;
		if (entries_r == NULL)
			continue;
		if (count == cap) {
			char **bigger =
			    realloc(entries, (cap = cap == 0 ? 8 : cap * 2) * sizeof(char *));
			if (bigger == NULL)
				break;
			entries = bigger;
		}
		if ((entries[count] = strdup(e->d_name)) == NULL)
			break;
		count++;
	}
	closedir(d);
	if (entries_r != NULL) {
		*entries_r = entries;
		*count_r = count;
		if (e != NULL) {
			maildir_subs_free(entries, count);
			return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
		}
	}
	return 0;
}

static int maildir_exists_error(struct sluice_error *err)
{
	return sluice_error_set(err, SLUICE_E_EXISTS, "ALREADYEXISTS",
	                        "The target mailbox already exists.");
}

static int maildir_rename_inbox(struct sluice_storage_user *user, const char *to, const char *tdir,
                                struct sluice_error *err)
{
	char *kwdata = NULL;
	size_t kwlen;
	bool exists;
	int ret, tfd;

	ret = maildir_dir_exists(user, tdir, &exists, NULL, NULL, err);
	if (ret == 0 && exists)
		ret = maildir_exists_error(err);
	if (ret == 0)
		ret = maildir_make_parents(user, to, err);
	if (ret == 0)
		ret = maildir_make_folder(user, tdir, err);
	if (ret != 0)
		return ret;
	tfd = openat(user->rootfd, tdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0)
		return maildir_syserr(user, err, SLUICE_E_IO, errno,
		                      "The mailbox could not be renamed.", "opening %s/%s",
		                      user->root, tdir);
	/* The keyword letters of the moved messages must keep their meaning. */
	pthread_mutex_lock(&user->ctx->file_lock);
	ret = maildir_file_read(user, user->rootfd, user->root, MAILDIR_KEYWORDS_FILE, &kwdata,
	                        &kwlen, err);
	if (ret == SLUICE_NOTFOUND)
		ret = 0;
	else if (ret == 0)
		ret = maildir_file_replace(user, tfd, tdir, MAILDIR_KEYWORDS_FILE, kwdata, kwlen,
		                           err);
	pthread_mutex_unlock(&user->ctx->file_lock);
	free(kwdata);
	if (ret == 0)
		ret = maildir_move_files(user, user->rootfd, tfd, "new", tdir, err);
	if (ret == 0)
		ret = maildir_move_files(user, user->rootfd, tfd, "cur", tdir, err);
	close(tfd);
	return ret;
}

int maildir_mailbox_rename(struct sluice_storage_user *user, const char *from, const char *to,
                           struct sluice_error *err)
{
	char *fdir = NULL, *tdir = NULL, **entries = NULL;
	size_t flen, count = 0;
	bool exists;
	int ret;

	ret = maildir_folder_dir(from, &fdir, err);
	if (ret == 0)
		ret = maildir_folder_dir(to, &tdir, err);
	if (ret != 0)
		goto out;
	maildir_user_flush(user);
	flen = strlen(fdir);
	if (strcmp(tdir, ".") == 0 || strcmp(fdir, tdir) == 0) {
		ret = maildir_exists_error(err);
		goto out;
	}
	if (strcmp(fdir, ".") == 0) {
		ret = maildir_rename_inbox(user, to, tdir, err);
		goto out;
	}
	if (maildir_dir_under(tdir, fdir, flen)) {
		ret = sluice_error_set(err, SLUICE_E_PERM, "CANNOT",
		                       "A mailbox cannot be moved into its own children.");
		goto out;
	}
	ret = maildir_dir_exists(user, tdir, &exists, NULL, NULL, err);
	if (ret == 0 && exists)
		ret = maildir_exists_error(err);
	if (ret == 0)
		ret = maildir_dir_exists(user, fdir, &exists, &entries, &count, err);
	if (ret == 0 && !exists)
		ret = maildir_notfound(err);
	if (ret == 0)
		ret = maildir_make_parents(user, to, err);
	for (size_t i = 0; ret == 0 && i < count; i++) {
		char target[NAME_MAX + 1];
		if ((size_t)snprintf(target, sizeof(target), "%s%s", tdir, entries[i] + flen) >=
		    sizeof(target)) {
			ret = sluice_error_set(err, SLUICE_E_PARSE, "CANNOT",
			                       "The new mailbox name is too long.");
			break;
		}
		if (maildir_rename_noreplace(user->rootfd, entries[i], user->rootfd, target) != 0)
			ret = errno == EEXIST ? maildir_exists_error(err)
			                      : maildir_syserr(user, err, SLUICE_E_IO, errno,
			                                       "The mailbox could not be renamed.",
			                                       "renaming %s/%s to %s", user->root,
			                                       entries[i], target);
	}
	if (ret == 0) {
		/* The folders moved; stale subscriptions are a nuisance, not a failure. */
		struct sluice_error ignored = SLUICE_ERROR_INIT;
		maildir_subs_rename(user, from, to, &ignored);
		maildir_special_rename(user, from, to, &ignored);
	}
out:
	maildir_subs_free(entries, count);
	free(fdir);
	free(tdir);
	return ret;
}
