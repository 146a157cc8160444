/*
 * The running server: its current configuration, TLS contexts, loaded modules and the
 * registry of live sessions. Configuration and TLS are swapped as a whole on reload;
 * a session takes references to the versions that were current when it started.
 */
#ifndef SLUICE_SERVER_H
#define SLUICE_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "conf/server-conf.h"
#include "module/loader.h"
#include "net/tls.h"

struct session;

struct server {
	pthread_mutex_t lock; /* guards conf and tls pointers */
	struct server_conf *conf;
	struct tls_set *tls;
	struct module_set *modules;

	/* Modules by role, in configuration order; fixed after start. */
	struct module_instance **passdbs, **sasls, **policies;
	size_t passdb_count, sasl_count, policy_count;
	struct module_instance *storage; /* at most one; NULL: no mailbox commands */
	struct module_instance *index;   /* the first index block; required with a storage */

	atomic_bool shutting_down;
	atomic_uint_fast64_t next_session_id;

	pthread_mutex_t sessions_lock;
	struct session *sessions; /* doubly linked through session->reg_next/reg_prev */
	size_t session_count;
};

extern struct server server;

/** The current configuration, with a reference the caller drops with server_conf_unref. */
struct server_conf *server_current_conf(void);
/** The current TLS set with a reference (NULL when no tls block exists). */
struct tls_set *server_current_tls(void);

/** Loads modules, TLS and derived tables for @p conf (at start). Prints errors to stderr. */
int server_setup(struct server_conf *conf, bool check_only);
/**
 * Re-reads the configuration file (SIGHUP, `sluicectl reload`); keeps the old one when the
 * new one has errors. Main (loop) thread only.
 * @param[out] report when not NULL, gets a copy of each error sentence (file:line: why)
 * @return 0 when the new configuration is in force, -1 when the old one stays.
 */
int server_reload(struct conf_errors *report);
void server_teardown(void);

#endif
