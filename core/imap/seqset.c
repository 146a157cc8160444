/*
 * Sequence sets (see seqset.h). Parsing counts the commas first so the ranges take one
 * allocation however long the list is, and reads each number with an overflow check, so a
 * 100,000-element UID set from a synchronising client costs one pass and one sort. Errors
 * name what was wrong in a sentence the command layer can send back in its BAD.
 */
#include "imap/seqset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Describes an unexpected byte for an error sentence without echoing control bytes. */
static void seqset_describe_byte(unsigned char c, char *out, size_t out_len)
{
	if (c == ' ')
		snprintf(out, out_len, "a space");
	else if (c > 0x20 && c < 0x7f)
		snprintf(out, out_len, "'%c'", c);
	else
		snprintf(out, out_len, "byte 0x%02X", c);
}

static int seqset_bad(struct sluice_error *err, const char *sentence)
{
	return sluice_error_set(err, SLUICE_E_PARSE, NULL, "%s", sentence);
}

static int seqset_bad_byte(struct sluice_error *err, unsigned char c)
{
	char what[16];
	seqset_describe_byte(c, what, sizeof(what));
	return sluice_error_set(err, SLUICE_E_PARSE, NULL,
	                        "Unexpected %s in the sequence set: use numbers, '*', ':' and ','.",
	                        what);
}

/* Reads one seq-number (an nz-number or `*`) at *pp and advances past it. */
static int seqset_parse_number(const char **pp, uint32_t *n_r, bool *star_r,
                               struct sluice_error *err)
{
	const char *p = *pp;
	unsigned char c = (unsigned char)*p;

	if (c == '*') {
		*n_r = SEQSET_STAR;
		*star_r = true;
		*pp = p + 1;
		return 0;
	}
	if (c == '\0')
		return seqset_bad(err, "The sequence set ends where a number was expected.");
	if (c == ',')
		return seqset_bad(err, "The sequence set has an empty element.");
	if (c == ':')
		return seqset_bad(err, "A range in the sequence set lacks a number before ':'.");
	if (c == '$')
		return seqset_bad(err, "'$' must be the whole sequence set, not part of one.");
	if (c == '0') {
		if (p[1] >= '0' && p[1] <= '9')
			return seqset_bad(err, "Numbers in a sequence set have no leading zeros.");
		return seqset_bad(err, "Numbers in a sequence set start at 1; 0 is not valid.");
	}
	if (c < '1' || c > '9')
		return seqset_bad_byte(err, c);

	uint64_t n = 0;
	while (*p >= '0' && *p <= '9') {
		n = n * 10 + (uint64_t)(*p - '0');
		if (n > UINT32_MAX)
			return seqset_bad(err, "A number in the sequence set exceeds 4294967295.");
		p++;
	}
	*n_r = (uint32_t)n;
	*pp = p;
	return 0;
}

void seqset_init(struct seqset *set, struct sluice_pool *pool)
{
	memset(set, 0, sizeof(*set));
	set->pool = pool;
}

/* Makes room for at least @p want ranges; old arrays stay in the pool until it is cleared. */
static int seqset_reserve(struct seqset *set, size_t want)
{
	if (want <= set->cap)
		return 0;
	size_t cap = set->cap < 8 ? 8 : set->cap;
	while (cap < want) {
		if (cap > SIZE_MAX / 2 / sizeof(struct seqset_range))
			return SLUICE_E_NOMEM;
		cap *= 2;
	}
	if (cap > SIZE_MAX / sizeof(struct seqset_range))
		return SLUICE_E_NOMEM;
	struct seqset_range *r = pool_alloc(set->pool, cap * sizeof(*r));
	if (r == NULL)
		return SLUICE_E_NOMEM;
	if (set->count > 0)
		memcpy(r, set->ranges, set->count * sizeof(*r));
	set->ranges = r;
	set->cap = cap;
	return 0;
}

int seqset_add(struct seqset *set, uint32_t a, uint32_t b)
{
	if (set->count == SIZE_MAX || seqset_reserve(set, set->count + 1) < 0)
		return SLUICE_E_NOMEM;
	set->ranges[set->count].lo = a;
	set->ranges[set->count].hi = b;
	set->count++;
	if (a == SEQSET_STAR || b == SEQSET_STAR)
		set->has_star = true;
	set->resolved = false;
	return 0;
}

int seqset_parse(const char *text, struct seqset *set_r, struct sluice_pool *pool,
                 struct sluice_error *err)
{
	seqset_init(set_r, pool);
	if (text == NULL || *text == '\0')
		return seqset_bad(err, "The sequence set is empty.");
	if (text[0] == '$' && text[1] == '\0') {
		set_r->saved = true;
		return 0;
	}

	/* Every element is followed by a comma or the end, so this bounds the ranges. */
	size_t elements = 1;
	for (const char *p = text; *p != '\0'; p++)
		elements += (*p == ',');
	if (seqset_reserve(set_r, elements) < 0)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL,
		                        "The sequence set is too large for this session.");

	const char *p = text;
	for (;;) {
		uint32_t a, b;
		bool star = false;
		int ret = seqset_parse_number(&p, &a, &star, err);
		if (ret < 0)
			return ret;
		b = a;
		if (*p == ':') {
			p++;
			ret = seqset_parse_number(&p, &b, &star, err);
			if (ret < 0)
				return ret;
		}
		set_r->ranges[set_r->count].lo = a;
		set_r->ranges[set_r->count].hi = b;
		set_r->count++;
		set_r->has_star = set_r->has_star || star;

		if (*p == '\0')
			break;
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == ':')
			return seqset_bad(err,
			                  "A range in the sequence set has one ':', as in 1:5.");
		return seqset_bad_byte(err, (unsigned char)*p);
	}
	return 0;
}

static int seqset_range_cmp(const void *a, const void *b)
{
	const struct seqset_range *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

int seqset_add_set(struct seqset *set, const struct seqset *from)
{
	for (size_t i = 0; from != NULL && i < from->count; i++)
		if (seqset_add(set, from->ranges[i].lo, from->ranges[i].hi) != 0)
			return SLUICE_E_NOMEM;
	return 0;
}

int seqset_resolve(struct seqset *set, uint32_t star)
{
	int ret = 0;
	bool sorted = true;
	size_t kept = 0;

	for (size_t i = 0; i < set->count; i++) {
		struct seqset_range r = set->ranges[i];
		if (r.lo == SEQSET_STAR || r.hi == SEQSET_STAR) {
			if (star == 0) {
				ret = SLUICE_NOTFOUND;
				continue;
			}
			if (r.lo == SEQSET_STAR)
				r.lo = star;
			if (r.hi == SEQSET_STAR)
				r.hi = star;
		}
		if (r.lo > r.hi) {
			uint32_t t = r.lo;
			r.lo = r.hi;
			r.hi = t;
		}
		if (kept > 0 && seqset_range_cmp(&set->ranges[kept - 1], &r) > 0)
			sorted = false;
		set->ranges[kept++] = r;
	}
	set->count = kept;
	set->has_star = false;

	/* Clients usually send ascending sets, so the sort is skipped when it has nothing to do. */
	if (!sorted)
		qsort(set->ranges, set->count, sizeof(*set->ranges), seqset_range_cmp);

	if (set->count > 0) {
		size_t k = 0;
		for (size_t i = 1; i < set->count; i++) {
			struct seqset_range *cur = &set->ranges[k];
			const struct seqset_range *r = &set->ranges[i];
			/* Overlapping and adjacent ranges merge; 64 bits keep hi + 1 from wrapping.
			 */
			if ((uint64_t)r->lo <= (uint64_t)cur->hi + 1) {
				if (r->hi > cur->hi)
					cur->hi = r->hi;
			} else {
				set->ranges[++k] = *r;
			}
		}
		set->count = k + 1;
	}
	set->resolved = true;
	return ret;
}

/* Index of the last range whose lo is <= n, or count when there is none. */
static size_t seqset_find(const struct seqset *set, uint32_t n)
{
	size_t lo = 0, hi = set->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (set->ranges[mid].lo <= n)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == 0 ? set->count : lo - 1;
}

void seqset_clamp(struct seqset *set, uint32_t max)
{
	if (!set->resolved)
		return;
	if (max == 0) {
		set->count = 0;
		return;
	}
	size_t i = seqset_find(set, max);
	if (i == set->count) {
		set->count = 0;
		return;
	}
	if (set->ranges[i].hi > max)
		set->ranges[i].hi = max;
	set->count = i + 1;
}

bool seqset_contains(const struct seqset *set, uint32_t n)
{
	if (!set->resolved || set->count == 0)
		return false;
	size_t i = seqset_find(set, n);
	return i < set->count && n <= set->ranges[i].hi;
}

uint64_t seqset_count(const struct seqset *set)
{
	uint64_t total = 0;
	if (!set->resolved)
		return 0;
	for (size_t i = 0; i < set->count; i++)
		total += (uint64_t)set->ranges[i].hi - set->ranges[i].lo + 1;
	return total;
}

uint32_t seqset_min(const struct seqset *set)
{
	return set->resolved && set->count > 0 ? set->ranges[0].lo : 0;
}

uint32_t seqset_max(const struct seqset *set)
{
	return set->resolved && set->count > 0 ? set->ranges[set->count - 1].hi : 0;
}

void seqset_iter_init(struct seqset_iter *iter, const struct seqset *set)
{
	iter->set = set;
	iter->range = 0;
	iter->next = set->resolved && set->count > 0 ? set->ranges[0].lo : 0;
}

bool seqset_iter_next(struct seqset_iter *iter, uint32_t *n_r)
{
	const struct seqset *set = iter->set;
	if (!set->resolved || iter->range >= set->count)
		return false;
	*n_r = (uint32_t)iter->next;
	if (iter->next < set->ranges[iter->range].hi) {
		iter->next++;
	} else if (++iter->range < set->count) {
		iter->next = set->ranges[iter->range].lo;
	}
	return true;
}

/* Appends "lo" or "lo:hi", preceded by a comma unless it is the first element. */
static int seqset_write_range(struct buf *out, bool first, uint32_t lo, uint32_t hi)
{
	char tmp[32];
	int len;
	if (lo == hi)
		len = snprintf(tmp, sizeof(tmp), "%s%u", first ? "" : ",", (unsigned)lo);
	else
		len = snprintf(tmp, sizeof(tmp), "%s%u:%u", first ? "" : ",", (unsigned)lo,
		               (unsigned)hi);
	return buf_append(out, tmp, (size_t)len);
}

int seqset_write(struct buf *out, const uint32_t *values, size_t n)
{
	size_t before = buf_len(out);
	size_t i = 0;
	bool first = true;

	while (i < n) {
		uint32_t lo = values[i], hi = values[i];
		for (i++; i < n; i++) {
			if (values[i] == hi)
				continue;
			if (hi == UINT32_MAX || values[i] != hi + 1)
				break;
			hi = values[i];
		}
		if (seqset_write_range(out, first, lo, hi) < 0) {
			/* buf_reserve may have moved the bytes down, so restore by length. */
			out->end = out->start + before;
			return SLUICE_E_NOMEM;
		}
		first = false;
	}
	return 0;
}

int seqset_write_set(struct buf *out, const struct seqset *set)
{
	size_t before = buf_len(out);
	if (!set->resolved)
		return 0;
	for (size_t i = 0; i < set->count; i++) {
		if (seqset_write_range(out, i == 0, set->ranges[i].lo, set->ranges[i].hi) < 0) {
			out->end = out->start + before;
			return SLUICE_E_NOMEM;
		}
	}
	return 0;
}
