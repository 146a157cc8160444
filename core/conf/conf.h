/*
 * Configuration syntax: turns sluiced.conf, modules.conf and the files they include
 * into a tree of `key = value` settings and `keyword [name] { ... }` blocks. This layer
 * knows nothing about what the keys mean; settings.c gives them types and server-conf.c
 * decides which keys and blocks the server accepts. Every syntax error is collected as a
 * `file:line: reason` sentence, so one run of `sluiced -t` shows all of them.
 *
 * Syntax, one line at a time:
 *   # comment                 to the end of the line (outside quotes)
 *   key = value               value: the rest of the line, trimmed, or one "quoted"
 *                             string with \" and \\ escapes (then only a comment follows)
 *   keyword [name] {          opens a block; its settings follow on the next lines
 *   }                         closes the innermost block
 *   include PATH              splices the files PATH names (relative to the including
 *                             file's folder; globs allowed, a glob matching nothing is fine)
 * Keys are [a-z0-9_]+; block keywords and names are [A-Za-z0-9_.*-]+.
 */
#ifndef SLUICE_CONF_H
#define SLUICE_CONF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct sluice_pool;

/** One line of configuration: a setting, or a block with its children. */
struct conf_node {
	bool is_block;
	const char *file;  /**< the file the line is in, as opened */
	unsigned line;     /**< 1-based line number; 0 for a file's top level */
	const char *key;   /**< the key, or the block keyword; NULL for a file's top level */
	const char *value; /**< the value with quotes and escapes removed; NULL for blocks */
	const char *name;  /**< the block's name, or NULL */
	struct conf_node *children; /**< a block's settings and blocks, in file order */
	size_t count;
};

/** A parsed configuration: owns every node and string, and a pool for typed settings. */
struct conf_tree;

/** The whole-file block: the top level of the parsed file, includes spliced in place. */
const struct conf_node *conf_tree_root(const struct conf_tree *t);
/** Where settings_apply() puts strings and lists; lives as long as the tree. */
struct sluice_pool *conf_tree_pool(struct conf_tree *t);
/** Frees the tree and sets *t to NULL; NULL is accepted. */
void conf_tree_free(struct conf_tree **t);

/** Error sentences, each `file:line: reason`, in the order they were found. */
struct conf_errors {
	char **lines;
	size_t count;
};

/**
 * Appends one error. @p file may be NULL (then the sentence has no location) and
 * @p line 0 (then only the file is named). When memory runs out the sentence is lost, or
 * kept as a NULL line that conf_errors_print() shows as "(out of memory)".
 */
void conf_error_add(struct conf_errors *errs, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void conf_error_addv(struct conf_errors *errs, const char *file, unsigned line, const char *fmt,
                     va_list ap) __attribute__((format(printf, 4, 0)));
/** Writes each sentence on its own line. */
void conf_errors_print(const struct conf_errors *errs, FILE *out);
/** Frees the sentences and empties @p errs, which stays usable. */
void conf_errors_free(struct conf_errors *errs);

/**
 * Parses @p path and everything it includes.
 * @return 0 with *tree_r set, or -1 with *tree_r NULL and every error appended to @p errs
 * (the errors of all files, not only the first).
 */
int conf_parse_file(const char *path, struct conf_tree **tree_r, struct conf_errors *errs);

/**
 * Parses @p text as if it were a file called @p display_name; includes are resolved
 * against the folder of @p display_name (the current folder when it has none).
 * @return as conf_parse_file().
 */
int conf_parse_string(const char *text, const char *display_name, struct conf_tree **tree_r,
                      struct conf_errors *errs);

/** The child setting or block called @p key, the first one when there are several; NULL if none. */
const struct conf_node *conf_node_find(const struct conf_node *block, const char *key);

/**
 * Resolves @p path against the folder of @p relative_to_file: absolute paths come back
 * unchanged, relative ones are joined to that folder. The result lives in @p pool;
 * NULL when out of memory.
 */
const char *conf_path_resolve(struct sluice_pool *pool, const char *relative_to_file,
                              const char *path);

/**
 * Writes how messages name @p block into @p buf: "listener imap", "tls", or "the top
 * level of FILE" for a file's top level. Returns @p buf.
 */
const char *conf_block_describe(const struct conf_node *block, char *buf, size_t len);

#endif
