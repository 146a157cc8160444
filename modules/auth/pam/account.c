/*
 * System accounts through NSS: what /etc/passwd, LDAP (nslcd, sssd) or any other source
 * configured in /etc/nsswitch.conf says about a login name. The pam module takes the
 * canonical name, uid, gid and home from here, the way login(1) does, so a host whose
 * accounts move to LDAP moves its mail users along without a change to Sluice.
 */
#include "pam-passdb.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* No passwd entry needs more, and a broken NSS module must not make us allocate forever. */
#define PAMDB_PWBUF_MAX (1024 * 1024)

int pamdb_account_find(const struct sluice_host *host, const char *name, struct sluice_pool *pool,
                       struct pamdb_account *acct_r, struct sluice_error *err)
{
	long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t size = hint > 0 ? (size_t)hint : 4096;
	struct passwd pw, *found = NULL;
	char *buf = NULL;
	int e;

	for (;;) {
		char *b = realloc(buf, size);
		if (b == NULL) {
			free(buf);
			return sluice_error_set(err, SLUICE_E_NOMEM, "UNAVAILABLE",
			                        "The server is out of memory.");
		}
		buf = b;
		e = getpwnam_r(name, &pw, buf, size, &found);
		if (e != ERANGE || size >= PAMDB_PWBUF_MAX)
			break;
		size *= 2;
	}
	/* getpwnam_r(3): these say "no such user" on some NSS back ends. */
	if (found == NULL && (e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM)) {
		free(buf);
		return SLUICE_NOTFOUND;
	}
	if (found == NULL) {
		host->log(host, SLUICE_LOG_WARNING, "cannot look up the system user %s: %s", name,
		          strerror(e));
		free(buf);
		return sluice_error_set(err, SLUICE_E_TEMPFAIL, "UNAVAILABLE",
		                        "The user database cannot be reached; try again later.");
	}
	acct_r->name = host->pool_strndup(pool, pw.pw_name, strlen(pw.pw_name));
	acct_r->uid = pw.pw_uid;
	acct_r->gid = pw.pw_gid;
	acct_r->home = pw.pw_dir != NULL && pw.pw_dir[0] != '\0'
	                   ? host->pool_strndup(pool, pw.pw_dir, strlen(pw.pw_dir))
	                   : NULL;
	bool oom = acct_r->name == NULL || (acct_r->home == NULL && pw.pw_dir != NULL && pw.pw_dir[0] != '\0');
	free(buf);
	if (oom)
		return sluice_error_set(err, SLUICE_E_NOMEM, "UNAVAILABLE", "The server is out of memory.");
	return 0;
}
