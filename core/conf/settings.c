/*
 * Typed settings: the one place where configuration text becomes numbers, flags, words
 * and address lists. settings_apply() walks a block with a module's (or the server's)
 * table of struct sluice_setting, and every rule about value syntax, units, ranges and
 * the wording of errors lives here, so all modules report mistakes the same way.
 *
 * Error sentences always name the key and say what was expected and what was found,
 * because the admin reading them is usually looking at someone else's configuration.
 */
#include "conf/settings.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/pool.h"

#define MS_SECOND UINT64_C(1000)
#define MS_MINUTE (60 * MS_SECOND)
#define MS_HOUR (60 * MS_MINUTE)
#define MS_DAY (24 * MS_HOUR)

struct unit {
	const char *name;
	uint64_t factor;
};

static const struct unit size_units[] = {
    {"", 1},
    {"b", 1},
    {"k", UINT64_C(1) << 10},
    {"kb", UINT64_C(1) << 10},
    {"kib", UINT64_C(1) << 10},
    {"m", UINT64_C(1) << 20},
    {"mb", UINT64_C(1) << 20},
    {"mib", UINT64_C(1) << 20},
    {"g", UINT64_C(1) << 30},
    {"gb", UINT64_C(1) << 30},
    {"gib", UINT64_C(1) << 30},
    {"t", UINT64_C(1) << 40},
    {"tb", UINT64_C(1) << 40},
    {"tib", UINT64_C(1) << 40},
    {NULL, 0},
};

static const struct unit duration_units[] = {
    {"ms", 1}, {"s", MS_SECOND}, {"m", MS_MINUTE}, {"h", MS_HOUR}, {"d", MS_DAY}, {NULL, 0},
};

const struct sluice_setting *settings_find(const struct sluice_setting *table, const char *key)
{
	for (size_t i = 0; table != NULL && table[i].key != NULL; i++)
		if (strcmp(table[i].key, key) == 0)
			return &table[i];
	return NULL;
}

/* ---- numbers and units ----------------------------------------------------------------- */

/* Reads decimal digits at *sp. Returns 0, -1 when there are none, -2 on overflow. */
static int parse_digits(const char **sp, uint64_t *v_r)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -2;
		v = v * 10 + d;
	}
	*sp = s;
	*v_r = v;
	return 0;
}

static bool mul_overflows(uint64_t a, uint64_t b, uint64_t *r)
{
	return __builtin_mul_overflow(a, b, r);
}

static const char *skip_space(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Finds the unit spelled by the letters at *sp (case-insensitive) and moves past them. */
static const struct unit *take_unit(const char **sp, const struct unit *units)
{
	const char *s = *sp;
	size_t n = 0;

	while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z'))
		n++;
	for (const struct unit *u = units; u->name != NULL; u++) {
		if (strlen(u->name) == n && strncasecmp(u->name, s, n) == 0) {
			*sp = s + n;
			return u;
		}
	}
	return NULL;
}

/* Returns 0, -1 for bad syntax, -2 for a number too large for 64 bits. */
static int parse_size(const char *text, uint64_t *v_r)
{
	const char *s = skip_space(text);
	uint64_t n;
	int rc = parse_digits(&s, &n);

	if (rc < 0)
		return rc;
	s = skip_space(s);
	const struct unit *u = take_unit(&s, size_units);
	if (u == NULL || *skip_space(s) != '\0')
		return -1;
	return mul_overflows(n, u->factor, v_r) ? -2 : 0;
}

/* Durations are number+unit terms added up; a lone bare number means seconds. */
static int parse_duration(const char *text, uint64_t *v_r)
{
	const char *s = skip_space(text);
	uint64_t total = 0;
	bool first = true;

	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		uint64_t n, part;
		int rc = parse_digits(&s, &n);
		if (rc < 0)
			return rc;
		s = skip_space(s);
		uint64_t factor;
		if (*s == '\0' && first) {
			factor = MS_SECOND;
		} else {
			const struct unit *u = take_unit(&s, duration_units);
			if (u == NULL)
				return -1;
			factor = u->factor;
		}
		if (mul_overflows(n, factor, &part) || __builtin_add_overflow(total, part, &total))
			return -2;
		s = skip_space(s);
		first = false;
	}
	*v_r = total;
	return 0;
}

static void format_size(uint64_t v, char *buf, size_t len)
{
	static const char suffix[] = "TGMK";
	for (int i = 0; i < 4; i++) {
		uint64_t f = UINT64_C(1) << (10 * (4 - i));
		if (v != 0 && v % f == 0) {
			snprintf(buf, len, "%llu%c", (unsigned long long)(v / f), suffix[i]);
			return;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)v);
}

static void format_duration(uint64_t ms, char *buf, size_t len)
{
	static const struct unit by_size[] = {
	    {"d", MS_DAY}, {"h", MS_HOUR}, {"m", MS_MINUTE}, {"s", MS_SECOND}, {NULL, 0}};
	for (const struct unit *u = by_size; u->name != NULL; u++) {
		if (ms != 0 && ms % u->factor == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(ms / u->factor), u->name);
			return;
		}
	}
	if (ms == 0)
		snprintf(buf, len, "0s");
	else
		snprintf(buf, len, "%llums", (unsigned long long)ms);
}

static void format_bound(const struct sluice_setting *s, uint64_t v, char *buf, size_t len)
{
	if (s->type == SLUICE_SETTING_SIZE)
		format_size(v, buf, len);
	else if (s->type == SLUICE_SETTING_DURATION)
		format_duration(v, buf, len);
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

/* Checks [min, max] (max 0 = none) and explains a miss in the setting's own units. */
static int check_range(const struct sluice_setting *s, uint64_t v, const char *text, char *why,
                       size_t why_len)
{
	char lo[32], hi[32];

	if (v >= s->min && (s->max == 0 || v <= s->max))
		return 0;
	format_bound(s, s->min, lo, sizeof(lo));
	format_bound(s, s->max, hi, sizeof(hi));
	if (s->max == 0)
		snprintf(why, why_len, "'%s' must be at least %s, not '%s'", s->key, lo, text);
	else if (s->min == 0)
		snprintf(why, why_len, "'%s' must be at most %s, not '%s'", s->key, hi, text);
	else
		snprintf(why, why_len, "'%s' must be between %s and %s, not '%s'", s->key, lo, hi,
		         text);
	return -1;
}

/* ---- CIDR lists ------------------------------------------------------------------------ */

static bool is_list_sep(char c)
{
	return c == ' ' || c == '\t' || c == ',';
}

/* Parses "addr" or "addr/prefix" of @p len bytes; IPv4-mapped IPv6 becomes IPv4. */
static int parse_cidr(const char *item, size_t len, struct sluice_cidr *c, const char *key,
                      char *why, size_t why_len)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash;
	unsigned maxbits;

	if (len >= sizeof(buf)) {
		snprintf(why, why_len, "'%s': '%.*s...' is not an IP address or network", key, 40,
		         item);
		return -1;
	}
	memcpy(buf, item, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	if (slash != NULL)
		buf[slash - buf] = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->family = AF_INET;
		maxbits = 32;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		c->family = AF_INET6;
		maxbits = 128;
	} else {
		snprintf(why, why_len,
		         "'%s' must list IP addresses or networks such as 192.0.2.0/24 or "
		         "2001:db8::/32; '%.*s' is not one",
		         key, (int)len, item);
		return -1;
	}
	c->prefix = maxbits;
	if (slash != NULL) {
		const char *d = slash + 1;
		uint64_t bits;
		if (parse_digits(&d, &bits) != 0 || *d != '\0' || bits > maxbits) {
			snprintf(why, why_len,
			         "'%s': the prefix in '%.*s' must be a number from 0 to %u", key,
			         (int)len, item, maxbits);
			return -1;
		}
		c->prefix = (unsigned)bits;
	}
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (c->family == AF_INET6 && c->prefix >= 96 && memcmp(c->addr, mapped, 12) == 0) {
		/* Clients are matched as IPv4 when they arrive IPv4-mapped, so store it so. */
		memmove(c->addr, c->addr + 12, 4);
		memset(c->addr + 4, 0, 12);
		c->family = AF_INET;
		c->prefix -= 96;
	}
	/* Bits past the prefix say nothing; clearing them keeps the stored form canonical. */
	for (unsigned i = c->prefix; i < 128; i++)
		c->addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
	return 0;
}

static int parse_cidr_list(const char *key, const char *text, struct sluice_pool *pool,
                           const struct sluice_cidr_list **list_r, char *why, size_t why_len)
{
	size_t count = 0;

	for (const char *s = text; *s != '\0';) {
		while (is_list_sep(*s))
			s++;
		if (*s == '\0')
			break;
		count++;
		while (*s != '\0' && !is_list_sep(*s))
			s++;
	}
	struct sluice_cidr_list *list =
	    pool_alloc(pool, sizeof(*list) + count * sizeof(list->items[0]));
	if (list == NULL) {
		snprintf(why, why_len, "out of memory while reading '%s'", key);
		return -1;
	}
	for (const char *s = text; *s != '\0';) {
		while (is_list_sep(*s))
			s++;
		if (*s == '\0')
			break;
		const char *start = s;
		while (*s != '\0' && !is_list_sep(*s))
			s++;
		if (parse_cidr(start, (size_t)(s - start), &list->items[list->count], key, why,
		               why_len) < 0)
			return -1;
		list->count++;
	}
	*list_r = list;
	return 0;
}

/* ---- one value ------------------------------------------------------------------------- */

static void join_choices(const char *const *choices, char *buf, size_t len)
{
	size_t n = 0, used = 0;

	while (choices[n] != NULL)
		n++;
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++) {
		const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
		int w = snprintf(buf + used, len - used, "%s%s", sep, choices[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

int settings_parse_value(const struct sluice_setting *s, const char *text, void *field,
                         struct sluice_pool *pool, char *why, size_t why_len)
{
	uint64_t v = 0;
	int rc;

	switch (s->type) {
	case SLUICE_SETTING_BOOL: {
		static const char *const yes[] = {"yes", "true", "on"};
		static const char *const no[] = {"no", "false", "off"};
		for (size_t i = 0; i < 3; i++) {
			if (strcasecmp(text, yes[i]) == 0 || strcasecmp(text, no[i]) == 0) {
				*(bool *)field = strcasecmp(text, yes[i]) == 0;
				return 0;
			}
		}
		snprintf(why, why_len, "'%s' must be yes or no (or true/false, on/off), not '%s'",
		         s->key, text);
		return -1;
	}
	case SLUICE_SETTING_UINT: {
		const char *p = text;
		rc = parse_digits(&p, &v);
		if (rc == -2 && text[strspn(text, "0123456789")] == '\0')
			v = UINT64_MAX;
		else if (rc < 0 || *p != '\0') {
			snprintf(why, why_len, "'%s' must be a whole number such as 4, not '%s'",
			         s->key, text);
			return -1;
		}
		if (v > UINT_MAX) {
			snprintf(why, why_len, "'%s' is too large: '%s' is more than %u", s->key,
			         text, UINT_MAX);
			return -1;
		}
		if (check_range(s, v, text, why, why_len) < 0)
			return -1;
		*(unsigned *)field = (unsigned)v;
		return 0;
	}
	case SLUICE_SETTING_SIZE:
		rc = parse_size(text, &v);
		if (rc == -1) {
			snprintf(why, why_len,
			         "'%s' must be a size such as 64K, 10M or 1G, not '%s'", s->key,
			         text);
			return -1;
		}
		if (rc == -2) {
			snprintf(why, why_len, "'%s' is too large: '%s' does not fit in 64 bits",
			         s->key, text);
			return -1;
		}
		if (check_range(s, v, text, why, why_len) < 0)
			return -1;
		*(uint64_t *)field = v;
		return 0;
	case SLUICE_SETTING_DURATION:
		rc = parse_duration(text, &v);
		if (rc == -1) {
			snprintf(why, why_len,
			         "'%s' must be a duration such as 40s or 2m, not '%s'", s->key,
			         text);
			return -1;
		}
		if (rc == -2) {
			snprintf(why, why_len, "'%s' is too long: '%s' does not fit in 64 bits",
			         s->key, text);
			return -1;
		}
		if (check_range(s, v, text, why, why_len) < 0)
			return -1;
		*(uint64_t *)field = v;
		return 0;
	case SLUICE_SETTING_STRING: {
		const char *copy = pool_strdup(pool, text);
		if (copy == NULL) {
			snprintf(why, why_len, "out of memory while reading '%s'", s->key);
			return -1;
		}
		*(const char **)field = copy;
		return 0;
	}
	case SLUICE_SETTING_ENUM: {
		char list[512];
		for (unsigned i = 0; s->choices != NULL && s->choices[i] != NULL; i++) {
			if (strcasecmp(text, s->choices[i]) == 0) {
				*(unsigned *)field = i;
				return 0;
			}
		}
		if (s->choices == NULL) {
			snprintf(why, why_len, "'%s' is an enum setting without choices", s->key);
			return -1;
		}
		join_choices(s->choices, list, sizeof(list));
		snprintf(why, why_len, "'%s' must be %s, not '%s'", s->key, list, text);
		return -1;
	}
	case SLUICE_SETTING_CIDR_LIST: {
		const struct sluice_cidr_list *list;
		if (parse_cidr_list(s->key, text, pool, &list, why, why_len) < 0)
			return -1;
		*(const struct sluice_cidr_list **)field = list;
		return 0;
	}
	}
	snprintf(why, why_len, "'%s' has an unknown setting type %d", s->key, (int)s->type);
	return -1;
}

/* ---- a whole block --------------------------------------------------------------------- */

static void clear_field(const struct sluice_setting *s, void *field)
{
	switch (s->type) {
	case SLUICE_SETTING_BOOL:
		*(bool *)field = false;
		break;
	case SLUICE_SETTING_UINT:
	case SLUICE_SETTING_ENUM:
		*(unsigned *)field = 0;
		break;
	case SLUICE_SETTING_SIZE:
	case SLUICE_SETTING_DURATION:
		*(uint64_t *)field = 0;
		break;
	case SLUICE_SETTING_STRING:
		*(const char **)field = NULL;
		break;
	case SLUICE_SETTING_CIDR_LIST:
		*(const struct sluice_cidr_list **)field = NULL;
		break;
	}
}

static bool is_reserved(const char *const *reserved, const char *key)
{
	for (size_t i = 0; reserved != NULL && reserved[i] != NULL; i++)
		if (strcmp(reserved[i], key) == 0)
			return true;
	return false;
}

/* "a, b, c" of every key the block accepts, for the unknown-key sentence. */
static void list_known(const struct sluice_setting *table, const char *const *reserved, char *buf,
                       size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; table != NULL && table[i].key != NULL && used < len; i++) {
		int w =
		    snprintf(buf + used, len - used, "%s%s", used > 0 ? ", " : "", table[i].key);
		used += w > 0 ? (size_t)w : 0;
	}
	for (size_t i = 0; reserved != NULL && reserved[i] != NULL && used < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", used > 0 ? ", " : "", reserved[i]);
		used += w > 0 ? (size_t)w : 0;
	}
}

int settings_apply(const struct sluice_setting *table, const struct conf_node *block, void *target,
                   struct sluice_pool *pool, const char *const *reserved_keys,
                   struct conf_errors *errs)
{
	char why[768], where[256];
	size_t n = 0;
	int failed = 0;

	while (table != NULL && table[n].key != NULL)
		n++;
	for (size_t i = 0; i < n; i++) {
		void *field = (char *)target + table[i].offset;
		clear_field(&table[i], field);
		if (table[i].default_value == NULL)
			continue;
		if (settings_parse_value(&table[i], table[i].default_value, field, pool, why,
		                         sizeof(why)) < 0) {
			/* A table bug, but the admin needs to know which block it hits. */
			conf_error_add(errs, block != NULL ? block->file : NULL,
			               block != NULL ? block->line : 0,
			               "the built-in default of '%s' is invalid: %s", table[i].key,
			               why);
			failed = -1;
		}
	}
	if (block == NULL)
		return failed;

	conf_block_describe(block, where, sizeof(where));
	const struct conf_node **seen = calloc(n + 1, sizeof(*seen));
	if (seen == NULL) {
		conf_error_add(errs, block->file, block->line, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < block->count; i++) {
		const struct conf_node *c = &block->children[i];
		if (c->is_block) {
			conf_error_add(errs, c->file, c->line,
			               "unexpected block '%s%s%s' in %s: only 'key = value' "
			               "settings belong here",
			               c->key, c->name != NULL ? " " : "",
			               c->name != NULL ? c->name : "", where);
			failed = -1;
			continue;
		}
		if (is_reserved(reserved_keys, c->key))
			continue;
		const struct sluice_setting *s = settings_find(table, c->key);
		if (s == NULL) {
			list_known(table, reserved_keys, why, sizeof(why));
			if (why[0] == '\0')
				conf_error_add(
				    errs, c->file, c->line,
				    "unknown setting '%s' in %s, which takes no settings", c->key,
				    where);
			else
				conf_error_add(errs, c->file, c->line,
				               "unknown setting '%s' in %s; known settings: %s",
				               c->key, where, why);
			failed = -1;
			continue;
		}
		size_t idx = (size_t)(s - table);
		if (seen[idx] != NULL) {
			conf_error_add(errs, c->file, c->line,
			               "'%s' is set twice in %s (first at %s:%u)", c->key, where,
			               seen[idx]->file, seen[idx]->line);
			failed = -1;
			continue;
		}
		seen[idx] = c;
		if (settings_parse_value(s, c->value, (char *)target + s->offset, pool, why,
		                         sizeof(why)) < 0) {
			conf_error_add(errs, c->file, c->line, "%s", why);
			failed = -1;
		}
	}
	free(seen);
	return failed;
}

/* ---- reference ------------------------------------------------------------------------- */

static const char *type_name(enum sluice_setting_type t)
{
	switch (t) {
	case SLUICE_SETTING_BOOL:
		return "bool";
	case SLUICE_SETTING_UINT:
		return "number";
	case SLUICE_SETTING_SIZE:
		return "size";
	case SLUICE_SETTING_DURATION:
		return "duration";
	case SLUICE_SETTING_STRING:
		return "string";
	case SLUICE_SETTING_ENUM:
		return "choice";
	case SLUICE_SETTING_CIDR_LIST:
		return "address list";
	}
	return "?";
}

/* Writes @p text with the characters that would break a markdown table cell escaped. */
static void print_cell(FILE *out, const char *text)
{
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '|')
			fputs("\\|", out);
		else
			fputc(*p, out);
	}
}

void settings_print_reference(FILE *out, const char *heading, const struct sluice_setting *table)
{
	if (heading != NULL)
		fprintf(out, "### %s\n\n", heading);
	fputs("| key | type | default | range or choices | description |\n", out);
	fputs("|---|---|---|---|---|\n", out);
	for (size_t i = 0; table != NULL && table[i].key != NULL; i++) {
		const struct sluice_setting *s = &table[i];
		char lo[32], hi[32];

		fprintf(out, "| `%s` | %s | ", s->key, type_name(s->type));
		if (s->default_value == NULL)
			fputs("(none)", out);
		else if (s->default_value[0] == '\0')
			fputs("(empty)", out);
		else {
			fputc('`', out);
			print_cell(out, s->default_value);
			fputc('`', out);
		}
		fputs(" | ", out);
		if (s->type == SLUICE_SETTING_ENUM && s->choices != NULL) {
			for (size_t k = 0; s->choices[k] != NULL; k++)
				fprintf(out, "%s`%s`", k > 0 ? ", " : "", s->choices[k]);
		} else if (s->type == SLUICE_SETTING_UINT || s->type == SLUICE_SETTING_SIZE ||
		           s->type == SLUICE_SETTING_DURATION) {
			format_bound(s, s->min, lo, sizeof(lo));
			format_bound(s, s->max, hi, sizeof(hi));
			if (s->max != 0 && s->min == 0 && s->type != SLUICE_SETTING_UINT)
				fprintf(out, "at most %s", hi);
			else if (s->max != 0)
				fprintf(out, "%s to %s", lo, hi);
			else if (s->min != 0)
				fprintf(out, "at least %s", lo);
		}
		fputs(" | ", out);
		print_cell(out, s->doc != NULL ? s->doc : "");
		fputs(" |\n", out);
	}
	fputc('\n', out);
}
