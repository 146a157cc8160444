/*
 * A user's mail root: where it is, making sure it exists, and the user handle around it.
 *
 * The location is the user's `mail` field from the passdb when set (Dovecot's
 * `maildir:PATH` spelling is accepted, options after a second ':' are ignored), otherwise
 * the module's `root` template. Both expand `~` (at the start) and `%h` to the home
 * directory, `%u` to the user name, `%n` to its part before '@', `%d` to its domain (empty
 * when there is none) and `%%` to '%'. Because a login name ends up in a path, a name
 * containing '/' or starting with '.' is refused whatever the template, so that no user can
 * name a directory outside the one the template was written for (`../root`, `.`, `a/b`).
 *
 * The root is created (mode 0700, with any missing parents) together with its cur/, new/
 * and tmp/; afterwards every operation works relative to a descriptor of it, one per
 * directory in the process, shared by every session of that user. The core calls
 * user_open acting as the user (its filesystem uid and gid), so what is created belongs to
 * the user; a root that belongs to anyone else is refused with a log line that names the
 * owner.
 */
#include "maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct maildir_path {
	char buf[4096];
	size_t len;
	bool overflow;
};

static void path_add(struct maildir_path *p, const char *s, size_t n)
{
	if (p->len + n >= sizeof(p->buf)) {
		p->overflow = true;
		return;
	}
	memcpy(p->buf + p->len, s, n);
	p->len += n;
	p->buf[p->len] = '\0';
}

/* A user-supplied value may become a path fragment only when it cannot climb or split. */
static bool maildir_value_safe(const char *v, size_t n)
{
	if (n > 0 && v[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] == '/' || (unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return false;
	return true;
}

static int maildir_refuse_name(const struct maildir_ctx *ctx, const char *name,
                               struct sluice_error *err)
{
	ctx->host->log(ctx->host, SLUICE_LOG_WARNING,
	               "refusing the mail root of user name \"%s\": it would not stay inside the "
	               "configured directory",
	               name);
	return sluice_error_set(err, SLUICE_E_PERM, "NOPERM",
	                        "This user name cannot have a mailbox on this server.");
}

/*
 * Expands @p tmpl for @p user into @p out. A path component made only of variables that
 * expanded to nothing is dropped (an empty %d), except at the end, where it would make
 * the root the directory shared by every user.
 */
static int maildir_expand(const struct maildir_ctx *ctx, const char *tmpl,
                          const struct sluice_user *user, struct maildir_path *out,
                          struct sluice_error *err)
{
	const char *name = user->name != NULL ? user->name : "";
	const char *at = strchr(name, '@');
	size_t name_len = strlen(name), local_len = at != NULL ? (size_t)(at - name) : name_len;
	const char *domain = at != NULL ? at + 1 : "";
	size_t comp_start = 0;
	bool comp_literal = false, comp_subst = false;

	out->len = 0;
	out->overflow = false;
	out->buf[0] = '\0';
	for (const char *p = tmpl;; p++) {
		const char *v = NULL;
		size_t vn = 0;
		bool user_value = false;

		if (*p == '/' || *p == '\0') {
			bool empty = out->len == comp_start;
			if (empty && comp_subst && !comp_literal) {
				if (*p == '\0')
					return maildir_refuse_name(ctx, name, err);
				/* Drops the '/' before the empty component. */
				if (out->len > 0)
					out->len--;
				out->buf[out->len] = '\0';
			}
			if (*p == '\0')
				break;
			path_add(out, "/", 1);
			comp_start = out->len;
			comp_literal = comp_subst = false;
			continue;
		}
		if (*p == '~' && p == tmpl && (p[1] == '/' || p[1] == '\0')) {
			v = user->home;
		} else if (*p == '%') {
			p++;
			switch (*p) {
			case 'h':
				v = user->home;
				break;
			case 'u':
				v = name, vn = name_len, user_value = true;
				break;
			case 'n':
				v = name, vn = local_len, user_value = true;
				break;
			case 'd':
				v = domain, vn = strlen(domain), user_value = true;
				break;
			case '%':
				path_add(out, "%", 1);
				comp_literal = true;
				continue;
			default:
				return sluice_error_set(
				    err, SLUICE_E_CONFIG, NULL,
				    "The mail location template has an unknown "
				    "variable; use %%u, %%n, %%d, %%h or %%%%.");
			}
		} else {
			path_add(out, p, 1);
			comp_literal = true;
			continue;
		}
		if (user_value) {
			if (!maildir_value_safe(v, vn) || (vn == 0 && *p != 'd'))
				return maildir_refuse_name(ctx, name, err);
			comp_subst = true;
		} else {
			if (v == NULL || v[0] == '\0')
				return sluice_error_set(
				    err, SLUICE_E_CONFIG, NULL,
				    "The mail location needs a home directory and "
				    "this user has none.");
			vn = strlen(v);
			comp_literal = true;
		}
		path_add(out, v, vn);
	}
	if (out->overflow)
		return sluice_error_set(err, SLUICE_E_CONFIG, NULL,
		                        "The mail location is too long.");
	if (out->buf[0] != '/')
		return sluice_error_set(err, SLUICE_E_CONFIG, NULL,
		                        "The mail location must be an absolute path.");
	return 0;
}

/* The template to use: the passdb's mail field overrides the module's setting. */
static int maildir_location(struct maildir_ctx *ctx, const struct sluice_user *user,
                            struct maildir_path *out, bool *fsync_r, struct sluice_error *err)
{
	char tmpl[sizeof(out->buf)];
	const char *src;
	int ret;

	pthread_mutex_lock(&ctx->conf_lock);
	*fsync_r = ctx->set != NULL ? ctx->set->fsync : true;
	src = user->mail != NULL && user->mail[0] != '\0'
	          ? user->mail
	          : (ctx->set != NULL && ctx->set->root != NULL ? ctx->set->root : "~/Maildir");
	snprintf(tmpl, sizeof(tmpl), "%s", src);
	pthread_mutex_unlock(&ctx->conf_lock);

	if (user->mail != NULL && user->mail[0] != '\0') {
		char *colon;
		if (strncmp(tmpl, "maildir:", 8) == 0)
			memmove(tmpl, tmpl + 8, strlen(tmpl + 8) + 1);
		else if (tmpl[0] != '/' && tmpl[0] != '~' && strchr(tmpl, ':') != NULL)
			return sluice_error_set(err, SLUICE_E_CONFIG, NULL,
			                        "This user's mail is not stored as a Maildir.");
		colon = strchr(tmpl, ':');
		if (colon != NULL)
			*colon = '\0';
	}
	ret = maildir_expand(ctx, tmpl, user, out, err);
	return ret;
}

/* mkdir -p with mode 0700 for whatever is missing. */
static int maildir_mkdirs(char *path)
{
	for (char *p = path + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;
			*p = '\0';
			if (mkdir(path, 0700) != 0 && errno != EEXIST) {
				*p = saved;
				return -1;
			}
			*p = saved;
			if (saved == '\0')
				return 0;
		}
	}
}

/*
 * Shares the root descriptor just opened with the other sessions of the same directory
 * (device and inode, so a root that was removed and made again gets a descriptor of its
 * own). Every use of the descriptor is an *at() call or a reopen of ".", none moves a file
 * position, so sharing it between threads is safe. Without memory the session keeps its own.
 */
static void maildir_root_share(struct sluice_storage_user *u, const struct stat *st)
{
	struct maildir_ctx *ctx = u->ctx;
	size_t at = ((size_t)st->st_ino ^ (size_t)st->st_dev) % MAILDIR_ROOT_BUCKETS;
	struct maildir_root_ref *r;

	pthread_mutex_lock(&ctx->roots_lock);
	for (r = ctx->roots[at]; r != NULL; r = r->next)
		if (r->dev == st->st_dev && r->ino == st->st_ino)
			break;
	if (r != NULL) {
		close(u->rootfd);
		u->rootfd = r->fd;
		r->refs++;
	} else if ((r = calloc(1, sizeof(*r))) != NULL) {
		r->dev = st->st_dev;
		r->ino = st->st_ino;
		r->fd = u->rootfd;
		r->refs = 1;
		r->next = ctx->roots[at];
		ctx->roots[at] = r;
	}
	u->rootref = r;
	pthread_mutex_unlock(&ctx->roots_lock);
}

/* Gives the root descriptor back; the last session of a root closes it. */
static void maildir_root_unshare(struct sluice_storage_user *u)
{
	struct maildir_ctx *ctx = u->ctx;
	struct maildir_root_ref *r = u->rootref;

	if (r == NULL) {
		if (u->rootfd >= 0)
			close(u->rootfd);
		return;
	}
	pthread_mutex_lock(&ctx->roots_lock);
	if (--r->refs == 0) {
		size_t at = ((size_t)r->ino ^ (size_t)r->dev) % MAILDIR_ROOT_BUCKETS;
		struct maildir_root_ref **p = &ctx->roots[at];
		while (*p != r)
			p = &(*p)->next;
		*p = r->next;
		close(r->fd);
		free(r);
	}
	pthread_mutex_unlock(&ctx->roots_lock);
}

/* "1001 (bob)": a uid with its name when the system knows one, for log lines. */
static void maildir_uid_text(uid_t uid, char *buf, size_t size)
{
	struct passwd pw, *found = NULL;
	char tmp[1024];

	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &found) == 0 && found != NULL)
		snprintf(buf, size, "%ld (%s)", (long)uid, found->pw_name);
	else
		snprintf(buf, size, "%ld", (long)uid);
}

/*
 * The mail root belongs to someone other than the user: say exactly that, as Courier's
 * admins wished it had ("courier refused connections for a user whose Maildir..."), and
 * what fixes it. Only the owner matters: the group (Courier's stumbling block) does not.
 */
static int maildir_refuse_owner(struct sluice_storage_user *u, const struct sluice_user *user,
                                uid_t owner, struct sluice_error *err)
{
	char owner_text[300];

	maildir_uid_text(owner, owner_text, sizeof(owner_text));
	u->ctx->host->log(u->ctx->host, SLUICE_LOG_ERROR,
	                  "refusing the Maildir %s of %s (uid %ld): it belongs to uid %s; mail "
	                  "is opened only with its user's rights, so give it to the user "
	                  "(chown -R %s: %s) or point the user elsewhere",
	                  u->root, u->name, (long)user->uid, owner_text, u->name, u->root);
	return sluice_error_set(err, SLUICE_E_PERM, "NOPERM",
	                        "The mail folder of this account belongs to another user; the "
	                        "administrator has been told.");
}

static int maildir_root_prepare(struct sluice_storage_user *u, const struct sluice_user *user,
                                struct sluice_error *err)
{
	static const char *const subdirs[] = {"cur", "new", "tmp"};
	struct stat st;

	u->rootfd = open(u->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (u->rootfd < 0 && errno == ENOENT) {
		if (maildir_mkdirs(u->root) != 0)
			return maildir_syserr(u, err, SLUICE_E_IO, errno, MAILDIR_MSG_INTERNAL,
			                      "creating %s", u->root);
		u->ctx->host->log(u->ctx->host, SLUICE_LOG_INFO, "created Maildir %s for %s",
		                  u->root, u->name);
		u->rootfd = open(u->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (u->rootfd < 0) {
		int e = errno;
		/* Opened with the user's rights, someone else's 0700 Maildir is refused here. */
		if (e == EACCES && user->uid != (uid_t)-1 && stat(u->root, &st) == 0 &&
		    st.st_uid != user->uid)
			return maildir_refuse_owner(u, user, st.st_uid, err);
		return maildir_syserr(u, err, SLUICE_E_IO, e, MAILDIR_MSG_INTERNAL, "opening %s",
		                      u->root);
	}
	if (fstat(u->rootfd, &st) != 0)
		return maildir_syserr(u, err, SLUICE_E_IO, errno, MAILDIR_MSG_INTERNAL,
		                      "stat of %s", u->root);
	maildir_root_share(u, &st);
	if (user->uid != (uid_t)-1 && st.st_uid != user->uid)
		return maildir_refuse_owner(u, user, st.st_uid, err);
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++)
		if (mkdirat(u->rootfd, subdirs[i], 0700) != 0 && errno != EEXIST)
			return maildir_syserr(u, err, SLUICE_E_IO, errno, MAILDIR_MSG_INTERNAL,
			                      "creating %s/%s", u->root, subdirs[i]);
	return 0;
}

int maildir_user_open(void *modctx, const struct sluice_user *user,
                      struct sluice_storage_user **user_r, struct sluice_error *err)
{
	struct maildir_ctx *ctx = modctx;
	struct sluice_storage_user *u;
	struct maildir_path *path;
	bool do_fsync;
	int ret;

	*user_r = NULL;
	path = malloc(sizeof(*path));
	if (path == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	ret = maildir_location(ctx, user, path, &do_fsync, err);
	if (ret != 0) {
		if (ret == SLUICE_E_CONFIG)
			ctx->host->log(ctx->host, SLUICE_LOG_ERROR, "mail location of %s: %s",
			               user->name != NULL ? user->name : "?", err->msg);
		free(path);
		return ret;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL || (u->name = strdup(user->name != NULL ? user->name : "")) == NULL ||
	    (u->root = strdup(path->buf)) == NULL) {
		if (u != NULL)
			free(u->name);
		free(u);
		free(path);
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	}
	free(path);
	u->ctx = ctx;
	u->fsync = do_fsync;
	u->rootfd = -1;
	ret = maildir_root_prepare(u, user, err);
	if (ret != 0) {
		maildir_user_close(u);
		return ret;
	}
	*user_r = u;
	return 0;
}

void maildir_user_close(struct sluice_storage_user *user)
{
	if (user == NULL)
		return;
	maildir_user_flush(user);
	maildir_root_unshare(user);
	free(user->name);
	free(user->root);
	free(user);
}
