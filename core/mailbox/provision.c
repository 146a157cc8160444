/* Default folders for a new account (see provision.h). */
#include "mailbox/provision.h"

#include <string.h>

#include "mailbox/mailbox.h"
#include "mailbox/special-use.h"
#include "util/buffer.h"
#include "util/log.h"

/* Stops the listing at the first folder that is not INBOX. */
static int provision_has_folder(void *ctx, const char *name, uint32_t attrs)
{
	(void)ctx;
	if (attrs & SLUICE_MAILBOX_NONEXISTENT)
		return 0; /* a subscription is not a folder */
	return strcmp(name, "INBOX") != 0 ? 1 : 0;
}

/* One default folder; true when it exists afterwards (made now or by someone else). */
static bool provision_one(struct mail_user *mu, const struct mailbox_default *d, bool *made_r)
{
	struct sluice_error err = SLUICE_ERROR_INIT;
	int r = mu->storage_ops->mailbox_create(mu->storage, d->name, &err);
	*made_r = r == 0;
	if (r != 0 && r != SLUICE_E_EXISTS) {
		log_warning("cannot create the default mailbox %s: %s", d->name, err.msg);
		return false;
	}
	if (d->special_use != 0 && special_use_storable(mu)) {
		struct sluice_error serr = SLUICE_ERROR_INIT;
		if (mu->storage_ops->mailbox_set_special_use(mu->storage, d->name, d->special_use,
		                                             &serr) != 0)
			log_warning("cannot record the special use of %s: %s", d->name, serr.msg);
	}
	struct sluice_error uerr = SLUICE_ERROR_INIT;
	if (mu->storage_ops->mailbox_subscribe(mu->storage, d->name, true, &uerr) != 0)
		log_warning("cannot subscribe the default mailbox %s: %s", d->name, uerr.msg);
	return true;
}

/* Whether the index has met INBOX: then this is not the account's first login here. */
static bool provision_index_knows_inbox(struct mail_user *mu)
{
	struct sluice_index_txn *txn;
	struct sluice_index_mailbox state;
	struct sluice_error err = SLUICE_ERROR_INIT;
	if (mu->index_ops->txn_begin(mu->index, false, &txn, &err) != 0)
		return false; /* the listing decides */
	int r = mu->index_ops->mailbox_get(txn, "INBOX", &state, &err);
	mu->index_ops->txn_abort(txn);
	return r == 0;
}

/*
 * Makes the index meet INBOX (as a first SELECT would: a UIDVALIDITY, nothing scanned yet),
 * so that the next login knows the account and does not hand out the folders again after
 * their owner deleted them.
 */
static void provision_remember_inbox(struct mail_user *mu)
{
	struct sluice_index_txn *txn;
	struct sluice_index_mailbox state;
	struct sluice_error err = SLUICE_ERROR_INIT;
	bool created;
	if (mu->index_ops->txn_begin(mu->index, true, &txn, &err) != 0)
		return;
	if (mailbox_index_state(mu->index_ops, txn, "INBOX", &state, &created, &err) == 0)
		mu->index_ops->txn_commit(txn, &err);
	else
		mu->index_ops->txn_abort(txn);
}

unsigned mailbox_provision(struct mail_user *mu, const struct mailbox_defaults *defaults)
{
	struct sluice_error err = SLUICE_ERROR_INIT;
	if (defaults == NULL || defaults->count == 0 || provision_index_knows_inbox(mu))
		return 0;
	provision_remember_inbox(mu);
	int r = mu->storage_ops->mailbox_list(mu->storage, provision_has_folder, NULL, &err);
	if (r != 0) {
		if (r < 0)
			log_warning("cannot list the mailboxes of %s: %s", mu->user.name, err.msg);
		return 0;
	}
	unsigned made = 0;
	struct buf names = {0};
	for (size_t i = 0; i < defaults->count; i++) {
		bool created;
		if (provision_one(mu, &defaults->items[i], &created) && created) {
			buf_printf(&names, "%s%s", made > 0 ? ", " : "", defaults->items[i].name);
			made++;
		}
	}
	if (made > 0)
		log_info("created default mailboxes for a new account: %.*s", (int)buf_len(&names),
		         (const char *)buf_head(&names));
	buf_free(&names);
	return made;
}
