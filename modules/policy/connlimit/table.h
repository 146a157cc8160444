/*
 * A small intrusive hash table for the connlimit module: the connection, address and user
 * tables are all one of these. An entry embeds a struct cl_node as its first member and the
 * caller computes the hash and compares keys itself (cl_table_first / cl_table_next walk
 * one hash chain), so the table knows nothing of what it holds and never allocates an
 * entry. It is not thread-safe: the module calls it under its own mutex.
 */
#ifndef CONNLIMIT_TABLE_H
#define CONNLIMIT_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct cl_node {
	struct cl_node *next;
	uint64_t hash;
};

struct cl_table {
	struct cl_node **buckets;
	size_t nbuckets; /* a power of two, or 0 before the first insert */
	size_t count;
};

/** The first entry of @p hash's chain whose hash is @p hash, or NULL. */
struct cl_node *cl_table_first(const struct cl_table *t, uint64_t hash);

/** The next entry after @p n with the same hash, or NULL. */
struct cl_node *cl_table_next(const struct cl_node *n);

/**
 * Adds @p n (its hash already set). Grows the bucket array when the table is full; when
 * that allocation fails the entry is still added, to a longer chain.
 * @return 0, or -1 when the very first bucket array cannot be allocated (nothing added).
 */
int cl_table_insert(struct cl_table *t, struct cl_node *n);

/** Removes @p n, which must be in the table. */
void cl_table_remove(struct cl_table *t, struct cl_node *n);

/** Calls @p fn on every entry (which may free it) and empties the table. */
void cl_table_clear(struct cl_table *t, void (*fn)(struct cl_node *n));

/** 64-bit hash of @p len bytes, keyed with @p seed. Not cryptographic. */
uint64_t cl_hash_bytes(uint64_t seed, const void *data, size_t len);

#endif
