/*
 * The module fixture of the unit tests (see module-fixture.h): loading a built module,
 * filling its settings through the core's configuration parser and settings table code,
 * a host table that keeps the module's log lines in memory, and temporary directories.
 * Settings go through conf_parse_string() and settings_apply() rather than being poked
 * into the struct, so a test configures a module exactly as an administrator's block
 * would, defaults, units and range checks included.
 */
#include <dlfcn.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "module-fixture.h"

#include "conf/conf.h"
#include "conf/settings.h"
#include "util/pool.h"

static struct fixture_module *fixture_of(const struct sluice_host *host)
{
	return host->core_private;
}

__attribute__((format(printf, 3, 4))) static void
fixture_host_log(const struct sluice_host *host, enum sluice_log_level level, const char *fmt, ...)
{
	struct fixture_module *m = fixture_of(host);
	char line[1024];
	size_t len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	len = strlen(line);
	pthread_mutex_lock(&m->log_lock);
	m->log_lines++;
	/* Drops the oldest lines until the new one and its newline fit beside the NUL. */
	while (m->log_len + len + 2 > sizeof(m->log)) {
		char *nl = memchr(m->log, '\n', m->log_len);
		size_t drop = nl != NULL ? (size_t)(nl - m->log) + 1 : m->log_len;

		memmove(m->log, m->log + drop, m->log_len - drop);
		m->log_len -= drop;
	}
	memcpy(m->log + m->log_len, line, len);
	m->log_len += len;
	m->log[m->log_len++] = '\n';
	m->log[m->log_len] = '\0';
	pthread_mutex_unlock(&m->log_lock);
}

static uint64_t fixture_host_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int fixture_module_load(struct fixture_module *m, const char *path, enum sluice_module_kind kind)
{
	char full[1024];

	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->log_lock, NULL);
	m->host = (struct sluice_host){
	    .abi_major = SLUICE_ABI_MAJOR,
	    .abi_minor = SLUICE_ABI_MINOR,
	    .size = sizeof(struct sluice_host),
	    .log = fixture_host_log,
	    .pool_alloc = pool_alloc,
	    .pool_strndup = pool_strndup,
	    .now_ms = fixture_host_now_ms,
	    .core_private = m,
	};
	if (strchr(path, '/') == NULL) {
		snprintf(full, sizeof(full), "%s/%s", SLUICE_BUILD_MODULE_DIR, path);
		path = full;
	}
	m->conf_pool = pool_create(1024, 0);
	if (m->conf_pool == NULL) {
		fprintf(stderr, "out of memory loading %s\n", path);
		goto fail;
	}
	m->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (m->handle == NULL) {
		fprintf(stderr, "cannot load %s: %s\n", path, dlerror());
		goto fail;
	}
	m->desc = dlsym(m->handle, SLUICE_MODULE_SYMBOL);
	if (m->desc == NULL) {
		fprintf(stderr, "%s exports no %s\n", path, SLUICE_MODULE_SYMBOL);
		goto fail;
	}
	if (m->desc->kind != kind) {
		fprintf(stderr, "%s is a module of kind %d, not %d\n", path, (int)m->desc->kind,
		        (int)kind);
		goto fail;
	}
	if (m->desc->ops == NULL) {
		fprintf(stderr, "%s has no ops table\n", path);
		goto fail;
	}
	return 0;
fail:
	fixture_module_unload(m);
	return -1;
}

void fixture_module_unload(struct fixture_module *m)
{
	if (m->desc != NULL)
		fixture_module_stop(m);
	if (m->handle != NULL)
		dlclose(m->handle);
	pool_destroy(&m->conf_pool);
	pthread_mutex_destroy(&m->log_lock);
	m->handle = NULL;
	m->desc = NULL;
}

/* Appends @p s to @p out as one quoted configuration value. */
static char *quote_value(char *out, const char *s, size_t len)
{
	*out++ = '"';
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			*out++ = '\\';
		*out++ = s[i];
	}
	*out++ = '"';
	return out;
}

/*
 * Turns "key=value;key=value" into the text of a configuration file, one `key = "value"`
 * line per item, leaving out an item whose key comes again later. NULL when an item has
 * no '=' (said on stderr) or memory runs out.
 */
static char *settings_to_conf_text(const char *settings)
{
	size_t len = strlen(settings), nitems = 0;
	/* An item of n bytes becomes at most 2n + 4 (quotes, escapes, " = " and a newline). */
	const char **items = calloc(len / 2 + 1, sizeof(*items));
	char *copy = strdup(settings), *text = malloc(5 * len + 8), *out = text, *save = NULL;
	bool ok = copy != NULL && text != NULL && items != NULL;

	for (char *it = ok ? strtok_r(copy, ";", &save) : NULL; it != NULL;
	     it = strtok_r(NULL, ";", &save)) {
		if (strchr(it, '=') == NULL) {
			fprintf(stderr, "setting '%s' is not key=value\n", it);
			ok = false;
			break;
		}
		items[nitems++] = it;
	}
	for (size_t i = 0; ok && i < nitems; i++) {
		const char *eq = strchr(items[i], '=');
		size_t keylen = (size_t)(eq - items[i]);
		bool replaced = false;

		for (size_t j = i + 1; j < nitems && !replaced; j++)
			replaced = strncmp(items[j], items[i], keylen + 1) == 0;
		if (replaced)
			continue;
		memcpy(out, items[i], keylen);
		out += keylen;
		memcpy(out, " = ", 3);
		out = quote_value(out + 3, eq + 1, strlen(eq + 1));
		*out++ = '\n';
	}
	if (ok)
		*out = '\0';
	free(items);
	free(copy);
	if (!ok) {
		free(text);
		return NULL;
	}
	return text;
}

int fixture_conf_new(struct fixture_module *m, const char *settings, void **conf_r)
{
	struct conf_errors errs = {0};
	struct conf_tree *tree = NULL;
	char name[128], *text;
	void *conf = NULL;
	int rc = -1;

	*conf_r = NULL;
	text = settings_to_conf_text(settings != NULL ? settings : "");
	if (text == NULL)
		return -1;
	/* The name is what an error's `file:line:` shows; line N is the Nth item kept. */
	snprintf(name, sizeof(name), "%s-test.conf", m->desc->name);
	if (m->desc->conf_size > 0 && (conf = calloc(1, m->desc->conf_size)) == NULL)
		conf_error_add(&errs, name, 0, "out of memory");
	else if (conf_parse_string(text, name, &tree, &errs) == 0 &&
	         settings_apply(m->desc->settings, conf_tree_root(tree), conf, m->conf_pool, NULL,
	                        &errs) == 0)
		rc = 0;
	if (rc == 0) {
		*conf_r = conf;
	} else {
		conf_errors_print(&errs, stderr);
		free(conf);
	}
	conf_errors_free(&errs);
	conf_tree_free(&tree);
	free(text);
	return rc;
}

int fixture_module_init(struct fixture_module *m, void *conf, struct sluice_error *err)
{
	m->conf = conf;
	m->modctx = NULL;
	return m->desc->init(&m->host, conf, &m->modctx, err);
}

void fixture_module_stop(struct fixture_module *m)
{
	if (m->modctx != NULL && m->desc->deinit != NULL)
		m->desc->deinit(m->modctx);
	m->modctx = NULL;
	free(m->conf);
	m->conf = NULL;
}

void fixture_log_clear(struct fixture_module *m)
{
	pthread_mutex_lock(&m->log_lock);
	m->log_len = 0;
	m->log_lines = 0;
	m->log[0] = '\0';
	pthread_mutex_unlock(&m->log_lock);
}

unsigned fixture_log_count(struct fixture_module *m, const char *needle)
{
	unsigned n = 0;

	pthread_mutex_lock(&m->log_lock);
	for (const char *p = m->log; (p = strstr(p, needle)) != NULL; p++)
		n++;
	pthread_mutex_unlock(&m->log_lock);
	return n;
}

size_t fixture_log_lines(struct fixture_module *m)
{
	size_t n;

	pthread_mutex_lock(&m->log_lock);
	n = m->log_lines;
	pthread_mutex_unlock(&m->log_lock);
	return n;
}

int fixture_tempdir(char *buf, size_t size, const char *prefix)
{
	int n = snprintf(buf, size, "/tmp/%s-XXXXXX", prefix);

	if (n < 0 || (size_t)n >= size || mkdtemp(buf) == NULL) {
		perror("cannot make a temporary directory");
		if (size > 0)
			buf[0] = '\0';
		return -1;
	}
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

void fixture_remove_tree(const char *path)
{
	if (path != NULL && path[0] != '\0')
		nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
