/*
 * The lmdb index module: what Sluice remembers about mail that Maildir does not (UIDs,
 * MODSEQs, expunge history, cached ENVELOPE and BODYSTRUCTURE) in one LMDB environment
 * per user, so that SELECT, FETCH of metadata, CONDSTORE and QRESYNC read no message
 * file. Enabled in modules.conf with
 *
 *   index lmdb {
 *     path = %h/.sluice-index
 *     map_size = 8G
 *   }
 *
 * This file holds the descriptor, the settings, the module's life cycle and the mapping
 * of LMDB's errors to Sluice's; env.c, txn.c and message.c do the work (lmdb-index.h
 * describes the layout on disk).
 *
 * Threads: every session of a user shares one environment, opened with MDB_NOTLS so a
 * read transaction may move between workers. A write transaction must end on the thread
 * that began it, because LMDB's writer lock is a mutex owned by that thread; index.h
 * promises exactly that, and txn.c logs loudly if it is ever broken.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lmdb-index.h"

#ifndef LMDB_MOD_VERSION
#define LMDB_MOD_VERSION "0"
#endif

static const struct sluice_setting lmdb_settings_table[] = {
    SLUICE_SETTING_STRING("path", struct lmdb_conf, path, "%h/.sluice-index",
                          "The user's index directory: %h or a leading ~ is the home, %u the "
                          "user, %n its local part, %d its domain, %% a percent sign."),
    SLUICE_SETTING_SIZE("map_size", struct lmdb_conf, map_size, "8G", 1024 * 1024, 0,
                        "The largest an index may grow (LMDB's map size); the file only "
                        "takes the space it uses."),
    SLUICE_SETTING_UINT("max_readers", struct lmdb_conf, max_readers, "126", 1, 1000000,
                        "Read transactions that may be open at once in one user's index."),
    SLUICE_SETTING_BOOL("sync", struct lmdb_conf, sync, "yes",
                        "Flush each commit to disk; no is faster but a power loss can "
                        "damage the index (it is then rebuilt)."),
    SLUICE_SETTING_END,
};

static void lmdb_log_mdb(const struct lmdb_env *env, int rc, const char *what)
{
	const struct sluice_host *host = env->ctx->host;

	host->log(host, SLUICE_LOG_WARNING, "index %s: %s: %s", env->path, what, mdb_strerror(rc));
}

/*
 * Turns an LMDB result into a Sluice one and logs the detail. Only the sentence reaches
 * the client, so it names neither the path nor LMDB's wording.
 */
int lmdb_error(const struct lmdb_env *env, int rc, const char *what, struct sluice_error *err)
{
	if (env != NULL)
		lmdb_log_mdb(env, rc, what);
	switch (rc) {
	case MDB_MAP_FULL:
		return sluice_error_set(err, SLUICE_E_LIMIT, "LIMIT",
		                        "The mail index has reached its size limit; the "
		                        "administrator must raise map_size.");
	case MDB_TXN_FULL:
		return sluice_error_set(err, SLUICE_E_LIMIT, "LIMIT",
		                        "The change is too large for one index transaction.");
	case MDB_READERS_FULL:
		return sluice_error_set(err, SLUICE_E_LIMIT, "LIMIT",
		                        "Too many readers are using this mail index at once; "
		                        "try again shortly.");
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_INCOMPATIBLE: /* a file of another program: "meta" is not a sub-database */
		return sluice_error_set(err, SLUICE_E_CORRUPT, NULL, "The mail index is damaged.");
	case MDB_MAP_RESIZED:
		return sluice_error_set(err, SLUICE_E_TEMPFAIL, "UNAVAILABLE",
		                        "The mail index is being resized; try again.");
	case ENOMEM:
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL,
		                        "Out of memory while using the mail index.");
	case EACCES:
	case EPERM:
		if (err != NULL)
			err->sys_errno = rc;
		return sluice_error_set(err, SLUICE_E_PERM, NULL,
		                        "The server may not open this mail index.");
	default:
		break;
	}
	if (rc > 0) {
		if (err != NULL)
			err->sys_errno = rc;
		return sluice_error_set(err, SLUICE_E_IO, NULL,
		                        "The mail index could not be read or written.");
	}
	return sluice_error_set(err, SLUICE_E_INTERNAL, NULL,
	                        "The mail index failed unexpectedly.");
}

int lmdb_corrupt(const struct lmdb_env *env, const char *what, struct sluice_error *err)
{
	const struct sluice_host *host = env->ctx->host;

	host->log(host, SLUICE_LOG_WARNING, "index %s: impossible %s", env->path, what);
	return sluice_error_set(err, SLUICE_E_CORRUPT, NULL, "The mail index is damaged.");
}

static int lmdb_settings_copy(const struct lmdb_conf *conf, struct lmdb_settings *set_r,
                              struct sluice_error *err)
{
	int rc;

	if (conf == NULL || conf->path == NULL || conf->path[0] == '\0')
		return sluice_error_set(err, SLUICE_E_CONFIG, NULL, "lmdb: path must be set.");
	rc = lmdb_path_check(conf->path, err);
	if (rc < 0)
		return rc;
	set_r->path = strdup(conf->path);
	if (set_r->path == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	set_r->map_size = conf->map_size;
	set_r->max_readers = conf->max_readers;
	set_r->sync = conf->sync;
	return 0;
}

static int lmdb_init(const struct sluice_host *host, const void *conf, void **modctx_r,
                     struct sluice_error *err)
{
	struct lmdb_ctx *ctx = calloc(1, sizeof(*ctx));
	int rc;

	*modctx_r = NULL;
	if (ctx == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	rc = lmdb_settings_copy(conf, &ctx->set, err);
	if (rc < 0) {
		free(ctx);
		return rc;
	}
	ctx->host = host;
	pthread_mutex_init(&ctx->lock, NULL);
	*modctx_r = ctx;
	return 0;
}

/* New settings apply to environments opened from now on; open ones keep theirs. */
static int lmdb_reload(void *modctx, const void *conf, struct sluice_error *err)
{
	struct lmdb_ctx *ctx = modctx;
	struct lmdb_settings set, old;
	int rc = lmdb_settings_copy(conf, &set, err);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&ctx->lock);
	old = ctx->set;
	ctx->set = set;
	pthread_mutex_unlock(&ctx->lock);
	free(old.path);
	return 0;
}

static void lmdb_deinit(void *modctx)
{
	struct lmdb_ctx *ctx = modctx;

	if (ctx == NULL)
		return;
	lmdb_envs_close_all(ctx);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx->set.path);
	free(ctx);
}

static const struct sluice_index_ops lmdb_ops = {
    .size = sizeof(struct sluice_index_ops),
    .user_open = lmdb_user_open,
    .user_close = lmdb_user_close,
    .txn_begin = lmdb_txn_begin,
    .txn_commit = lmdb_txn_commit,
    .txn_abort = lmdb_txn_abort,
    .mailbox_get = lmdb_mailbox_get,
    .mailbox_put = lmdb_mailbox_put,
    .mailbox_delete = lmdb_mailbox_delete,
    .mailbox_rename = lmdb_mailbox_rename,
    .message_put = lmdb_message_put,
    .message_get = lmdb_message_get,
    .message_find_key = lmdb_message_find_key,
    .message_expunge = lmdb_message_expunge,
    .message_iterate = lmdb_message_iterate,
    .message_changed_since = lmdb_message_changed_since,
    .expunged_since = lmdb_expunged_since,
};

SLUICE_MODULE(.kind = SLUICE_KIND_INDEX, .name = "lmdb", .version = LMDB_MOD_VERSION,
              .description = "UIDs, flags, MODSEQs and cached fields in one LMDB file per user",
              .settings = lmdb_settings_table, .conf_size = sizeof(struct lmdb_conf),
              .init = lmdb_init, .deinit = lmdb_deinit, .reload = lmdb_reload, .ops = &lmdb_ops);
