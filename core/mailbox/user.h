/*
 * A logged-in user's mail: the storage module's handle and the index module's, both
 * opened at login and closed at logout. Command handlers reach storage and index only
 * through a mail_user (and the mailbox layer built on it, mailbox.h), never through
 * module globals.
 */
#ifndef SLUICE_MAIL_USER_H
#define SLUICE_MAIL_USER_H

#include <sluice/index.h>
#include <sluice/passdb.h>
#include <sluice/storage.h>

#include "auth/identity.h"
#include "module/loader.h"

struct mail_user {
	struct sluice_user user; /* copies owned by this struct */
	struct identity id;      /* who a worker is while it touches this user's files */
	struct module_instance *storage_module;
	const struct sluice_storage_ops *storage_ops;
	struct sluice_storage_user *storage;
	struct module_instance *index_module;
	const struct sluice_index_ops *index_ops;
	struct sluice_index_user *index;
};

/**
 * Opens @p user's mail with the configured storage and index modules (the server
 * refuses a configuration with a storage but no index, so both are there or neither).
 * Both are opened acting as the user (identity.h), so what they create belongs to the
 * user and what the user may not read stays closed; the calling thread has the server's
 * own identity again when this returns.
 * @return 0; SLUICE_NOTFOUND when no storage module is configured (the session then
 *         offers no mailbox commands); a negative code with err filled.
 */
int mail_user_open(const struct sluice_user *user, struct mail_user **mu_r, struct sluice_error *err);
void mail_user_close(struct mail_user **mu);

#endif
