/*
 * Two server settings whose values are lists the generic setting types cannot express, so
 * they are read as strings by the settings table and parsed here, once, when the
 * configuration loads (errors come back as sentences that server-conf.c reports at the
 * setting's file:line):
 *
 *   default_mailboxes = Sent \Sent, Drafts \Drafts, Trash \Trash, Junk \Junk, Archive \Archive
 *     The folders a new account gets at its first login, each with its special uses
 *     (RFC 6154) after the name. `none` (or an empty value) creates nothing.
 *
 *   trash_expiry = Trash:7d, Junk:30d
 *     Folders whose messages are removed at login once their INTERNALDATE is older than
 *     the duration. A unit is required: Courier's IMAP_EMPTYTRASH=Trash:7 means days,
 *     and a bare 7 (seconds, as elsewhere) would empty the folder. `none` turns it off.
 *
 * Names are written as users see them, in UTF-8, with '/' between levels whatever
 * mailbox_delimiter says; they are checked like a client's mailbox names and stored in
 * canonical form. INBOX cannot be listed in either setting.
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

struct mailbox_expiry_rule {
	const char *name;    /* canonical */
	uint64_t max_age_ms; /* messages whose INTERNALDATE is older go */
};

struct mailbox_expiry_rules {
	size_t count;
	struct mailbox_expiry_rule items[];
};

/**
 * Parses default_mailboxes.
 * @param[out] list_r the list in @p pool, or NULL for `none` or an empty value
 * @return 0, or -1 with a sentence in @p why (it names the key and the entry).
 */
int mailbox_defaults_parse(const char *text, struct sluice_pool *pool,
                           const struct mailbox_defaults **list_r, char *why, size_t why_len);

/** Parses trash_expiry, as mailbox_defaults_parse does. */
int mailbox_expiry_parse(const char *text, struct sluice_pool *pool,
                         const struct mailbox_expiry_rules **rules_r, char *why, size_t why_len);

#endif
