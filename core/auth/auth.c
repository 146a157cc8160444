/* The passdb chain and the SASL mechanism registry (see auth.h). */
#include "auth/auth.h"

#include <strings.h>

#include "server.h"
#include "util/log.h"

int auth_verify(const struct sluice_auth_request *req, struct sluice_pool *pool, struct sluice_user *user_r,
		struct sluice_error *err)
{
	if (server.passdb_count == 0)
		return sluice_error_set(err, SLUICE_E_TEMPFAIL, "UNAVAILABLE",
					"No authentication database is configured on this server.");
	for (size_t i = 0; i < server.passdb_count; i++) {
		struct module_instance *m = server.passdbs[i];
		const struct sluice_passdb_ops *ops = m->desc->ops;
		struct sluice_error merr = SLUICE_ERROR_INIT;
		user_r->uid = (uid_t)-1;
		user_r->gid = (gid_t)-1;
		int r = ops->verify(m->modctx, req, pool, user_r, &merr);
		if (r == SLUICE_NOTFOUND)
			continue;
		if (r == 0) {
			if (user_r->name == NULL)
				user_r->name = req->user;
			return 0;
		}
		if (r == SLUICE_E_AUTH)
			return sluice_error_set(err, SLUICE_E_AUTH, "AUTHENTICATIONFAILED",
						"Authentication failed.");
		if (r < 0) {
			*err = merr;
			if (err->code == 0)
				err->code = r;
			if (err->msg[0] == '\0')
				sluice_error_set(err, r, "UNAVAILABLE",
						 "The authentication service failed; try again later.");
			log_warning("passdb %s failed for user %s: %s", m->name, req->user, merr.msg);
			return r;
		}
	}
	return sluice_error_set(err, SLUICE_E_AUTH, "AUTHENTICATIONFAILED", "Authentication failed.");
}

struct module_instance *auth_find_mechanism(const char *mechanism)
{
	for (size_t i = 0; i < server.sasl_count; i++) {
		const struct sluice_sasl_ops *ops = server.sasls[i]->desc->ops;
		if (strcasecmp(ops->mechanism, mechanism) == 0)
			return server.sasls[i];
	}
	return NULL;
}
