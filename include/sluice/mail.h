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

#include <stddef.h>
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

	/*
	 * Special uses (RFC 6154), ABI 1.1: reported by mailbox_list of a module that stores
	 * them (see mailbox_set_special_use in storage.h). A mailbox may have several.
	 */
	SLUICE_MAILBOX_SPECIAL_ALL = 1u << 8,      /**< \All: every message (a virtual view) */
	SLUICE_MAILBOX_SPECIAL_ARCHIVE = 1u << 9,  /**< \Archive */
	SLUICE_MAILBOX_SPECIAL_DRAFTS = 1u << 10,  /**< \Drafts */
	SLUICE_MAILBOX_SPECIAL_FLAGGED = 1u << 11, /**< \Flagged: flagged messages (a virtual view) */
	SLUICE_MAILBOX_SPECIAL_JUNK = 1u << 12,    /**< \Junk */
	SLUICE_MAILBOX_SPECIAL_SENT = 1u << 13,    /**< \Sent */
	SLUICE_MAILBOX_SPECIAL_TRASH = 1u << 14,   /**< \Trash */
};
/** Every SLUICE_MAILBOX_SPECIAL_* bit. */
#define SLUICE_MAILBOX_SPECIAL_USE 0x7f00u

/**
 * @brief The RFC 6154 word of one special-use bit, as IMAP writes it.
 * @param[in] bit one SLUICE_MAILBOX_SPECIAL_* value
 * @return "\Sent" and so on (a string literal), or NULL for anything else. Walking the
 *         bits from SLUICE_MAILBOX_SPECIAL_ALL upwards gives the words in alphabetical order.
 * Inline, so modules need not link against the core; any thread.
 */
static inline const char *sluice_special_use_word(uint32_t bit)
{
	switch (bit) {
	case SLUICE_MAILBOX_SPECIAL_ALL:
		return "\\All";
	case SLUICE_MAILBOX_SPECIAL_ARCHIVE:
		return "\\Archive";
	case SLUICE_MAILBOX_SPECIAL_DRAFTS:
		return "\\Drafts";
	case SLUICE_MAILBOX_SPECIAL_FLAGGED:
		return "\\Flagged";
	case SLUICE_MAILBOX_SPECIAL_JUNK:
		return "\\Junk";
	case SLUICE_MAILBOX_SPECIAL_SENT:
		return "\\Sent";
	case SLUICE_MAILBOX_SPECIAL_TRASH:
		return "\\Trash";
	default:
		return NULL;
	}
}

#endif
