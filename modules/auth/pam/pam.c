/*
 * The pam passdb module: logins with a system account's own password, checked by the
 * host's PAM stack, exactly as Courier's authdaemon and Dovecot do. Enabled with
 *
 *   auth pam {
 *     service = sluice          # /etc/pam.d/sluice, which includes common-auth
 *     mail = ~/Maildir          # optional: where these users' mail is
 *     first_valid_uid = 1000    # root and system accounts cannot log in
 *   }
 *
 * A login is checked in three steps. NSS must know the name (getpwnam_r, account.c):
 * otherwise the next passdb in modules.conf is asked, so a passwd-file of virtual users
 * and the system's accounts can share a server. An account below first_valid_uid is
 * passed on the same way, before PAM sees its password. Then the PAM service's auth and
 * account stacks run (conversation.c); an expired or locked account gets a NO that says
 * so. The user's uid, gid and home come from NSS: the core then touches the user's files
 * with exactly that identity (docs/security.md).
 *
 * A PAM stack may wait long for a network server; the core runs verify as a slow job on
 * part of the worker pool, and the stack's failure delay is handed back to the core,
 * which delays the answer on a timer instead of a sleeping thread.
 */
#include "pam-passdb.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PAMDB_VERSION
#define PAMDB_VERSION "0"
#endif

struct pamdb_settings {
	const char *service;
	const char *mail;
	unsigned first_valid_uid;
};

static const struct sluice_setting pamdb_settings_table[] = {
    SLUICE_SETTING_STRING("service", struct pamdb_settings, service, "sluice",
                          "The PAM service: its stacks are read from /etc/pam.d/<service>."),
    SLUICE_SETTING_STRING("mail", struct pamdb_settings, mail, NULL,
                          "Where these users' mail is, overriding the storage's root (~ is the "
                          "home, as in ~/Maildir); unset: the storage's root."),
    SLUICE_SETTING_UINT("first_valid_uid", struct pamdb_settings, first_valid_uid, "1000", 0,
                        4294967294u,
                        "Accounts with a lower uid (root, system accounts) cannot log in "
                        "through PAM; 0 allows every account."),
    SLUICE_SETTING_END,
};

/* The module's own copy of its settings, swapped as a whole on reload. */
struct pamdb_rules {
	char *service;
	char *mail;
	unsigned first_valid_uid;
};

struct pamdb_ctx {
	const struct sluice_host *host;
	pthread_mutex_t lock; /* guards rules against a reload */
	struct pamdb_rules rules;
};

static void pamdb_rules_free(struct pamdb_rules *r)
{
	free(r->service);
	free(r->mail);
	memset(r, 0, sizeof(*r));
}

static int pamdb_rules_build(const struct pamdb_settings *set, struct pamdb_rules *r,
                             struct sluice_error *err)
{
	const char *service = set != NULL && set->service != NULL ? set->service : "sluice";

	memset(r, 0, sizeof(*r));
	if (service[0] == '\0' || strchr(service, '/') != NULL || strlen(service) > 64)
		return sluice_error_set(err, SLUICE_E_CONFIG, NULL,
		                        "service must name a file in /etc/pam.d: a word without '/', "
		                        "such as sluice.");
	r->service = strdup(service);
	r->mail = set != NULL && set->mail != NULL && set->mail[0] != '\0' ? strdup(set->mail) : NULL;
	r->first_valid_uid = set != NULL ? set->first_valid_uid : 1000;
	if (r->service == NULL || (set != NULL && set->mail != NULL && set->mail[0] != '\0' && r->mail == NULL)) {
		pamdb_rules_free(r);
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	}
	return 0;
}

/* A copy of the rules for one call, so that a reload cannot pull them away. */
static int pamdb_rules_snapshot(struct pamdb_ctx *ctx, struct pamdb_rules *r,
                                struct sluice_error *err)
{
	struct pamdb_settings set;

	pthread_mutex_lock(&ctx->lock);
	set.service = ctx->rules.service;
	set.mail = ctx->rules.mail;
	set.first_valid_uid = ctx->rules.first_valid_uid;
	int ret = pamdb_rules_build(&set, r, err);
	pthread_mutex_unlock(&ctx->lock);
	return ret;
}

/* A name NSS and PAM may see: printable, no separators of passwd or paths. */
static bool pamdb_name_plausible(const char *name)
{
	if (name[0] == '\0' || name[0] == '-' || strlen(name) > 255)
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f || *p == ':' || *p == '/')
			return false;
	return true;
}

/* Finds the account and applies first_valid_uid; fills @p user_r from it. */
static int pamdb_find(struct pamdb_ctx *ctx, const struct pamdb_rules *rules, const char *name,
                      struct sluice_pool *pool, struct sluice_user *user_r, struct sluice_error *err)
{
	struct pamdb_account acct;
	int ret;

	if (!pamdb_name_plausible(name))
		return SLUICE_NOTFOUND;
	ret = pamdb_account_find(ctx->host, name, pool, &acct, err);
	if (ret != 0)
		return ret;
	if (acct.uid < rules->first_valid_uid) {
		ctx->host->log(ctx->host, SLUICE_LOG_INFO,
		               "system account %s (uid %ld) is below first_valid_uid %u: not served",
		               acct.name, (long)acct.uid, rules->first_valid_uid);
		return SLUICE_NOTFOUND;
	}
	user_r->name = acct.name;
	user_r->uid = acct.uid;
	user_r->gid = acct.gid;
	user_r->home = acct.home;
	user_r->mail = NULL;
	if (rules->mail != NULL) {
		user_r->mail = ctx->host->pool_strndup(pool, rules->mail, strlen(rules->mail));
		if (user_r->mail == NULL)
			return sluice_error_set(err, SLUICE_E_NOMEM, "UNAVAILABLE",
			                        "The server is out of memory.");
	}
	return 0;
}

static int pamdb_verify(void *modctx, const struct sluice_auth_request *req, struct sluice_pool *pool,
                        struct sluice_user *user_r, struct sluice_error *err)
{
	struct pamdb_ctx *ctx = modctx;
	struct pamdb_rules rules;
	struct pamdb_outcome out;
	struct sluice_user found = {0};
	int ret;

	ret = pamdb_rules_snapshot(ctx, &rules, err);
	if (ret != 0)
		return ret;
	ret = pamdb_find(ctx, &rules, req->user, pool, &found, err);
	if (ret != 0)
		goto done;
	if (req->password == NULL || req->password_len == 0) {
		ret = sluice_error_set(err, SLUICE_E_AUTH, "AUTHENTICATIONFAILED", "Authentication failed.");
		goto done;
	}
	ret = pamdb_transaction(ctx->host, rules.service, req, &out, err);
	if (ret != 0 && req->fail_delay_ms_r != NULL && out.delay_ms > *req->fail_delay_ms_r)
		*req->fail_delay_ms_r = out.delay_ms;
	if (ret != 0)
		goto done;
	/* A module may have mapped the name (case, realm): the account is the one PAM means. */
	if (strcmp(out.user, req->user) != 0 && strcmp(out.user, found.name) != 0) {
		ret = pamdb_find(ctx, &rules, out.user, pool, &found, err);
		if (ret == SLUICE_NOTFOUND) {
			ctx->host->log(ctx->host, SLUICE_LOG_WARNING,
			               "PAM accepted %s as %s, which the system does not know", req->user,
			               out.user);
			ret = sluice_error_set(err, SLUICE_E_AUTH, "AUTHENTICATIONFAILED",
			                       "Authentication failed.");
		}
		if (ret != 0)
			goto done;
	}
	*user_r = found;
done:
	pamdb_rules_free(&rules);
	return ret;
}

static int pamdb_lookup(void *modctx, const char *user, struct sluice_pool *pool,
                        struct sluice_user *user_r, struct sluice_error *err)
{
	struct pamdb_ctx *ctx = modctx;
	struct pamdb_rules rules;
	struct sluice_user found = {0};
	int ret = pamdb_rules_snapshot(ctx, &rules, err);

	if (ret != 0)
		return ret;
	ret = pamdb_find(ctx, &rules, user, pool, &found, err);
	if (ret == 0)
		*user_r = found;
	pamdb_rules_free(&rules);
	return ret;
}

static void pamdb_deinit(void *modctx)
{
	struct pamdb_ctx *ctx = modctx;

	if (ctx == NULL)
		return;
	pamdb_rules_free(&ctx->rules);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

static int pamdb_init(const struct sluice_host *host, const void *conf, void **modctx_r,
                      struct sluice_error *err)
{
	struct pamdb_ctx *ctx;
	int ret;

	*modctx_r = NULL;
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	ctx->host = host;
	pthread_mutex_init(&ctx->lock, NULL);
	ret = pamdb_rules_build(conf, &ctx->rules, err);
	if (ret != 0) {
		pamdb_deinit(ctx);
		return ret;
	}
	host->log(host, SLUICE_LOG_INFO,
	          "system logins through PAM service %s; accounts from NSS with uid >= %u; mail in %s",
	          ctx->rules.service, ctx->rules.first_valid_uid,
	          ctx->rules.mail != NULL ? ctx->rules.mail : "the storage's root");
	*modctx_r = ctx;
	return 0;
}

static int pamdb_reload(void *modctx, const void *conf, struct sluice_error *err)
{
	struct pamdb_ctx *ctx = modctx;
	struct pamdb_rules fresh, old;
	int ret = pamdb_rules_build(conf, &fresh, err);

	if (ret != 0)
		return ret;
	pthread_mutex_lock(&ctx->lock);
	old = ctx->rules;
	ctx->rules = fresh;
	pthread_mutex_unlock(&ctx->lock);
	pamdb_rules_free(&old);
	ctx->host->log(ctx->host, SLUICE_LOG_INFO, "reloaded: PAM service %s, first_valid_uid %u",
	               fresh.service, fresh.first_valid_uid);
	return 0;
}

static const struct sluice_passdb_ops pamdb_ops = {
    .size = sizeof(struct sluice_passdb_ops),
    .verify = pamdb_verify,
    .lookup = pamdb_lookup,
};

SLUICE_MODULE(.kind = SLUICE_KIND_PASSDB, .name = "pam", .version = PAMDB_VERSION,
              .description = "system accounts: passwords through PAM, uid, gid and home from NSS",
              .settings = pamdb_settings_table, .conf_size = sizeof(struct pamdb_settings),
              .init = pamdb_init, .deinit = pamdb_deinit, .reload = pamdb_reload, .ops = &pamdb_ops);
