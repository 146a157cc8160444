/*
 * Server-wide state (see server.h): start-up wiring of modules and TLS, and reload.
 *
 * Reload builds everything new first (configuration, TLS contexts, module settings) and
 * only then swaps it in, so a broken configuration file never takes a running server
 * down: the errors are logged and the old configuration stays.
 */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/session.h"
#include "util/log.h"

struct server server = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.sessions_lock = PTHREAD_MUTEX_INITIALIZER,
};

struct server_conf *server_current_conf(void)
{
	pthread_mutex_lock(&server.lock);
	struct server_conf *c = server_conf_ref(server.conf);
	pthread_mutex_unlock(&server.lock);
	return c;
}

struct tls_set *server_current_tls(void)
{
	pthread_mutex_lock(&server.lock);
	struct tls_set *t = tls_set_ref(server.tls);
	pthread_mutex_unlock(&server.lock);
	return t;
}

static int server_collect(enum sluice_module_kind kind, struct module_instance ***out, size_t *count)
{
	size_t n = module_set_find(server.modules, kind, NULL, 0);
	*count = 0;
	*out = NULL;
	if (n == 0)
		return 0;
	*out = calloc(n, sizeof(**out));
	if (*out == NULL)
		return -1;
	*count = module_set_find(server.modules, kind, *out, n);
	return 0;
}

int server_setup(struct server_conf *conf, bool check_only)
{
	struct conf_errors errs = {0};
	int rc = 0;

	server.conf = conf;
	if (module_set_load(conf, &server.modules, &errs) < 0 || module_set_init(server.modules, &errs) < 0)
		rc = -1;
	if (tls_set_create(conf, &server.tls, &errs) < 0)
		rc = -1;
	if (rc == 0 && (server_collect(SLUICE_KIND_PASSDB, &server.passdbs, &server.passdb_count) < 0 ||
			server_collect(SLUICE_KIND_SASL, &server.sasls, &server.sasl_count) < 0 ||
			server_collect(SLUICE_KIND_POLICY, &server.policies, &server.policy_count) < 0))
		rc = -1;
	if (rc == 0) {
		struct module_instance *storages[2];
		size_t n = module_set_find(server.modules, SLUICE_KIND_STORAGE, storages, 2);
		if (n > 1) {
			conf_error_add(&errs, storages[1]->file, storages[1]->line,
				       "only one storage module can be configured; %s is already in use",
				       storages[0]->name);
			rc = -1;
		}
		server.storage = n > 0 ? storages[0] : NULL;
		struct module_instance *indexes[1];
		server.index = module_set_find(server.modules, SLUICE_KIND_INDEX, indexes, 1) > 0 ? indexes[0] : NULL;
		/* UIDs, MODSEQs and \Recent live in the index: a storage alone cannot serve IMAP. */
		if (server.storage != NULL && server.index == NULL) {
			conf_error_add(&errs, server.storage->file, server.storage->line,
				       "storage %s needs an index module; add `index lmdb { }`", server.storage->name);
			rc = -1;
		}
	}
	if (errs.count > 0)
		conf_errors_print(&errs, stderr);
	conf_errors_free(&errs);
	if (rc == 0 && !check_only && server.passdb_count == 0)
		log_warning("no passdb module is configured: nobody can log in");
	return rc;
}

int server_reload(struct conf_errors *report)
{
	struct conf_errors errs = {0};
	struct server_conf *old = server_current_conf();
	struct server_conf *conf = NULL;
	struct tls_set *tls = NULL;

	log_info("reloading %s", old->path);
	if (server_conf_load(old->path, &conf, &errs) < 0 || tls_set_create(conf, &tls, &errs) < 0 ||
	    module_set_reload(server.modules, conf, &errs) < 0) {
		for (size_t i = 0; i < errs.count; i++) {
			log_error("%s", errs.lines[i] != NULL ? errs.lines[i] : "(out of memory)");
			if (report != NULL && errs.lines[i] != NULL)
				conf_error_add(report, NULL, 0, "%s", errs.lines[i]);
		}
		log_error("reload failed: the previous configuration stays in force");
		conf_errors_free(&errs);
		tls_set_unref(&tls);
		server_conf_unref(&conf);
		server_conf_unref(&old);
		return -1;
	}
	for (size_t i = 0; i < errs.count; i++)
		log_warning("%s", errs.lines[i]);
	conf_errors_free(&errs);
	if (conf->listener_count != old->listener_count)
		log_warning("listener changes take effect only after a restart");
	if (conf->s.workers != old->s.workers)
		log_warning("a new worker count takes effect only after a restart");
	if (strcmp(conf->s.control_socket != NULL ? conf->s.control_socket : "",
		   old->s.control_socket != NULL ? old->s.control_socket : "") != 0)
		log_warning("a new control_socket takes effect only after a restart");
	log_setup(conf->s.log == 1 ? LOG_TARGET_SYSLOG : LOG_TARGET_STDERR, conf->s.log_level);

	pthread_mutex_lock(&server.lock);
	struct server_conf *prev_conf = server.conf;
	struct tls_set *prev_tls = server.tls;
	server.conf = conf;
	server.tls = tls;
	pthread_mutex_unlock(&server.lock);
	server_conf_unref(&prev_conf);
	tls_set_unref(&prev_tls);
	server_conf_unref(&old);
	log_info("configuration reloaded; %zu connections kept", session_live_count());
	return 0;
}

void server_teardown(void)
{
	module_set_destroy(&server.modules);
	free(server.passdbs);
	free(server.sasls);
	free(server.policies);
	server.passdbs = server.sasls = server.policies = NULL;
	server.passdb_count = server.sasl_count = server.policy_count = 0;
	server.storage = NULL;
	server.index = NULL;
	tls_set_unref(&server.tls);
	server_conf_unref(&server.conf);
}
