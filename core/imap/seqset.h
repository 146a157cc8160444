/*
 * Sequence sets: the `1:5,7,9:*` arguments of FETCH, STORE, COPY, MOVE, SEARCH and their UID
 * forms (RFC 3501 `sequence-set`, RFC 9051), plus the `$` of SEARCHRES (RFC 5182).
 *
 * A command handler parses the text once with seqset_parse(), which keeps `*` symbolic
 * because its value depends on the mailbox at the moment the command runs. It then calls
 * seqset_resolve() with the current maximum (the message count for sequence numbers, the
 * highest UID for UID commands), which replaces `*`, puts each range in order and turns the
 * set into a sorted array of disjoint, non-adjacent closed ranges. From then on lookups are
 * binary searches and iteration is in ascending order, so a set of 100,000 ranges costs
 * n log n once and log n per lookup. seqset_write() goes the other way, turning a list of
 * numbers into the compact text that COPYUID, APPENDUID and ESEARCH answer with.
 *
 * Memory for the ranges comes from the pool the caller passes (normally the command pool);
 * a set is owned by one thread at a time, like the pool.
 */
#ifndef SLUICE_IMAP_SEQSET_H
#define SLUICE_IMAP_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/result.h"
#include "util/buffer.h"
#include "util/pool.h"

/* How an unresolved range stores `*`: 0 is never a valid nz-number, so it cannot collide. */
#define SEQSET_STAR 0u

/* A closed range lo..hi; after seqset_resolve() lo <= hi and neither is SEQSET_STAR. */
struct seqset_range {
	uint32_t lo;
	uint32_t hi;
};

struct seqset {
	struct seqset_range *ranges; /* pool memory; sorted and merged once resolved */
	size_t count;                /* ranges in use */
	size_t cap;                  /* ranges allocated */
	struct sluice_pool *pool;    /* where ranges grow */
	bool saved;                  /* the text was `$`: the caller substitutes its saved result */
	bool has_star;               /* some range still holds SEQSET_STAR */
	bool resolved;               /* sorted and merged: lookups are allowed */
};

/* Walks a resolved set in ascending order; values are 64-bit inside so 4294967295 ends. */
struct seqset_iter {
	const struct seqset *set;
	size_t range;
	uint64_t next;
};

/**
 * @brief Starts an empty set whose ranges will come from @p pool.
 * @param[out] set  the set to initialise
 * @param[in]  pool where seqset_add() allocates; must outlive the set
 * Any thread, one set per thread at a time.
 */
void seqset_init(struct seqset *set, struct sluice_pool *pool);

/**
 * @brief Parses a sequence-set argument, keeping `*` symbolic.
 * @param[in]  text NUL-terminated text of one atom, such as "1:5,7,*"
 * @param[out] set_r the set; its ranges live in @p pool. With `$` the set is empty and
 *             set_r->saved is true: the caller substitutes the saved SEARCH result and
 *             must answer BAD when there is none to substitute.
 * @param[in]  pool  where the ranges are allocated (the command pool)
 * @param[out] err   on failure, a sentence suitable for a tagged BAD; may be NULL
 * @return 0; SLUICE_E_PARSE when the text is not a sequence set (empty elements, 0, numbers
 *         above 4294967295, leading zeros, spaces, `1:2:3`, `$` mixed with numbers...);
 *         SLUICE_E_NOMEM when the pool refuses.
 * Numbers are nz-numbers as RFC 3501 says, for sequence numbers and UIDs alike. `$` is
 * accepted only as the whole set, which is how RFC 5182 and RFC 9051 write it.
 */
int seqset_parse(const char *text, struct seqset *set_r, struct sluice_pool *pool,
                 struct sluice_error *err);

/**
 * @brief Adds the range @p a..@p b (either order; SEQSET_STAR allowed) to a set.
 * @return 0; SLUICE_E_NOMEM when the pool refuses. The set is unresolved afterwards.
 * This is how a caller builds a set from a saved SEARCH result or from its own numbers.
 */
int seqset_add(struct seqset *set, uint32_t a, uint32_t b);

/**
 * @brief Adds every range of @p from (NULL adds nothing) to @p set, as seqset_add does
 *        one by one: how a saved SEARCH result (SEARCHRES `$`) is copied into a command's
 *        pool before the command uses it.
 * @return 0; SLUICE_E_NOMEM when the pool refuses (the set then holds part of @p from).
 */
int seqset_add_set(struct seqset *set, const struct seqset *from);

/**
 * @brief Replaces `*` by @p star, orders each range, sorts and merges the set.
 * @param[in,out] set a parsed or built set
 * @param[in]     star the value of `*`: the message count, or the highest UID in use (RFC
 *                9051 lets a UID command on an empty mailbox use UIDNEXT; 0 also works)
 * @return 0; SLUICE_NOTFOUND when @p star is 0 and the set mentions `*`: `*` has no value in
 *         an empty mailbox, so the ranges that mention it are dropped and the caller answers
 *         as RFC 3501 says (BAD for sequence numbers, an empty result for UIDs).
 * A range such as `5:*` with star 3 becomes 3:5, as RFC 3501 specifies for UIDs. Numbers
 * above @p star are kept: seqset_max() tells a sequence-number command that it must answer
 * BAD, and seqset_clamp() drops them for a UID command. n log n in the number of ranges.
 */
int seqset_resolve(struct seqset *set, uint32_t star);

/**
 * @brief Drops every number above @p max from a resolved set (for UID commands, where
 *        numbers past the highest UID simply match nothing). @p max 0 empties the set.
 */
void seqset_clamp(struct seqset *set, uint32_t max);

/** @brief Whether @p n is in a resolved set; a binary search. */
bool seqset_contains(const struct seqset *set, uint32_t n);

/** @brief How many numbers a resolved set holds (up to 4294967295). */
uint64_t seqset_count(const struct seqset *set);

/** @brief The smallest and largest number of a resolved set; 0 when it is empty. */
uint32_t seqset_min(const struct seqset *set);
uint32_t seqset_max(const struct seqset *set);

/** @brief Starts a walk over a resolved set in ascending order. */
void seqset_iter_init(struct seqset_iter *iter, const struct seqset *set);

/** @brief Gives the next number in @p n_r; false when the walk is over. */
bool seqset_iter_next(struct seqset_iter *iter, uint32_t *n_r);

/**
 * @brief Appends the compact form of a list of numbers, such as "1:3,7,9:12".
 * @param[out] out    where the text is appended (not NUL-terminated, as buf never is)
 * @param[in]  values the numbers, normally ascending; consecutive ascending runs become
 *                    ranges and a repeat of the previous number is skipped. Any other
 *                    order is written as given, which keeps COPYUID's pairing of source and
 *                    destination UIDs intact.
 * @param[in]  n      how many values; 0 appends nothing
 * @return 0; SLUICE_E_NOMEM when the buffer cannot grow (then @p out is left as it was).
 * 0 is not a valid number in a set; callers never pass it.
 */
int seqset_write(struct buf *out, const uint32_t *values, size_t n);

/**
 * @brief Appends the text of a resolved set, such as "1:3,7". Nothing for an empty set.
 * @return 0; SLUICE_E_NOMEM when the buffer cannot grow (then @p out is left as it was).
 */
int seqset_write_set(struct buf *out, const struct seqset *set);

/*
 * Caveats:
 * - seqset_contains, seqset_count, seqset_min/max, seqset_clamp, the iterator and
 *   seqset_write_set need a resolved set; on an unresolved one they see no numbers.
 * - Iterating `1:4294967295` takes four billion steps: a UID command walks the mailbox's
 *   UIDs and asks seqset_contains(), or clamps first.
 * - The set points into its pool; clearing the pool ends the set.
 */

#endif
