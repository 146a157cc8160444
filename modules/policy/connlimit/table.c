/*
 * The intrusive hash table behind connlimit's connection, address and user tables (see
 * table.h). Chains are singly linked; the bucket array doubles when the table holds as many
 * entries as buckets, so lookups stay O(1) on average. Hashes are keyed with a per-process
 * random seed, which makes it harder for a client to aim many addresses at one chain.
 */
#include "table.h"

#include <stdlib.h>

#define CL_TABLE_MIN_BUCKETS 64

static size_t bucket_of(const struct cl_table *t, uint64_t hash)
{
	return (size_t)(hash & (t->nbuckets - 1));
}

struct cl_node *cl_table_first(const struct cl_table *t, uint64_t hash)
{
	if (t->nbuckets == 0)
		return NULL;
	for (struct cl_node *n = t->buckets[bucket_of(t, hash)]; n != NULL; n = n->next)
		if (n->hash == hash)
			return n;
	return NULL;
}

struct cl_node *cl_table_next(const struct cl_node *n)
{
	uint64_t hash = n->hash;

	for (n = n->next; n != NULL; n = n->next)
		if (n->hash == hash)
			return (struct cl_node *)n;
	return NULL;
}

static void table_grow(struct cl_table *t)
{
	size_t size = t->nbuckets == 0 ? CL_TABLE_MIN_BUCKETS : t->nbuckets * 2;
	struct cl_node **fresh = calloc(size, sizeof(*fresh));

	if (fresh == NULL)
		return; /* keep the old array: longer chains, still correct */
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct cl_node *n = t->buckets[i], *next;
		for (; n != NULL; n = next) {
			next = n->next;
			size_t b = (size_t)(n->hash & (size - 1));
			n->next = fresh[b];
			fresh[b] = n;
		}
	}
	free(t->buckets);
	t->buckets = fresh;
	t->nbuckets = size;
}

int cl_table_insert(struct cl_table *t, struct cl_node *n)
{
	if (t->count >= t->nbuckets)
		table_grow(t);
	if (t->nbuckets == 0)
		return -1;
	size_t b = bucket_of(t, n->hash);
	n->next = t->buckets[b];
	t->buckets[b] = n;
	t->count++;
	return 0;
}

void cl_table_remove(struct cl_table *t, struct cl_node *n)
{
	struct cl_node **p = &t->buckets[bucket_of(t, n->hash)];

	while (*p != NULL && *p != n)
		p = &(*p)->next;
	if (*p == n) {
		*p = n->next;
		n->next = NULL;
		t->count--;
	}
}

void cl_table_clear(struct cl_table *t, void (*fn)(struct cl_node *n))
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct cl_node *n = t->buckets[i], *next;
		for (; n != NULL; n = next) {
			next = n->next;
			fn(n);
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = 0;
	t->count = 0;
}

/* FNV-1a over the bytes, started from the seed, then the splitmix64 finalizer so that the
 * low bits (which pick the bucket) depend on every input bit. */
uint64_t cl_hash_bytes(uint64_t seed, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}
