/*
 * Parsing of default_mailboxes and trash_expiry (see mailbox-conf.h for the syntax). Both
 * are comma-separated entries of a name followed by more words; a name may contain spaces
 * ("Sent Messages \Sent"), so an entry's name is everything before its trailing words.
 */
#include "conf/mailbox-conf.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conf/settings.h"
#include "mail/mutf7.h"
#include "mailbox/name.h"
#include "mailbox/special-use.h"

#define ENTRIES_MAX 64

static bool conf_is_none(const char *text)
{
	text += strspn(text, " \t");
	size_t len = strlen(text);
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	return len == 0 || (len == 4 && strncasecmp(text, "none", 4) == 0);
}

/* Splits @p text (modified in place) at commas into trimmed entries; false when one is empty. */
static bool conf_split(char *text, char **entries, size_t *n_r, const char *key, char *why,
                       size_t why_len)
{
	size_t n = 0;
	for (char *p = text;;) {
		char *comma = strchr(p, ',');
		if (comma != NULL)
			*comma = '\0';
		p += strspn(p, " \t");
		size_t len = strlen(p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			p[--len] = '\0';
		if (len == 0) {
			snprintf(why, why_len, "'%s' has an empty entry: separate entries by one comma",
			         key);
			return false;
		}
		if (n == ENTRIES_MAX) {
			snprintf(why, why_len, "'%s' has more than %d entries", key, ENTRIES_MAX);
			return false;
		}
		entries[n++] = p;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*n_r = n;
	return true;
}

/*
 * The start both parsers share: `none` or an empty value gives 0; otherwise the text is
 * copied into @p pool and split at commas into @p entries, and a list of @p head bytes plus
 * one @p item per entry is allocated in *list_r. @return the number of entries, 0, or -1 with
 * @p why filled.
 */
static long conf_entries(const char *text, struct sluice_pool *pool, const char *key,
                         size_t head, size_t item, char **entries, void **list_r, char *why,
                         size_t why_len)
{
	char *copy;
	size_t n;
	if (text == NULL || conf_is_none(text))
		return 0;
	if ((copy = pool_strdup(pool, text)) == NULL) {
		snprintf(why, why_len, "out of memory");
		return -1;
	}
	if (!conf_split(copy, entries, &n, key, why, why_len))
		return -1;
	if ((*list_r = pool_alloc(pool, head + n * item)) == NULL) {
		snprintf(why, why_len, "out of memory");
		return -1;
	}
	return (long)n;
}

/* Checks a configured name (UTF-8, '/' between levels) and gives its canonical form. */
static const char *conf_mailbox_name(const char *key, const char *name, struct sluice_pool *pool,
                                     char *why, size_t why_len)
{
	struct buf imap = {0}, canonical = {0};
	struct sluice_error err = SLUICE_ERROR_INIT;
	const char *result = NULL;

	if (strchr(name, '\\') != NULL || strchr(name, '"') != NULL) {
		snprintf(why, why_len, "'%s': the name '%s' may not contain '\\' or '\"'", key, name);
		return NULL;
	}
	if (utf8_to_mutf7(name, &imap) != 0 || buf_append(&imap, "", 1) < 0) {
		snprintf(why, why_len, "'%s': the name '%s' is not valid UTF-8", key, name);
	} else if (mailbox_name_from_imap((const char *)buf_head(&imap), '/', &canonical, &err) !=
	           0) {
		snprintf(why, why_len, "'%s': the name '%s' cannot be used: %s", key, name, err.msg);
	} else if (strcmp((const char *)buf_head(&canonical), "INBOX") == 0) {
		snprintf(why, why_len, "'%s' cannot name INBOX", key);
	} else if ((result = pool_strdup(pool, (const char *)buf_head(&canonical))) == NULL) {
		snprintf(why, why_len, "out of memory");
	}
	buf_free(&imap);
	buf_free(&canonical);
	return result;
}

/* The start of the trailing words of @p entry that begin with '\' (its end if none). */
static char *conf_trailing_uses(char *entry)
{
	char *end = entry + strlen(entry);
	for (;;) {
		char *space = end;
		while (space > entry && space[-1] != ' ' && space[-1] != '\t')
			space--;
		if (*space != '\\')
			return end;
		if (space == entry)
			return entry; /* uses but no name: the caller refuses the empty name */
		end = space;
		while (end > entry && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
	}
}

int mailbox_defaults_parse(const char *text, struct sluice_pool *pool,
                           const struct mailbox_defaults **list_r, char *why, size_t why_len)
{
	static const char key[] = "default_mailboxes";
	char *entries[ENTRIES_MAX];
	void *mem;

	*list_r = NULL;
	long n = conf_entries(text, pool, key, sizeof(struct mailbox_defaults),
	                      sizeof(struct mailbox_default), entries, &mem, why, why_len);
	if (n <= 0)
		return (int)n;
	struct mailbox_defaults *list = mem;
	for (size_t i = 0; i < (size_t)n; i++) {
		char *uses = conf_trailing_uses(entries[i]);
		uint32_t bits = 0;
		for (char *w = uses; *w != '\0';) {
			w += strspn(w, " \t");
			size_t len = strcspn(w, " \t");
			if (len == 0)
				break;
			uint32_t bit = special_use_from_word(w, len);
			if ((bit & SPECIAL_USE_FOR_FOLDERS) == 0) {
				snprintf(why, why_len,
				         "'%s': '%.*s' is not a special use a folder can have; use "
				         "\\Archive, \\Drafts, \\Junk, \\Sent or \\Trash",
				         key, (int)len, w);
				return -1;
			}
			bits |= bit;
			w += len;
		}
		*uses = '\0';
		const char *name = conf_mailbox_name(key, entries[i], pool, why, why_len);
		if (name == NULL)
			return -1;
		for (size_t k = 0; k < i; k++) {
			if (strcmp(list->items[k].name, name) == 0) {
				snprintf(why, why_len, "'%s' names %s twice", key, entries[i]);
				return -1;
			}
		}
		list->items[i].name = name;
		list->items[i].special_use = bits;
	}
	list->count = (size_t)n;
	*list_r = list;
	return 0;
}

int mailbox_expiry_parse(const char *text, struct sluice_pool *pool,
                         const struct mailbox_expiry_rules **rules_r, char *why, size_t why_len)
{
	static const char key[] = "trash_expiry";
	static const struct sluice_setting age = SLUICE_SETTING_DURATION(
	    "trash_expiry", struct mailbox_expiry_rule, max_age_ms, NULL, 3600 * 1000, 0, "");
	char *entries[ENTRIES_MAX];
	void *mem;

	*rules_r = NULL;
	long n = conf_entries(text, pool, key, sizeof(struct mailbox_expiry_rules),
	                      sizeof(struct mailbox_expiry_rule), entries, &mem, why, why_len);
	if (n <= 0)
		return (int)n;
	struct mailbox_expiry_rules *rules = mem;
	for (size_t i = 0; i < (size_t)n; i++) {
		char *entry = entries[i], *colon = strrchr(entry, ':');
		if (colon == NULL) {
			snprintf(why, why_len,
			         "'%s': '%s' needs a folder, a colon and an age, as in 'Trash:7d'", key,
			         entry);
			return -1;
		}
		const char *duration = colon + 1 + strspn(colon + 1, " \t");
		size_t dl = strlen(duration);
		if (dl == 0 || !isalpha((unsigned char)duration[dl - 1])) {
			snprintf(why, why_len,
			         "'%s': the age '%s' needs a unit, as in 7d for seven days (a bare "
			         "number would be seconds)",
			         key, duration);
			return -1;
		}
		struct mailbox_expiry_rule *rule = &rules->items[i];
		if (settings_parse_value(&age, duration, &rule->max_age_ms, pool, why, why_len) < 0)
			return -1;
		while (colon > entry && (colon[-1] == ' ' || colon[-1] == '\t'))
			colon--;
		*colon = '\0';
		if ((rule->name = conf_mailbox_name(key, entry, pool, why, why_len)) == NULL)
			return -1;
		for (size_t k = 0; k < i; k++) {
			if (strcmp(rules->items[k].name, rule->name) == 0) {
				snprintf(why, why_len, "'%s' names %s twice", key, entry);
				return -1;
			}
		}
	}
	rules->count = (size_t)n;
	*rules_r = rules;
	return 0;
}
