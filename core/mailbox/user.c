/* Opening and closing a user's mail: its storage and index handles (see user.h). */
#include "mailbox/user.h"

#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "util/log.h"

static char *user_strdup(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

void mail_user_close(struct mail_user **mup)
{
	struct mail_user *mu = *mup;
	if (mu == NULL)
		return;
	if (mu->index != NULL)
		mu->index_ops->user_close(mu->index);
	if (mu->storage != NULL)
		mu->storage_ops->user_close(mu->storage);
	free((char *)mu->user.name);
	free((char *)mu->user.home);
	free((char *)mu->user.mail);
	identity_clear(&mu->id);
	free(mu);
	*mup = NULL;
}

int mail_user_open(const struct sluice_user *user, struct mail_user **mu_r, struct sluice_error *err)
{
	*mu_r = NULL;
	if (server.storage == NULL || server.index == NULL)
		return SLUICE_NOTFOUND;
	struct mail_user *mu = calloc(1, sizeof(*mu));
	if (mu == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, "SERVERBUG", "The server is out of memory.");
	mu->user = *user;
	mu->user.name = user_strdup(user->name);
	mu->user.home = user_strdup(user->home);
	mu->user.mail = user_strdup(user->mail);
	mu->storage_module = server.storage;
	mu->storage_ops = server.storage->desc->ops;
	mu->index_module = server.index;
	mu->index_ops = server.index->desc->ops;
	mu->id.own = true;
	if (mu->user.name == NULL && user->name != NULL) {
		mail_user_close(&mu);
		return sluice_error_set(err, SLUICE_E_NOMEM, "SERVERBUG", "The server is out of memory.");
	}
	int r = identity_for_user(&mu->user, &mu->id, err);
	if (r < 0) {
		mail_user_close(&mu);
		return r;
	}
	if (identity_enter(&mu->id) < 0) {
		mail_user_close(&mu);
		return sluice_error_set(err, SLUICE_E_PERM, "UNAVAILABLE",
					"The server cannot open the mail of this account right now.");
	}
	const char *what = "mail storage";
	r = mu->storage_ops->user_open(server.storage->modctx, &mu->user, &mu->storage, err);
	if (r == 0) {
		what = "mail index";
		r = mu->index_ops->user_open(server.index->modctx, &mu->user, &mu->index, err);
		if (r == SLUICE_E_CORRUPT)
			log_error("the mail index of %s is damaged: delete the user's index directory (the "
				  "path setting of the index block) to rebuild it from the mail; automatic "
				  "rebuild is not implemented yet",
				  mu->user.name);
	}
	identity_leave();
	if (r != 0) {
		log_error("cannot open the %s: %s", what, err->msg);
		mail_user_close(&mu);
		if (r > 0)
			r = SLUICE_E_IO;
		if (err->msg[0] == '\0')
			sluice_error_set(err, r, "UNAVAILABLE", "Your mailbox cannot be opened right now.");
		return r;
	}
	*mu_r = mu;
	return 0;
}
