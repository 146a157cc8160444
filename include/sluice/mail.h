/*
 * Words shared by storage and index modules: system flags, mailbox attributes and the
 * rules for mailbox names and keywords at the module ABI.
 *
 * Mailbox names at the ABI are canonical: UTF-8 (converted by the core from IMAP's
 * modified UTF-7), hierarchy levels separated by '/', no empty level, no level that is
 * "." or "..", no NUL or control characters, and the inbox is always spelled "INBOX".
 * The core validates every name before a module sees it; a module must still never
 * turn a name into a path outside the user's mail root.
 *
 * Keywords (RFC 3501 flag-keyword) are passed as a space-separated list of atoms in the
 * case the client first used, e.g. "$Forwarded Junk". An empty string means none.
 */
#ifndef SLUICE_MAIL_H
#define SLUICE_MAIL_H

#include <stdint.h>

/** System flags, as bits. \Recent is not stored: the core tracks it per session. */
enum {
	SLUICE_FLAG_SEEN = 1u << 0,
	SLUICE_FLAG_ANSWERED = 1u << 1,
	SLUICE_FLAG_FLAGGED = 1u << 2,
	SLUICE_FLAG_DELETED = 1u << 3,
	SLUICE_FLAG_DRAFT = 1u << 4,
};
#define SLUICE_FLAGS_ALL 0x1fu

/** Mailbox attributes reported by a storage module's mailbox_list. */
enum {
	SLUICE_MAILBOX_NOSELECT = 1u << 0,    /**< exists only as a parent of others */
	SLUICE_MAILBOX_NOINFERIORS = 1u << 1, /**< can have no children */
	SLUICE_MAILBOX_HASCHILDREN = 1u << 2,
	SLUICE_MAILBOX_HASNOCHILDREN = 1u << 3,
	SLUICE_MAILBOX_SUBSCRIBED = 1u << 4,
	/** Subscribed but does not exist: listed only so that LSUB can report the subscription. */
	SLUICE_MAILBOX_NONEXISTENT = 1u << 5,
};

#endif
