/*
 * The default folders of a new account (default_mailboxes): at its first login here, an
 * account whose mail holds no folder besides INBOX gets the configured ones, each created
 * (with its parents), marked with its special uses where the storage can keep them, and
 * subscribed, so that a client's first LIST already offers Sent, Drafts, Trash, Junk and
 * Archive and the client does not invent folders of its own ("Sent Items").
 *
 * "First login" is "the index has not met INBOX yet" (one read in the index, so later logins
 * cost nothing, and an owner who deleted every folder does not get them back); only then are
 * the folders listed. An account with any folder of its own is never touched, whatever its
 * index says. Several first logins at once (clients open a few connections together) are
 * harmless: a folder another session just created counts as done.
 */
#ifndef SLUICE_MAILBOX_PROVISION_H
#define SLUICE_MAILBOX_PROVISION_H

#include "conf/mailbox-conf.h"
#include "mailbox/user.h"

/**
 * Creates the default folders when @p mu has none.
 * @param[in] defaults the configured list; NULL does nothing
 * @return how many folders were created. Failures are logged and leave the login alone.
 * Worker thread, inside the login command.
 */
unsigned mailbox_provision(struct mail_user *mu, const struct mailbox_defaults *defaults);

#endif
