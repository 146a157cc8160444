/*
 * The passwd-file passdb module: users, password hashes, uids, homes and mail locations
 * from a Dovecot-style passwd file (see table.c for the format, scheme.c for the password
 * schemes). Enabled in modules.conf with
 *
 *   auth passwd-file {
 *     path = /etc/sluice/passwd
 *     check_interval = 1s
 *   }
 *
 * The file is read at start-up, where any malformed line stops the server with
 * "PATH:LINE: reason". Afterwards, logins notice when the file changed (at most once per
 * check_interval, by its size, times and inode) and read it again; then a malformed line
 * is logged and skipped, so one typo does not lock every user out, and a file that has
 * become unreadable leaves the previous users in place. Replacing the file by rename(2)
 * is the safe way to edit it: a login never sees a half-written file. SIGHUP re-reads
 * the file strictly, with the new settings.
 *
 * The table of users sits behind a read-write lock: logins copy what they need under the
 * read lock and hash the password after releasing it, so a slow hash never holds up a
 * re-read, and a re-read swaps in a fully built table under a short write lock.
 */
#include "passwd-file.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PWF_VERSION
#define PWF_VERSION "0"
#endif

#define PWF_AUTH_FAILED "Authentication failed."

struct pwf_settings {
	const char *path;
	uint64_t check_interval_ms;
};

struct pwf_ctx {
	const struct sluice_host *host;

	pthread_rwlock_t lock; /* guards table and path against a swap */
	struct pwf_table *table;
	char *path;

	/* Held by whoever checks or re-reads the file; guards id, digest, racy, read_errno. */
	pthread_mutex_t refresh_lock;
	struct pwf_file_id id;
	uint64_t digest;
	bool racy;
	int read_errno; /* the failure last logged, so an unreadable file logs once */

	_Atomic uint64_t check_interval_ms;
	_Atomic uint64_t next_check_ms;
};

/* What a login needs from an entry, copied out under the read lock. */
struct pwf_found {
	struct sluice_user user;
	enum pwf_scheme scheme;
	char *secret; /* malloc'd copy, wiped and freed by pwf_found_clear */
	size_t secret_len;
	char where[300]; /* "PATH:LINE", for log lines */
};

static const struct sluice_setting pwf_settings_table[] = {
    SLUICE_SETTING_STRING("path", struct pwf_settings, path, NULL,
                          "The passwd-file to read users from (required)."),
    SLUICE_SETTING_DURATION("check_interval", struct pwf_settings, check_interval_ms, "1s", 0, 0,
                            "How often at most a login checks whether the file changed; 0 "
                            "checks at every login."),
    SLUICE_SETTING_END,
};

static int pwf_check_settings(const struct pwf_settings *set, struct sluice_error *err)
{
	if (set == NULL || set->path == NULL || set->path[0] == '\0')
		return sluice_error_set(err, SLUICE_E_CONFIG, NULL,
		                        "The passwd-file module needs the path of its file: "
		                        "path = /etc/sluice/passwd.");
	return 0;
}

/* Reads and parses the file strictly, as at start-up and on SIGHUP. */
static int pwf_load_strict(const struct sluice_host *host, const char *path,
                           struct pwf_table **table_r, struct pwf_file *file_r,
                           struct sluice_error *err)
{
	int ret = pwf_file_read(path, file_r, err);
	if (ret != 0)
		return ret;
	if (file_r->world_readable)
		host->log(host, SLUICE_LOG_WARNING,
		          "%s is readable by every local user; its password hashes should not be "
		          "(chmod o-r)",
		          path);
	return pwf_table_parse(file_r, path, true, host, table_r, err);
}

static void pwf_remember(struct pwf_ctx *ctx, const struct pwf_file *file)
{
	ctx->id = file->id;
	ctx->digest = file->digest;
	ctx->racy = file->racy;
	ctx->read_errno = 0;
}

static void pwf_swap_table(struct pwf_ctx *ctx, struct pwf_table *table, char *path)
{
	struct pwf_table *old;
	char *old_path = NULL;

	pthread_rwlock_wrlock(&ctx->lock);
	old = ctx->table;
	ctx->table = table;
	if (path != NULL) {
		old_path = ctx->path;
		ctx->path = path;
	}
	pthread_rwlock_unlock(&ctx->lock);
	/* No reader holds a pointer into the old table once the write lock was granted. */
	pwf_table_free(&old);
	free(old_path);
}

static void pwf_schedule_check(struct pwf_ctx *ctx)
{
	atomic_store(&ctx->next_check_ms,
	             ctx->host->now_ms() + atomic_load(&ctx->check_interval_ms));
}

static void pwf_log_unreadable(struct pwf_ctx *ctx, int e, const char *msg)
{
	if (e == ctx->read_errno)
		return;
	ctx->read_errno = e;
	ctx->host->log(ctx->host, SLUICE_LOG_ERROR, "%s; keeping the %zu users read before", msg,
	               ctx->table->count);
}

/*
 * Re-reads the file when it changed. Only one thread checks at a time; the others carry
 * on with the current table rather than wait, since the change will be in place a moment
 * later anyway.
 */
static void pwf_refresh(struct pwf_ctx *ctx)
{
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct pwf_file_id id;
	struct pwf_table *table;
	struct pwf_file file;
	char msg[400];

	if (ctx->host->now_ms() < atomic_load(&ctx->next_check_ms))
		return;
	if (pthread_mutex_trylock(&ctx->refresh_lock) != 0)
		return;
	pwf_schedule_check(ctx);

	/* Only this thread and reload write ctx->path, both under refresh_lock. */
	if (pwf_file_stat(ctx->path, &id) < 0) {
		int e = errno;
		snprintf(msg, sizeof(msg), "%s: cannot stat the file: %s", ctx->path, strerror(e));
		pwf_log_unreadable(ctx, e, msg);
		goto out;
	}
	if (pwf_file_id_equal(&id, &ctx->id) && !ctx->racy && ctx->read_errno == 0)
		goto out;
	if (pwf_file_read(ctx->path, &file, &err) != 0) {
		pwf_log_unreadable(ctx, err.sys_errno != 0 ? err.sys_errno : ENOMEM, err.msg);
		goto out;
	}
	if (file.digest == ctx->digest && file.len == ctx->table->buf_len) {
		/* Same bytes (a touch, or a racy re-check): nothing to parse or announce. */
		if (ctx->read_errno != 0)
			ctx->host->log(ctx->host, SLUICE_LOG_INFO,
			               "%s can be read again; its users are unchanged", ctx->path);
		pwf_remember(ctx, &file);
		pwf_file_free(&file);
		goto out;
	}
	pwf_remember(ctx, &file);
	if (pwf_table_parse(&file, ctx->path, false, ctx->host, &table, &err) != 0) {
		/* Forget the new version so that the next check tries again. */
		ctx->digest = 0;
		ctx->racy = true;
		ctx->host->log(ctx->host, SLUICE_LOG_ERROR, "%s; keeping the users read before",
		               err.msg);
		goto out;
	}
	ctx->host->log(ctx->host, SLUICE_LOG_INFO, "%s changed: %zu users, %u lines skipped",
	               ctx->path, table->count, table->skipped);
	pwf_swap_table(ctx, table, NULL);
out:
	pthread_mutex_unlock(&ctx->refresh_lock);
}

static char *pwf_dup(struct pwf_ctx *ctx, struct sluice_pool *pool, const char *s, bool *oom)
{
	char *copy;

	if (s == NULL)
		return NULL;
	copy = ctx->host->pool_strndup(pool, s, strlen(s));
	if (copy == NULL)
		*oom = true;
	return copy;
}

static void pwf_found_clear(struct pwf_found *f)
{
	if (f->secret != NULL) {
		explicit_bzero(f->secret, f->secret_len);
		free(f->secret);
		f->secret = NULL;
	}
}

/* Copies a user out of the table; the password secret only when @want_secret. */
static int pwf_find(struct pwf_ctx *ctx, const char *name, struct sluice_pool *pool,
                    bool want_secret, struct pwf_found *f, struct sluice_error *err)
{
	const struct pwf_entry *e;
	bool oom = false;

	memset(f, 0, sizeof(*f));
	pthread_rwlock_rdlock(&ctx->lock);
	e = pwf_table_find(ctx->table, name);
	if (e == NULL) {
		pthread_rwlock_unlock(&ctx->lock);
		return SLUICE_NOTFOUND;
	}
	f->user.name = pwf_dup(ctx, pool, e->name, &oom);
	f->user.uid = e->uid;
	f->user.gid = e->gid;
	f->user.home = pwf_dup(ctx, pool, e->home, &oom);
	f->user.mail = pwf_dup(ctx, pool, e->mail, &oom);
	snprintf(f->where, sizeof(f->where), "%s:%u", ctx->path, e->line);
	if (want_secret) {
		f->scheme = e->scheme;
		f->secret_len = e->secret_len;
		f->secret = malloc(e->secret_len + 1);
		if (f->secret != NULL)
			memcpy(f->secret, e->secret, e->secret_len + 1);
		else
			oom = true;
	}
	pthread_rwlock_unlock(&ctx->lock);
	if (oom) {
		pwf_found_clear(f);
		return sluice_error_set(err, SLUICE_E_NOMEM, "UNAVAILABLE",
		                        "The server is out of memory.");
	}
	return 0;
}

static int pwf_verify(void *modctx, const struct sluice_auth_request *req, struct sluice_pool *pool,
                      struct sluice_user *user_r, struct sluice_error *err)
{
	struct pwf_ctx *ctx = modctx;
	const char *password = req->password != NULL ? req->password : "";
	struct pwf_found f;
	enum pwf_check check;
	int ret;

	pwf_refresh(ctx);
	ret = pwf_find(ctx, req->user, pool, true, &f, err);
	if (ret != 0)
		return ret;
	if (f.scheme == PWF_SCHEME_NONE) {
		ctx->host->log(ctx->host, SLUICE_LOG_DEBUG,
		               "user %s has an empty password field (%s) and cannot log in",
		               f.user.name, f.where);
		check = PWF_CHECK_MISMATCH;
	} else {
		check = pwf_password_check(f.scheme, f.secret, f.secret_len, password,
		                           req->password != NULL ? req->password_len : 0);
	}
	pwf_found_clear(&f);
	switch (check) {
	case PWF_CHECK_MATCH:
		*user_r = f.user;
		return 0;
	case PWF_CHECK_MISMATCH:
		return sluice_error_set(err, SLUICE_E_AUTH, NULL, PWF_AUTH_FAILED);
	case PWF_CHECK_UNUSABLE:
		ctx->host->log(ctx->host, SLUICE_LOG_ERROR,
		               "user %s cannot log in: libcrypt cannot check the password hash "
		               "on %s",
		               f.user.name, f.where);
		return sluice_error_set(err, SLUICE_E_AUTH, NULL, PWF_AUTH_FAILED);
	case PWF_CHECK_NOMEM:
	default:
		return sluice_error_set(err, SLUICE_E_NOMEM, "UNAVAILABLE",
		                        "The server is out of memory.");
	}
}

static int pwf_lookup(void *modctx, const char *user, struct sluice_pool *pool,
                      struct sluice_user *user_r, struct sluice_error *err)
{
	struct pwf_ctx *ctx = modctx;
	struct pwf_found f;
	int ret;

	pwf_refresh(ctx);
	ret = pwf_find(ctx, user, pool, false, &f, err);
	if (ret == 0)
		*user_r = f.user;
	return ret;
}

static void pwf_deinit(void *modctx)
{
	struct pwf_ctx *ctx = modctx;

	if (ctx == NULL)
		return;
	pwf_table_free(&ctx->table);
	free(ctx->path);
	pthread_mutex_destroy(&ctx->refresh_lock);
	pthread_rwlock_destroy(&ctx->lock);
	free(ctx);
}

static int pwf_init(const struct sluice_host *host, const void *conf, void **modctx_r,
                    struct sluice_error *err)
{
	const struct pwf_settings *set = conf;
	pthread_rwlockattr_t attr;
	struct pwf_file file;
	struct pwf_ctx *ctx;
	int ret;

	*modctx_r = NULL;
	ret = pwf_check_settings(set, err);
	if (ret != 0)
		return ret;
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	ctx->host = host;
	/* Prefer the writer: a re-read must not wait behind an endless stream of logins. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&ctx->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&ctx->refresh_lock, NULL);
	ctx->path = strdup(set->path);
	if (ctx->path == NULL) {
		pwf_deinit(ctx);
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	}
	ret = pwf_load_strict(host, ctx->path, &ctx->table, &file, err);
	if (ret != 0) {
		pwf_file_free(&file);
		pwf_deinit(ctx);
		return ret;
	}
	pwf_remember(ctx, &file);
	atomic_store(&ctx->check_interval_ms, set->check_interval_ms);
	pwf_schedule_check(ctx);
	host->log(host, SLUICE_LOG_INFO, "%s: %zu users", ctx->path, ctx->table->count);
	*modctx_r = ctx;
	return 0;
}

static int pwf_reload(void *modctx, const void *conf, struct sluice_error *err)
{
	struct pwf_ctx *ctx = modctx;
	const struct pwf_settings *set = conf;
	struct pwf_table *table = NULL;
	struct pwf_file file;
	char *path;
	int ret;

	ret = pwf_check_settings(set, err);
	if (ret != 0)
		return ret;
	path = strdup(set->path);
	if (path == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	pthread_mutex_lock(&ctx->refresh_lock);
	ret = pwf_load_strict(ctx->host, path, &table, &file, err);
	if (ret != 0) {
		pthread_mutex_unlock(&ctx->refresh_lock);
		pwf_file_free(&file);
		free(path);
		return ret;
	}
	pwf_remember(ctx, &file);
	pwf_swap_table(ctx, table, path);
	atomic_store(&ctx->check_interval_ms, set->check_interval_ms);
	pwf_schedule_check(ctx);
	ctx->host->log(ctx->host, SLUICE_LOG_INFO, "%s: %zu users", path, table->count);
	pthread_mutex_unlock(&ctx->refresh_lock);
	return 0;
}

static const struct sluice_passdb_ops pwf_ops = {
    .size = sizeof(struct sluice_passdb_ops),
    .verify = pwf_verify,
    .lookup = pwf_lookup,
};

SLUICE_MODULE(.kind = SLUICE_KIND_PASSDB, .name = "passwd-file", .version = PWF_VERSION,
              .description = "users and crypt(3) password hashes from a Dovecot-style passwd file",
              .settings = pwf_settings_table, .conf_size = sizeof(struct pwf_settings),
              .init = pwf_init, .deinit = pwf_deinit, .reload = pwf_reload, .ops = &pwf_ops);
