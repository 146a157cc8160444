/*
 * The server's own configuration: which top-level keys and blocks sluiced.conf accepts,
 * and the checks that need more than one line to decide (two listeners on one address,
 * a STARTTLS listener without a certificate, two tls blocks for one host name). Values
 * are parsed by settings.c from the tables below; this file only arranges the results
 * into struct server_conf and cross-checks them.
 *
 * Everything lives in the parsed tree's pool, so a configuration is freed in one go when
 * its last reference is dropped (sessions may still hold one after a reload).
 */
#include "conf/server-conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf/mailbox-conf.h"
#include "conf/settings.h"
#include "util/pool.h"

#ifndef SLUICE_MODULE_DIR
#define SLUICE_MODULE_DIR "/usr/local/lib/sluice/modules"
#endif

#ifndef SLUICE_CONTROL_SOCKET
#define SLUICE_CONTROL_SOCKET "/run/sluice/control"
#endif

#define MS(s) ((uint64_t)(s)*1000)

static const char *const log_choices[] = {"stderr", "syslog", NULL};
static const char *const log_level_choices[] = {"debug", "info", "warning", "error", NULL};
static const char *const delimiter_choices[] = {".", "/", NULL};
static const char *const nonsync_choices[] = {"plus", "minus", NULL};

#define S struct server_settings
const struct sluice_setting server_settings_table[] = {
    SLUICE_SETTING_UINT("workers", S, workers, "0", 0, 1024,
                        "worker threads; 0 starts one per CPU core"),
    SLUICE_SETTING_ENUM("log", S, log, "stderr", log_choices, "where log lines go"),
    SLUICE_SETTING_ENUM("log_level", S, log_level, "info", log_level_choices,
                        "the least severe level that is logged"),
    SLUICE_SETTING_STRING("module_path", S, module_path, SLUICE_MODULE_DIR,
                          "folder where a module block NAME loads NAME.so from"),
    SLUICE_SETTING_DURATION("preauth_timeout", S, preauth_timeout, "60s", MS(1), 0,
                            "how long a client may stay connected without logging in"),
    SLUICE_SETTING_DURATION("autologout", S, autologout, "30m", MS(1), 0,
                            "how long a logged-in client may stay silent before it is "
                            "disconnected (outside IDLE)"),
    SLUICE_SETTING_DURATION("auth_failure_delay", S, auth_failure_delay, "2s", 0, MS(60),
                            "how long the answer to a failed login is delayed"),
    SLUICE_SETTING_SIZE("max_literal", S, max_literal, "64M", 0, UINT64_C(1) << 30,
                        "largest literal a client may send (APPEND message size)"),
    SLUICE_SETTING_SIZE("max_line", S, max_line, "64K", 1024, 0,
                        "longest command line, literals excluded"),
    SLUICE_SETTING_BOOL("tls_required", S, tls_required, "no",
                        "refuse every login over a connection without TLS"),
    SLUICE_SETTING_CIDR_LIST("plaintext_auth_networks", S, plaintext_auth_networks,
                             "127.0.0.0/8 ::1",
                             "clients from these networks may log in without TLS unless "
                             "tls_required is set"),
    SLUICE_SETTING_DURATION("shutdown_timeout", S, shutdown_timeout, "10s", 0, 0,
                            "how long commands in progress may finish after SIGTERM"),
    SLUICE_SETTING_ENUM("mailbox_delimiter", S, mailbox_delimiter, ".", delimiter_choices,
                        "hierarchy delimiter clients see in mailbox names (. or /)"),
    SLUICE_SETTING_BOOL("copy_keeps_metadata", S, copy_keeps_metadata, "yes",
                        "COPY and MOVE keep flags, keywords and INTERNALDATE; no gives "
                        "copies no flags and the time of the copy"),
    SLUICE_SETTING_BOOL("imap_id", S, imap_id, "yes",
                        "answer ID (RFC 2971) with the server's name and version; no answers "
                        "ID NIL, telling clients nothing about the software"),
    SLUICE_SETTING_BOOL("imap_idle", S, imap_idle, "yes",
                        "offer IDLE (RFC 2177): new mail, expunges and flag changes are "
                        "pushed to waiting clients; no removes it from CAPABILITY"),
    SLUICE_SETTING_DURATION("imap_idle_timeout", S, imap_idle_timeout, "30m", MS(1), 0,
                            "how long a client may stay in IDLE without sending anything "
                            "before it is disconnected"),
    SLUICE_SETTING_STRING("control_socket", S, control_socket, SLUICE_CONTROL_SOCKET,
                          "UNIX socket (mode 0600) where sluicectl reaches the running "
                          "server; empty turns it off"),
    SLUICE_SETTING_ENUM("nonsync_literals", S, nonsync_literals, "plus", nonsync_choices,
                        "plus offers LITERAL+ (non-synchronizing literals of any size); "
                        "minus offers LITERAL- (only up to 4096 bytes)"),
    SLUICE_SETTING_STRING("default_mailboxes", S, default_mailboxes,
                          "Sent \\Sent, Drafts \\Drafts, Trash \\Trash, Junk \\Junk, "
                          "Archive \\Archive",
                          "folders (with their special uses) created and subscribed at the "
                          "first login of an account that has none; none creates nothing"),
    SLUICE_SETTING_STRING("trash_expiry", S, trash_expiry, "none",
                          "folders whose messages are removed after login once older than "
                          "an age, as in Trash:7d, Junk:30d; none keeps everything"),
    SLUICE_SETTING_END,
};
#undef S

struct listener_settings {
	const char *address;
	unsigned port;
	unsigned tls;
};

static const char *const listener_tls_choices[] = {"none", "starttls", "implicit", NULL};

#define S struct listener_settings
const struct sluice_setting listener_settings_table[] = {
    SLUICE_SETTING_STRING("address", S, address, "127.0.0.1",
                          "IPv4 or IPv6 address to listen on; 0.0.0.0 or :: for all"),
    SLUICE_SETTING_UINT("port", S, port, NULL, 1, 65535, "TCP port (required)"),
    SLUICE_SETTING_ENUM("tls", S, tls, "starttls", listener_tls_choices,
                        "none, STARTTLS on a plaintext connection, or TLS from the first byte"),
    SLUICE_SETTING_END,
};
#undef S

struct tls_settings {
	const char *cert, *key;
	unsigned min_version;
	const char *ciphers, *ciphersuites;
};

static const char *const tls_version_choices[] = {"TLSv1.2", "TLSv1.3", NULL};

#define S struct tls_settings
const struct sluice_setting tls_settings_table[] = {
    SLUICE_SETTING_STRING("cert", S, cert, NULL,
                          "PEM file with the certificate and its chain (required)"),
    SLUICE_SETTING_STRING("key", S, key, NULL,
                          "PEM file with the private key; omitted = the key is in the cert "
                          "file"),
    SLUICE_SETTING_ENUM("min_version", S, min_version, "TLSv1.2", tls_version_choices,
                        "oldest TLS version accepted"),
    SLUICE_SETTING_STRING("ciphers", S, ciphers, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL",
                          "OpenSSL cipher list for TLS 1.2"),
    SLUICE_SETTING_STRING("ciphersuites", S, ciphersuites, NULL,
                          "TLS 1.3 cipher suites; omitted = OpenSSL's default"),
    SLUICE_SETTING_END,
};
#undef S

/* A listener's address in binary, to compare listeners whatever their spelling. */
struct bound_addr {
	int family;
	uint8_t addr[16];
};

struct load_ctx {
	struct server_conf *conf;
	struct sluice_pool *pool;
	struct conf_errors *errs;
	struct bound_addr *bound; /* parallel to conf->listeners */
	/* Blocks seen, even those with errors, so that one mistake does not cause others. */
	size_t listener_blocks;
	bool default_tls_block;
	int failed;
};

static void load_error(struct load_ctx *ctx, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void load_error(struct load_ctx *ctx, const char *file, unsigned line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	conf_error_addv(ctx->errs, file, line, fmt, ap);
	va_end(ap);
	ctx->failed = -1;
}

static bool is_module_keyword(const char *kw)
{
	return strcmp(kw, "storage") == 0 || strcmp(kw, "index") == 0 || strcmp(kw, "auth") == 0 ||
	       strcmp(kw, "policy") == 0;
}

/* ---- listeners ------------------------------------------------------------------------- */

static bool addr_is_wildcard(const struct bound_addr *a)
{
	static const uint8_t zero[16];
	return memcmp(a->addr, zero, a->family == AF_INET ? 4 : 16) == 0;
}

static void format_endpoint(const struct listener_conf *l, char *buf, size_t len)
{
	if (strchr(l->address, ':') != NULL)
		snprintf(buf, len, "[%s]:%u", l->address, l->port);
	else
		snprintf(buf, len, "%s:%u", l->address, l->port);
}

/*
 * Two listeners cannot bind the same address and port, and a wildcard address of one
 * family already takes every address of that family on its port.
 */
static void check_listener_clash(struct load_ctx *ctx, size_t idx)
{
	const struct listener_conf *l = &ctx->conf->listeners[idx];
	const struct bound_addr *a = &ctx->bound[idx];
	char mine[80], theirs[80];

	for (size_t i = 0; i < idx; i++) {
		const struct listener_conf *o = &ctx->conf->listeners[i];
		const struct bound_addr *b = &ctx->bound[i];
		if (o->port != l->port || b->family != a->family)
			continue;
		format_endpoint(l, mine, sizeof(mine));
		format_endpoint(o, theirs, sizeof(theirs));
		if (memcmp(a->addr, b->addr, sizeof(a->addr)) == 0) {
			load_error(ctx, l->file, l->line,
			           "listener %s listens on %s, which listener %s at %s:%u already "
			           "uses",
			           l->name, mine, o->name, o->file, o->line);
			return;
		}
		if (addr_is_wildcard(a) || addr_is_wildcard(b)) {
			load_error(ctx, l->file, l->line,
			           "listener %s listens on %s, which overlaps listener %s (%s) at "
			           "%s:%u: a wildcard address takes every address on its port",
			           l->name, mine, o->name, theirs, o->file, o->line);
			return;
		}
	}
}

static void load_listener(struct load_ctx *ctx, const struct conf_node *b)
{
	struct server_conf *conf = ctx->conf;
	struct listener_settings ls;
	size_t idx = conf->listener_count;

	ctx->listener_blocks++;
	if (b->name == NULL) {
		load_error(ctx, b->file, b->line,
		           "a listener block needs a name, as in 'listener imap {'");
		return;
	}
	for (size_t i = 0; i < idx; i++) {
		if (strcmp(conf->listeners[i].name, b->name) == 0) {
			load_error(ctx, b->file, b->line,
			           "there is already a listener named %s at %s:%u", b->name,
			           conf->listeners[i].file, conf->listeners[i].line);
			return;
		}
	}
	if (settings_apply(listener_settings_table, b, &ls, ctx->pool, NULL, ctx->errs) < 0) {
		ctx->failed = -1;
		return;
	}
	if (conf_node_find(b, "port") == NULL) {
		load_error(ctx, b->file, b->line,
		           "listener %s has no port: add a line such as 'port = 143'", b->name);
		return;
	}
	struct bound_addr *a = &ctx->bound[idx];
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, ls.address, a->addr) == 1) {
		a->family = AF_INET;
	} else if (inet_pton(AF_INET6, ls.address, a->addr) == 1) {
		a->family = AF_INET6;
	} else {
		const struct conf_node *n = conf_node_find(b, "address");
		load_error(ctx, n != NULL ? n->file : b->file, n != NULL ? n->line : b->line,
		           "'address' must be an IPv4 or IPv6 address such as 0.0.0.0 or ::, "
		           "not '%s'",
		           ls.address);
		return;
	}
	struct listener_conf *l = &conf->listeners[idx];
	l->name = b->name;
	l->address = ls.address;
	l->port = ls.port;
	l->tls = (enum listener_tls)ls.tls;
	l->file = b->file;
	l->line = b->line;
	conf->listener_count++;
	check_listener_clash(ctx, idx);
}

/* ---- tls ------------------------------------------------------------------------------- */

/* Host names for SNI: dot-separated labels of letters, digits and '-', optionally "*." first. */
static bool is_sni_name(const char *name)
{
	const char *p = name;
	size_t label = 0;

	if (strncmp(p, "*.", 2) == 0)
		p += 2;
	if (*p == '\0')
		return false;
	for (; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		           (*p >= '0' && *p <= '9') || *p == '-') {
			label++;
		} else {
			return false;
		}
	}
	return label > 0;
}

/*
 * Resolves a cert or key path against its file's folder and checks it can be opened.
 * The TLS code loads it later; failing here gives the admin a line number.
 */
static const char *tls_file(struct load_ctx *ctx, const struct conf_node *b, const char *key,
                            const char *value, const char *what)
{
	const struct conf_node *n = conf_node_find(b, key);
	const char *path = conf_path_resolve(ctx->pool, n->file, value);
	int fd;

	if (path == NULL) {
		load_error(ctx, n->file, n->line, "out of memory");
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		load_error(ctx, n->file, n->line, "the %s file %s cannot be read: %s", what, path,
		           errno == ENOENT ? "it does not exist" : strerror(errno));
		return NULL;
	}
	close(fd);
	return path;
}

static void load_tls(struct load_ctx *ctx, const struct conf_node *b)
{
	struct server_conf *conf = ctx->conf;
	struct tls_settings ts;

	if (b->name == NULL)
		ctx->default_tls_block = true;
	if (b->name != NULL && !is_sni_name(b->name)) {
		load_error(ctx, b->file, b->line,
		           "'%s' is not a host name such as mail.example.org or *.example.org",
		           b->name);
		return;
	}
	for (size_t i = 0; i < conf->tls_count; i++) {
		const struct tls_conf *o = &conf->tls[i];
		if (b->name == NULL && o->hostname == NULL) {
			load_error(ctx, b->file, b->line,
			           "there is already a default tls block (without a host name) at "
			           "%s:%u",
			           o->file, o->line);
			return;
		}
		if (b->name != NULL && o->hostname != NULL &&
		    strcasecmp(b->name, o->hostname) == 0) {
			load_error(ctx, b->file, b->line,
			           "there is already a tls block for %s at %s:%u", b->name, o->file,
			           o->line);
			return;
		}
	}
	if (settings_apply(tls_settings_table, b, &ts, ctx->pool, NULL, ctx->errs) < 0) {
		ctx->failed = -1;
		return;
	}
	if (ts.cert == NULL) {
		load_error(ctx, b->file, b->line,
		           "the tls block has no certificate: add 'cert = /path/to/cert.pem'");
		return;
	}
	struct tls_conf *t = &conf->tls[conf->tls_count];
	t->hostname = b->name;
	t->cert = tls_file(ctx, b, "cert", ts.cert, "certificate");
	t->key = ts.key != NULL ? tls_file(ctx, b, "key", ts.key, "private key") : NULL;
	if (t->cert == NULL || (ts.key != NULL && t->key == NULL))
		return;
	t->min_version = ts.min_version;
	t->ciphers = ts.ciphers;
	t->ciphersuites = ts.ciphersuites;
	t->file = b->file;
	t->line = b->line;
	conf->tls_count++;
}

/* ---- module blocks --------------------------------------------------------------------- */

/* Module names become file names, so they may not contain '/' or start with a dot. */
static bool is_module_name(const char *name)
{
	if (name[0] == '.')
		return false;
	return strchr(name, '*') == NULL;
}

static void load_module_block(struct load_ctx *ctx, const struct conf_node *b)
{
	struct server_conf *conf = ctx->conf;

	if (b->name == NULL) {
		load_error(ctx, b->file, b->line,
		           "a %s block needs the module's name, as in '%s NAME {'", b->key, b->key);
		return;
	}
	if (!is_module_name(b->name)) {
		load_error(ctx, b->file, b->line,
		           "'%s' is not a module name: it may not start with '.' or contain '*'",
		           b->name);
		return;
	}
	for (size_t i = 0; i < conf->module_count; i++) {
		const struct module_block *o = &conf->modules[i];
		if (strcmp(o->keyword, b->key) == 0 && strcmp(o->name, b->name) == 0) {
			load_error(ctx, b->file, b->line, "%s %s is already configured at %s:%u",
			           b->key, b->name, o->node->file, o->node->line);
			return;
		}
	}
	struct module_block *m = &conf->modules[conf->module_count++];
	m->keyword = b->key;
	m->name = b->name;
	m->node = b;
}

/* ---- default mailboxes and trash expiry ------------------------------------------------ */

/* The two list-valued settings, parsed once here so that `sluiced -t` names their line. */
static void load_mailbox_lists(struct load_ctx *ctx, const struct conf_node *values)
{
	struct server_conf *conf = ctx->conf;
	char why[512];

	if (mailbox_defaults_parse(conf->s.default_mailboxes, ctx->pool, &conf->default_mailboxes,
	                           why, sizeof(why)) < 0) {
		const struct conf_node *n = conf_node_find(values, "default_mailboxes");
		load_error(ctx, n != NULL ? n->file : values->file, n != NULL ? n->line : 0, "%s",
		           why);
	}
	if (mailbox_expiry_parse(conf->s.trash_expiry, ctx->pool, &conf->trash_expiry, why,
	                         sizeof(why)) < 0) {
		const struct conf_node *n = conf_node_find(values, "trash_expiry");
		load_error(ctx, n != NULL ? n->file : values->file, n != NULL ? n->line : 0, "%s",
		           why);
	}
}

/* ---- the whole file -------------------------------------------------------------------- */

/* The top level's settings without its blocks, so settings_apply() sees only values. */
static int top_level_values(struct load_ctx *ctx, const struct conf_node *root,
                            struct conf_node *values_r)
{
	*values_r = *root;
	values_r->count = 0;
	values_r->children = pool_alloc(ctx->pool, (root->count + 1) * sizeof(*root->children));
	if (values_r->children == NULL)
		return -1;
	for (size_t i = 0; i < root->count; i++)
		if (!root->children[i].is_block)
			values_r->children[values_r->count++] = root->children[i];
	return 0;
}

static int alloc_arrays(struct load_ctx *ctx, const struct conf_node *root)
{
	size_t n = root->count + 1;
	struct server_conf *conf = ctx->conf;

	conf->listeners = pool_alloc(ctx->pool, n * sizeof(*conf->listeners));
	conf->tls = pool_alloc(ctx->pool, n * sizeof(*conf->tls));
	conf->modules = pool_alloc(ctx->pool, n * sizeof(*conf->modules));
	ctx->bound = pool_alloc(ctx->pool, n * sizeof(*ctx->bound));
	return conf->listeners != NULL && conf->tls != NULL && conf->modules != NULL &&
	               ctx->bound != NULL
	           ? 0
	           : -1;
}

static void check_whole(struct load_ctx *ctx, const struct conf_node *root)
{
	struct server_conf *conf = ctx->conf;

	if (ctx->listener_blocks == 0)
		load_error(ctx, root->file, 0,
		           "no listener is configured: add a block such as 'listener imap {' with "
		           "'port = 143'");
	if (ctx->default_tls_block)
		return;
	for (size_t i = 0; i < conf->listener_count; i++) {
		const struct listener_conf *l = &conf->listeners[i];
		if (l->tls != LISTENER_TLS_NONE)
			load_error(ctx, l->file, l->line,
			           "listener %s uses tls = %s, but there is no default tls block "
			           "(a 'tls {' block without a host name) with its certificate",
			           l->name, listener_tls_choices[l->tls]);
	}
}

int server_conf_load(const char *path, struct server_conf **conf_r, struct conf_errors *errs)
{
	struct conf_tree *tree;
	struct load_ctx ctx = {.errs = errs};

	*conf_r = NULL;
	if (conf_parse_file(path, &tree, errs) < 0)
		return -1;
	struct server_conf *conf = calloc(1, sizeof(*conf));
	if (conf == NULL) {
		conf_tree_free(&tree);
		conf_error_add(errs, path, 0, "out of memory");
		return -1;
	}
	conf->tree = tree;
	atomic_init(&conf->refcount, 1);
	ctx.conf = conf;
	ctx.pool = conf_tree_pool(tree);

	const struct conf_node *root = conf_tree_root(tree);
	struct conf_node values;
	conf->path = root->file;
	if (top_level_values(&ctx, root, &values) < 0 || alloc_arrays(&ctx, root) < 0) {
		conf_error_add(errs, path, 0, "out of memory");
		server_conf_unref(&conf);
		return -1;
	}
	if (settings_apply(server_settings_table, &values, &conf->s, ctx.pool, NULL, errs) < 0)
		ctx.failed = -1;
	else
		load_mailbox_lists(&ctx, &values);

	for (size_t i = 0; i < root->count; i++) {
		const struct conf_node *b = &root->children[i];
		if (!b->is_block)
			continue;
		if (strcmp(b->key, "listener") == 0)
			load_listener(&ctx, b);
		else if (strcmp(b->key, "tls") == 0)
			load_tls(&ctx, b);
		else if (is_module_keyword(b->key))
			load_module_block(&ctx, b);
		else
			load_error(&ctx, b->file, b->line,
			           "unknown block '%s': the top level takes listener, tls, "
			           "storage, index, auth and policy blocks",
			           b->key);
	}
	check_whole(&ctx, root);
	if (ctx.failed < 0) {
		server_conf_unref(&conf);
		return -1;
	}
	*conf_r = conf;
	return 0;
}

struct server_conf *server_conf_ref(struct server_conf *c)
{
	atomic_fetch_add_explicit(&c->refcount, 1, memory_order_relaxed);
	return c;
}

void server_conf_unref(struct server_conf **c)
{
	struct server_conf *conf = *c;

	if (conf == NULL)
		return;
	*c = NULL;
	/* Release/acquire so the last owner sees every write made by the others. */
	if (atomic_fetch_sub_explicit(&conf->refcount, 1, memory_order_acq_rel) != 1)
		return;
	conf_tree_free(&conf->tree);
	free(conf);
}

const struct tls_conf *server_conf_default_tls(const struct server_conf *c)
{
	for (size_t i = 0; i < c->tls_count; i++)
		if (c->tls[i].hostname == NULL)
			return &c->tls[i];
	return NULL;
}

void server_conf_print_reference(FILE *out)
{
	settings_print_reference(out, "Top level of sluiced.conf", server_settings_table);
	settings_print_reference(out, "listener NAME { }", listener_settings_table);
	settings_print_reference(out, "tls [HOSTNAME] { }", tls_settings_table);
}
