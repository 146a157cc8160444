/*
 * Module loading: dlopen, descriptor checks, settings, init, reload and unload.
 *
 * A module is foreign code compiled at some other time against some other copy of the
 * headers, so nothing in it is called or even read past its first eight bytes until the
 * descriptor has been checked field by field. Each check that fails produces its own
 * sentence, naming the file, what it found and what it expected, because "module failed
 * to load" costs an admin an afternoon and "built for ABI 2.x; this server speaks 1.0"
 * costs a minute.
 */
#include "module/loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sluice/index.h>
#include <sluice/passdb.h>
#include <sluice/policy.h>
#include <sluice/sasl.h>
#include <sluice/storage.h>

#include "conf/settings.h"
#include "util/log.h"
#include "util/pool.h"

/* Keys the loader reads from a module block itself; modules may not declare them. */
static const char *const loader_reserved_keys[] = {"file", NULL};

/* ---- kinds ----------------------------------------------------------------------------- */

struct kind_info {
	enum sluice_module_kind kind;
	const char *keyword; /* the block keyword that loads it */
	const char *words;   /* "a policy module" */
	const char *ops_name;
	/* The kind's ops struct as ABI 1.0 defined it: the least a module may bring. Ops
	 * appended by later minors are called only when the module's own size covers them. */
	size_t ops_size;
};

/* Size of an ops struct up to and including @p last, its final ABI 1.0 member. */
#define OPS_SIZE_THROUGH(type, last) (offsetof(type, last) + sizeof(((type *)0)->last))

static const struct kind_info kinds[] = {
    /* Storage ops grew in ABI 1.1; a 1.0 module's shorter table is fine (storage.h). */
    {SLUICE_KIND_STORAGE, "storage", "a storage module", "struct sluice_storage_ops",
     OPS_SIZE_THROUGH(struct sluice_storage_ops, append_abort)},
    {SLUICE_KIND_INDEX, "index", "an index module", "struct sluice_index_ops",
     OPS_SIZE_THROUGH(struct sluice_index_ops, expunged_since)},
    {SLUICE_KIND_PASSDB, "auth", "a password database (passdb) module", "struct sluice_passdb_ops",
     OPS_SIZE_THROUGH(struct sluice_passdb_ops, lookup)},
    {SLUICE_KIND_SASL, "auth", "a SASL mechanism module", "struct sluice_sasl_ops",
     OPS_SIZE_THROUGH(struct sluice_sasl_ops, step)},
    {SLUICE_KIND_POLICY, "policy", "a policy module", "struct sluice_policy_ops",
     OPS_SIZE_THROUGH(struct sluice_policy_ops, disconnect)},
};

static const struct kind_info *kind_find(enum sluice_module_kind kind)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].kind == kind)
			return &kinds[i];
	return NULL;
}

/* What a block keyword accepts, in words, or NULL for a keyword that loads no modules. */
static const char *keyword_accepts(const char *keyword)
{
	if (strcmp(keyword, "storage") == 0)
		return "storage modules";
	if (strcmp(keyword, "index") == 0)
		return "index modules";
	if (strcmp(keyword, "auth") == 0)
		return "password database (passdb) or SASL mechanism modules";
	if (strcmp(keyword, "policy") == 0)
		return "policy modules";
	return NULL;
}

/* The smallest descriptor a module of ABI 1.<minor> can have. */
static size_t descriptor_size_for_minor(unsigned minor)
{
	/* ABI 1.0 is the first; a later minor appends fields and adds its size here. */
	(void)minor;
	return sizeof(struct sluice_module);
}

/* ---- opening and checking one file ----------------------------------------------------- */

static int fail(struct sluice_error *err, void **handle, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct sluice_error *err, void **handle, int code, const char *fmt, ...)
{
	va_list ap;

	/* Format first: the arguments may point into the module about to be closed. */
	if (err != NULL) {
		err->code = code;
		err->resp_code = NULL;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	if (*handle != NULL) {
		dlclose(*handle);
		*handle = NULL;
	}
	return code;
}

/* The checks of module_open(), plus the block name when @p name is not NULL. */
static int module_open_named(const char *path, const char *keyword, const char *name,
                             const struct sluice_module **desc_r, void **handle_r,
                             struct sluice_error *err)
{
	const char *accepts = keyword_accepts(keyword);
	void *handle = NULL;
	struct stat st;
	int fd;

	*desc_r = NULL;
	*handle_r = NULL;
	if (accepts == NULL)
		return fail(err, &handle, SLUICE_E_CONFIG, "'%s' is not a block that loads modules",
		            keyword);

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (err != NULL)
			err->sys_errno = e;
		if (e == ENOENT)
			return fail(err, &handle, SLUICE_E_IO, "module file %s does not exist",
			            path);
		return fail(err, &handle, SLUICE_E_IO, "module file %s cannot be read: %s", path,
		            strerror(e));
	}
	bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	close(fd);
	if (!regular)
		return fail(err, &handle, SLUICE_E_IO, "module file %s is not a regular file",
		            path);

	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (handle == NULL) {
		const char *why = dlerror();
		return fail(err, &handle, SLUICE_E_ABI, "module file %s cannot be loaded: %s", path,
		            why != NULL ? why : "unknown dlopen error");
	}
	const struct sluice_module *d = dlsym(handle, SLUICE_MODULE_SYMBOL);
	if (d == NULL)
		return fail(err, &handle, SLUICE_E_ABI,
		            "%s is not a Sluice module: it exports no %s", path,
		            SLUICE_MODULE_SYMBOL);

	/* Only the first eight bytes (major, minor, size) are known to exist until here. */
	if (d->abi_major != SLUICE_ABI_MAJOR)
		return fail(err, &handle, SLUICE_E_ABI,
		            "%s was built for module ABI %u.x; this server speaks ABI %d.%d — "
		            "rebuild it against this server's headers",
		            path, d->abi_major, SLUICE_ABI_MAJOR, SLUICE_ABI_MINOR);
	if (d->abi_minor > SLUICE_ABI_MINOR)
		return fail(err, &handle, SLUICE_E_ABI,
		            "%s was built for module ABI %u.%u, newer than this server's ABI "
		            "%d.%d — upgrade the server or rebuild the module against its headers",
		            path, d->abi_major, d->abi_minor, SLUICE_ABI_MAJOR, SLUICE_ABI_MINOR);
	size_t need = descriptor_size_for_minor(d->abi_minor);
	if (d->size < need)
		return fail(err, &handle, SLUICE_E_ABI,
		            "%s has a descriptor of %u bytes, but ABI %u.%u descriptors have %zu "
		            "— define it with SLUICE_MODULE() from this server's headers",
		            path, d->size, d->abi_major, d->abi_minor, need);

	const struct kind_info *k = kind_find(d->kind);
	if (k == NULL)
		return fail(err, &handle, SLUICE_E_ABI,
		            "%s declares module kind %d, which ABI %d.%d does not know", path,
		            (int)d->kind, SLUICE_ABI_MAJOR, SLUICE_ABI_MINOR);
	if (strcmp(k->keyword, keyword) != 0)
		return fail(err, &handle, SLUICE_E_ABI, "%s is %s, but '%s' blocks load only %s",
		            path, k->words, keyword, accepts);
	if (name != NULL && (d->name == NULL || strcmp(d->name, name) != 0))
		return fail(err, &handle, SLUICE_E_ABI,
		            "%s is the module '%s', but the block is named '%s': a block must "
		            "carry its module's name",
		            path, d->name != NULL ? d->name : "(no name)", name);
	if (d->init == NULL)
		return fail(err, &handle, SLUICE_E_ABI, "%s has no init function in its descriptor",
		            path);
	if (d->ops == NULL)
		return fail(err, &handle, SLUICE_E_ABI,
		            "%s has no ops table in its descriptor (%s needs a %s)", path, k->words,
		            k->ops_name);
	/* Every ops struct of the ABI starts with its own uint32_t size. */
	uint32_t ops_size = *(const uint32_t *)d->ops;
	if (ops_size < k->ops_size)
		return fail(err, &handle, SLUICE_E_ABI,
		            "%s has a %s of %u bytes, smaller than the %zu bytes of ABI %d.0 — "
		            "rebuild it against this server's headers",
		            path, k->ops_name, ops_size, k->ops_size, SLUICE_ABI_MAJOR);
	*desc_r = d;
	*handle_r = handle;
	return 0;
}

int module_open(const char *path, const char *keyword, const struct sluice_module **desc_r,
                void **handle_r, struct sluice_error *err)
{
	return module_open_named(path, keyword, NULL, desc_r, handle_r, err);
}

/* ---- a set of modules ------------------------------------------------------------------ */

/* <module_path>/<name>.so, or the block's own `file`, resolved against its file's folder. */
static const char *module_file_for(const struct server_conf *conf, const struct conf_node *block,
                                   struct sluice_pool *pool)
{
	const struct conf_node *f = conf_node_find(block, "file");

	if (f != NULL && !f->is_block)
		return conf_path_resolve(pool, f->file, f->value);
	return pool_printf(pool, "%s/%s.so", conf->s.module_path, block->name);
}

/*
 * Builds a module's settings struct from @p block in @p conf's pool.
 * Returns the struct (NULL when the module has no settings) through @p conf_r.
 */
static int build_settings(const struct sluice_module *d, const struct server_conf *conf,
                          const struct conf_node *block, void **conf_r, struct conf_errors *errs)
{
	struct sluice_pool *pool = conf_tree_pool(conf->tree);
	void *target = NULL;

	*conf_r = NULL;
	if (d->settings != NULL && d->conf_size == 0) {
		conf_error_add(errs, block->file, block->line,
		               "module %s declares settings but a conf_size of 0", block->name);
		return -1;
	}
	for (size_t i = 0; loader_reserved_keys[i] != NULL; i++) {
		if (settings_find(d->settings, loader_reserved_keys[i]) != NULL) {
			conf_error_add(errs, block->file, block->line,
			               "module %s declares a setting '%s', but that key is the "
			               "core's",
			               block->name, loader_reserved_keys[i]);
			return -1;
		}
	}
	if (d->conf_size > 0) {
		target = pool_alloc(pool, d->conf_size);
		if (target == NULL) {
			conf_error_add(errs, block->file, block->line, "out of memory");
			return -1;
		}
	}
	if (settings_apply(d->settings, block, target, pool, loader_reserved_keys, errs) < 0)
		return -1;
	*conf_r = target;
	return 0;
}

static void instance_set_block(struct module_instance *inst, const struct server_conf *conf,
                               const struct conf_node *block, void *settings)
{
	/* The set is the only writer of a configuration's refcount it did not create. */
	struct server_conf *owner = server_conf_ref((struct server_conf *)conf);

	server_conf_unref(&inst->conf_owner);
	inst->conf_owner = owner;
	inst->conf = settings;
	inst->node = block;
	inst->file = block->file;
	inst->line = block->line;
}

int module_set_load(const struct server_conf *conf, struct module_set **set_r,
                    struct conf_errors *errs)
{
	struct module_set *set = calloc(1, sizeof(*set));
	int failed = 0;

	*set_r = NULL;
	if (set == NULL || (set->pool = pool_create(4096, 0)) == NULL ||
	    (set->items = pool_alloc(set->pool, (conf->module_count + 1) * sizeof(*set->items))) ==
	        NULL) {
		conf_error_add(errs, conf->path, 0, "out of memory while loading modules");
		module_set_destroy(&set);
		return -1;
	}
	for (size_t i = 0; i < conf->module_count; i++) {
		const struct module_block *mb = &conf->modules[i];
		const struct conf_node *b = mb->node;
		struct sluice_error err = SLUICE_ERROR_INIT;
		const struct sluice_module *d;
		void *handle, *settings;

		const char *path = module_file_for(conf, b, conf_tree_pool(conf->tree));
		if (path == NULL || (path = pool_strdup(set->pool, path)) == NULL) {
			conf_error_add(errs, b->file, b->line, "out of memory");
			failed = -1;
			continue;
		}
		if (module_open_named(path, mb->keyword, mb->name, &d, &handle, &err) < 0) {
			conf_error_add(errs, b->file, b->line, "cannot load %s %s: %s", mb->keyword,
			               mb->name, err.msg);
			failed = -1;
			continue;
		}
		if (build_settings(d, conf, b, &settings, errs) < 0) {
			dlclose(handle);
			failed = -1;
			continue;
		}
		struct module_instance *inst = &set->items[set->count++];
		inst->desc = d;
		inst->handle = handle;
		inst->path = path;
		inst->keyword = pool_strdup(set->pool, mb->keyword);
		inst->name = pool_strdup(set->pool, mb->name);
		instance_set_block(inst, conf, b, settings);
		module_host_init(inst);
		if (inst->keyword == NULL || inst->name == NULL) {
			conf_error_add(errs, b->file, b->line, "out of memory");
			failed = -1;
		}
	}
	if (failed < 0) {
		module_set_destroy(&set);
		return -1;
	}
	*set_r = set;
	return 0;
}

static void deinit_until(struct module_set *set, size_t end)
{
	for (size_t i = end; i-- > 0;) {
		struct module_instance *inst = &set->items[i];
		if (!inst->initialized)
			continue;
		if (inst->desc->deinit != NULL)
			inst->desc->deinit(inst->modctx);
		inst->initialized = false;
		inst->modctx = NULL;
	}
}

int module_set_init(struct module_set *set, struct conf_errors *errs)
{
	for (size_t i = 0; i < set->count; i++) {
		struct module_instance *inst = &set->items[i];
		struct sluice_error err = SLUICE_ERROR_INIT;

		if (inst->initialized)
			continue;
		int rc = inst->desc->init(&inst->host, inst->conf, &inst->modctx, &err);
		if (rc != 0) {
			if (err.msg[0] != '\0')
				conf_error_add(errs, inst->file, inst->line, "module %s: %s",
				               inst->name, err.msg);
			else
				conf_error_add(errs, inst->file, inst->line,
				               "module %s: init failed with code %d", inst->name,
				               rc);
			deinit_until(set, i);
			return -1;
		}
		inst->initialized = true;
	}
	return 0;
}

static const struct module_block *block_find(const struct server_conf *conf, const char *keyword,
                                             const char *name)
{
	for (size_t i = 0; i < conf->module_count; i++)
		if (strcmp(conf->modules[i].keyword, keyword) == 0 &&
		    strcmp(conf->modules[i].name, name) == 0)
			return &conf->modules[i];
	return NULL;
}

/* Whether two blocks hold the same settings in the same order (so nothing changed). */
static bool same_block(const struct conf_node *a, const struct conf_node *b)
{
	if (a->count != b->count)
		return false;
	for (size_t i = 0; i < a->count; i++) {
		const struct conf_node *x = &a->children[i], *y = &b->children[i];
		if (x->is_block != y->is_block || strcmp(x->key, y->key) != 0 ||
		    (x->value == NULL) != (y->value == NULL) ||
		    (x->value != NULL && strcmp(x->value, y->value) != 0))
			return false;
	}
	return true;
}

/* Logs the module blocks of @p newconf that no running instance serves. */
static void warn_added(const struct module_set *set, const struct server_conf *newconf)
{
	for (size_t i = 0; i < newconf->module_count; i++) {
		const struct module_block *mb = &newconf->modules[i];
		bool found = false;
		for (size_t k = 0; k < set->count && !found; k++)
			found = strcmp(set->items[k].keyword, mb->keyword) == 0 &&
			        strcmp(set->items[k].name, mb->name) == 0;
		if (!found)
			log_warning("%s:%u: %s %s was added to the configuration; restart sluiced "
			            "to load it",
			            mb->node->file, mb->node->line, mb->keyword, mb->name);
	}
}

int module_set_reload(struct module_set *set, const struct server_conf *newconf,
                      struct conf_errors *errs)
{
	const struct conf_node **nodes = calloc(set->count + 1, sizeof(*nodes));
	void **settings = calloc(set->count + 1, sizeof(*settings));
	int failed = 0;

	if (nodes == NULL || settings == NULL) {
		free(nodes);
		free(settings);
		conf_error_add(errs, newconf->path, 0, "out of memory while reloading modules");
		return -1;
	}
	/* First every new settings struct, so that one bad block changes no module. */
	for (size_t i = 0; i < set->count; i++) {
		struct module_instance *inst = &set->items[i];
		const struct module_block *mb = block_find(newconf, inst->keyword, inst->name);
		if (mb == NULL) {
			log_warning("%s %s was removed from the configuration; it keeps running "
			            "until sluiced restarts",
			            inst->keyword, inst->name);
			continue;
		}
		const char *path =
		    module_file_for(newconf, mb->node, conf_tree_pool(newconf->tree));
		if (path != NULL && strcmp(path, inst->path) != 0)
			log_warning("%s:%u: %s %s now names the file %s; sluiced keeps running %s "
			            "until it restarts",
			            mb->node->file, mb->node->line, inst->keyword, inst->name, path,
			            inst->path);
		if (build_settings(inst->desc, newconf, mb->node, &settings[i], errs) < 0)
			failed = -1;
		else
			nodes[i] = mb->node;
	}
	warn_added(set, newconf);
	if (failed < 0)
		goto out;

	for (size_t i = 0; i < set->count; i++) {
		struct module_instance *inst = &set->items[i];
		struct sluice_error err = SLUICE_ERROR_INIT;

		if (nodes[i] == NULL)
			continue;
		if (inst->initialized && inst->desc->reload == NULL) {
			if (!same_block(inst->node, nodes[i]))
				log_info(
				    "%s:%u: %s %s cannot reload its settings; it keeps the ones "
				    "it started with until sluiced restarts",
				    nodes[i]->file, nodes[i]->line, inst->keyword, inst->name);
			continue;
		}
		if (inst->initialized) {
			int rc = inst->desc->reload(inst->modctx, settings[i], &err);
			if (rc != 0) {
				conf_error_add(errs, nodes[i]->file, nodes[i]->line,
				               "module %s kept its old settings: %s", inst->name,
				               err.msg[0] != '\0' ? err.msg : "reload failed");
				failed = -1;
				continue;
			}
		}
		instance_set_block(inst, newconf, nodes[i], settings[i]);
	}
out:
	free(nodes);
	free(settings);
	return failed;
}

void module_set_destroy(struct module_set **setp)
{
	struct module_set *set = *setp;

	if (set == NULL)
		return;
	*setp = NULL;
	deinit_until(set, set->count);
	for (size_t i = set->count; i-- > 0;) {
		struct module_instance *inst = &set->items[i];
		if (inst->handle != NULL)
			dlclose(inst->handle);
		inst->handle = NULL;
		server_conf_unref(&inst->conf_owner);
	}
	pool_destroy(&set->pool);
	free(set);
}

size_t module_set_find(const struct module_set *set, enum sluice_module_kind kind,
                       struct module_instance **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; set != NULL && i < set->count; i++) {
		if (set->items[i].desc->kind != kind)
			continue;
		if (n < max)
			out[n] = &set->items[i];
		n++;
	}
	return n;
}
