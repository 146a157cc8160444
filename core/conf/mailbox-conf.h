/*
 * A server setting whose value is a list the generic setting types cannot express, so it
 * is read as a string by the settings table and parsed here, once, when the configuration
 * loads (errors come back as sentences that server-conf.c reports at the setting's
 * file:line):
 *
 *   default_mailboxes = Sent \Sent, Drafts \Drafts, Trash \Trash, Junk \Junk, Archive \Archive
 *     The folders a new account gets at its first login, each with its special uses
 *     (RFC 6154) after the name. `none` (or an empty value) creates nothing.
 * *
 * Names are written as users see them, in UTF-8, with '/' between levels whatever
 * mailbox_delimiter says; they are checked like a client's mailbox names and stored in
 * canonical form. INBOX cannot be listed.
 */
#ifndef SLUICE_CONF_MAILBOX_CONF_H
#define SLUICE_CONF_MAILBOX_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "util/pool.h"

struct mailbox_default {
	const char *name;     /* canonical */
	uint32_t special_use; /* SLUICE_MAILBOX_SPECIAL_* bits, possibly 0 */
};

struct mailbox_defaults {
	size_t count;
	struct mailbox_default items[];
};

/**
 * Parses default_mailboxes.
 * @param[out] list_r the list in @p pool, or NULL for `none` or an empty value
 * @return 0, or -1 with a sentence in @p why (it names the key and the entry).
 */
int mailbox_defaults_parse(const char *text, struct sluice_pool *pool,
                           const struct mailbox_defaults **list_r, char *why, size_t why_len);

#endif
