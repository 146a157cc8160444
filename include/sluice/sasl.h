/*
 * SASL mechanisms (kind SLUICE_KIND_SASL, block keyword `auth`), used by AUTHENTICATE.
 *
 * The core owns the IMAP side of the exchange: it advertises AUTH=<mechanism>, decodes
 * the client's base64 (including SASL-IR initial responses and the empty response "="),
 * handles "*" cancellation, and encodes challenges. A mechanism only sees raw bytes.
 * When a mechanism has a user name and password, the core checks them through the
 * passdb chain (see passdb.h), exactly as for LOGIN.
 */
#ifndef SLUICE_SASL_H
#define SLUICE_SASL_H

#include "module.h"

/** Mechanism flags. */
enum {
	/** The password crosses the wire in the clear: refused without TLS unless allowed. */
	SLUICE_SASL_PLAINTEXT = 1u << 0,
};

/** What one step produced. Pointers are valid until the next step or the end of the exchange. */
struct sluice_sasl_step {
	const unsigned char *challenge; /**< CONTINUE: bytes to send (may be empty) */
	size_t challenge_len;
	const char *authzid;  /**< done: identity to act as, or NULL/"" for the authcid itself */
	const char *authcid;  /**< done: the user name whose password is checked */
	const char *password; /**< done: the password, NUL-terminated; never log it */
	size_t password_len;
};

struct sluice_sasl_ops {
	uint32_t size;         /**< sizeof(struct sluice_sasl_ops) as compiled into the module */
	const char *mechanism; /**< IANA name in upper case, e.g. "PLAIN" */
	uint32_t flags;        /**< SLUICE_SASL_* */

	/**
	 * @brief Runs one step of the exchange.
	 * @param[in]  modctx    the module's state from init
	 * @param[in]  pool      the exchange's pool: allocate state and out-strings here
	 *                       (host->pool_alloc); it lives until the exchange ends
	 * @param[in,out] state  NULL on the first step; whatever the module stores is passed back
	 * @param[in]  in        decoded client bytes; NULL on the first step when the client sent
	 *                       no initial response
	 * @param[in]  in_len    their length (0 for an empty response)
	 * @param[out] out       the challenge (CONTINUE) or the credentials (0)
	 * @param[out] err       why the exchange failed (err->msg is shown to the client)
	 * @return 0 when out holds credentials to verify; SLUICE_CONTINUE to send out->challenge
	 *         and wait for the next response; SLUICE_E_PARSE when the client's bytes are
	 *         malformed; another negative code for other failures.
	 * Called on a worker thread; steps of one exchange never run concurrently.
	 */
	int (*step)(void *modctx, struct sluice_pool *pool, void **state, const unsigned char *in,
		    size_t in_len, struct sluice_sasl_step *out, struct sluice_error *err);
};

#endif
