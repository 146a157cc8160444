/*
 * The authentication chain: passdb modules asked in configuration order, and the SASL
 * mechanisms offered by AUTHENTICATE. LOGIN and every password-based mechanism end in
 * auth_verify, so they behave the same.
 */
#ifndef SLUICE_AUTH_H
#define SLUICE_AUTH_H

#include <sluice/passdb.h>
#include <sluice/sasl.h>

#include "module/loader.h"

/**
 * Asks each passdb in turn until one knows the user.
 * @return 0 with *user_r filled; SLUICE_E_AUTH when no database knows the user or the
 *         password is wrong (err says the same either way); another negative code
 *         (SLUICE_E_EXPIRED, SLUICE_E_TEMPFAIL, ...) with err filled by the module.
 */
int auth_verify(const struct sluice_auth_request *req, struct sluice_pool *pool, struct sluice_user *user_r,
		struct sluice_error *err);
/** The SASL module offering @p mechanism (case-insensitive), or NULL. */
struct module_instance *auth_find_mechanism(const char *mechanism);

#endif
