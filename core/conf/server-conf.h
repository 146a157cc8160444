/*
 * The server's configuration as one immutable object: the top-level settings of
 * sluiced.conf, its listener and tls blocks, and the module blocks (in file order) that
 * the module loader turns into running modules. A reload builds a new object; sessions
 * hold a reference to the one they started with, so nothing changes under them.
 *
 * Paths in values are kept as written, except that relative `cert`, `key`, `include`
 * and module `file` paths are resolved against the folder of the file they appear in.
 */
#ifndef SLUICE_SERVER_CONF_H
#define SLUICE_SERVER_CONF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <sluice/settings.h>

#include "conf/conf.h"

enum listener_tls {
	LISTENER_TLS_NONE,     /**< plaintext only */
	LISTENER_TLS_STARTTLS, /**< plaintext, upgraded with STARTTLS */
	LISTENER_TLS_IMPLICIT, /**< TLS from the first byte (port 993) */
};

/** One `listener NAME { }` block. */
struct listener_conf {
	const char *name;
	const char *address; /**< an IPv4 or IPv6 literal, as written */
	unsigned port;
	enum listener_tls tls;
	const char *file; /**< where the block is, for messages */
	unsigned line;
};

/** One `tls [HOSTNAME] { }` block. */
struct tls_conf {
	const char *hostname;     /**< SNI name, may start with "*."; NULL for the default block */
	const char *cert;         /**< PEM certificate chain, path resolved */
	const char *key;          /**< PEM private key, path resolved; NULL = in the cert file */
	unsigned min_version;     /**< 0 = TLSv1.2, 1 = TLSv1.3 */
	const char *ciphers;      /**< OpenSSL cipher list for TLS 1.2 */
	const char *ciphersuites; /**< TLS 1.3 suites; NULL = OpenSSL's default */
	const char *file;
	unsigned line;
};

/** One module block (`storage`, `index`, `auth` or `policy`), for the loader. */
struct module_block {
	const char *keyword;
	const char *name;
	const struct conf_node *node;
};

/** The top-level settings of sluiced.conf; see server_settings_table. */
struct server_settings {
	unsigned workers;   /**< 0 = one per CPU core */
	unsigned log;       /**< enum log_target: 0 stderr, 1 syslog */
	unsigned log_level; /**< enum sluice_log_level */
	const char *module_path;
	uint64_t preauth_timeout, autologout, auth_failure_delay, shutdown_timeout; /**< ms */
	uint64_t max_literal, max_line;                                             /**< bytes */
	bool tls_required;
	const struct sluice_cidr_list *plaintext_auth_networks;
	unsigned mailbox_delimiter; /**< 0 for '.', 1 for '/' */
	bool copy_keeps_metadata;   /**< COPY and MOVE keep flags, keywords and INTERNALDATE */
	bool imap_id;               /**< ID names the server and its version */
	bool imap_idle;             /**< IDLE is offered */
	uint64_t imap_idle_timeout; /**< ms a client may stay in IDLE without a word */
	const char *control_socket; /**< sluicectl's UNIX socket; "" = none */
	unsigned nonsync_literals;  /**< 0: LITERAL+, 1: LITERAL- (RFC 7888) */
	/** As written; parsed into server_conf's default_mailboxes and trash_expiry. */
	const char *default_mailboxes, *trash_expiry;
};

struct mailbox_defaults;
struct mailbox_expiry_rules;

struct server_conf {
	struct server_settings s;
	struct listener_conf *listeners;
	size_t listener_count;
	struct tls_conf *tls; /**< in file order; see server_conf_default_tls() */
	size_t tls_count;
	struct module_block *modules; /**< in the order the configuration lists them */
	size_t module_count;
	const char *path; /**< the file it was loaded from */
	/** default_mailboxes and trash_expiry parsed (conf/mailbox-conf.h); NULL for none. */
	const struct mailbox_defaults *default_mailboxes;
	const struct mailbox_expiry_rules *trash_expiry;

	/* Private to server-conf.c. */
	struct conf_tree *tree;
	atomic_uint refcount;
};

/** The keys of sluiced.conf's top level, for `sluiced --settings` and docs/config.md. */
extern const struct sluice_setting server_settings_table[];
/** The keys of a listener block and of a tls block. */
extern const struct sluice_setting listener_settings_table[];
extern const struct sluice_setting tls_settings_table[];

/**
 * Reads and checks @p path and everything it includes: syntax, every setting, listener
 * and tls blocks (including that certificate and key files can be read), and that module
 * blocks are well-formed. Module files and module settings are checked by the loader.
 * @return 0 with *conf_r holding one reference, or -1 with every problem in @p errs.
 * Main thread only (it is not reentrant with respect to @p errs).
 */
int server_conf_load(const char *path, struct server_conf **conf_r, struct conf_errors *errs);

/** Takes another reference; any thread. */
struct server_conf *server_conf_ref(struct server_conf *c);
/** Drops a reference and sets *c to NULL; the last one frees everything. Any thread. */
void server_conf_unref(struct server_conf **c);

/** The default tls block, or NULL. */
const struct tls_conf *server_conf_default_tls(const struct server_conf *c);

/** Prints the reference tables of the top level, listener and tls blocks (markdown). */
void server_conf_print_reference(FILE *out);

#endif
