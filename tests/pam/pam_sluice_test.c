/*
 * A PAM module for the test suite only: it makes a PAM stack behave like the slow or
 * strict stacks of real sites, so the pam passdb can be tested without root and without
 * the host's accounts (under pam_wrapper, with pam_matrix checking the passwords).
 *
 *   auth    required /path/pam_sluice_test.so delay_ms=1500 sleep_user=slow sleep_ms=3000
 *   account required /path/pam_sluice_test.so expired_user=old password_expired_user=stale
 *
 * auth: asks for a failure delay of delay_ms (pam_fail_delay, as pam_unix asks for two
 * seconds), sleeps sleep_ms when the user is sleep_user (an LDAP server timing out), and
 * answers PAM_AUTHINFO_UNAVAIL for unavailable_user. account: PAM_ACCT_EXPIRED for
 * expired_user, PAM_NEW_AUTHTOK_REQD for password_expired_user. Everything else succeeds,
 * leaving the verdict to the next module of the stack.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <security/pam_modules.h>

#define TEST_EXPORT __attribute__((visibility("default")))

static const char *opt(int argc, const char **argv, const char *key)
{
	size_t n = strlen(key);
	for (int i = 0; i < argc; i++)
		if (strncmp(argv[i], key, n) == 0 && argv[i][n] == '=')
			return argv[i] + n + 1;
	return NULL;
}

static int user_is(pam_handle_t *pamh, const char *name)
{
	const char *user = NULL;
	return name != NULL && pam_get_user(pamh, &user, NULL) == PAM_SUCCESS && user != NULL &&
	       strcmp(user, name) == 0;
}

TEST_EXPORT int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const char *delay = opt(argc, argv, "delay_ms");
	const char *sleep_ms = opt(argc, argv, "sleep_ms");
	(void)flags;
	if (delay != NULL)
		pam_fail_delay(pamh, (unsigned)strtoul(delay, NULL, 10) * 1000u);
	if (user_is(pamh, opt(argc, argv, "unavailable_user")))
		return PAM_AUTHINFO_UNAVAIL;
	if (sleep_ms != NULL && user_is(pamh, opt(argc, argv, "sleep_user"))) {
		unsigned long ms = strtoul(sleep_ms, NULL, 10);
		struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) != 0)
			;
	}
	return PAM_SUCCESS;
}

TEST_EXPORT int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh, (void)flags, (void)argc, (void)argv;
	return PAM_SUCCESS;
}

TEST_EXPORT int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)flags;
	if (user_is(pamh, opt(argc, argv, "expired_user")))
		return PAM_ACCT_EXPIRED;
	if (user_is(pamh, opt(argc, argv, "password_expired_user")))
		return PAM_NEW_AUTHTOK_REQD;
	return PAM_SUCCESS;
}
