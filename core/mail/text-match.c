/*
 * Case-insensitive UTF-8 substring search for SEARCH (declared in decode.h). Both strings
 * are read as code points and folded with a small built-in table, then matched with
 * Knuth-Morris-Pratt, so a hostile message ("aaaa...") cannot make the search quadratic.
 * The table is used instead of towlower() because towlower depends on the process locale,
 * which a server must not rely on; its coverage and limits are stated in decode.h.
 */
#include "mail/decode.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

/* Needles up to this many code points need no heap memory. */
#define MATCH_SMALL 64
/* Invalid UTF-8 bytes are given code points above Unicode, so they match only themselves. */
#define MATCH_RAW_BASE 0x110000u

/* Reads one code point at *pp; invalid or overlong sequences yield one raw byte. */
static uint32_t match_next(const unsigned char **pp, const unsigned char *end)
{
	uint32_t cp;
	size_t n = utf8_decode(*pp, (size_t)(end - *pp), &cp);
	if (n == 0) {
		/* Invalid bytes still match themselves, never a character. */
		cp = MATCH_RAW_BASE + **pp;
		n = 1;
	}
	*pp += n;
	return cp;
}

/* Ranges where upper and lower case alternate: the upper case letter has the parity given. */
struct match_pairs {
	uint32_t first, last;
	uint32_t upper_parity;
};

static const struct match_pairs match_alternating[] = {
    {0x0100, 0x012f, 0}, {0x0132, 0x0137, 0}, {0x0139, 0x0148, 1}, {0x014a, 0x0177, 0},
    {0x0179, 0x017e, 1}, {0x01cd, 0x01dc, 1}, {0x01de, 0x01ef, 0}, {0x01f8, 0x021f, 0},
    {0x0222, 0x0233, 0}, {0x03d8, 0x03ef, 0}, {0x0460, 0x0481, 0}, {0x048a, 0x04bf, 0},
    {0x04c1, 0x04ce, 1}, {0x04d0, 0x052f, 0}, {0x1e00, 0x1e95, 0}, {0x1ea0, 0x1eff, 0},
};

/* Simple case folding of the letters listed in decode.h; others are returned unchanged. */
static uint32_t match_fold(uint32_t c)
{
	if (c < 0x80)
		return (c >= 'A' && c <= 'Z') ? c + 32 : c;
	if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		return c + 32;
	if (c < 0x100)
		return c == 0xb5 ? 0x3bc : c; /* micro sign folds to Greek mu */
	for (size_t i = 0; i < sizeof(match_alternating) / sizeof(match_alternating[0]); i++) {
		const struct match_pairs *r = &match_alternating[i];
		if (c >= r->first && c <= r->last)
			return (c & 1) == r->upper_parity ? c + 1 : c;
	}
	switch (c) {
	case 0x0130:
		return 'i'; /* capital I with dot above */
	case 0x0178:
		return 0xff; /* Y with diaeresis */
	case 0x017f:
		return 's'; /* long s */
	case 0x0386:
		return 0x3ac;
	case 0x038c:
		return 0x3cc;
	case 0x03c2:
		return 0x3c3; /* final sigma */
	case 0x04c0:
		return 0x4cf;
	case 0x1e9e:
		return 0xdf; /* capital sharp s */
	case 0x2126:
		return 0x3c9; /* ohm sign */
	case 0x212a:
		return 'k'; /* kelvin sign */
	case 0x212b:
		return 0xe5; /* angstrom sign */
	}
	if (c >= 0x388 && c <= 0x38a)
		return c + 37;
	if (c >= 0x38e && c <= 0x38f)
		return c + 63;
	if ((c >= 0x391 && c <= 0x3a1) || (c >= 0x3a3 && c <= 0x3ab))
		return c + 32;
	if (c >= 0x400 && c <= 0x40f)
		return c + 80;
	if (c >= 0x410 && c <= 0x42f)
		return c + 32;
	if (c >= 0x531 && c <= 0x556)
		return c + 48;
	if (c >= 0xff21 && c <= 0xff3a)
		return c + 32;
	return c;
}

/* ASCII folded with a table, so the common byte costs no call. */
static unsigned char match_ascii_fold[128];

static void match_ascii_fold_init(void)
{
	for (unsigned c = 0; c < 128; c++)
		match_ascii_fold[c] = (unsigned char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
}

/* Reads and folds one code point at *pp: ASCII through the table, the rest decoded. */
static inline uint32_t match_next_folded(const unsigned char **pp, const unsigned char *end)
{
	unsigned char b = **pp;
	if (b < 0x80) {
		(*pp)++;
		return match_ascii_fold[b];
	}
	return match_fold(match_next(pp, end));
}

/*
 * Where a match can start. When the folded needle begins with an ASCII character, only
 * bytes that fold to it can start a match: its two cases, plus the lead byte of the few
 * non-ASCII letters that fold to ASCII (U+0130 -> i, U+017F -> s, U+212A -> k). Those bytes
 * are never UTF-8 continuation bytes, so a jump to one lands on a code point boundary, as
 * the decoding from the start would. The scan keeps the next position of each byte so
 * that memchr runs over each stretch of the haystack once per byte value.
 */
struct match_starts {
	unsigned char bytes[3];
	size_t count;
	const unsigned char *next[3]; /* next occurrence at or after the scan point, or NULL */
	bool fresh[3];                /* next[] is valid */
};

static bool match_starts_init(struct match_starts *st, uint32_t first)
{
	memset(st, 0, sizeof(*st));
	if (first >= 0x80)
		return false;
	st->bytes[st->count++] = (unsigned char)first;
	if (first >= 'a' && first <= 'z')
		st->bytes[st->count++] = (unsigned char)(first - 32);
	if (first == 'i')
		st->bytes[st->count++] = 0xc4;
	else if (first == 's')
		st->bytes[st->count++] = 0xc5;
	else if (first == 'k')
		st->bytes[st->count++] = 0xe2;
	return true;
}

/* The first possible start at or after @p hp, or NULL when there is none. */
static const unsigned char *match_starts_next(struct match_starts *st, const unsigned char *hp,
					      const unsigned char *hend)
{
	const unsigned char *best = NULL;
	for (size_t i = 0; i < st->count; i++) {
		if (!st->fresh[i] || (st->next[i] != NULL && st->next[i] < hp)) {
			st->next[i] = memchr(hp, st->bytes[i], (size_t)(hend - hp));
			st->fresh[i] = true;
		}
		if (st->next[i] != NULL && (best == NULL || st->next[i] < best))
			best = st->next[i];
	}
	return best;
}

bool mail_text_contains(const char *haystack, size_t hlen, const char *needle_utf8)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const unsigned char *np = (const unsigned char *)needle_utf8;
	size_t nbytes = strlen(needle_utf8);
	const unsigned char *nend = np + nbytes;
	if (nbytes == 0)
		return true;
	pthread_once(&once, match_ascii_fold_init);

	/* The folded needle and its KMP failure table; a needle has at most nbytes code points. */
	uint32_t small_pat[MATCH_SMALL];
	size_t small_fail[MATCH_SMALL];
	uint32_t *pat = small_pat;
	size_t *fail = small_fail;
	void *heap = NULL;
	if (nbytes > MATCH_SMALL) {
		heap = malloc(nbytes * (sizeof(*pat) + sizeof(*fail)));
		if (heap == NULL)
			return false;
		fail = heap; /* the stricter alignment first */
		pat = (uint32_t *)(void *)(fail + nbytes);
	}
	size_t m = 0;
	while (np < nend)
		pat[m++] = match_fold(match_next(&np, nend));
	fail[0] = 0;
	for (size_t i = 1, k = 0; i < m; i++) {
		while (k > 0 && pat[i] != pat[k])
			k = fail[k - 1];
		if (pat[i] == pat[k])
			k++;
		fail[i] = k;
	}

	struct match_starts starts;
	bool skip = match_starts_init(&starts, pat[0]);
	bool found = false;
	const unsigned char *hp = (const unsigned char *)haystack, *hend = hp + hlen;
	size_t k = 0;
	while (hp < hend) {
		if (k == 0 && skip) {
			hp = match_starts_next(&starts, hp, hend);
			if (hp == NULL)
				break;
		}
		uint32_t c = match_next_folded(&hp, hend);
		while (k > 0 && c != pat[k])
			k = fail[k - 1];
		if (c == pat[k] && ++k == m) {
			found = true;
			break;
		}
	}
	free(heap);
	return found;
}
