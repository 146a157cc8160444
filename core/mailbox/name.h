/*
 * Mailbox names: the only place where IMAP names (modified UTF-7, with the configured
 * hierarchy delimiter) become the canonical names modules see (UTF-8, '/' between
 * levels, "INBOX" spelled in capitals; see include/sluice/mail.h), and back. Every
 * name a client sends passes mailbox_name_from_imap before anything touches storage,
 * so "..", empty levels, control characters and invalid modified UTF-7 never reach a
 * module.
 */
#ifndef SLUICE_MAILBOX_NAME_H
#define SLUICE_MAILBOX_NAME_H

#include <stdbool.h>

#include <sluice/result.h>

#include "util/buffer.h"

#define MAILBOX_NAME_MAX 1024

/**
 * Converts a client's mailbox name to the canonical form, NUL-terminated in @p out.
 * @return 0, or SLUICE_E_PARSE with a sentence for the client in @p err.
 */
int mailbox_name_from_imap(const char *imap, char delimiter, struct buf *out, struct sluice_error *err);
/** Converts a canonical name to what the client sees, NUL-terminated in @p out. */
int mailbox_name_to_imap(const char *canonical, char delimiter, struct buf *out);
/**
 * LIST pattern matching on IMAP names: '*' matches anything, '%' anything but the
 * delimiter; "INBOX" matches case-insensitively at the start of the name.
 */
bool mailbox_pattern_match(const char *pattern, const char *name, char delimiter);
/** Writes @p name as an IMAP astring (atom, quoted string or literal as needed). */
void mailbox_name_write(struct buf *out, const char *name);

#endif
