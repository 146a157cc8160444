/*
 * The table from message key to current file name that each open box keeps, so that
 * opening, flagging or expunging a message does not read a directory of 100,000 names.
 * A scan rebuilds it from scratch; flag renames and copies update it; when another program
 * renamed a file behind our back, the caller notices ENOENT and refreshes the table from
 * the directories (box.c).
 *
 * Names live back to back in one arena, and the table is open addressing over offsets into
 * it, so a table of 100,000 messages is two allocations, not 100,000. Replaced names stay
 * in the arena as garbage until the next scan starts a fresh one.
 */
#include "maildir.h"

#include <stdlib.h>
#include <string.h>

#define MAILDIR_SLOT_EMPTY 0u
#define MAILDIR_SLOT_GONE UINT32_MAX

static uint32_t maildir_hash(const char *key, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 16777619u;
	}
	return h;
}

void maildir_cache_init(struct maildir_cache *c)
{
	memset(c, 0, sizeof(*c));
}

void maildir_cache_free(struct maildir_cache *c)
{
	free(c->arena);
	free(c->slots);
	memset(c, 0, sizeof(*c));
}

void maildir_cache_clear(struct maildir_cache *c)
{
	c->len = 0;
	c->used = 0;
	if (c->slots != NULL)
		memset(c->slots, 0, c->nslots * sizeof(*c->slots));
}

void maildir_cache_swap(struct maildir_cache *a, struct maildir_cache *b)
{
	struct maildir_cache t = *a;
	*a = *b;
	*b = t;
}

static const char *entry_name(const struct maildir_cache *c, uint32_t slot)
{
	return c->arena + (slot - 1) + 1;
}

static bool entry_matches(const struct maildir_cache *c, uint32_t slot, const char *key,
                          size_t keylen)
{
	const char *name = entry_name(c, slot);
	return strncmp(name, key, keylen) == 0 && (name[keylen] == '\0' || name[keylen] == ':');
}

/* The slot holding @p key, or the first free one where it would go. */
static uint32_t *maildir_cache_find(const struct maildir_cache *c, const char *key, size_t keylen,
                                    bool *found_r)
{
	uint32_t mask = c->nslots - 1, i = maildir_hash(key, keylen) & mask;
	uint32_t *reuse = NULL;

	*found_r = false;
	for (uint32_t probes = 0; probes < c->nslots; probes++, i = (i + 1) & mask) {
		uint32_t s = c->slots[i];
		if (s == MAILDIR_SLOT_EMPTY)
			return reuse != NULL ? reuse : &c->slots[i];
		if (s == MAILDIR_SLOT_GONE) {
			if (reuse == NULL)
				reuse = &c->slots[i];
			continue;
		}
		if (entry_matches(c, s, key, keylen)) {
			*found_r = true;
			return &c->slots[i];
		}
	}
	return reuse;
}

static int maildir_cache_grow(struct maildir_cache *c)
{
	uint32_t nslots = c->nslots == 0 ? 1024 : c->nslots * 2;
	uint32_t *old = c->slots, oldn = c->nslots;

	if (nslots == 0 || nslots > (1u << 30))
		return -1;
	c->slots = calloc(nslots, sizeof(*c->slots));
	if (c->slots == NULL) {
		c->slots = old;
		return -1;
	}
	c->nslots = nslots;
	c->used = 0;
	for (uint32_t i = 0; i < oldn; i++) {
		uint32_t s = old[i];
		bool found;
		if (s == MAILDIR_SLOT_EMPTY || s == MAILDIR_SLOT_GONE)
			continue;
		const char *name = entry_name(c, s);
		*maildir_cache_find(c, name, maildir_key_len(name), &found) = s;
		c->used++;
	}
	free(old);
	return 0;
}

int maildir_cache_put(struct maildir_cache *c, char where, const char *name)
{
	size_t n = strlen(name) + 2, keylen = maildir_key_len(name);
	uint32_t *slot;
	bool found;

	if ((c->used + 1) * 2 > c->nslots && maildir_cache_grow(c) != 0)
		return -1;
	if (c->len + n > c->cap) {
		size_t cap = c->cap == 0 ? 65536 : c->cap * 2;
		char *arena;
		while (cap < c->len + n)
			cap *= 2;
		if (cap >= UINT32_MAX - 1)
			return -1;
		arena = realloc(c->arena, cap);
		if (arena == NULL)
			return -1;
		c->arena = arena;
		c->cap = cap;
	}
	slot = maildir_cache_find(c, name, keylen, &found);
	if (slot == NULL)
		return -1;
	c->arena[c->len] = where;
	memcpy(c->arena + c->len + 1, name, n - 1);
	if (!found && *slot == MAILDIR_SLOT_EMPTY)
		c->used++;
	*slot = (uint32_t)c->len + 1;
	c->len += n;
	return 0;
}

const char *maildir_cache_get(const struct maildir_cache *c, const char *key, size_t keylen,
                              char *where_r)
{
	uint32_t *slot;
	bool found;

	if (c->nslots == 0)
		return NULL;
	slot = maildir_cache_find(c, key, keylen, &found);
	if (!found)
		return NULL;
	*where_r = c->arena[*slot - 1];
	return entry_name(c, *slot);
}

void maildir_cache_del(struct maildir_cache *c, const char *key, size_t keylen)
{
	uint32_t *slot;
	bool found;

	if (c->nslots == 0)
		return;
	slot = maildir_cache_find(c, key, keylen, &found);
	if (found)
		*slot = MAILDIR_SLOT_GONE;
}
