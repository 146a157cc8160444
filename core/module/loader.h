/*
 * The module loader: turns the module blocks of a server configuration into running
 * modules. It opens each .so, checks its descriptor before calling anything in it (one
 * sentence per failed check, naming the file, what was found and what was expected),
 * fills the module's settings struct from its block, starts the modules in configuration
 * order, hands them new settings on SIGHUP and stops them in reverse order at shutdown.
 *
 * The chains that use modules (passdb, SASL, policy) ask module_set_find() for the
 * instances of one kind, in the order the configuration lists them.
 */
#ifndef SLUICE_MODULE_LOADER_H
#define SLUICE_MODULE_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include <sluice/module.h>

#include "conf/conf.h"
#include "conf/server-conf.h"

/** One configured module block and the module that serves it. */
struct module_instance {
	const struct sluice_module *desc; /**< the checked descriptor inside the .so */
	const char *keyword;              /**< storage, index, auth or policy */
	const char *name;                 /**< the block's (and module's) name */
	const char *path;                 /**< the .so that was opened */
	void *handle;                     /**< from dlopen */
	void *conf;                       /**< the filled settings struct (desc->conf_size bytes) */
	void *modctx;                     /**< what init returned */
	struct sluice_host host;          /**< services handed to init; core_private = this */
	bool initialized;                 /**< init succeeded and deinit is still due */

	/* Private to the loader. */
	const char *file; /**< where the current block is, for messages */
	unsigned line;
	const struct conf_node *node;   /**< the block the current settings came from */
	struct server_conf *conf_owner; /**< a reference keeping conf and node alive */
};

struct module_set {
	struct module_instance *items;
	size_t count;
	/* Private: owns items and the instances' strings. */
	struct sluice_pool *pool;
};

/**
 * Opens one module file and checks its descriptor for a block of @p keyword. Checks, in
 * order: the file exists and is readable; dlopen (RTLD_NOW | RTLD_LOCAL) succeeds; it
 * exports sluice_module_entry; its ABI major equals ours; its ABI minor is not newer; its
 * descriptor is not smaller than ours; its kind fits @p keyword (`auth` takes PASSDB or
 * SASL); init and ops are set; the ops table's size covers the kind's ops struct.
 * @return 0 with *desc_r and *handle_r set; SLUICE_E_IO when the file is missing or
 * unreadable, SLUICE_E_ABI for any other failure, with err->msg one sentence naming the
 * file (the module is closed again).
 */
int module_open(const char *path, const char *keyword, const struct sluice_module **desc_r,
                void **handle_r, struct sluice_error *err);

/**
 * Opens every module block of @p conf in order: the file is <module_path>/<name>.so
 * unless the block sets the reserved key `file` (relative to the folder of the file the
 * key is in). Checks each as module_open() does and that the descriptor's name is the
 * block's name, then fills its settings struct in @p conf's pool. Every problem is
 * reported as `file:line` of the block or of the bad setting. Does not call init.
 * The set keeps a reference to @p conf.
 * @return 0 with *set_r, or -1 with every error in @p errs and *set_r NULL. Main thread.
 */
int module_set_load(const struct server_conf *conf, struct module_set **set_r,
                    struct conf_errors *errs);

/**
 * Calls init of every module in configuration order. When one fails, the ones already
 * started are deinitialized in reverse order.
 * @return 0, or -1 with "file:line: module NAME: msg" in @p errs. Main thread.
 */
int module_set_init(struct module_set *set, struct conf_errors *errs);

/**
 * SIGHUP: for each instance, finds the block with the same keyword and name in
 * @p newconf, builds new settings from it and calls the module's reload (a module without
 * reload keeps its settings, and the log says so when its block changed). New settings
 * are all built before any reload is called, so a mistake in one block changes nothing.
 * Blocks added or removed need a restart: that is logged as a warning, not an error.
 * @return 0, or -1 with the problems in @p errs (settings errors: no module changed;
 * a failing reload: that module keeps its old settings, the others took the new ones).
 * Main thread.
 */
int module_set_reload(struct module_set *set, const struct server_conf *newconf,
                      struct conf_errors *errs);

/** Deinitializes in reverse order, closes the files, frees the set and sets *set NULL. */
void module_set_destroy(struct module_set **set);

/**
 * Finds the instances of @p kind in configuration order, storing up to @p max of them
 * in @p out. Returns how many there are (which may be more than @p max).
 */
size_t module_set_find(const struct module_set *set, enum sluice_module_kind kind,
                       struct module_instance **out, size_t max);

/** Fills inst->host with the core's services for that instance (host.c). */
void module_host_init(struct module_instance *inst);

/** The instance a host table belongs to. */
struct module_instance *module_host_instance(const struct sluice_host *host);

#endif
