/*
 * One PAM transaction for one login: pam_start on the configured service, the
 * conversation that answers the stack's prompts, pam_authenticate, then pam_acct_mgmt,
 * and the translation of PAM's codes into Sluice results with sentences a user can act
 * on ("your account has expired") and log lines an administrator can act on.
 *
 * PAM modules such as pam_unix ask for a delay after a failure (pam_fail_delay), and
 * libpam would sleep for it at the end of pam_authenticate, holding the worker for two
 * seconds per wrong password. Registering a function as the PAM_FAIL_DELAY item makes
 * libpam call it with the delay instead of sleeping; it is stored, handed to the core,
 * and the core parks the client's answer on a timer.
 */
#include "pam-passdb.h"

#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pamdb_conv_state {
	const struct sluice_host *host;
	const struct sluice_auth_request *req;
	unsigned delay_usec;
	bool delay_asked;
};

static void pamdb_conv_free(struct pam_response *resp, int n)
{
	for (int i = 0; i < n; i++) {
		if (resp[i].resp != NULL) {
			explicit_bzero(resp[i].resp, strlen(resp[i].resp));
			free(resp[i].resp);
		}
	}
	free(resp);
}

/*
 * Answers the stack: a hidden prompt gets the password, a visible one the login name (a
 * module asking "login:"), messages are logged. Linux-PAM passes @p msg as an array of
 * pointers; libpam frees the answers.
 */
static int pamdb_conv(int n, const struct pam_message **msg, struct pam_response **resp_r,
                      void *appdata)
{
	struct pamdb_conv_state *st = appdata;
	struct pam_response *resp;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	resp = calloc((size_t)n, sizeof(*resp));
	if (resp == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		const char *answer = NULL;

		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			answer = st->req->password != NULL ? st->req->password : "";
			break;
		case PAM_PROMPT_ECHO_ON:
			answer = st->req->user;
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			if (msg[i]->msg != NULL)
				st->host->log(st->host, SLUICE_LOG_DEBUG, "the PAM stack says: %s",
				              msg[i]->msg);
			continue;
		default:
			pamdb_conv_free(resp, n);
			return PAM_CONV_ERR;
		}
		resp[i].resp = strdup(answer);
		if (resp[i].resp == NULL) {
			pamdb_conv_free(resp, n);
			return PAM_BUF_ERR;
		}
	}
	*resp_r = resp;
	return PAM_SUCCESS;
}

/* libpam calls this instead of sleeping for the failure delay its modules asked for. */
static void pamdb_fail_delay(int status, unsigned usec, void *appdata)
{
	struct pamdb_conv_state *st = appdata;
	(void)status;
	st->delay_usec = usec;
	st->delay_asked = true;
}

/* An outcome of pam_authenticate as a Sluice result. */
static int pamdb_auth_result(const struct sluice_host *host, const char *service, const char *user,
                             pam_handle_t *pamh, int pr, struct sluice_error *err)
{
	switch (pr) {
	case PAM_SUCCESS:
		return 0;
	case PAM_USER_UNKNOWN:
		host->log(host, SLUICE_LOG_DEBUG, "PAM service %s does not know user %s", service, user);
		return SLUICE_NOTFOUND;
	case PAM_AUTH_ERR:
	case PAM_CRED_INSUFFICIENT:
	case PAM_MAXTRIES:
	case PAM_PERM_DENIED:
		host->log(host, SLUICE_LOG_INFO, "PAM service %s refused user %s: %s", service, user,
		          pam_strerror(pamh, pr));
		return sluice_error_set(err, SLUICE_E_AUTH, "AUTHENTICATIONFAILED",
		                        "Authentication failed.");
	case PAM_AUTHINFO_UNAVAIL:
		host->log(host, SLUICE_LOG_WARNING,
		          "PAM service %s cannot reach its user database for %s: %s", service, user,
		          pam_strerror(pamh, pr));
		return sluice_error_set(err, SLUICE_E_TEMPFAIL, "UNAVAILABLE",
		                        "The login service cannot reach its user database; try again "
		                        "later.");
	default:
		host->log(host, SLUICE_LOG_ERROR, "PAM service %s failed for user %s: %s", service,
		          user, pam_strerror(pamh, pr));
		return sluice_error_set(err, SLUICE_E_TEMPFAIL, "UNAVAILABLE",
		                        "The login service failed; try again later.");
	}
}

/* An outcome of pam_acct_mgmt (the password was right) as a Sluice result. */
static int pamdb_account_result(const struct sluice_host *host, const char *service,
                                const char *user, pam_handle_t *pamh, int pr,
                                struct sluice_error *err)
{
	const char *why = pam_strerror(pamh, pr);

	switch (pr) {
	case PAM_SUCCESS:
		return 0;
	case PAM_ACCT_EXPIRED:
		host->log(host, SLUICE_LOG_INFO, "user %s may not log in: the account has expired (%s)",
		          user, why);
		return sluice_error_set(err, SLUICE_E_EXPIRED, "EXPIRED",
		                        "Your account has expired; ask your administrator to renew it.");
	case PAM_NEW_AUTHTOK_REQD:
		host->log(host, SLUICE_LOG_INFO,
		          "user %s may not log in: the password has expired and must be changed (%s)",
		          user, why);
		return sluice_error_set(err, SLUICE_E_EXPIRED, "EXPIRED",
		                        "Your password has expired; set a new one (for example by "
		                        "logging in to the system) and try again.");
	case PAM_AUTHINFO_UNAVAIL:
		host->log(host, SLUICE_LOG_WARNING,
		          "PAM service %s cannot check the account of %s: %s", service, user, why);
		return sluice_error_set(err, SLUICE_E_TEMPFAIL, "UNAVAILABLE",
		                        "The login service cannot reach its user database; try again "
		                        "later.");
	case PAM_PERM_DENIED:
	case PAM_AUTH_ERR:
	case PAM_USER_UNKNOWN:
	case PAM_MAXTRIES:
		host->log(host, SLUICE_LOG_INFO,
		          "user %s may not log in: the account stack of PAM service %s refuses it (%s)",
		          user, service, why);
		return sluice_error_set(err, SLUICE_E_EXPIRED, "CONTACTADMIN",
		                        "Your account is locked or may not use mail; contact your "
		                        "administrator.");
	default:
		host->log(host, SLUICE_LOG_ERROR, "PAM service %s failed checking the account of %s: %s",
		          service, user, why);
		return sluice_error_set(err, SLUICE_E_TEMPFAIL, "UNAVAILABLE",
		                        "The login service failed; try again later.");
	}
}

int pamdb_transaction(const struct sluice_host *host, const char *service,
                      const struct sluice_auth_request *req, struct pamdb_outcome *out,
                      struct sluice_error *err)
{
	struct pamdb_conv_state st = {.host = host, .req = req};
	struct pam_conv conv = {.conv = pamdb_conv, .appdata_ptr = &st};
	pam_handle_t *pamh = NULL;
	const void *item = NULL;
	int pr, ret;

	memset(out, 0, sizeof(*out));
	pr = pam_start(service, req->user, &conv, &pamh);
	if (pr != PAM_SUCCESS) {
		host->log(host, SLUICE_LOG_ERROR, "cannot start PAM service %s: %s", service,
		          pam_strerror(pamh, pr));
		if (pamh != NULL)
			pam_end(pamh, pr);
		return sluice_error_set(err, SLUICE_E_TEMPFAIL, "UNAVAILABLE",
		                        "The login service failed; try again later.");
	}
	/* The remote host lets pam_faillock, pam_access and the auth log name the client. */
	if (req->peer != NULL && req->peer->remote_ip != NULL)
		pam_set_item(pamh, PAM_RHOST, req->peer->remote_ip);
	pam_set_item(pamh, PAM_FAIL_DELAY, (const void *)pamdb_fail_delay);

	pr = pam_authenticate(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	ret = pamdb_auth_result(host, service, req->user, pamh, pr, err);
	if (ret == 0) {
		pr = pam_acct_mgmt(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
		ret = pamdb_account_result(host, service, req->user, pamh, pr, err);
	}
	if (ret == 0 && pam_get_item(pamh, PAM_USER, &item) == PAM_SUCCESS && item != NULL)
		snprintf(out->user, sizeof(out->user), "%s", (const char *)item);
	else
		snprintf(out->user, sizeof(out->user), "%s", req->user);
	if (st.delay_asked)
		out->delay_ms = (st.delay_usec + 999) / 1000;
	pam_end(pamh, pr);
	return ret;
}
