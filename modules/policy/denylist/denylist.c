/*
 * denylist: a policy module that refuses chosen networks when they connect and chosen
 * users when they log in, with a message the administrator picks. Enabled in
 * modules.conf with
 *
 *   policy denylist {
 *     users = "bob mallory"
 *     networks = 192.0.2.0/24, 2001:db8::/32
 *     message = "Your account is suspended; call the help desk"
 *   }
 *
 * It is also the example module that docs/modules.md walks through, so it is written to
 * be read from top to bottom: settings table, the module's own state, the hooks, then
 * init, reload and deinit, and last the descriptor that ties them together.
 */
/* strdup, strndup and rwlocks are POSIX: ask for them, so the module builds with -std=c11. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sluice/sluice.h>

/*
 * 1. Settings. The core parses the block with this table and fills a struct
 * denylist_settings for us: we never parse configuration text ourselves. Its memory
 * belongs to the core and is replaced on reload, so the module copies what it keeps.
 */
struct denylist_settings {
	const char *users;                       /* names separated by spaces or commas */
	const struct sluice_cidr_list *networks; /* parsed and validated by the core */
	const char *message;                     /* shown to refused clients */
};

#define DS struct denylist_settings
static const struct sluice_setting denylist_settings_table[] = {
    SLUICE_SETTING_STRING("users", DS, users, NULL,
                          "user names refused at login, separated by spaces or commas"),
    SLUICE_SETTING_CIDR_LIST("networks", DS, networks, NULL,
                             "addresses and networks refused when they connect"),
    SLUICE_SETTING_STRING("message", DS, message, "Access denied by the administrator",
                          "the sentence refused clients see"),
    SLUICE_SETTING_END,
};
#undef DS

/* 2. The rules as the hooks use them: our own copy, freed when replaced. */
struct denylist_rules {
	char **users;
	size_t user_count;
	struct sluice_cidr_list *networks; /* NULL when none are listed */
	char *message;
};

/*
 * 3. The module's state, returned by init and passed back to every hook. Hooks run on
 * many worker threads at once while reload runs on the main thread, so the rules are
 * behind a read-write lock: hooks read, reload swaps the pointer.
 */
struct denylist {
	const struct sluice_host *host;
	pthread_rwlock_t lock;
	struct denylist_rules *rules;
};

static void rules_free(struct denylist_rules *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->user_count; i++)
		free(r->users[i]);
	free(r->users);
	free(r->networks);
	free(r->message);
	free(r);
}

static bool is_separator(char c)
{
	return c == ' ' || c == '\t' || c == ',';
}

/* Splits "bob, mallory" into separate names. Returns false when out of memory. */
static bool rules_add_users(struct denylist_rules *r, const char *list)
{
	const char *s = list;

	while (*s != '\0') {
		while (is_separator(*s))
			s++;
		size_t len = 0;
		while (s[len] != '\0' && !is_separator(s[len]))
			len++;
		if (len == 0)
			break;
		char **grown = realloc(r->users, (r->user_count + 1) * sizeof(*grown));
		if (grown == NULL)
			return false;
		r->users = grown;
		if ((r->users[r->user_count] = strndup(s, len)) == NULL)
			return false;
		r->user_count++;
		s += len;
	}
	return true;
}

static struct denylist_rules *rules_build(const struct denylist_settings *set)
{
	struct denylist_rules *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	if (set->users != NULL && !rules_add_users(r, set->users))
		goto fail;
	if (set->networks != NULL && set->networks->count > 0) {
		size_t bytes =
		    sizeof(*set->networks) + set->networks->count * sizeof(set->networks->items[0]);
		if ((r->networks = malloc(bytes)) == NULL)
			goto fail;
		memcpy(r->networks, set->networks, bytes);
	}
	/* An empty message would leave the client with a bare "NO [UNAVAILABLE]". */
	const char *msg = set->message != NULL && set->message[0] != '\0'
	                      ? set->message
	                      : "Access denied by the administrator";
	if ((r->message = strdup(msg)) == NULL)
		goto fail;
	return r;
fail:
	rules_free(r);
	return NULL;
}

/*
 * 4. The hooks. Each answers SLUICE_DECLINED (no opinion: the next policy module
 * decides) or SLUICE_E_REFUSED with a response code and a sentence for the client.
 */
static int denylist_connect(void *modctx, const struct sluice_policy_conn *conn,
                            struct sluice_error *err)
{
	struct denylist *dl = modctx;
	int rc = SLUICE_DECLINED;

	if (conn->peer == NULL)
		return SLUICE_DECLINED;
	pthread_rwlock_rdlock(&dl->lock);
	if (sluice_cidr_match(dl->rules->networks, conn->peer->remote))
		rc = sluice_error_set(err, SLUICE_E_REFUSED, "UNAVAILABLE", "%s",
		                      dl->rules->message);
	pthread_rwlock_unlock(&dl->lock);
	return rc;
}

static int denylist_login(void *modctx, const struct sluice_policy_conn *conn,
                          struct sluice_error *err)
{
	struct denylist *dl = modctx;
	int rc = SLUICE_DECLINED;

	if (conn->user == NULL)
		return SLUICE_DECLINED;
	pthread_rwlock_rdlock(&dl->lock);
	/* Case-insensitive: refusing "Bob" too is the safe side of a denylist. */
	for (size_t i = 0; i < dl->rules->user_count; i++) {
		if (strcasecmp(dl->rules->users[i], conn->user) == 0) {
			rc = sluice_error_set(err, SLUICE_E_REFUSED, "UNAVAILABLE", "%s",
			                      dl->rules->message);
			break;
		}
	}
	pthread_rwlock_unlock(&dl->lock);
	return rc;
}

/* 5. Life cycle: init and deinit run once on the main thread; reload on SIGHUP. */
static int denylist_init(const struct sluice_host *host, const void *conf, void **modctx_r,
                         struct sluice_error *err)
{
	struct denylist *dl = calloc(1, sizeof(*dl));

	if (dl == NULL || (dl->rules = rules_build(conf)) == NULL) {
		free(dl);
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "out of memory");
	}
	if (pthread_rwlock_init(&dl->lock, NULL) != 0) {
		rules_free(dl->rules);
		free(dl);
		return sluice_error_set(err, SLUICE_E_INTERNAL, NULL, "cannot create a lock");
	}
	dl->host = host;
	host->log(host, SLUICE_LOG_INFO, "refusing %zu users and %zu networks",
	          dl->rules->user_count, dl->rules->networks ? dl->rules->networks->count : 0);
	*modctx_r = dl;
	return 0;
}

static int denylist_reload(void *modctx, const void *conf, struct sluice_error *err)
{
	struct denylist *dl = modctx;
	struct denylist_rules *fresh = rules_build(conf), *old;

	if (fresh == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "out of memory");
	pthread_rwlock_wrlock(&dl->lock);
	old = dl->rules;
	dl->rules = fresh;
	pthread_rwlock_unlock(&dl->lock);

	/* No hook can still see the old rules: they only read them under the lock. */
	dl->host->log(dl->host, SLUICE_LOG_INFO,
	              "reloaded: users %zu -> %zu, networks %zu -> %zu, message %s",
	              old->user_count, fresh->user_count, old->networks ? old->networks->count : 0,
	              fresh->networks ? fresh->networks->count : 0,
	              strcmp(old->message, fresh->message) == 0 ? "unchanged" : "changed");
	rules_free(old);
	return 0;
}

static void denylist_deinit(void *modctx)
{
	struct denylist *dl = modctx;

	pthread_rwlock_destroy(&dl->lock);
	rules_free(dl->rules);
	free(dl);
}

/* 6. The descriptor: the one symbol the core looks up, checked before anything runs. */
static const struct sluice_policy_ops denylist_ops = {
    .size = sizeof(struct sluice_policy_ops),
    .connect = denylist_connect,
    .login = denylist_login,
};

SLUICE_MODULE(.kind = SLUICE_KIND_POLICY, .name = "denylist", .version = "1.0",
              .description = "refuses listed users at login and listed networks at connect",
              .settings = denylist_settings_table, .conf_size = sizeof(struct denylist_settings),
              .init = denylist_init, .deinit = denylist_deinit, .reload = denylist_reload,
              .ops = &denylist_ops);
