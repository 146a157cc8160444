/*
 * The module descriptor and the host table: the contract between sluiced and a .so.
 *
 * A module is a shared object that exports exactly one symbol, `sluice_module_entry`,
 * a const struct sluice_module. The core dlopens the file with RTLD_NOW | RTLD_LOCAL,
 * looks the symbol up and, before calling anything in it, checks the ABI major and
 * minor version, the struct size the module was compiled with and its kind. Any
 * mismatch refuses the module with one log line that names the file, what was found
 * and what was expected.
 *
 * A module links against nothing of the core. Everything it needs from the server
 * (logging, memory, the time) comes through the struct sluice_host handed to init.
 *
 * Minimal module:
 *
 *   static int hello_init(const struct sluice_host *host, const void *conf,
 *                         void **modctx_r, struct sluice_error *err)
 *   { host->log(host, SLUICE_LOG_INFO, "hello"); *modctx_r = NULL; return 0; }
 *
 *   SLUICE_MODULE(.kind = SLUICE_KIND_POLICY, .name = "hello", .version = "1.0",
 *                 .init = hello_init, .ops = &hello_ops);
 */
#ifndef SLUICE_MODULE_H
#define SLUICE_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "result.h"
#include "settings.h"

/** Bumped on a change that breaks existing modules; the core refuses any other major. */
#define SLUICE_ABI_MAJOR 1
/** Bumped when fields or ops are appended; a module newer than the core is refused. */
#define SLUICE_ABI_MINOR 1

/** The symbol every module exports. */
#define SLUICE_MODULE_SYMBOL "sluice_module_entry"

/**
 * What a module is for. The block keyword in modules.conf names the family:
 * `storage` → STORAGE, `index` → INDEX, `auth` → PASSDB or SASL, `policy` → POLICY.
 */
enum sluice_module_kind {
	SLUICE_KIND_STORAGE = 1, /**< message bytes and folders (ops: struct sluice_storage_ops) */
	SLUICE_KIND_INDEX = 2,   /**< UIDs, flags, cached fields (ops: struct sluice_index_ops) */
	SLUICE_KIND_PASSDB = 3,  /**< verifies passwords, finds users (ops: struct sluice_passdb_ops) */
	SLUICE_KIND_SASL = 4,    /**< one SASL mechanism (ops: struct sluice_sasl_ops) */
	SLUICE_KIND_POLICY = 5,  /**< admits or refuses connections, logins, commands (struct sluice_policy_ops) */
};

enum sluice_log_level {
	SLUICE_LOG_DEBUG = 0,
	SLUICE_LOG_INFO = 1,
	SLUICE_LOG_WARNING = 2,
	SLUICE_LOG_ERROR = 3,
};

/** A memory pool owned by the core: allocations live until the pool's owner ends. */
struct sluice_pool;

/**
 * Services of the core, handed to a module's init. The pointer stays valid until the
 * module's deinit returns. Every function is safe to call from any thread.
 */
struct sluice_host {
	uint16_t abi_major; /**< SLUICE_ABI_MAJOR of the running core */
	uint16_t abi_minor; /**< SLUICE_ABI_MINOR of the running core */
	uint32_t size;      /**< sizeof(struct sluice_host) in the core: check before using a newer member */

	/**
	 * @brief Writes one log line, prefixed by the module's name and, when called while a
	 * session is being served, by that session's id, client address and user.
	 * @param[in] host  this table
	 * @param[in] level severity; DEBUG lines are dropped unless the server logs at debug level
	 * @param[in] fmt   printf format. Never pass client-supplied text as the format, and
	 *                  never log passwords or SASL payloads.
	 */
	void (*log)(const struct sluice_host *host, enum sluice_log_level level, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));

	/**
	 * @brief Allocates zeroed memory from @p pool.
	 * @param[in] pool a pool the core passed to the module for this call
	 * @param[in] size bytes wanted
	 * @return the memory, or NULL when out of memory or over the session's memory cap.
	 * The memory is freed by the core with the pool; never free() it.
	 */
	void *(*pool_alloc)(struct sluice_pool *pool, size_t size);

	/** @brief Copies @p len bytes of @p s into @p pool and adds a NUL. NULL when out of memory. */
	char *(*pool_strndup)(struct sluice_pool *pool, const char *s, size_t len);

	/** @brief Milliseconds of a monotonic clock, for measuring intervals. */
	uint64_t (*now_ms)(void);

	/** @brief The core's private data for this module instance; modules must not touch it. */
	void *core_private;
};

/** The one symbol a module exports. Fill it with SLUICE_MODULE(). */
struct sluice_module {
	uint16_t abi_major;           /**< SLUICE_ABI_MAJOR the module was built with */
	uint16_t abi_minor;           /**< SLUICE_ABI_MINOR the module was built with */
	uint32_t size;                /**< sizeof(struct sluice_module) as compiled into the module */
	enum sluice_module_kind kind; /**< checked against the block keyword that loads it */
	const char *name;             /**< the module's name, e.g. "passwd-file" */
	const char *version;          /**< the module's own version string */
	const char *description;      /**< one line for `sluiced --modules`, may be NULL */

	/** Keys the module accepts in its block, ended by SLUICE_SETTING_END; may be NULL. */
	const struct sluice_setting *settings;
	/** Size of the struct the settings are stored in; the core allocates and fills it. */
	size_t conf_size;

	/**
	 * @brief Starts the module instance.
	 * @param[in]  host     core services, valid until deinit returns
	 * @param[in]  conf     the filled settings struct (conf_size bytes), valid until deinit
	 *                      returns or until a successful reload hands over a new one
	 * @param[out] modctx_r the module's own state, passed back to every op and to deinit
	 * @param[out] err      why it failed
	 * @return 0, or a negative code (the server refuses to start, printing err->msg).
	 * Called once, on the main thread, before any session exists.
	 */
	int (*init)(const struct sluice_host *host, const void *conf, void **modctx_r,
		    struct sluice_error *err);

	/** @brief Releases everything init made. Called once on the main thread; may be NULL. */
	void (*deinit)(void *modctx);

	/**
	 * @brief Takes a new configuration on SIGHUP without restarting. May be NULL: the
	 * module then keeps its old settings (and the log says so).
	 * @param[in] conf the new settings struct; the old one stays valid until this returns
	 * @return 0, or a negative code: the module keeps its old settings, err->msg is logged.
	 * Called on the main thread while sessions run: protect shared state yourself.
	 */
	int (*reload)(void *modctx, const void *conf, struct sluice_error *err);

	/** The kind's operations table: struct sluice_passdb_ops, sluice_sasl_ops, ... */
	const void *ops;
};

#if defined(__GNUC__)
#define SLUICE_EXPORT __attribute__((visibility("default")))
#else
#define SLUICE_EXPORT
#endif

/** Defines the module's descriptor; pass designated initializers for the other fields. */
#define SLUICE_MODULE(...)                                                                         \
	SLUICE_EXPORT extern const struct sluice_module sluice_module_entry;                       \
	SLUICE_EXPORT const struct sluice_module sluice_module_entry = {                           \
		.abi_major = SLUICE_ABI_MAJOR,                                                     \
		.abi_minor = SLUICE_ABI_MINOR,                                                     \
		.size = sizeof(struct sluice_module),                                              \
		__VA_ARGS__}

/*
 * Caveats
 * - The core may call a module's ops from several worker threads at once, for different
 *   sessions. Protect shared state; never block a worker for long on anything but the
 *   work itself (a disk read, a password hash).
 * - Do not call exit(), change signal handlers, or keep pointers the core lent you for a
 *   call beyond that call; copy what you need into your own memory.
 * - Unloading happens only at shutdown: a module is never dlclosed while sessions run.
 */

#endif
