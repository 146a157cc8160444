/*
 * The shared fixture of the unit tests that load a built module .so the way the server
 * does: dlopen with RTLD_NOW | RTLD_LOCAL, the sluice_module_entry descriptor checked for
 * its kind, a settings struct filled by the core's own settings code (the module's
 * defaults, then `key=value` overrides, validated as `sluiced -t` would), and a host
 * table whose log lines are kept in memory so a test can look for what the module said.
 * It also makes and removes the temporary directories those tests work in.
 *
 * A suite keeps one static struct fixture_module: fixture_module_load() in its suite
 * init, fixture_module_unload() in its cleanup. A test starts an instance with
 * fixture_conf_new() and fixture_module_init(), and ends it with fixture_module_stop()
 * (the unload stops one that is still running). Functions that can fail print why on
 * stderr and return -1, so a suite init can return their result and a test can wrap them
 * in CU_ASSERT_EQUAL_FATAL(..., 0); none of them asserts by itself.
 */
#ifndef SLUICE_TESTS_MODULE_FIXTURE_H
#define SLUICE_TESTS_MODULE_FIXTURE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <sluice/module.h>

struct sluice_pool;

/** How much of a module's log the fixture keeps; older lines go when it is full. */
#define FIXTURE_LOG_SIZE 65536

/** One loaded module and, between init and stop, one running instance of it. */
struct fixture_module {
	void *handle;                     /**< from dlopen */
	const struct sluice_module *desc; /**< the module's sluice_module_entry */
	/**
	 * Handed to init: the core's pool functions, a monotonic clock and a log that lands
	 * in log[]. A test may replace now_ms before init to move time by hand. core_private
	 * points back to this struct, which must therefore not move while loaded.
	 */
	struct sluice_host host;
	struct sluice_pool *conf_pool; /**< strings of every conf made by fixture_conf_new() */
	void *conf;                    /**< the running instance's settings, owned here */
	void *modctx;                  /**< the running instance, or NULL */

	pthread_mutex_t log_lock; /**< the module may log from any thread */
	char log[FIXTURE_LOG_SIZE];
	size_t log_len;   /**< bytes in log[], without the NUL */
	size_t log_lines; /**< lines logged since fixture_log_clear(), kept or not */
};

/**
 * Loads a module and checks its descriptor.
 * @param[out] m    zeroed and filled; must stay where it is until unloaded
 * @param[in]  path the .so to open; a bare file name ("lmdb.so") is looked for in the
 *                  build's module directory (SLUICE_BUILD_MODULE_DIR)
 * @param[in]  kind the kind the descriptor must declare
 * @return 0, or -1 with the reason on stderr and @p m unloaded: the file does not open,
 * exports no sluice_module_entry, is of another kind or has no ops table.
 */
int fixture_module_load(struct fixture_module *m, const char *path, enum sluice_module_kind kind);

/** Stops a running instance, closes the module and frees what the load made. */
void fixture_module_unload(struct fixture_module *m);

/**
 * Builds a settings struct for the module, as the loader builds one from a block in
 * modules.conf: every default of the module's settings table, then @p settings.
 * @param[in]  settings "key=value;key=value", or NULL or "" for the defaults alone. A
 *                      later value of a key replaces an earlier one; values are taken
 *                      literally (they cannot hold ';'), whitespace included.
 * @param[out] conf_r   a calloc'd struct of desc->conf_size bytes, to free() or to hand
 *                      to fixture_module_init(); NULL for a module whose conf_size is 0.
 *                      The strings it points to live in conf_pool until the unload.
 * @return 0, or -1 with every `file:line: reason` on stderr: an item without '=', an
 * unknown key, or a value its setting refuses.
 */
int fixture_conf_new(struct fixture_module *m, const char *settings, void **conf_r);

/**
 * Starts an instance: calls desc->init with the fixture's host and @p conf.
 * @param[in]  conf from fixture_conf_new() (or NULL for a module without settings); the
 *                  fixture owns it from now on, whether init succeeds or not
 * @param[out] err  init's reason for failing
 * @return init's result. modctx holds what init stored, which after a failure should
 * be NULL. No instance may be running: stop the previous one first.
 */
int fixture_module_init(struct fixture_module *m, void *conf, struct sluice_error *err);

/** Calls deinit on the running instance, if any, and frees its conf. Safe to repeat. */
void fixture_module_stop(struct fixture_module *m);

/** Forgets every line logged so far. */
void fixture_log_clear(struct fixture_module *m);

/** How many times @p needle occurs in the kept log (occurrences may overlap). */
unsigned fixture_log_count(struct fixture_module *m, const char *needle);

/** How many lines the module logged since the last clear, even those no longer kept. */
size_t fixture_log_lines(struct fixture_module *m);

/**
 * Makes a fresh directory /tmp/<prefix>-XXXXXX, mode 0700.
 * @param[out] buf its path; an empty string when it could not be made
 * @return 0, or -1 with the reason on stderr.
 */
int fixture_tempdir(char *buf, size_t size, const char *prefix);

/**
 * Removes @p path and everything below it, never following a symbolic link; NULL or ""
 * does nothing. Errors are ignored: this is for teardowns.
 */
void fixture_remove_tree(const char *path);

/*
 * Caveats: the fixture is not the core's loader. It checks neither the ABI version nor
 * the descriptor's size (tests/unit/test-loader.c does), passes no reserved keys, and
 * its host has no session context. Its log keeps the newest FIXTURE_LOG_SIZE bytes at
 * most, so a count is exact only while a test logs less than that between clears.
 */

#endif
