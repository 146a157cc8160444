/*
 * Private interface of the pam module, shared by its three files: account.c finds a
 * system user through NSS (getpwnam_r: canonical name, uid, gid, home), conversation.c
 * runs one PAM transaction (pam_authenticate, then pam_acct_mgmt) and turns its outcome
 * into a Sluice result, and pam.c is the module itself (settings, reloads, the passdb
 * operations). Nothing here is part of the public ABI; every symbol is hidden in the .so.
 */
#ifndef PAMDB_PAM_PASSDB_H
#define PAMDB_PAM_PASSDB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <sluice/passdb.h>

/* A system account as NSS describes it; strings come from the call's pool. */
struct pamdb_account {
	const char *name;
	uid_t uid;
	gid_t gid;
	const char *home; /* NULL when NSS gives none */
};

/*
 * Looks @p name up with getpwnam_r.
 * @return 0 with @p acct_r filled (strings from @p pool); SLUICE_NOTFOUND when NSS does not
 * know the name; SLUICE_E_TEMPFAIL when NSS cannot answer (an LDAP server is down: the log
 * says why); SLUICE_E_NOMEM.
 */
int pamdb_account_find(const struct sluice_host *host, const char *name, struct sluice_pool *pool,
                       struct pamdb_account *acct_r, struct sluice_error *err);

/* What a PAM transaction found out. */
struct pamdb_outcome {
	char user[256];      /* PAM_USER at the end: a module may have canonicalised the name */
	uint64_t delay_ms;   /* the failure delay the stack asked for (pam_fail_delay) */
};

/*
 * Runs @p service's auth and account stacks for the attempt @p req, answering every
 * password prompt with its password. Never sleeps for the stack's failure delay: it is
 * captured with PAM_FAIL_DELAY and returned in @p out for the core to apply.
 * @return 0 when both stacks accept; SLUICE_NOTFOUND when the stack does not know the
 * user; SLUICE_E_AUTH for a wrong password; SLUICE_E_EXPIRED for an expired, locked or
 * not permitted account or an expired password (err->msg says which);
 * SLUICE_E_TEMPFAIL when the stack cannot answer now.
 */
int pamdb_transaction(const struct sluice_host *host, const char *service,
                      const struct sluice_auth_request *req, struct pamdb_outcome *out,
                      struct sluice_error *err);

#endif
