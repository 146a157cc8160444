/*
 * Special uses of mailboxes (RFC 6154): the words clients see (\Sent, \Trash, ...), the
 * bits modules report (include/sluice/mail.h), and whether the user's storage can keep
 * them. Mailboxes get special uses in two ways: a client's CREATE name (USE (\Sent)), which
 * the storage records, and the server's list of default mailboxes (default_mailboxes),
 * whose uses apply by name to a mailbox the storage has recorded nothing for, so that an
 * account moved from another server shows its Sent folder as \Sent at once.
 */
#ifndef SLUICE_MAILBOX_SPECIAL_USE_H
#define SLUICE_MAILBOX_SPECIAL_USE_H

#include <stdbool.h>
#include <stdint.h>

#include <sluice/mail.h>

#include "util/buffer.h"

struct mail_user;
struct mailbox_defaults;

/* The uses a real folder can have; \All and \Flagged describe virtual views this server
 * does not offer, so neither a client nor the configuration may give them to a folder. */
#define SPECIAL_USE_FOR_FOLDERS                                                                   \
	(SLUICE_MAILBOX_SPECIAL_ARCHIVE | SLUICE_MAILBOX_SPECIAL_DRAFTS |                          \
	 SLUICE_MAILBOX_SPECIAL_JUNK | SLUICE_MAILBOX_SPECIAL_SENT | SLUICE_MAILBOX_SPECIAL_TRASH)

/** The bit of a special-use word such as "\Sent" (any case), or 0 for an unknown word. */
uint32_t special_use_from_word(const char *word, size_t len);

/**
 * Appends the words of @p bits (SLUICE_MAILBOX_SPECIAL_* only; others are ignored), each
 * preceded by a space unless @p first and nothing was written before it.
 * @return the number of words written.
 */
unsigned special_use_write(struct buf *out, uint32_t bits, bool first);

/** Whether @p mu's storage module records special uses (ABI 1.1's op is there). */
bool special_use_storable(const struct mail_user *mu);

/**
 * The uses of @p canonical as a listing shows them: what the storage recorded in
 * @p listed_attrs, or else what @p defaults (may be NULL) say for that name.
 */
uint32_t special_use_of(const struct mailbox_defaults *defaults, const char *canonical,
                        uint32_t listed_attrs);

#endif
