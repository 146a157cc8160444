/*
 * Message flags (see flags.h). Duplicate keywords are found by sorting a copy of the list
 * rather than comparing every pair, so a client that sends a few thousand keywords in one
 * STORE costs n log n, not n squared. Case folding is ASCII only: keywords are atoms, and
 * locale-aware tolower() could make two different atoms equal under some locales.
 */
#include "imap/flags.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* System flags in the order imap_flags_write() lists them, RFC 3501's own order. */
static const struct {
	unsigned flag;
	const char *name;
} imap_system_flags[] = {
    {IMAP_FLAG_ANSWERED, "\\Answered"}, {IMAP_FLAG_FLAGGED, "\\Flagged"},
    {IMAP_FLAG_DELETED, "\\Deleted"},   {IMAP_FLAG_SEEN, "\\Seen"},
    {IMAP_FLAG_DRAFT, "\\Draft"},       {IMAP_FLAG_RECENT, "\\Recent"},
};

#define IMAP_SYSTEM_FLAG_COUNT (sizeof(imap_system_flags) / sizeof(imap_system_flags[0]))

/* Maildir info letters in the ASCII order file names must use; 0 stands for $Forwarded. */
static const struct {
	char letter;
	unsigned flag;
} imap_maildir_letters[] = {
    {'D', IMAP_FLAG_DRAFT},    {'F', IMAP_FLAG_FLAGGED}, {'P', 0},
    {'R', IMAP_FLAG_ANSWERED}, {'S', IMAP_FLAG_SEEN},    {'T', IMAP_FLAG_DELETED},
};

static unsigned char imap_fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static int imap_casecmp(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
	while (*x != '\0' && imap_fold(*x) == imap_fold(*y)) {
		x++;
		y++;
	}
	return (int)imap_fold(*x) - (int)imap_fold(*y);
}

bool imap_keyword_equal(const char *a, const char *b)
{
	return imap_casecmp(a, b) == 0;
}

/* ATOM-CHAR of RFC 3501: CHAR except atom-specials ( ) { SP CTL % * " \ ]. */
static bool imap_is_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

/* Index of the first byte that is not an ATOM-CHAR, or the length when all are. */
static size_t imap_atom_span(const char *s)
{
	size_t i = 0;
	while (s[i] != '\0' && imap_is_atom_char((unsigned char)s[i]))
		i++;
	return i;
}

bool imap_keyword_valid(const char *keyword)
{
	size_t len = strlen(keyword);
	return len > 0 && len <= IMAP_KEYWORD_MAX_LEN && imap_atom_span(keyword) == len;
}

unsigned imap_flag_from_name(const char *name)
{
	for (size_t i = 0; i < IMAP_SYSTEM_FLAG_COUNT; i++)
		if (imap_casecmp(name, imap_system_flags[i].name) == 0)
			return imap_system_flags[i].flag;
	return 0;
}

const char *imap_flag_name(unsigned flag)
{
	for (size_t i = 0; i < IMAP_SYSTEM_FLAG_COUNT; i++)
		if (imap_system_flags[i].flag == flag)
			return imap_system_flags[i].name;
	return NULL;
}

bool imap_flagset_has_keyword(const struct imap_flagset *set, const char *keyword)
{
	for (size_t i = 0; i < set->keyword_count; i++)
		if (imap_casecmp(set->keywords[i], keyword) == 0)
			return true;
	return false;
}

static int imap_flags_bad_token(const char *token, enum imap_flags_context ctx,
                                struct sluice_error *err)
{
	const char *cmd = ctx == IMAP_FLAGS_FOR_APPEND ? "APPEND" : "STORE";
	size_t len = strlen(token);

	if (len == 0)
		return sluice_error_set(err, SLUICE_E_PARSE, NULL, "An empty flag is not valid.");
	if (token[0] == '\\') {
		if (imap_casecmp(token, "\\Recent") == 0)
			return sluice_error_set(err, SLUICE_E_PARSE, NULL,
			                        "\\Recent is set by the server alone; %s cannot "
			                        "set it.",
			                        cmd);
		/* Echo the name only when it is short and harmless to show. */
		if (len <= 40 && imap_atom_span(token + 1) == len - 1)
			return sluice_error_set(err, SLUICE_E_PARSE, NULL,
			                        "%s is not a system flag; keywords are written "
			                        "without a backslash.",
			                        token);
		return sluice_error_set(err, SLUICE_E_PARSE, NULL,
		                        "A flag with a backslash must be \\Answered, \\Flagged, "
		                        "\\Deleted, \\Seen or \\Draft.");
	}
	if (len > IMAP_KEYWORD_MAX_LEN)
		return sluice_error_set(err, SLUICE_E_PARSE, NULL,
		                        "A keyword is at most %d characters long.",
		                        IMAP_KEYWORD_MAX_LEN);
	unsigned char c = (unsigned char)token[imap_atom_span(token)];
	if (c > 0x20 && c < 0x7f)
		return sluice_error_set(err, SLUICE_E_PARSE, NULL,
		                        "A keyword may not contain '%c'.", c);
	return sluice_error_set(err, SLUICE_E_PARSE, NULL,
	                        "A keyword may not contain spaces, control characters or "
	                        "8-bit bytes.");
}

struct imap_kw_pos {
	const char *kw;
	size_t pos;
};

static int imap_kw_pos_cmp(const void *a, const void *b)
{
	const struct imap_kw_pos *x = a, *y = b;
	int c = imap_casecmp(x->kw, y->kw);
	if (c != 0)
		return c;
	return x->pos < y->pos ? -1 : (x->pos > y->pos);
}

/* Drops later repeats of a keyword (ignoring case), keeping the order of first spellings. */
static int imap_flags_dedup(struct imap_flagset *set)
{
	size_t n = set->keyword_count;
	if (n < 2)
		return 0;
	struct imap_kw_pos *sorted = malloc(n * sizeof(*sorted));
	bool *dup = calloc(n, sizeof(*dup));
	if (sorted == NULL || dup == NULL) {
		free(sorted);
		free(dup);
		return SLUICE_E_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		sorted[i].kw = set->keywords[i];
		sorted[i].pos = i;
	}
	qsort(sorted, n, sizeof(*sorted), imap_kw_pos_cmp);
	for (size_t i = 1; i < n; i++)
		if (imap_casecmp(sorted[i - 1].kw, sorted[i].kw) == 0)
			dup[sorted[i].pos] = true;
	size_t kept = 0;
	for (size_t i = 0; i < n; i++)
		if (!dup[i])
			set->keywords[kept++] = set->keywords[i];
	set->keyword_count = kept;
	free(sorted);
	free(dup);
	return 0;
}

int imap_flags_parse(const char *const *tokens, size_t count, enum imap_flags_context ctx,
                     struct sluice_pool *pool, struct imap_flagset *set_r, struct sluice_error *err)
{
	set_r->flags = 0;
	set_r->keywords = NULL;
	set_r->keyword_count = 0;
	if (count == 0)
		return 0;
	if (count > SIZE_MAX / sizeof(*set_r->keywords))
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Too many flags.");
	const char **keywords = pool_alloc(pool, count * sizeof(*keywords));
	if (keywords == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL,
		                        "The flag list is too large for this session.");

	size_t nkw = 0;
	for (size_t i = 0; i < count; i++) {
		const char *t = tokens[i] != NULL ? tokens[i] : "";
		if (t[0] == '\\') {
			unsigned flag = imap_flag_from_name(t);
			if (flag == 0 || (flag & IMAP_FLAGS_STORABLE) == 0)
				return imap_flags_bad_token(t, ctx, err);
			set_r->flags |= flag;
			continue;
		}
		if (!imap_keyword_valid(t))
			return imap_flags_bad_token(t, ctx, err);
		keywords[nkw] = pool_strdup(pool, t);
		if (keywords[nkw] == NULL)
			return sluice_error_set(err, SLUICE_E_NOMEM, NULL,
			                        "The flag list is too large for this session.");
		nkw++;
	}
	set_r->keywords = nkw > 0 ? keywords : NULL;
	set_r->keyword_count = nkw;
	if (imap_flags_dedup(set_r) < 0)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL,
		                        "The server is out of memory for this flag list.");
	return 0;
}

int imap_flags_write(struct buf *out, const struct imap_flagset *set)
{
	size_t before = buf_len(out);
	bool first = true;
	int ret = buf_append(out, "(", 1);

	for (size_t i = 0; ret == 0 && i < IMAP_SYSTEM_FLAG_COUNT; i++) {
		if ((set->flags & imap_system_flags[i].flag) == 0)
			continue;
		if (!first)
			ret = buf_append(out, " ", 1);
		if (ret == 0)
			ret = buf_append(out, imap_system_flags[i].name,
			                 strlen(imap_system_flags[i].name));
		first = false;
	}
	for (size_t i = 0; ret == 0 && i < set->keyword_count; i++) {
		if (!first)
			ret = buf_append(out, " ", 1);
		if (ret == 0)
			ret = buf_append(out, set->keywords[i], strlen(set->keywords[i]));
		first = false;
	}
	if (ret == 0)
		ret = buf_append(out, ")", 1);
	if (ret < 0) {
		out->end = out->start + before;
		return SLUICE_E_NOMEM;
	}
	return 0;
}

size_t imap_flags_to_maildir(const struct imap_flagset *set, char out[IMAP_MAILDIR_FLAGS_MAX + 1])
{
	size_t n = 0;
	for (size_t i = 0; i < sizeof(imap_maildir_letters) / sizeof(imap_maildir_letters[0]);
	     i++) {
		unsigned flag = imap_maildir_letters[i].flag;
		bool on = flag != 0 ? (set->flags & flag) != 0
		                    : imap_flagset_has_keyword(set, IMAP_KEYWORD_FORWARDED);
		if (on)
			out[n++] = imap_maildir_letters[i].letter;
	}
	out[n] = '\0';
	return n;
}

unsigned imap_flags_from_maildir(const char *letters, bool *passed_r)
{
	unsigned flags = 0;
	bool passed = false;
	for (const char *p = letters; *p != '\0'; p++) {
		for (size_t i = 0;
		     i < sizeof(imap_maildir_letters) / sizeof(imap_maildir_letters[0]); i++) {
			if (*p != imap_maildir_letters[i].letter)
				continue;
			if (imap_maildir_letters[i].flag == 0)
				passed = true;
			flags |= imap_maildir_letters[i].flag;
		}
	}
	if (passed_r != NULL)
		*passed_r = passed;
	return flags;
}

int imap_flagset_keywords_join(const struct imap_flagset *set, struct sluice_pool *pool,
                               const char **keywords_r)
{
	size_t len = 0;
	for (size_t i = 0; i < set->keyword_count; i++)
		len += strlen(set->keywords[i]) + 1;
	char *s = pool_alloc(pool, len + 1);
	if (s == NULL)
		return SLUICE_E_NOMEM;
	char *p = s;
	for (size_t i = 0; i < set->keyword_count; i++) {
		size_t n = strlen(set->keywords[i]);
		if (i > 0)
			*p++ = ' ';
		memcpy(p, set->keywords[i], n);
		p += n;
	}
	*p = '\0';
	*keywords_r = s;
	return 0;
}

int imap_flagset_from_keywords(unsigned flags, const char *keywords, struct sluice_pool *pool,
                               struct imap_flagset *set_r)
{
	set_r->flags = flags;
	set_r->keywords = NULL;
	set_r->keyword_count = 0;
	if (keywords == NULL || *keywords == '\0')
		return 0;

	/* One copy holds every word; spaces become terminators. */
	char *copy = pool_strdup(pool, keywords);
	size_t words = 1;
	for (const char *p = keywords; *p != '\0'; p++)
		words += (*p == ' ');
	if (copy == NULL || words > SIZE_MAX / sizeof(*set_r->keywords))
		return SLUICE_E_NOMEM;
	const char **list = pool_alloc(pool, words * sizeof(*list));
	if (list == NULL)
		return SLUICE_E_NOMEM;

	size_t n = 0;
	for (char *p = copy; *p != '\0';) {
		char *word = p;
		while (*p != '\0' && *p != ' ')
			p++;
		if (*p == ' ')
			*p++ = '\0';
		if (imap_keyword_valid(word))
			list[n++] = word;
	}
	set_r->keywords = n > 0 ? list : NULL;
	set_r->keyword_count = n;
	return imap_flags_dedup(set_r);
}
