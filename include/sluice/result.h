/*
 * Result codes and the error record shared by the core and every module.
 *
 * Fallible calls return an int: 0 for success, a positive code for a harmless "no"
 * (not found, declined, keep going) and a negative code for an error. When a call
 * fails it fills the struct sluice_error passed as its last parameter: the code, an
 * IMAP response-code hint, a sentence safe to show to the client and errno for the log.
 * There is no global error state.
 */
#ifndef SLUICE_RESULT_H
#define SLUICE_RESULT_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum sluice_result {
	SLUICE_OK = 0,
	SLUICE_NOTFOUND = 1, /**< the thing asked for does not exist here (ask the next module) */
	SLUICE_DECLINED = 2, /**< no opinion: the next module in the chain decides */
	SLUICE_CONTINUE = 3, /**< more steps needed (SASL: send the challenge, await a response) */
	SLUICE_WAIT = 4,     /**< not yet: the caller parks and asks again when woken (policy) */

	SLUICE_E_INTERNAL = -1, /**< a bug or an impossible state */
	SLUICE_E_NOMEM = -2,    /**< memory could not be allocated */
	SLUICE_E_IO = -3,       /**< a read or write failed; errno is in sys_errno */
	SLUICE_E_CORRUPT = -4,  /**< stored data is not what it should be */
	SLUICE_E_TEMPFAIL = -5, /**< try again later (a backend is down, a lock is held) */
	SLUICE_E_PERM = -6,     /**< not allowed */
	SLUICE_E_LIMIT = -7,    /**< a configured limit was reached */
	SLUICE_E_PARSE = -8,    /**< the input is malformed */
	SLUICE_E_ABI = -9,      /**< a module does not fit this server */
	SLUICE_E_AUTH = -10,    /**< wrong credentials */
	SLUICE_E_EXPIRED = -11, /**< the account or its password has expired or is locked */
	SLUICE_E_REFUSED = -12, /**< a policy refused the request */
	SLUICE_E_CONFIG = -13,  /**< a configuration value is wrong */
	SLUICE_E_EXISTS = -14,  /**< the thing to be created exists already */
};

/** Where a failing call explains itself. Zero it (or use SLUICE_ERROR_INIT) before a call. */
struct sluice_error {
	int code;              /**< one of the negative enum sluice_result values */
	const char *resp_code; /**< IMAP response code without brackets ("UNAVAILABLE"), or NULL;
				    must point to a string literal */
	char msg[256];         /**< a sentence safe to show to a client: no paths, no strerror */
	int sys_errno;         /**< errno at the failure, for the log only; 0 if none */
};

#define SLUICE_ERROR_INIT {0, NULL, {0}, 0}

/**
 * @brief Fills @p err and returns @p code, so a failing path can `return sluice_error_set(...)`.
 * @param[out] err       the record to fill; may be NULL (then only the code is returned)
 * @param[in]  code      a negative enum sluice_result value
 * @param[in]  resp_code an IMAP response code literal such as "UNAVAILABLE", or NULL
 * @param[in]  fmt       printf format of the client-safe sentence
 * @return @p code
 * Thread-safe; an inline function so modules need not link against the core.
 */
static inline int sluice_error_set(struct sluice_error *err, int code, const char *resp_code,
				   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static inline int sluice_error_set(struct sluice_error *err, int code, const char *resp_code,
				   const char *fmt, ...)
{
	if (err != NULL) {
		va_list ap;
		err->code = code;
		err->resp_code = resp_code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

#endif
