/*
 * Trash expiry jobs (see expiry.h). A job owns a copy of the user's identity and a reference
 * to the configuration of the login that queued it; it opens the user's mail like a login
 * does, walks the index records of each configured folder for INTERNALDATEs older than the
 * cut-off, and expunges those through the mailbox layer (storage, index and a new MODSEQ in
 * one go, exactly as EXPUNGE would). A small registry of running jobs keeps one job per user
 * and caps them at half the worker pool.
 */
#include "mailbox/expiry.h"

#include "auth/identity.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/mailbox-conf.h"
#include "imap/seqset.h"
#include "mailbox/mailbox.h"
#include "net/event.h"
#include "server.h"
#include "util/log.h"
#include "util/pool.h"

struct expiry_job {
	struct ev_job job;
	struct sluice_user user; /* strings owned */
	struct server_conf *conf;
	struct expiry_job *next; /* the registry of running jobs */
};

static pthread_mutex_t expiry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct expiry_job *expiry_running;
static unsigned expiry_count;

/* Adds @p x to the registry unless its user has a job or the pool's half is taken. */
static bool expiry_register(struct expiry_job *x)
{
	unsigned cap = ev_worker_count() / 2;
	bool ok = true;
	pthread_mutex_lock(&expiry_lock);
	if (expiry_count >= (cap > 0 ? cap : 1))
		ok = false;
	for (struct expiry_job *j = expiry_running; j != NULL && ok; j = j->next)
		ok = strcmp(j->user.name, x->user.name) != 0;
	if (ok) {
		x->next = expiry_running;
		expiry_running = x;
		expiry_count++;
	}
	pthread_mutex_unlock(&expiry_lock);
	return ok;
}

static void expiry_unregister(struct expiry_job *x)
{
	pthread_mutex_lock(&expiry_lock);
	for (struct expiry_job **p = &expiry_running; *p != NULL; p = &(*p)->next) {
		if (*p == x) {
			*p = x->next;
			expiry_count--;
			break;
		}
	}
	pthread_mutex_unlock(&expiry_lock);
}

static void expiry_free(struct expiry_job *x)
{
	free((char *)x->user.name);
	free((char *)x->user.home);
	free((char *)x->user.mail);
	server_conf_unref(&x->conf);
	free(x);
}

struct expiry_walk {
	int64_t cutoff;
	struct seqset set;
	uint32_t old, total;
	bool nomem;
};

static int expiry_collect(void *ctx, const struct sluice_index_message *msg)
{
	struct expiry_walk *w = ctx;
	w->total++;
	if (msg->internal_date >= w->cutoff)
		return 0;
	if (seqset_add(&w->set, msg->uid, msg->uid) != 0) {
		w->nomem = true;
		return 2; /* stop: 0 and 1 mean "go on" to an index walk */
	}
	w->old++;
	return 0;
}

/* The UIDs of @p box older than the cut-off, resolved in w->set. */
static int expiry_find_old(struct mailbox *box, struct expiry_walk *w, struct sluice_error *err)
{
	const struct sluice_index_ops *ix = box->user->index_ops;
	struct sluice_index_txn *txn;
	int r = ix->txn_begin(box->user->index, false, &txn, err);
	if (r != 0)
		return r > 0 ? SLUICE_E_INTERNAL : r;
	r = ix->message_iterate(txn, box->name, 1, expiry_collect, w, err);
	ix->txn_abort(txn);
	if (w->nomem)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	if (r == SLUICE_NOTFOUND)
		r = 0; /* an index that has not met the mailbox has nothing old in it */
	if (r != 0)
		return r > 0 ? SLUICE_E_INTERNAL : r;
	return seqset_resolve(&w->set, box->uidnext) < 0 ? SLUICE_E_INTERNAL : 0;
}

/* An age as the configuration would write it: 7d, 36h or 90m. */
static const char *expiry_age_text(uint64_t ms, char *buf, size_t len)
{
	static const struct {
		uint64_t ms;
		char unit;
	} units[] = {{86400000, 'd'}, {3600000, 'h'}, {60000, 'm'}};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms % units[i].ms == 0) {
			snprintf(buf, len, "%llu%c", (unsigned long long)(ms / units[i].ms), units[i].unit);
			return buf;
		}
	}
	snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
	return buf;
}

static void expiry_folder(struct mail_user *mu, const struct mailbox_expiry_rule *rule)
{
	struct sluice_error err = SLUICE_ERROR_INIT;
	char age[32];
	uint64_t started = ev_now_ms();
	struct mailbox *box = NULL;
	int r = mailbox_open(mu, rule->name, false, false, &box, &err);
	if (r == SLUICE_NOTFOUND)
		return; /* the user has no such folder */
	struct sluice_pool *pool = pool_create(4096, 0);
	struct expiry_walk w = {.cutoff = (int64_t)time(NULL) - (int64_t)(rule->max_age_ms / 1000)};
	struct mailbox_changes ch = {0};
	if (r == 0 && pool == NULL)
		r = sluice_error_set(&err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	if (r == 0) {
		seqset_init(&w.set, pool);
		r = expiry_find_old(box, &w, &err);
	}
	if (r == 0 && w.old > 0)
		r = mailbox_expunge_uids(box, &w.set, false, &ch, &err);
	if (r != 0)
		log_warning("trash expiry of %s failed: %s", rule->name, err.msg);
	else if (w.old > 0)
		log_info("trash expiry removed %u of %u messages from %s (older than %s) in %llu ms",
		         ch.n_expunged, w.total, rule->name, expiry_age_text(rule->max_age_ms, age, sizeof(age)),
		         (unsigned long long)(ev_now_ms() - started));
	mailbox_changes_free(&ch);
	pool_destroy(&pool);
	mailbox_close(&box);
}

static void expiry_run(struct ev_job *job)
{
	struct expiry_job *x = (struct expiry_job *)((char *)job - offsetof(struct expiry_job, job));
	char ctx[160];
	snprintf(ctx, sizeof(ctx), "expiry user=%s", x->user.name);
	log_set_context(ctx);
	if (!atomic_load(&server.shutting_down)) {
		struct mail_user *mu = NULL;
		struct sluice_error err = SLUICE_ERROR_INIT;
		if (mail_user_open(&x->user, &mu, &err) == 0 && mu != NULL) {
			/* The user's files are touched with the user's rights, as in a session. */
			if (identity_enter(&mu->id) == 0) {
				const struct mailbox_expiry_rules *rules = x->conf->trash_expiry;
				for (size_t i = 0;
				     i < rules->count && !atomic_load(&server.shutting_down); i++)
					expiry_folder(mu, &rules->items[i]);
				identity_leave();
			} else {
				log_error("trash expiry skipped: cannot take on the user's identity");
			}
		}
		mail_user_close(&mu);
	}
	expiry_unregister(x);
	expiry_free(x);
}

static char *expiry_strdup(const char *s, bool *failed)
{
	char *c = s != NULL ? strdup(s) : NULL;
	if (s != NULL && c == NULL)
		*failed = true;
	return c;
}

bool mailbox_expiry_start(const struct sluice_user *user, struct server_conf *conf)
{
	if (conf->trash_expiry == NULL || conf->trash_expiry->count == 0)
		return false;
	struct expiry_job *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return false;
	bool failed = false;
	x->job.run = expiry_run;
	x->user = *user;
	x->user.name = expiry_strdup(user->name, &failed);
	x->user.home = expiry_strdup(user->home, &failed);
	x->user.mail = expiry_strdup(user->mail, &failed);
	x->conf = server_conf_ref(conf);
	if (failed || x->user.name == NULL || !expiry_register(x)) {
		if (!failed && x->user.name != NULL)
			log_debug("trash expiry skipped: one runs for this user already, or half the "
			          "workers are busy with expiries");
		expiry_free(x);
		return false;
	}
	ev_queue(&x->job);
	return true;
}
