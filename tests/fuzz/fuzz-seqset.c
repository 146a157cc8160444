/*
 * Fuzz target for sequence sets (core/imap/seqset.c).
 *
 * The input is the text of a sequence set, optionally followed by a newline and the decimal
 * value `*` should take (100 when absent), so seeds stay readable. Besides the sanitizers'
 * checks, the target aborts when the module breaks a promise: a refusal without a sentence,
 * a resolved set that is not sorted, disjoint and non-adjacent, a lookup that disagrees with
 * the ranges, a count that disagrees with iteration, written text that does not parse back
 * to the same set, or the two writers disagreeing.
 *
 * It is plain C: built with libFuzzer under clang, or linked with the replay driver that
 * feeds the seed files in tests/fuzz/corpus/seqset/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/seqset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Iteration and the value writer are exercised only on sets up to this size. */
#define FUZZ_SEQSET_MAX_WALK 200000

static void fuzz_check(int ok)
{
	if (!ok)
		abort();
}

static uint32_t fuzz_star(const char *p)
{
	uint64_t v = 0;
	if (*p == '\0')
		return 100;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return UINT32_MAX;
	}
	return (uint32_t)v;
}

static void fuzz_check_invariants(const struct seqset *set)
{
	uint64_t total = 0;
	for (size_t i = 0; i < set->count; i++) {
		const struct seqset_range *r = &set->ranges[i];
		fuzz_check(r->lo >= 1 && r->lo <= r->hi);
		if (i > 0)
			fuzz_check((uint64_t)set->ranges[i - 1].hi + 1 < r->lo);
		fuzz_check(seqset_contains(set, r->lo) && seqset_contains(set, r->hi));
		if (r->lo > 1)
			fuzz_check(!seqset_contains(set, r->lo - 1));
		if (r->hi < UINT32_MAX)
			fuzz_check(!seqset_contains(set, r->hi + 1));
		total += (uint64_t)r->hi - r->lo + 1;
	}
	fuzz_check(seqset_count(set) == total);
	fuzz_check(!seqset_contains(set, 0));
}

/* Walks the set, checks it ascends, and writes it from the values as COPYUID would. */
static void fuzz_check_walk(const struct seqset *set, const struct buf *written)
{
	uint64_t count = seqset_count(set);
	if (count > FUZZ_SEQSET_MAX_WALK)
		return;
	uint32_t *values = malloc((size_t)(count ? count : 1) * sizeof(*values));
	fuzz_check(values != NULL);
	struct seqset_iter it;
	uint32_t n;
	size_t k = 0;
	seqset_iter_init(&it, set);
	while (seqset_iter_next(&it, &n)) {
		fuzz_check(k < count);
		fuzz_check(k == 0 || n > values[k - 1]);
		values[k++] = n;
	}
	fuzz_check(k == count);
	struct buf b = {0};
	fuzz_check(seqset_write(&b, values, k) == 0);
	fuzz_check(buf_len(&b) == buf_len(written) &&
	           (buf_len(&b) == 0 || memcmp(buf_head(&b), buf_head(written), buf_len(&b)) == 0));
	buf_free(&b);
	free(values);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	fuzz_check(text != NULL);
	if (size > 0)
		memcpy(text, data, size);
	text[size] = '\0';
	uint32_t star = 100;
	char *nl = strchr(text, '\n');
	if (nl != NULL) {
		*nl = '\0';
		star = fuzz_star(nl + 1);
	}

	struct sluice_pool *pool = pool_create(4096, 0);
	fuzz_check(pool != NULL);
	struct seqset set;
	struct sluice_error err = SLUICE_ERROR_INIT;
	int ret = seqset_parse(text, &set, pool, &err);
	if (ret != 0) {
		fuzz_check(ret == SLUICE_E_PARSE && err.code == ret && err.msg[0] != '\0');
		goto out;
	}
	if (set.saved) {
		fuzz_check(strcmp(text, "$") == 0 && set.count == 0);
		goto out;
	}
	bool had_star = set.has_star;
	ret = seqset_resolve(&set, star);
	fuzz_check(ret == 0 || (ret == SLUICE_NOTFOUND && star == 0 && had_star));
	fuzz_check(set.resolved && !set.has_star);
	fuzz_check_invariants(&set);

	/* The written form parses back to exactly the same ranges. */
	struct buf b = {0};
	fuzz_check(seqset_write_set(&b, &set) == 0);
	if (set.count > 0) {
		struct seqset again;
		fuzz_check(buf_append(&b, "", 1) == 0);
		fuzz_check(seqset_parse((const char *)buf_head(&b), &again, pool, NULL) == 0);
		fuzz_check(seqset_resolve(&again, 1) == 0 && again.count == set.count);
		fuzz_check(memcmp(again.ranges, set.ranges, set.count * sizeof(*set.ranges)) == 0);
		b.end--;
	}
	fuzz_check_walk(&set, &b);
	buf_free(&b);

	seqset_clamp(&set, star);
	fuzz_check(seqset_max(&set) <= star);
	fuzz_check_invariants(&set);
out:
	pool_destroy(&pool);
	free(text);
	return 0;
}
