/*
 * Latency samples per command, kept whole (a few hundred thousand at most in a run), so
 * that the percentiles are exact order statistics rather than histogram estimates.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

void lat_add(struct lat *l, uint64_t us)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		uint32_t *p = realloc(l->us, cap * sizeof(*p));
		if (p == NULL)
			fail("out of memory for latency samples");
		l->us = p;
		l->cap = cap;
	}
	l->us[l->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

double lat_pct(struct lat *l, double pct)
{
	if (l->n == 0)
		return 0;
	qsort(l->us, l->n, sizeof(*l->us), cmp_u32);
	/* Nearest rank: the smallest sample with at least pct % of samples at or below it. */
	size_t rank = (size_t)((pct / 100.0) * (double)l->n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > l->n)
		rank = l->n;
	return l->us[rank - 1] / 1000.0;
}

void lat_report(struct lat *l, const char *prefix)
{
	char key[160];
	snprintf(key, sizeof(key), "%s.%s.count", prefix, l->name);
	result(key, (double)l->n, "commands", NULL);
	if (l->n == 0)
		return;
	snprintf(key, sizeof(key), "%s.%s.p50", prefix, l->name);
	result(key, lat_pct(l, 50), "ms", NULL);
	snprintf(key, sizeof(key), "%s.%s.p99", prefix, l->name);
	result(key, lat_pct(l, 99), "ms", NULL);
}
