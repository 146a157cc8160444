/*
 * Message flags: the five storable system flags as bits, \Recent as a session-only bit, and
 * keywords as atoms (RFC 3501 section 2.3.2 and `flag`/`flag-keyword` in its grammar).
 *
 * STORE and APPEND hand their parenthesised flag list, already split into tokens by the
 * command parser, to imap_flags_parse(); FETCH FLAGS and the untagged FETCH of other
 * sessions' changes write a flagset back with imap_flags_write(). The Maildir storage turns
 * the system flags into the info letters of a file name (`:2,FRS`) and back with
 * imap_flags_to_maildir() and imap_flags_from_maildir().
 *
 * Maildir's `P` (passed: the message was resent, forwarded or bounced) has no IMAP system
 * flag. It maps to the keyword `$Forwarded` (RFC 5550 registers it for "forwarded"), as
 * Dovecot does, so mutt's "passed" mark and a client's $Forwarded are the same thing and
 * survive an index rebuild.
 *
 * Keywords compare without regard to ASCII case; a flagset keeps the first spelling it was
 * given. Nothing here keeps state; the functions may be called from any thread.
 */
#ifndef SLUICE_IMAP_FLAGS_H
#define SLUICE_IMAP_FLAGS_H

#include <stdbool.h>
#include <stddef.h>

#include "sluice/mail.h"
#include "sluice/result.h"
#include "util/buffer.h"
#include "util/pool.h"

/*
 * System flags. The storable ones are the module ABI's SLUICE_FLAG_* bits, so flags pass
 * between the IMAP layer and the storage and index modules without translation; \Recent
 * sits outside SLUICE_FLAGS_ALL because no module ever stores it.
 */
enum imap_flag {
	IMAP_FLAG_SEEN = SLUICE_FLAG_SEEN,
	IMAP_FLAG_ANSWERED = SLUICE_FLAG_ANSWERED,
	IMAP_FLAG_FLAGGED = SLUICE_FLAG_FLAGGED,
	IMAP_FLAG_DELETED = SLUICE_FLAG_DELETED,
	IMAP_FLAG_DRAFT = SLUICE_FLAG_DRAFT,
	IMAP_FLAG_RECENT = 1u << 5, /* session-only: shown by FETCH, never stored */
};

/* The flags a client may set and the storage keeps. */
#define IMAP_FLAGS_STORABLE SLUICE_FLAGS_ALL

/* Longest keyword accepted, in bytes. */
#define IMAP_KEYWORD_MAX_LEN 255
/* The keyword that Maildir's `P` stands for. */
#define IMAP_KEYWORD_FORWARDED "$Forwarded"
/* The most info letters imap_flags_to_maildir() writes: D F P R S T. */
#define IMAP_MAILDIR_FLAGS_MAX 6

struct imap_flagset {
	unsigned flags;        /* enum imap_flag bits */
	const char **keywords; /* distinct (ignoring case), in the order given */
	size_t keyword_count;
};

/* Which command a flag list belongs to, for the wording of errors. */
enum imap_flags_context {
	IMAP_FLAGS_FOR_STORE,
	IMAP_FLAGS_FOR_APPEND,
};

/**
 * @brief Parses the tokens of a flag list such as `(\Seen $Forwarded Junk)`.
 * @param[in]  tokens the strings between the parentheses, one flag each (borrowed)
 * @param[in]  count  how many; 0 is the empty list `()` and gives an empty set
 * @param[in]  ctx    STORE or APPEND, used in error sentences
 * @param[in]  pool   where the keyword array and copies of the keywords are allocated
 * @param[out] set_r  the flags; keywords are copied, so @p tokens may go after the call
 * @param[out] err    on failure, a sentence for a tagged BAD; may be NULL
 * @return 0; SLUICE_E_PARSE for an empty token, a backslash flag other than the five system
 *         flags (`\Foo`, `\*`), `\Recent` (the server alone sets it), or a keyword with a
 *         character outside RFC 3501's ATOM-CHAR or longer than IMAP_KEYWORD_MAX_LEN;
 *         SLUICE_E_NOMEM when the pool refuses.
 * System flag names are matched without regard to case. A keyword repeated in another case
 * is kept once, with its first spelling.
 */
int imap_flags_parse(const char *const *tokens, size_t count, enum imap_flags_context ctx,
                     struct sluice_pool *pool, struct imap_flagset *set_r,
                     struct sluice_error *err);

/** @brief The bit of a system flag name such as "\\Seen" in any case (\Recent too); 0 if none. */
unsigned imap_flag_from_name(const char *name);

/** @brief The canonical name of one system flag bit ("\\Seen"), or NULL for anything else. */
const char *imap_flag_name(unsigned flag);

/** @brief Whether @p keyword is a valid flag-keyword: 1..255 ATOM-CHARs. */
bool imap_keyword_valid(const char *keyword);

/** @brief Whether two keywords are the same flag (ASCII case-insensitive). */
bool imap_keyword_equal(const char *a, const char *b);

/** @brief Whether @p set holds @p keyword (ASCII case-insensitive). */
bool imap_flagset_has_keyword(const struct imap_flagset *set, const char *keyword);

/**
 * @brief Appends a flag list such as `(\Answered \Seen $Forwarded)`.
 * System flags come first in the order \Answered \Flagged \Deleted \Seen \Draft \Recent,
 * then the keywords in the set's order; `()` when there are none.
 * @return 0; SLUICE_E_NOMEM when the buffer cannot grow (then @p out is left as it was).
 */
int imap_flags_write(struct buf *out, const struct imap_flagset *set);

/**
 * @brief Joins a flagset's keywords into the ABI's space-separated form ("$Forwarded Junk").
 * @param[out] keywords_r the string, from @p pool; "" when there are none
 * @return 0; SLUICE_E_NOMEM when the pool refuses.
 */
int imap_flagset_keywords_join(const struct imap_flagset *set, struct sluice_pool *pool,
                               const char **keywords_r);

/**
 * @brief Builds a flagset from what an index or storage module returned.
 * @param[in]  flags    SLUICE_FLAG_* bits (other bits, \Recent included, are kept as given)
 * @param[in]  keywords space-separated keywords as at the ABI; NULL or "" for none
 * @param[in]  pool     where the keyword array and strings are allocated
 * @param[out] set_r    the flagset
 * @return 0; SLUICE_E_NOMEM when the pool refuses.
 * Words that are not valid keywords are dropped rather than written into a FETCH response,
 * and repeats (ignoring case) are kept once, so corrupt stored data cannot break the syntax
 * of what the client receives.
 */
int imap_flagset_from_keywords(unsigned flags, const char *keywords, struct sluice_pool *pool,
                               struct imap_flagset *set_r);

/**
 * @brief Writes the Maildir info letters for a flagset, in the ASCII order the Maildir
 *        specification requires: D (draft), F (flagged), P ($Forwarded), R (answered),
 *        S (seen), T (deleted). \Recent and other keywords are not written.
 * @param[out] out IMAP_MAILDIR_FLAGS_MAX + 1 bytes, NUL-terminated
 * @return the number of letters written
 */
size_t imap_flags_to_maildir(const struct imap_flagset *set, char out[IMAP_MAILDIR_FLAGS_MAX + 1]);

/**
 * @brief Reads the info letters after `:2,` in a Maildir file name.
 * @param[in]  letters   the letters, NUL-terminated
 * @param[out] passed_r  true when `P` is present: the caller adds IMAP_KEYWORD_FORWARDED
 * @return the system flag bits
 * Letters this function does not know (lowercase keyword letters, other programs' extensions)
 * are ignored here; the Maildir module keeps them when it renames the file.
 */
unsigned imap_flags_from_maildir(const char *letters, bool *passed_r);

/*
 * Caveats:
 * - The keyword array and keywords of a parsed set live in the pool passed to
 *   imap_flags_parse(); clearing the pool ends the set.
 * - Modules may not link core symbols, so the Maildir module keeps its own copy of the
 *   six-letter table that imap_flags_to_maildir() uses; the two must agree (D F P R S T).
 * - RFC 3501 lets a server refuse new keywords (PERMANENTFLAGS without \*); that decision
 *   belongs to the mailbox layer, not to this parser.
 */

#endif
