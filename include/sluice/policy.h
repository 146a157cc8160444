/*
 * Policy modules (kind SLUICE_KIND_POLICY, block keyword `policy`): connection limits,
 * login limits, command throttles and anything else that admits or refuses.
 *
 * The core calls the policy modules in the order modules.conf lists them, at fixed
 * points of a connection's life. Each hook answers:
 *   SLUICE_DECLINED   no opinion, ask the next module (the usual answer);
 *   SLUICE_OK         admitted: the remaining modules are not asked for this event;
 *   SLUICE_E_REFUSED  refused: err->resp_code and err->msg become the client's answer
 *                     (for connect, "* BYE [code] msg" and the connection closes; for login,
 *                     "tag NO [code] msg"; for a command, "tag NO [code] msg");
 *   SLUICE_WAIT       (command_begin only) not yet: the command is parked, holding no
 *                     thread, until the module calls host->session_wake() for this
 *                     connection; the core then calls command_begin again with the same
 *                     command (and the same conn->id), and the module answers anew.
 * Every hook may be NULL. The first refusal wins and is logged by the core together with
 * the module's name.
 *
 * Waiting, step by step (a throttle is the usual case):
 *   1. command_begin sees no free slot: it queues conn->id, calls
 *      host->session_wake(host, conn->id, deadline) so that it is asked again at its
 *      deadline at the latest, and returns SLUICE_WAIT.
 *   2. When a slot frees (in command_end of another command), it calls
 *      host->session_wake(host, id, 0) for the next queued connection.
 *   3. Asked again, it admits (DECLINED or OK), waits more (SLUICE_WAIT) or, past the
 *      deadline, refuses with SLUICE_E_REFUSED.
 *   4. A connection that closes while queued is reported by disconnect: drop it there.
 * Only the module that answered SLUICE_WAIT and the modules after it are asked again; the
 * ones before it already admitted the command. While a command waits, the session reads
 * no further commands (IMAP answers in order) and keeps its state.
 *
 * command_end is called, once the command is answered, on every module that admitted it
 * (DECLINED or OK), also when a later module refused it; never on the module that refused
 * and never on modules after an OK (they were not asked).
 * Besides the hooks, a module may report figures (its limits, counters, queue lengths)
 * that `sluicectl status` shows under the module's name; see `report` below.
 */
#ifndef SLUICE_POLICY_H
#define SLUICE_POLICY_H

#include "passdb.h"

/** One client connection, as policy modules see it. Borrowed for the call. */
struct sluice_policy_conn {
	uint64_t id;                    /**< unique for the life of the server process */
	const struct sluice_peer *peer; /**< addresses and TLS state */
	const char *user;               /**< canonical user once logged in, else NULL */
	uint64_t connected_ms;          /**< host->now_ms() when the connection was accepted */
};

/** One tagged command. Borrowed for the call. */
struct sluice_policy_command {
	const char *tag;
	const char *name;    /**< upper case; for UID commands "UID FETCH", "UID SEARCH", ... */
	const char *mailbox; /**< the selected mailbox, or NULL */
	/**
	 * ABI 1.1: the arguments after the name as one line (atoms as sent, strings quoted,
	 * lists in parentheses, a streamed literal as "{size}"), at most 4096 bytes; "" when
	 * there are none. Two commands with equal name, mailbox and args ask the same thing.
	 */
	const char *args;
};

struct sluice_policy_ops {
	uint32_t size; /**< sizeof(struct sluice_policy_ops) as compiled into the module */

	/** @brief A client connected (before the greeting). Worker thread. */
	int (*connect)(void *modctx, const struct sluice_policy_conn *conn, struct sluice_error *err);

	/**
	 * @brief An authentication attempt ended (LOGIN or AUTHENTICATE).
	 * @param[in]  user       the name the client tried (never the password)
	 * @param[in]  success    whether the credentials were right
	 * @param[out] delay_ms_r the module may raise it to delay the answer; the core waits
	 *                        the largest delay any module asked for, holding no thread
	 * @return SLUICE_DECLINED, or SLUICE_E_REFUSED to drop the connection with err's text
	 *         (after too many failures, for example). Worker thread.
	 */
	int (*auth_result)(void *modctx, const struct sluice_policy_conn *conn, const char *user,
			   bool success, uint64_t *delay_ms_r, struct sluice_error *err);

	/** @brief Credentials were right; conn->user is set. Refuse to deny the login. Worker thread. */
	int (*login)(void *modctx, const struct sluice_policy_conn *conn, struct sluice_error *err);

	/**
	 * @brief A command is about to run (or, after SLUICE_WAIT and a wake, is asked about
	 * again). Answer SLUICE_DECLINED or SLUICE_OK to admit it, SLUICE_WAIT to park it (see
	 * above), SLUICE_E_REFUSED to answer it with "NO [err->resp_code] err->msg". Worker thread.
	 */
	int (*command_begin)(void *modctx, const struct sluice_policy_conn *conn,
			     const struct sluice_policy_command *cmd, struct sluice_error *err);

	/** @brief A command that command_begin admitted has been answered. Worker thread. */
	void (*command_end)(void *modctx, const struct sluice_policy_conn *conn,
			    const struct sluice_policy_command *cmd);

	/** @brief The connection is gone (called once, also after a refused connect). */
	void (*disconnect)(void *modctx, const struct sluice_policy_conn *conn);

	/* ---- ABI 1.1: the core calls these only when `size` covers them ---- */

	/**
	 * @brief Reports the module's figures for `sluicectl status`: the limits in force,
	 * counters since start (refusals per limit), current queue lengths.
	 * @param[in] emit called once per figure, in the order sluicectl shows them, with
	 *                 @p ctx, a key and its value. Keys are lower case `a-z`, `0-9` and
	 *                 `_`, at most 63 bytes (others are dropped); each key once. By
	 *                 convention `max_connections` is shown as the server's connection
	 *                 cap ("412/10000"; 0 means none), `refused_<limit>` counts refusals by one limit and
	 *                 `queue_<name>` is the length of a queue. The key is copied at once.
	 * @param[in] ctx  the core's, passed back to @p emit
	 * Called on a worker thread whenever an administrator asks, at the same time as hooks
	 * on other workers and as reload on the main thread. @p emit takes no lock the module
	 * could hold and calls no hook, so it may be called while holding the module's lock,
	 * but never after report returns. May be NULL.
	 */
	void (*report)(void *modctx, void (*emit)(void *ctx, const char *key, int64_t value),
		       void *ctx);
};

/*
 * Caveats
 * - command_begin and command_end pair up per module (see the top of this file): a module
 *   gets command_end only for commands it admitted. An IDLE's command_end comes at its
 *   DONE (or when the connection ends): a connection in IDLE is inside a command, for
 *   minutes or hours. A module that counts slots should not count IDLE.
 * - A command that waited (SLUICE_WAIT) is asked about more than once; the module that
 *   made it wait must recognise it by conn->id.
 */

#endif
