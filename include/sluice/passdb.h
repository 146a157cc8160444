/*
 * Password databases (kind SLUICE_KIND_PASSDB, block keyword `auth`).
 *
 * The core keeps every passdb module in the order modules.conf lists them and asks them
 * in turn for LOGIN and for every SASL mechanism that yields a user name and password
 * (AUTHENTICATE PLAIN). The first module that knows the user decides: SLUICE_NOTFOUND
 * passes the question to the next module, anything else ends the chain.
 */
#ifndef SLUICE_PASSDB_H
#define SLUICE_PASSDB_H

#include <sys/socket.h>
#include <sys/types.h>

#include "module.h"

/** Who is connecting, as far as the core knows. */
struct sluice_peer {
	const struct sockaddr *remote; /**< client address (after PROXY protocol, if any) */
	const char *remote_ip;         /**< the same as text, e.g. "192.0.2.7" */
	const struct sockaddr *local;  /**< the address the client connected to */
	bool tls;                      /**< the connection is encrypted */
	bool loopback;                 /**< the client is on this host */
};

/** A login attempt. Every pointer is borrowed for the duration of the call. */
struct sluice_auth_request {
	const char *user;             /**< the name the client sent (UTF-8, no NUL) */
	const char *password;         /**< NUL-terminated; never log it */
	size_t password_len;          /**< its length (a password contains no NUL) */
	const char *mechanism;        /**< "LOGIN" for the LOGIN command, else the SASL name */
	const struct sluice_peer *peer;

	/* ABI 1.1 */

	/**
	 * Where a passdb asks for a longer delay of a failed attempt's answer, in
	 * milliseconds: the core starts at 0 and answers after the largest of this, the
	 * policies' delays and the server's auth_failure_delay (capped at one minute),
	 * holding no thread. For example the pam module stores here the delay its PAM stack
	 * asked for with pam_fail_delay(3). Ignored when the attempt succeeds. Never NULL in
	 * a core of ABI 1.1 or later, which is every core that loads a module built against
	 * these headers. Never sleep in verify instead.
	 */
	uint64_t *fail_delay_ms_r;
};

/** What a passdb knows about a user. Strings come from the pool passed with the call. */
struct sluice_user {
	const char *name; /**< canonical login name (may differ in case or domain from the request) */
	uid_t uid;        /**< system uid for file access, or (uid_t)-1 for "the server's own" */
	gid_t gid;        /**< system gid, or (gid_t)-1 */
	const char *home; /**< home directory, or NULL */
	const char *mail; /**< mail location overriding the storage default, or NULL */
};

struct sluice_passdb_ops {
	uint32_t size; /**< sizeof(struct sluice_passdb_ops) as compiled into the module */

	/**
	 * @brief Checks a user's password.
	 * @param[in]  modctx the module's state from init
	 * @param[in]  req    the attempt
	 * @param[in]  pool   where strings put into @p user_r are allocated (host->pool_strndup)
	 * @param[out] user_r filled on success
	 * @param[out] err    why it failed
	 * @return 0 when the password is right;
	 *         SLUICE_NOTFOUND when this database does not know the user (the next one is asked);
	 *         SLUICE_E_AUTH for a wrong password (the chain stops);
	 *         SLUICE_E_EXPIRED when the account is expired or locked (err->msg says which);
	 *         SLUICE_E_TEMPFAIL when the database cannot answer now;
	 *         another negative code for other failures.
	 * Called on a worker thread, possibly on several at once, with the server's own
	 * identity (root when sluiced runs as root, as a PAM stack that reads /etc/shadow
	 * needs). It may take time (password hashing is meant to be slow, a PAM stack may wait
	 * for an LDAP server): the core runs verify as a slow job, which may occupy only part
	 * of the worker pool, while the client's connection waits without a thread. It must
	 * not sleep to punish failures: store the wanted delay in *req->fail_delay_ms_r and
	 * the core delays the answer without holding a thread.
	 */
	int (*verify)(void *modctx, const struct sluice_auth_request *req, struct sluice_pool *pool,
		      struct sluice_user *user_r, struct sluice_error *err);

	/**
	 * @brief Finds a user without a password (for authorization checks and admin tools).
	 * @return 0, SLUICE_NOTFOUND, or a negative code as for verify. May be NULL.
	 */
	int (*lookup)(void *modctx, const char *user, struct sluice_pool *pool,
		      struct sluice_user *user_r, struct sluice_error *err);
};

#endif
