/*
 * Where a user's index lives and the table of open LMDB environments.
 *
 * The `path` setting is a template. Its user-derived parts (%u, %n, %d) may not contain
 * a slash or begin with a dot, and %u and %n may not be empty, so whatever a user is
 * called, the result stays the directory the administrator meant; anything else is
 * SLUICE_E_PERM. Missing directories are created with mode 0700.
 *
 * LMDB must not open one environment twice in a process: closing the second handle
 * would drop the first one's POSIX locks. All sessions of a user therefore share one
 * environment, found in a table under the module's mutex and counted by reference. The
 * table's key is the identity (device and inode) of data.mdb rather than its path, which
 * is right through symlinks and bind mounts, and also after the core has deleted a
 * damaged index and its directory was created again: the new data.mdb is a new file,
 * and gets an environment of its own instead of the stale one. A caller shares an open
 * environment only if it may open data.mdb for writing itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lmdb-index.h"

#define LMDB_MAX_DBS 6

static const char LMDB_META_FORMAT[] = "format";
static const char LMDB_META_NEXT_ID[] = "next_mailbox_id";

int lmdb_path_check(const char *tmpl, struct sluice_error *err)
{
	if (tmpl[0] != '/' && strncmp(tmpl, "%h", 2) != 0 &&
	    !(tmpl[0] == '~' && (tmpl[1] == '\0' || tmpl[1] == '/')))
		return sluice_error_set(err, SLUICE_E_CONFIG, NULL,
		                        "lmdb: path must be absolute: begin with /, ~/ or %%h.");
	for (const char *p = tmpl; *p != '\0'; p++) {
		if (*p != '%')
			continue;
		p++;
		if (*p == '\0' || strchr("hund%", *p) == NULL)
			return sluice_error_set(
			    err, SLUICE_E_CONFIG, NULL,
			    "lmdb: path may use only %%h, %%u, %%n, %%d and %%%%.");
	}
	return 0;
}

struct lmdb_path_buf {
	char s[PATH_MAX];
	size_t len;
};

static int path_append(struct lmdb_path_buf *b, const char *s, size_t len, struct sluice_error *err)
{
	if (len >= sizeof(b->s) - b->len)
		return sluice_error_set(err, SLUICE_E_LIMIT, NULL,
		                        "The mail index path is too long.");
	memcpy(b->s + b->len, s, len);
	b->len += len;
	b->s[b->len] = '\0';
	return 0;
}

/* Appends a part of the user's name; the checks are what keep the path in its place. */
static int path_append_name(struct lmdb_path_buf *b, const char *s, size_t len, bool may_be_empty,
                            struct sluice_error *err)
{
	if ((len == 0 && !may_be_empty) || (len > 0 && s[0] == '.') || memchr(s, '/', len) != NULL)
		return sluice_error_set(err, SLUICE_E_PERM, NULL,
		                        "This user name cannot be given a mail index.");
	return path_append(b, s, len, err);
}

static int path_append_home(struct lmdb_path_buf *b, const struct sluice_user *user,
                            struct sluice_error *err)
{
	if (user->home == NULL || user->home[0] != '/')
		return sluice_error_set(err, SLUICE_E_CONFIG, NULL,
		                        "The mail index needs a home directory, and this user "
		                        "has none.");
	return path_append(b, user->home, strlen(user->home), err);
}

static int lmdb_path_expand(const char *tmpl, const struct sluice_user *user, char **path_r,
                            struct sluice_error *err)
{
	struct lmdb_path_buf b = {.len = 0};
	const char *name = user->name != NULL ? user->name : "";
	const char *at = strchr(name, '@');
	size_t local_len = at != NULL ? (size_t)(at - name) : strlen(name);
	const char *domain = at != NULL ? at + 1 : "";
	const char *p = tmpl;
	int rc = 0;

	b.s[0] = '\0';
	if (p[0] == '~' && (p[1] == '\0' || p[1] == '/')) {
		rc = path_append_home(&b, user, err);
		p++;
	}
	for (; rc == 0 && *p != '\0'; p++) {
		const char *lit = strchr(p, '%');
		size_t n = lit != NULL ? (size_t)(lit - p) : strlen(p);

		if (n > 0) {
			rc = path_append(&b, p, n, err);
			p += n - 1;
			continue;
		}
		switch (*++p) {
		case 'h':
			rc = path_append_home(&b, user, err);
			break;
		case 'u':
			rc = path_append_name(&b, name, strlen(name), false, err);
			break;
		case 'n':
			rc = path_append_name(&b, name, local_len, false, err);
			break;
		case 'd':
			rc = path_append_name(&b, domain, strlen(domain), true, err);
			break;
		case '%':
			rc = path_append(&b, "%", 1, err);
			break;
		default:
			/* lmdb_path_check() refused this template at init. */
			return sluice_error_set(err, SLUICE_E_CONFIG, NULL,
			                        "lmdb: bad path template.");
		}
	}
	if (rc < 0)
		return rc;
	if (b.s[0] != '/')
		return sluice_error_set(err, SLUICE_E_CONFIG, NULL,
		                        "The mail index path is not absolute.");
	*path_r = strdup(b.s);
	if (*path_r == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	return 0;
}

/* mkdir -p with mode 0700; returns 0 or an errno value. */
static int make_dirs(char *path)
{
	struct stat st;

	for (char *p = path + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			int e = errno;
			*p = c;
			return e;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	if (stat(path, &st) != 0)
		return errno;
	return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

/* Opens the sub-databases and checks that the index has the layout this module writes. */
static int env_prepare(struct lmdb_env *e, struct sluice_error *err)
{
	MDB_txn *txn;
	MDB_val k, v;
	uint8_t buf[4];
	int rc;

	rc = mdb_txn_begin(e->env, NULL, 0, &txn);
	if (rc != 0)
		return lmdb_error(e, rc, "starting the first transaction", err);
	if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &e->meta)) != 0 ||
	    (rc = mdb_dbi_open(txn, "mailboxes", MDB_CREATE, &e->mailboxes)) != 0 ||
	    (rc = mdb_dbi_open(txn, "messages", MDB_CREATE, &e->messages)) != 0 ||
	    (rc = mdb_dbi_open(txn, "keys", MDB_CREATE, &e->keys)) != 0 ||
	    (rc = mdb_dbi_open(txn, "modseqs", MDB_CREATE, &e->modseqs)) != 0 ||
	    (rc = mdb_dbi_open(txn, "expunges", MDB_CREATE, &e->expunges)) != 0) {
		mdb_txn_abort(txn);
		return lmdb_error(e, rc, "opening the sub-databases", err);
	}
	k.mv_data = (void *)LMDB_META_FORMAT;
	k.mv_size = sizeof(LMDB_META_FORMAT) - 1;
	rc = mdb_get(txn, e->meta, &k, &v);
	if (rc == 0) {
		if (v.mv_size != 4 || lmdb_get32(v.mv_data) != LMDB_FORMAT_VERSION) {
			mdb_txn_abort(txn);
			return lmdb_corrupt(e, "format version (written by another version?)", err);
		}
		/* Only a commit keeps the handles mdb_dbi_open gave; it writes nothing here. */
		rc = mdb_txn_commit(txn);
		return rc == 0 ? 0 : lmdb_error(e, rc, "opening the index", err);
	}
	if (rc == MDB_NOTFOUND) {
		MDB_stat st;

		/* A new index; one with mailboxes but no format was not written by us. */
		rc = mdb_stat(txn, e->mailboxes, &st);
		if (rc == 0 && st.ms_entries != 0) {
			mdb_txn_abort(txn);
			return lmdb_corrupt(e, "index without a format version", err);
		}
		lmdb_put32(buf, LMDB_FORMAT_VERSION);
		v.mv_data = buf;
		v.mv_size = sizeof(buf);
		if (rc == 0)
			rc = mdb_put(txn, e->meta, &k, &v, 0);
		k.mv_data = (void *)LMDB_META_NEXT_ID;
		k.mv_size = sizeof(LMDB_META_NEXT_ID) - 1;
		lmdb_put32(buf, 1);
		if (rc == 0)
			rc = mdb_put(txn, e->meta, &k, &v, 0);
		if (rc == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
		return rc == 0 ? 0 : lmdb_error(e, rc, "creating the index", err);
	}
	mdb_txn_abort(txn);
	return lmdb_error(e, rc, "reading the format version", err);
}

/* Reads the next mailbox id and reserves it; ids are never handed out twice. */
int lmdb_env_next_id(struct lmdb_env *e, MDB_txn *txn, uint32_t *id_r, struct sluice_error *err)
{
	MDB_val k = {sizeof(LMDB_META_NEXT_ID) - 1, (void *)LMDB_META_NEXT_ID}, v;
	uint8_t buf[4];
	uint32_t id;
	int rc;

	rc = mdb_get(txn, e->meta, &k, &v);
	if (rc != 0)
		return rc == MDB_NOTFOUND ? lmdb_corrupt(e, "index without a mailbox counter", err)
		                          : lmdb_error(e, rc, "reading the mailbox counter", err);
	if (v.mv_size != 4 || (id = lmdb_get32(v.mv_data)) == 0)
		return lmdb_corrupt(e, "mailbox counter", err);
	if (id == UINT32_MAX)
		return sluice_error_set(err, SLUICE_E_LIMIT, "LIMIT",
		                        "This mail index has created too many mailboxes.");
	lmdb_put32(buf, id + 1);
	v.mv_data = buf;
	v.mv_size = sizeof(buf);
	rc = mdb_put(txn, e->meta, &k, &v, 0);
	if (rc != 0)
		return lmdb_error(e, rc, "counting mailboxes", err);
	*id_r = id;
	return 0;
}

static void env_free(struct lmdb_env *e)
{
	if (e->env != NULL)
		mdb_env_close(e->env);
	free(e->path);
	free(e);
}

static int env_open(struct lmdb_ctx *ctx, const char *path, const struct lmdb_settings *set,
                    struct lmdb_env **env_r, struct sluice_error *err)
{
	struct lmdb_env *e = calloc(1, sizeof(*e));
	unsigned flags = MDB_NOTLS | (set->sync ? 0 : MDB_NOSYNC);
	size_t map_size = set->map_size > SIZE_MAX ? SIZE_MAX : (size_t)set->map_size;
	struct stat st;
	mdb_filehandle_t fd;
	int rc, dead;

	if (e == NULL || (e->path = strdup(path)) == NULL) {
		free(e);
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	}
	e->ctx = ctx;
	rc = mdb_env_create(&e->env);
	if (rc != 0) {
		e->env = NULL;
		env_free(e);
		return lmdb_error(NULL, rc, "creating an environment", err);
	}
	if ((rc = mdb_env_set_mapsize(e->env, map_size)) != 0 ||
	    (rc = mdb_env_set_maxreaders(e->env, set->max_readers)) != 0 ||
	    (rc = mdb_env_set_maxdbs(e->env, LMDB_MAX_DBS)) != 0 ||
	    (rc = mdb_env_open(e->env, path, flags, 0600)) != 0 ||
	    (rc = mdb_env_get_fd(e->env, &fd)) != 0) {
		rc = lmdb_error(e, rc, "opening", err);
		env_free(e);
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = errno;
		rc = lmdb_error(e, rc, "looking at data.mdb", err);
		env_free(e);
		return rc;
	}
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	e->max_key = (size_t)mdb_env_get_maxkeysize(e->env);
	if (e->max_key > LMDB_KEY_MAX)
		e->max_key = LMDB_KEY_MAX;
	/* Reader slots left behind by a process that crashed would never be freed. */
	if (mdb_reader_check(e->env, &dead) == 0 && dead > 0)
		ctx->host->log(ctx->host, SLUICE_LOG_INFO, "index %s: cleared %d stale readers",
		               path, dead);
	rc = env_prepare(e, err);
	if (rc < 0) {
		env_free(e);
		return rc;
	}
	ctx->host->log(ctx->host, SLUICE_LOG_DEBUG, "index %s: opened", path);
	*env_r = e;
	return 0;
}

/* The shared environment for @path, opened if needed. Called with ctx->lock held. */
static int env_get(struct lmdb_ctx *ctx, const char *path, const struct lmdb_settings *set,
                   struct lmdb_env **env_r, struct sluice_error *err)
{
	char data[PATH_MAX];
	struct stat st;
	int rc;

	if (snprintf(data, sizeof(data), "%s/data.mdb", path) >= (int)sizeof(data))
		return sluice_error_set(err, SLUICE_E_LIMIT, NULL,
		                        "The mail index path is too long.");
	/* Opened, not just stat()ed, for writing: an open environment is shared only with a
	 * caller who could have opened its files itself (the core calls user_open acting as
	 * the user, so another user's index stays closed even if its folder can be seen). */
	int fd = open(data, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0 && fstat(fd, &st) == 0) {
		for (struct lmdb_env *e = ctx->envs; e != NULL; e = e->next) {
			if (e->dev == st.st_dev && e->ino == st.st_ino) {
				close(fd);
				e->refs++;
				*env_r = e;
				return 0;
			}
		}
	}
	if (fd >= 0)
		close(fd);
	rc = env_open(ctx, path, set, env_r, err);
	if (rc < 0)
		return rc;
	(*env_r)->refs = 1;
	(*env_r)->next = ctx->envs;
	ctx->envs = *env_r;
	return 0;
}

int lmdb_user_open(void *modctx, const struct sluice_user *user, struct sluice_index_user **user_r,
                   struct sluice_error *err)
{
	struct lmdb_ctx *ctx = modctx;
	struct sluice_index_user *u;
	struct lmdb_settings set;
	char *path = NULL;
	int rc;

	*user_r = NULL;
	pthread_mutex_lock(&ctx->lock);
	set = ctx->set;
	set.path = strdup(ctx->set.path);
	pthread_mutex_unlock(&ctx->lock);
	if (set.path == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	rc = lmdb_path_expand(set.path, user, &path, err);
	if (rc < 0)
		goto out;
	rc = make_dirs(path);
	if (rc != 0) {
		ctx->host->log(ctx->host, SLUICE_LOG_WARNING,
		               "index %s: creating the directory: %s", path, strerror(rc));
		rc = lmdb_error(NULL, rc, "creating the directory", err);
		goto out;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		rc = sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
		goto out;
	}
	pthread_mutex_lock(&ctx->lock);
	rc = env_get(ctx, path, &set, &u->env, err);
	pthread_mutex_unlock(&ctx->lock);
	if (rc < 0)
		free(u);
	else
		*user_r = u;
out:
	free(path);
	free(set.path);
	return rc;
}

void lmdb_user_close(struct sluice_index_user *user)
{
	struct lmdb_env *e;
	struct lmdb_ctx *ctx;

	if (user == NULL)
		return;
	e = user->env;
	ctx = e->ctx;
	/* Closing under the lock keeps a concurrent open from opening the files twice. */
	pthread_mutex_lock(&ctx->lock);
	if (--e->refs == 0) {
		for (struct lmdb_env **pp = &ctx->envs; *pp != NULL; pp = &(*pp)->next) {
			if (*pp == e) {
				*pp = e->next;
				break;
			}
		}
		env_free(e);
	}
	pthread_mutex_unlock(&ctx->lock);
	free(user);
}

void lmdb_envs_close_all(struct lmdb_ctx *ctx)
{
	pthread_mutex_lock(&ctx->lock);
	while (ctx->envs != NULL) {
		struct lmdb_env *e = ctx->envs;

		ctx->host->log(ctx->host, SLUICE_LOG_WARNING,
		               "index %s: still used by %u handles at shutdown", e->path, e->refs);
		ctx->envs = e->next;
		env_free(e);
	}
	pthread_mutex_unlock(&ctx->lock);
}
