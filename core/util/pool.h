/*
 * Memory pools: many small allocations freed together. A session owns one pool for
 * its whole life and one per command, cleared after each tagged answer; a module
 * allocates what it returns through `_r` parameters from the pool it was handed.
 * An optional cap makes a pool refuse allocations past a number of bytes, which is
 * how a session's memory is bounded. A pool is not thread-safe: one owner at a time.
 */
#ifndef SLUICE_POOL_H
#define SLUICE_POOL_H

#include <stddef.h>

struct sluice_pool;

/** Creates a pool whose blocks are at least @p block_size bytes; @p cap 0 means no cap. */
struct sluice_pool *pool_create(size_t block_size, size_t cap);
/** Frees the pool and sets *pool to NULL; NULL is accepted. */
void pool_destroy(struct sluice_pool **pool);
/** Zeroed memory aligned for any type; NULL when out of memory or over the cap. */
void *pool_alloc(struct sluice_pool *pool, size_t size);
char *pool_strndup(struct sluice_pool *pool, const char *s, size_t len);
char *pool_strdup(struct sluice_pool *pool, const char *s);
/** printf into the pool; NULL when out of memory. */
char *pool_printf(struct sluice_pool *pool, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Forgets every allocation, keeping the first block for reuse. */
void pool_clear(struct sluice_pool *pool);
/** Bytes obtained from malloc for this pool, blocks included. */
size_t pool_footprint(const struct sluice_pool *pool);

#endif
