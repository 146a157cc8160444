/*
 * The configuration parser: reads a file line by line into a tree of settings and blocks,
 * following `include` lines into other files as it meets them. A block that is still open
 * collects its children in a growing array; when its `}` arrives the array is copied into
 * the tree's pool, so the finished tree is one pool and is freed in one call.
 *
 * The parser never stops at the first mistake. A bad line is reported and skipped, and
 * parsing goes on, so an admin sees every error of every file in one run. The only early
 * stop is a file that produces so many errors that it is probably not a configuration
 * file at all.
 */
#include "conf/conf.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/pool.h"
#include "util/utf8.h"

#define CONF_MAX_LINE 4096
#define CONF_MAX_INCLUDE_DEPTH 16
#define CONF_MAX_BLOCK_DEPTH 32
#define CONF_MAX_FILE_SIZE (16u * 1024 * 1024)
#define CONF_MAX_ERRORS_PER_FILE 50

struct conf_tree {
	struct sluice_pool *pool;
	struct conf_node root;
};

/* A block whose `}` has not been seen yet, with the children found so far. */
struct open_block {
	struct conf_node node;
	struct conf_node *kids;
	size_t count, cap;
};

/* A file being read; the chain of them detects include cycles. */
struct open_file {
	dev_t dev;
	ino_t ino;
	bool known; /* false for text that did not come from a file */
};

struct parser {
	struct conf_tree *tree;
	struct conf_errors *errs;
	unsigned error_count;
	struct open_block stack[CONF_MAX_BLOCK_DEPTH + 1];
	size_t depth; /* stack[0] is the top level, so depth is the open blocks above it */
	struct open_file files[CONF_MAX_INCLUDE_DEPTH + 1];
	size_t file_depth;
	bool out_of_memory;
};

/* Per-file state while its lines are read. */
struct file_ctx {
	const char *name;
	size_t base_depth;
	unsigned errors;
};

/* ---- errors ---------------------------------------------------------------------------- */

void conf_error_addv(struct conf_errors *errs, const char *file, unsigned line, const char *fmt,
                     va_list ap)
{
	char reason[1024], *text;
	int n;

	if (errs == NULL)
		return;
	vsnprintf(reason, sizeof(reason), fmt, ap);
	if (file == NULL)
		n = asprintf(&text, "%s", reason);
	else if (line == 0)
		n = asprintf(&text, "%s: %s", file, reason);
	else
		n = asprintf(&text, "%s:%u: %s", file, line, reason);
	char **grown = realloc(errs->lines, (errs->count + 1) * sizeof(*grown));
	if (grown == NULL) {
		if (n >= 0)
			free(text);
		/* The lines array stays as it was, so counting past it would be unsafe. */
		return;
	}
	errs->lines = grown;
	errs->lines[errs->count++] = n >= 0 ? text : NULL;
}

void conf_error_add(struct conf_errors *errs, const char *file, unsigned line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	conf_error_addv(errs, file, line, fmt, ap);
	va_end(ap);
}

void conf_errors_print(const struct conf_errors *errs, FILE *out)
{
	for (size_t i = 0; i < errs->count; i++)
		fprintf(out, "%s\n", errs->lines[i] != NULL ? errs->lines[i] : "(out of memory)");
}

void conf_errors_free(struct conf_errors *errs)
{
	for (size_t i = 0; i < errs->count; i++)
		free(errs->lines[i]);
	free(errs->lines);
	errs->lines = NULL;
	errs->count = 0;
}

static void parse_error(struct parser *p, struct file_ctx *f, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void parse_error(struct parser *p, struct file_ctx *f, unsigned line, const char *fmt, ...)
{
	va_list ap;
	p->error_count++;
	if (f != NULL)
		f->errors++;
	va_start(ap, fmt);
	conf_error_addv(p->errs, f != NULL ? f->name : NULL, line, fmt, ap);
	va_end(ap);
}

/* ---- tree helpers ---------------------------------------------------------------------- */

const struct conf_node *conf_tree_root(const struct conf_tree *t)
{
	return &t->root;
}

struct sluice_pool *conf_tree_pool(struct conf_tree *t)
{
	return t->pool;
}

void conf_tree_free(struct conf_tree **t)
{
	if (*t == NULL)
		return;
	pool_destroy(&(*t)->pool);
	free(*t);
	*t = NULL;
}

const struct conf_node *conf_node_find(const struct conf_node *block, const char *key)
{
	for (size_t i = 0; block != NULL && i < block->count; i++)
		if (strcmp(block->children[i].key, key) == 0)
			return &block->children[i];
	return NULL;
}

const char *conf_path_resolve(struct sluice_pool *pool, const char *relative_to_file,
                              const char *path)
{
	const char *slash = relative_to_file != NULL ? strrchr(relative_to_file, '/') : NULL;

	if (path[0] == '/' || slash == NULL)
		return path;
	return pool_printf(pool, "%.*s/%s", (int)(slash - relative_to_file), relative_to_file,
	                   path);
}

const char *conf_block_describe(const struct conf_node *block, char *buf, size_t len)
{
	if (block->key == NULL)
		snprintf(buf, len, "the top level of %s", block->file);
	else if (block->name != NULL)
		snprintf(buf, len, "%s %s", block->key, block->name);
	else
		snprintf(buf, len, "%s", block->key);
	return buf;
}

/* Adds a finished node to the innermost open block. */
static void block_append(struct parser *p, const struct conf_node *node)
{
	struct open_block *b = &p->stack[p->depth];

	if (b->count == b->cap) {
		size_t cap = b->cap == 0 ? 8 : b->cap * 2;
		struct conf_node *grown = realloc(b->kids, cap * sizeof(*grown));
		if (grown == NULL) {
			p->out_of_memory = true;
			return;
		}
		b->kids = grown;
		b->cap = cap;
	}
	b->kids[b->count++] = *node;
}

/* Moves an open block's children into the pool and returns the finished node. */
static struct conf_node block_finish(struct parser *p, struct open_block *b)
{
	struct conf_node node = b->node;

	node.count = b->count;
	node.children = NULL;
	if (b->count > 0) {
		node.children = pool_alloc(p->tree->pool, b->count * sizeof(*node.children));
		if (node.children == NULL) {
			p->out_of_memory = true;
			node.count = 0;
		} else {
			memcpy(node.children, b->kids, b->count * sizeof(*node.children));
		}
	}
	free(b->kids);
	memset(b, 0, sizeof(*b));
	return node;
}

static void block_close(struct parser *p)
{
	struct conf_node node = block_finish(p, &p->stack[p->depth]);
	p->depth--;
	block_append(p, &node);
}

/* ---- lines ----------------------------------------------------------------------------- */

static bool is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '*' || c == '-';
}

static bool is_key(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return len > 0;
}

static char *skip_ws(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static bool is_end(const char *s)
{
	return *s == '\0' || *s == '#';
}


/*
 * Reads a value: a quoted string (decoded in place) or the rest of the line up to a
 * comment, trimmed. Returns a pool copy, or NULL after reporting why.
 */
static const char *parse_value(struct parser *p, struct file_ctx *f, unsigned line, char *s)
{
	s = skip_ws(s);
	if (*s == '"') {
		char *w = s, *r = s + 1;
		for (;;) {
			if (*r == '\0') {
				parse_error(
				    p, f, line,
				    "unterminated quoted value: the closing '\"' is missing");
				return NULL;
			}
			if (*r == '\\') {
				if (r[1] != '"' && r[1] != '\\') {
					parse_error(
					    p, f, line,
					    "unknown escape in a quoted value: only \\\" and "
					    "\\\\ may follow a backslash");
					return NULL;
				}
				*w++ = r[1];
				r += 2;
				continue;
			}
			if (*r == '"')
				break;
			*w++ = *r++;
		}
		r = skip_ws(r + 1);
		if (!is_end(r)) {
			parse_error(p, f, line,
			            "unexpected text after the closing quote: only a # comment may "
			            "follow a quoted value");
			return NULL;
		}
		return pool_strndup(p->tree->pool, s, (size_t)(w - s));
	}
	char *end = strchr(s, '#');
	if (end == NULL)
		end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return pool_strndup(p->tree->pool, s, (size_t)(end - s));
}

static void parse_path(struct parser *p, const char *path, struct file_ctx *from,
                       unsigned from_line);

static bool has_glob_chars(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* `include PATH`: a glob may match nothing; a plain path must exist. */
static void parse_include(struct parser *p, struct file_ctx *f, unsigned line, char *rest)
{
	const char *pattern = parse_value(p, f, line, rest);
	if (pattern == NULL)
		return;
	if (*pattern == '\0') {
		parse_error(p, f, line, "include needs a file name, as in 'include modules.conf'");
		return;
	}
	const char *path = conf_path_resolve(p->tree->pool, f->name, pattern);
	if (path == NULL) {
		p->out_of_memory = true;
		return;
	}
	if (!has_glob_chars(path)) {
		parse_path(p, path, f, line);
		return;
	}
	glob_t g;
	int rc = glob(path, 0, NULL, &g);
	if (rc == GLOB_NOMATCH)
		return;
	if (rc != 0) {
		parse_error(p, f, line, "cannot expand include pattern %s", path);
		return;
	}
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *one = pool_strdup(p->tree->pool, g.gl_pathv[i]);
		if (one == NULL) {
			p->out_of_memory = true;
			break;
		}
		parse_path(p, one, f, line);
	}
	globfree(&g);
}

static void parse_block_open(struct parser *p, struct file_ctx *f, unsigned line, const char *kw,
                             size_t kwlen, const char *name, size_t namelen)
{
	if (p->depth == CONF_MAX_BLOCK_DEPTH) {
		parse_error(p, f, line, "blocks are nested more than %d deep",
		            CONF_MAX_BLOCK_DEPTH);
		return;
	}
	struct open_block *b = &p->stack[++p->depth];
	memset(b, 0, sizeof(*b));
	b->node.is_block = true;
	b->node.file = f->name;
	b->node.line = line;
	b->node.key = pool_strndup(p->tree->pool, kw, kwlen);
	b->node.name = name != NULL ? pool_strndup(p->tree->pool, name, namelen) : NULL;
	if (b->node.key == NULL)
		p->out_of_memory = true;
}

/* One line without its newline, NUL-terminated and already checked for encoding. */
static void parse_line(struct parser *p, struct file_ctx *f, unsigned line, char *s)
{
	s = skip_ws(s);
	if (is_end(s))
		return;
	if (*s == '}') {
		if (!is_end(skip_ws(s + 1)))
			parse_error(p, f, line,
			            "unexpected text after '}': put it on its own line");
		else if (p->depth == f->base_depth)
			parse_error(p, f, line, "'}' without a block to close");
		else
			block_close(p);
		return;
	}

	char *word = s;
	while (is_word_char(*s))
		s++;
	size_t wlen = (size_t)(s - word);
	if (wlen == 0) {
		parse_error(p, f, line,
		            "unexpected '%c': expected 'key = value', 'keyword [name] {' or '}'",
		            *s > ' ' && *s < 0x7f ? *s : '?');
		return;
	}
	char *rest = skip_ws(s);

	if (*rest == '=') {
		if (!is_key(word, wlen)) {
			parse_error(p, f, line,
			            "'%.*s' is not a valid setting name: names use only a-z, 0-9 "
			            "and '_'",
			            (int)wlen, word);
			return;
		}
		struct conf_node node = {.file = f->name, .line = line};
		node.key = pool_strndup(p->tree->pool, word, wlen);
		node.value = parse_value(p, f, line, rest + 1);
		if (node.key != NULL && node.value != NULL)
			block_append(p, &node);
		return;
	}
	if (wlen == 7 && memcmp(word, "include", 7) == 0 && (rest != s || is_end(rest))) {
		parse_include(p, f, line, rest);
		return;
	}
	if (*rest == '{') {
		if (!is_end(skip_ws(rest + 1))) {
			parse_error(p, f, line,
			            "unexpected text after '{': a block's settings start on the "
			            "next line");
			return;
		}
		parse_block_open(p, f, line, word, wlen, NULL, 0);
		return;
	}
	if (is_word_char(*rest)) {
		char *name = rest;
		while (is_word_char(*rest))
			rest++;
		size_t nlen = (size_t)(rest - name);
		rest = skip_ws(rest);
		if (*rest == '{') {
			if (!is_end(skip_ws(rest + 1))) {
				parse_error(p, f, line,
				            "unexpected text after '{': a block's settings start "
				            "on the next line");
				return;
			}
			parse_block_open(p, f, line, word, wlen, name, nlen);
			return;
		}
		parse_error(p, f, line,
		            "missing '=' or '{' after '%.*s %.*s': write 'key = value' for a "
		            "setting or 'keyword name {' for a block",
		            (int)wlen, word, (int)nlen, name);
		return;
	}
	parse_error(p, f, line, "missing '=' after '%.*s': settings are written 'key = value'",
	            (int)wlen, word);
}

/* Splits a file's bytes into lines, checks each for size and encoding, parses it. */
static void parse_buffer(struct parser *p, struct file_ctx *f, const char *buf, size_t len)
{
	char text[CONF_MAX_LINE + 1];
	unsigned line = 0;
	size_t pos = 0;

	while (pos < len && !p->out_of_memory) {
		const char *start = buf + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - start) : len - pos;
		pos += n + (nl != NULL ? 1 : 0);
		line++;
		if (n > 0 && start[n - 1] == '\r')
			n--;
		if (f->errors >= CONF_MAX_ERRORS_PER_FILE) {
			parse_error(p, f, line,
			            "too many errors; the rest of this file is not checked");
			break;
		}
		if (n > CONF_MAX_LINE) {
			parse_error(p, f, line, "line is longer than %d bytes", CONF_MAX_LINE);
			continue;
		}
		if (memchr(start, '\0', n) != NULL) {
			parse_error(p, f, line, "line contains a NUL byte");
			continue;
		}
		if (!utf8_valid((const unsigned char *)start, n)) {
			parse_error(p, f, line, "line is not valid UTF-8");
			continue;
		}
		memcpy(text, start, n);
		text[n] = '\0';
		parse_line(p, f, line, text);
	}
	/* Blocks must close in the file that opened them. */
	while (p->depth > f->base_depth) {
		const struct conf_node *open = &p->stack[p->depth].node;
		if (f->errors < CONF_MAX_ERRORS_PER_FILE)
			parse_error(
			    p, f, open->line,
			    "block '%s%s%s' is not closed: '}' is missing before the end of "
			    "the file",
			    open->key, open->name != NULL ? " " : "",
			    open->name != NULL ? open->name : "");
		block_close(p);
	}
}

/* Reads a whole file; the configuration is small and parsed once per load. */
static char *read_file(int fd, size_t *len_r, int *errno_r)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	if (buf == NULL) {
		*errno_r = ENOMEM;
		return NULL;
	}
	for (;;) {
		if (len == cap) {
			if (cap >= CONF_MAX_FILE_SIZE) {
				free(buf);
				*errno_r = EFBIG;
				return NULL;
			}
			char *grown = realloc(buf, cap * 2);
			if (grown == NULL) {
				free(buf);
				*errno_r = ENOMEM;
				return NULL;
			}
			buf = grown;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*errno_r = errno;
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*len_r = len;
	return buf;
}

/*
 * Reports a file that cannot be read: at the include line that named it, or, for the
 * top file, at the file itself.
 */
static void report_unreadable(struct parser *p, struct file_ctx *from, unsigned from_line,
                              const char *path, const char *why)
{
	if (from != NULL) {
		parse_error(p, from, from_line, "cannot include %s: %s", path, why);
	} else {
		p->error_count++;
		conf_error_add(p->errs, path, 0, "cannot read this file: %s", why);
	}
}

/* Opens, checks and parses one file, the top one (@p from NULL) or an included one. */
static void parse_path(struct parser *p, const char *path, struct file_ctx *from,
                       unsigned from_line)
{
	struct stat st;
	int fd, err = 0;

	if (p->file_depth > CONF_MAX_INCLUDE_DEPTH) {
		parse_error(p, from, from_line,
		            "cannot include %s: includes are nested more than %d deep", path,
		            CONF_MAX_INCLUDE_DEPTH);
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		err = errno;
		if (fd >= 0)
			close(fd);
		report_unreadable(p, from, from_line, path,
		                  err == ENOENT ? "the file does not exist" : strerror(err));
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		report_unreadable(p, from, from_line, path,
		                  "it is a folder (include FOLDER/*.conf to read the files in it)");
		return;
	}
	for (size_t i = 0; i < p->file_depth; i++) {
		if (p->files[i].known && p->files[i].dev == st.st_dev &&
		    p->files[i].ino == st.st_ino) {
			close(fd);
			report_unreadable(p, from, from_line, path,
			                  "it is already being read, so the includes make a cycle");
			return;
		}
	}
	size_t len = 0;
	char *buf = read_file(fd, &len, &err);
	close(fd);
	if (buf == NULL) {
		report_unreadable(p, from, from_line, path,
		                  err == EFBIG ? "it is larger than 16 MiB" : strerror(err));
		return;
	}
	struct file_ctx f = {.name = path, .base_depth = p->depth};
	p->files[p->file_depth++] = (struct open_file){st.st_dev, st.st_ino, true};
	parse_buffer(p, &f, buf, len);
	p->file_depth--;
	free(buf);
}

/* ---- entry points ---------------------------------------------------------------------- */

static int parser_start(struct parser *p, const char *display_name, struct conf_errors *errs)
{
	memset(p, 0, sizeof(*p));
	p->errs = errs;
	p->tree = calloc(1, sizeof(*p->tree));
	if (p->tree == NULL)
		return -1;
	p->tree->pool = pool_create(16384, 0);
	if (p->tree->pool == NULL) {
		free(p->tree);
		return -1;
	}
	p->stack[0].node.is_block = true;
	p->stack[0].node.file = pool_strdup(p->tree->pool, display_name);
	if (p->stack[0].node.file == NULL) {
		conf_tree_free(&p->tree);
		return -1;
	}
	return 0;
}

static int parser_finish(struct parser *p, struct conf_tree **tree_r)
{
	p->tree->root = block_finish(p, &p->stack[0]);
	if (p->out_of_memory) {
		conf_error_add(p->errs, p->tree->root.file, 0,
		               "out of memory while reading the configuration");
		p->error_count++;
	}
	if (p->error_count > 0) {
		conf_tree_free(&p->tree);
		*tree_r = NULL;
		return -1;
	}
	*tree_r = p->tree;
	return 0;
}

int conf_parse_file(const char *path, struct conf_tree **tree_r, struct conf_errors *errs)
{
	struct parser p;

	*tree_r = NULL;
	if (parser_start(&p, path, errs) < 0) {
		conf_error_add(errs, path, 0, "out of memory while reading the configuration");
		return -1;
	}
	parse_path(&p, p.stack[0].node.file, NULL, 0);
	return parser_finish(&p, tree_r);
}

int conf_parse_string(const char *text, const char *display_name, struct conf_tree **tree_r,
                      struct conf_errors *errs)
{
	struct parser p;

	*tree_r = NULL;
	if (parser_start(&p, display_name, errs) < 0) {
		conf_error_add(errs, display_name, 0,
		               "out of memory while reading the configuration");
		return -1;
	}
	struct file_ctx f = {.name = p.stack[0].node.file, .base_depth = 0};
	p.files[p.file_depth++] = (struct open_file){0, 0, false};
	parse_buffer(&p, &f, text, strlen(text));
	return parser_finish(&p, tree_r);
}
