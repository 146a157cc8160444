/*
 * Typed settings: fills a C struct from a configuration block, driven by a table of
 * struct sluice_setting (include/sluice/settings.h). The same table gives the defaults,
 * the validation with `file:line: reason` errors and the reference documentation, so
 * no setting is parsed by hand anywhere else in the server or in a module.
 *
 * Value syntax (case-insensitive words and units):
 *   bool       yes/no, true/false, on/off
 *   uint       decimal digits
 *   size       a whole number of bytes with an optional unit: K, M, G, T, each a power of
 *              1024; KB/KiB, MB/MiB, ... mean the same; B or no unit means bytes
 *   duration   one or more number+unit terms ("1h30m", "1h 30m"): ms, s, m, h, d; a bare
 *              number means seconds. Stored in milliseconds
 *   string     the value as written
 *   enum       one of the table's words
 *   CIDR list  IPv4/IPv6 addresses, each with an optional /prefix, separated by spaces or
 *              commas; bits past the prefix are ignored; an empty value is an empty list
 * Every number is checked for overflow.
 */
#ifndef SLUICE_CONF_SETTINGS_H
#define SLUICE_CONF_SETTINGS_H

#include <stdio.h>

#include <sluice/settings.h>

#include "conf/conf.h"

/**
 * Fills @p target: first every default of @p table, then the values of @p block.
 * @param[in]  table         the keys, ended by SLUICE_SETTING_END; NULL means no keys
 * @param[in]  block         the block to read, or NULL for the defaults only; child
 *                           blocks are errors (callers that take blocks pass a block
 *                           holding only the settings)
 * @param[out] target        the struct the table's offsets point into
 * @param[in]  pool          where strings and lists are allocated (the tree's pool)
 * @param[in]  reserved_keys keys the caller reads itself and which are skipped here
 *                           (NULL-terminated, may be NULL)
 * @param[out] errs          one `file:line: reason` per problem: unknown key, key set
 *                           twice, block where a value belongs, malformed value, value
 *                           out of range, word not among the choices
 * @return 0, or -1 when at least one error was added.
 */
int settings_apply(const struct sluice_setting *table, const struct conf_node *block, void *target,
                   struct sluice_pool *pool, const char *const *reserved_keys,
                   struct conf_errors *errs);

/**
 * Parses one value of setting @p s into @p field (the member itself, not the struct).
 * @param[out] why a sentence naming the key, what was expected and what was found,
 *                 without a location
 * @return 0, or -1 with @p why filled.
 */
int settings_parse_value(const struct sluice_setting *s, const char *text, void *field,
                         struct sluice_pool *pool, char *why, size_t why_len);

/**
 * Prints @p table as a markdown table (key, type, default, range or choices, description),
 * under a `### heading` line when @p heading is not NULL.
 */
void settings_print_reference(FILE *out, const char *heading, const struct sluice_setting *table);

/** The entry for @p key, or NULL. */
const struct sluice_setting *settings_find(const struct sluice_setting *table, const char *key);

#endif
