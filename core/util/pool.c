/*
 * Memory pools: a list of blocks carved from front to back. Large requests get a block
 * of their own, so one big allocation does not waste a whole standard block. Clearing
 * keeps the first block, which makes a per-command pool free of malloc traffic in the
 * common case of small commands.
 */
#include "util/pool.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_ALIGN 16

struct pool_block {
	struct pool_block *next;
	size_t size; /* usable bytes after the header */
	size_t used;
	_Alignas(POOL_ALIGN) unsigned char data[];
};

struct sluice_pool {
	struct pool_block *head; /* the block being carved; older blocks follow */
	struct pool_block *first;
	size_t block_size;
	size_t cap;
	size_t footprint;
};

static struct pool_block *pool_new_block(struct sluice_pool *pool, size_t size)
{
	if (pool->cap != 0 && pool->footprint + size + sizeof(struct pool_block) > pool->cap)
		return NULL;
	struct pool_block *b = malloc(sizeof(*b) + size);
	if (b == NULL)
		return NULL;
	b->next = NULL;
	b->size = size;
	b->used = 0;
	pool->footprint += sizeof(*b) + size;
	return b;
}

struct sluice_pool *pool_create(size_t block_size, size_t cap)
{
	struct sluice_pool *pool = calloc(1, sizeof(*pool));
	if (pool == NULL)
		return NULL;
	pool->block_size = block_size < 256 ? 256 : block_size;
	pool->cap = cap;
	pool->footprint = sizeof(*pool);
	return pool;
}

void pool_destroy(struct sluice_pool **poolp)
{
	struct sluice_pool *pool = *poolp;
	if (pool == NULL)
		return;
	for (struct pool_block *b = pool->head, *next; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(pool);
	*poolp = NULL;
}

void *pool_alloc(struct sluice_pool *pool, size_t size)
{
	if (size > SIZE_MAX / 2)
		return NULL;
	size = (size + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1);
	if (size == 0)
		size = POOL_ALIGN;
	struct pool_block *b = pool->head;
	if (b == NULL || b->size - b->used < size) {
		if (size > pool->block_size / 2 && b != NULL) {
			/* A large request gets its own block behind the current one. */
			struct pool_block *big = pool_new_block(pool, size);
			if (big == NULL)
				return NULL;
			big->used = size;
			big->next = b->next;
			b->next = big;
			memset(big->data, 0, size);
			return big->data;
		}
		struct pool_block *nb = pool_new_block(pool, size > pool->block_size ? size : pool->block_size);
		if (nb == NULL)
			return NULL;
		nb->next = b;
		pool->head = nb;
		if (pool->first == NULL)
			pool->first = nb;
		b = nb;
	}
	void *p = b->data + b->used;
	b->used += size;
	memset(p, 0, size);
	return p;
}

char *pool_strndup(struct sluice_pool *pool, const char *s, size_t len)
{
	char *d = pool_alloc(pool, len + 1);
	if (d != NULL && len > 0)
		memcpy(d, s, len);
	return d;
}

char *pool_strdup(struct sluice_pool *pool, const char *s)
{
	return pool_strndup(pool, s, strlen(s));
}

char *pool_printf(struct sluice_pool *pool, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	char *d = pool_alloc(pool, (size_t)n + 1);
	if (d == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(d, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return d;
}

void pool_clear(struct sluice_pool *pool)
{
	struct pool_block *keep = pool->first;
	for (struct pool_block *b = pool->head, *next; b != NULL; b = next) {
		next = b->next;
		if (b != keep) {
			pool->footprint -= sizeof(*b) + b->size;
			free(b);
		}
	}
	pool->head = keep;
	if (keep != NULL) {
		keep->used = 0;
		keep->next = NULL;
	}
}

size_t pool_footprint(const struct sluice_pool *pool)
{
	return pool->footprint;
}
