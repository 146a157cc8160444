/*
 * Commands of the not-authenticated state: STARTTLS, LOGIN and AUTHENTICATE (RFC 3501
 * 6.2, RFC 4959 for SASL-IR). Both login paths end in auth_finish, which hands the
 * attempt to the passdb chain as a slow job (event.h: a PAM stack waiting for LDAP
 * holds at most part of the worker pool) and parks the session. When the chain has
 * answered, cmd_auth_done lets policy modules see the result, opens the user's mail as
 * the user (auth/identity.h) and answers. A failed attempt is answered only after a
 * delay, implemented by holding the session's output on a timer, so no thread sleeps and
 * a password guesser cannot go faster by pipelining.
 */
#include "imap/commands.h"

#include <stdlib.h>
#include <string.h>

#include <sluice/sasl.h>

#include "auth/auth.h"
#include "auth/identity.h"
#include "mailbox/expiry.h"
#include "mailbox/provision.h"
#include "mailbox/user.h"
#include "policy/policy.h"
#include "server.h"
#include "util/base64.h"
#include "util/log.h"

#define AUTH_MAX_USER 255

struct sasl_exchange {
	char *tag;
	struct module_instance *mech;
	struct sluice_pool *pool;
	void *state;
};

void cmd_write_auth_mechanisms(struct session *s, bool plaintext_allowed)
{
	for (size_t i = 0; i < server.sasl_count; i++) {
		const struct sluice_sasl_ops *ops = server.sasls[i]->desc->ops;
		if ((ops->flags & SLUICE_SASL_PLAINTEXT) == 0 || plaintext_allowed)
			session_printf(s, " AUTH=%s", ops->mechanism);
	}
}

static const char *auth_reason(int r)
{
	switch (r) {
	case SLUICE_E_AUTH:
		return "wrong user name or password";
	case SLUICE_E_EXPIRED:
		return "account expired or locked";
	case SLUICE_E_TEMPFAIL:
		return "authentication service unavailable";
	case SLUICE_E_PERM:
		return "authorization identity refused";
	case SLUICE_E_PARSE:
		return "malformed authentication data";
	default:
		return "authentication error";
	}
}

/* The longest a passdb may make a failed login wait, whatever its PAM stack asks for. */
#define AUTH_PASSDB_DELAY_MAX_MS 60000

/*
 * One login on its way through the passdb chain. It owns copies of everything it needs,
 * because the command's arguments and the SASL exchange are gone by the time it runs.
 * The slow job writes the result fields and then schedules the session, whose worker
 * reads them (the session's lock orders the two).
 */
struct auth_job {
	struct ev_job job;
	struct session *s;
	char *tag, *mech, *authzid, *user, *password;
	size_t password_len;
	char log_context[192];

	struct sluice_pool *pool; /* strings of u */
	struct sluice_user u;
	struct sluice_error err;
	uint64_t passdb_delay_ms;
	int result;
};

static void auth_job_free(struct auth_job *a)
{
	if (a == NULL)
		return;
	if (a->password != NULL)
		explicit_bzero(a->password, a->password_len);
	free(a->password);
	free(a->tag);
	free(a->mech);
	free(a->authzid);
	free(a->user);
	pool_destroy(&a->pool);
	free(a);
}

/* Answers a failed attempt after the failure delay; drops the client if a policy says so. */
static void auth_fail(struct session *s, const char *tag, const char *mech, const char *user, int r,
		      const struct sluice_error *err, uint64_t passdb_delay)
{
	uint64_t delay = 0;
	struct sluice_error perr = SLUICE_ERROR_INIT;
	int pr = policy_auth_result(s, user, false, &delay, &perr);

	log_info("login failed user=%s method=%s reason=\"%s\"", user, mech, auth_reason(r));
	session_tagged(s, tag, "NO", err->resp_code, "%s", err->msg);
	if (pr < 0) {
		session_tagged(s, NULL, "BYE", perr.resp_code, "%s", perr.msg);
		s->close_reason = "refused by policy after failed logins";
		s->closing = true;
	}
	if (delay < s->conf->s.auth_failure_delay)
		delay = s->conf->s.auth_failure_delay;
	if (passdb_delay > AUTH_PASSDB_DELAY_MAX_MS)
		passdb_delay = AUTH_PASSDB_DELAY_MAX_MS;
	if (delay < passdb_delay)
		delay = passdb_delay;
	/* Counted from the command's arrival: an unknown user (answered at once by the
	 * passdb) and a wrong password (after a slow hash) are then answered at the same
	 * moment, so response times do not tell which user names exist. */
	uint64_t spent = ev_now_ms() - s->last_activity_ms;
	session_hold_output(s, delay > spent ? delay - spent : 1);
}

/* The passdb chain, run as a slow job: a PAM stack may wait long for its servers. */
static void auth_job_run(struct ev_job *job)
{
	struct auth_job *a = (struct auth_job *)((char *)job - offsetof(struct auth_job, job));
	struct sluice_auth_request req = {
		.user = a->user,
		.password = a->password,
		.password_len = a->password_len,
		.mechanism = a->mech,
		.peer = &a->s->peer,
		.fail_delay_ms_r = &a->passdb_delay_ms,
	};
	int r;

	identity_leave(); /* passdbs run as the server (PAM needs to read /etc/shadow) */
	log_set_context(a->log_context);
	if (strlen(a->user) == 0 || strlen(a->user) > AUTH_MAX_USER)
		r = sluice_error_set(&a->err, SLUICE_E_AUTH, "AUTHENTICATIONFAILED", "Authentication failed.");
	else
		r = auth_verify(&req, a->pool, &a->u, &a->err);
	if (r == 0 && a->authzid != NULL && a->authzid[0] != '\0' && strcmp(a->authzid, a->u.name) != 0 &&
	    strcmp(a->authzid, a->user) != 0)
		r = sluice_error_set(&a->err, SLUICE_E_PERM, "AUTHORIZATIONFAILED",
				     "Logging in as another user is not allowed.");
	a->result = r;
	explicit_bzero(a->password, a->password_len);
	/* From here on the session's worker owns the job. */
	session_schedule(a->s, SESSION_EV_AUTH_DONE);
}

/* Hands a login to the passdb chain; the session waits, holding no thread, for the answer. */
static void auth_finish(struct session *s, const char *tag, const char *mech, const char *authzid,
			const char *user, const char *password, size_t password_len)
{
	struct auth_job *a = calloc(1, sizeof(*a));
	if (a != NULL) {
		a->s = s;
		a->job.run = auth_job_run;
		a->pool = pool_create(1024, 0);
		a->tag = strdup(tag);
		a->mech = strdup(mech);
		a->authzid = authzid != NULL ? strdup(authzid) : NULL;
		a->user = strdup(user);
		a->password = malloc(password_len + 1);
		a->password_len = password_len;
		if (a->password != NULL) {
			memcpy(a->password, password, password_len);
			a->password[password_len] = '\0';
		}
	}
	if (a == NULL || a->pool == NULL || a->tag == NULL || a->mech == NULL || a->user == NULL ||
	    a->password == NULL || (authzid != NULL && a->authzid == NULL)) {
		auth_job_free(a);
		session_tagged(s, tag, "NO", "UNAVAILABLE", "The server is out of memory; try again later.");
		return;
	}
	snprintf(a->log_context, sizeof(a->log_context), "conn=%llu ip=%s", (unsigned long long)s->id,
		 s->remote_ip);
	s->auth = a;
	ev_queue_slow(&a->job);
}

/* A right password: open the user's mail, ask the policies, and answer. */
static void auth_succeed(struct session *s, struct auth_job *a)
{
	uint64_t delay = 0;
	struct sluice_error err = SLUICE_ERROR_INIT, perr = SLUICE_ERROR_INIT;
	struct mail_user *mail = NULL;
	const char *name = a->u.name;

	int r = mail_user_open(&a->u, &mail, &err);
	if (r < 0) {
		/* The password was right: this is the server's trouble, not a failed login. */
		log_error("login of %s failed: %s", name, err.msg);
		session_tagged(s, a->tag, "NO", err.resp_code != NULL ? err.resp_code : "UNAVAILABLE", "%s",
			       err.msg);
		return;
	}
	if (policy_auth_result(s, name, true, &delay, &perr) < 0) {
		session_tagged(s, a->tag, "NO", perr.resp_code, "%s", perr.msg);
		mail_user_close(&mail);
		return;
	}
	s->user = (char *)name; /* policy login hooks see the user they are asked about */
	if (policy_login(s, &perr) < 0) {
		log_info("login refused user=%s method=%s", name, a->mech);
		s->user = NULL;
		mail_user_close(&mail);
		session_tagged(s, a->tag, "NO", perr.resp_code, "%s", perr.msg);
		return;
	}
	s->user = NULL;
	session_logged_in(s, name);
	s->mail = mail;
	/* Commands pipelined behind the LOGIN run in this same run: as the user. */
	if (mail != NULL && identity_enter(&mail->id) < 0) {
		session_printf(s, "* BYE The server cannot act as your account right now.\r\n");
		s->close_reason = "cannot take on the user's identity";
		s->closing = true;
		return;
	}
	log_info("login ok method=%s", a->mech);
	/* Default folders before the answer, so the client's first LIST has them; the trash
	 * expiry runs in a job of its own and never delays the answer. */
	if (s->mail != NULL)
		mailbox_provision(s->mail, s->conf->default_mailboxes);
	session_printf(s, "%s OK [CAPABILITY ", a->tag);
	session_write_capabilities(s);
	session_printf(s, "] Logged in as %s.\r\n", s->user);
	if (s->mail != NULL)
		mailbox_expiry_start(&s->mail->user, s->conf);
}

void cmd_auth_done(struct session *s)
{
	struct auth_job *a = s->auth;
	if (a == NULL)
		return;
	s->auth = NULL;
	if (!s->closing) {
		if (a->result != 0)
			auth_fail(s, a->tag, a->mech, a->user, a->result, &a->err, a->passdb_delay_ms);
		else
			auth_succeed(s, a);
	}
	auth_job_free(a);
}

static bool auth_plaintext_refused(struct session *s, const char *tag)
{
	if (session_plaintext_allowed(s))
		return false;
	session_tagged(s, tag, "NO", "PRIVACYREQUIRED",
		       "Plaintext authentication is disabled on unencrypted connections; "
		       "use STARTTLS or the TLS port.");
	return true;
}

void cmd_starttls(struct session *s, const struct imap_command *cmd)
{
	if (cmd->count != 0) {
		cmd_bad_arguments(s, cmd, "(no arguments)");
		return;
	}
	if (s->tls_state != SESSION_TLS_OFF) {
		session_tagged(s, cmd->tag, "BAD", NULL, "TLS is already active on this connection.");
		return;
	}
	if (s->tls == NULL || s->listener->tls != LISTENER_TLS_STARTTLS) {
		session_tagged(s, cmd->tag, "BAD", NULL, "STARTTLS is not available on this port.");
		return;
	}
	session_tagged(s, cmd->tag, "OK", NULL, "Begin TLS negotiation now.");
	s->starttls_pending = true;
}

void cmd_login(struct session *s, const struct imap_command *cmd)
{
	if (cmd->count != 2 || !imap_arg_is_astring(&cmd->args[0]) || !imap_arg_is_astring(&cmd->args[1])) {
		cmd_bad_arguments(s, cmd, "user-name password");
		return;
	}
	if (auth_plaintext_refused(s, cmd->tag))
		return;
	const struct imap_arg *user = &cmd->args[0], *pass = &cmd->args[1];
	if (memchr(user->str, '\0', user->len) != NULL || memchr(pass->str, '\0', pass->len) != NULL) {
		session_tagged(s, cmd->tag, "BAD", NULL, "User names and passwords cannot contain NUL bytes.");
		return;
	}
	auth_finish(s, cmd->tag, "LOGIN", NULL, user->str, pass->str, pass->len);
}

void cmd_authenticate_free(struct session *s)
{
	struct sasl_exchange *x = s->sasl;
	if (x == NULL)
		return;
	free(x->tag);
	pool_destroy(&x->pool);
	free(x);
	s->sasl = NULL;
}

/* Runs one mechanism step with decoded client bytes (NULL: no initial response). */
static void sasl_step(struct session *s, const unsigned char *in, size_t in_len)
{
	struct sasl_exchange *x = s->sasl;
	const struct sluice_sasl_ops *ops = x->mech->desc->ops;
	struct sluice_sasl_step out = {0};
	struct sluice_error err = SLUICE_ERROR_INIT;

	int r = ops->step(x->mech->modctx, x->pool, &x->state, in, in_len, &out, &err);
	if (r == SLUICE_CONTINUE) {
		char *b64 = malloc(base64_encoded_len(out.challenge_len) + 1);
		if (b64 == NULL) {
			session_tagged(s, x->tag, "NO", "UNAVAILABLE", "The server is out of memory.");
			cmd_authenticate_free(s);
			return;
		}
		base64_encode(out.challenge, out.challenge_len, b64);
		session_printf(s, "+ %s\r\n", b64);
		free(b64);
		return;
	}
	if (r == 0 && out.authcid != NULL && out.password != NULL) {
		auth_finish(s, x->tag, ops->mechanism, out.authzid, out.authcid, out.password,
			    out.password_len);
	} else {
		if (err.msg[0] == '\0')
			sluice_error_set(&err, SLUICE_E_PARSE, NULL, "The authentication exchange failed.");
		auth_fail(s, x->tag, ops->mechanism, "(unknown)", r, &err, 0);
	}
	cmd_authenticate_free(s);
}

/* Decodes base64 client data; "=" alone is an empty response (RFC 4959). */
static unsigned char *sasl_decode(const char *text, size_t len, size_t *out_len)
{
	unsigned char *buf = malloc(len / 4 * 3 + 1);
	if (buf == NULL)
		return NULL;
	if (len == 1 && text[0] == '=') {
		*out_len = 0;
		return buf;
	}
	long n = base64_decode(text, len, buf);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	*out_len = (size_t)n;
	return buf;
}

static void sasl_wipe_free(unsigned char *buf, size_t len)
{
	if (buf != NULL)
		explicit_bzero(buf, len);
	free(buf);
}

void cmd_authenticate(struct session *s, const struct imap_command *cmd)
{
	if (cmd->count < 1 || cmd->count > 2 || cmd->args[0].type != IMAP_ARG_ATOM ||
	    (cmd->count == 2 && cmd->args[1].type != IMAP_ARG_ATOM)) {
		cmd_bad_arguments(s, cmd, "mechanism [initial-response]");
		return;
	}
	struct module_instance *m = auth_find_mechanism(cmd->args[0].str);
	if (m == NULL) {
		session_tagged(s, cmd->tag, "NO", NULL, "Unsupported authentication mechanism %.40s.",
			       cmd->args[0].str);
		return;
	}
	const struct sluice_sasl_ops *ops = m->desc->ops;
	if ((ops->flags & SLUICE_SASL_PLAINTEXT) != 0 && auth_plaintext_refused(s, cmd->tag))
		return;

	unsigned char *ir = NULL;
	size_t ir_len = 0;
	if (cmd->count == 2) {
		ir = sasl_decode(cmd->args[1].str, cmd->args[1].len, &ir_len);
		if (ir == NULL) {
			session_tagged(s, cmd->tag, "BAD", NULL, "The initial response is not valid base64.");
			return;
		}
	}
	struct sasl_exchange *x = calloc(1, sizeof(*x));
	if (x != NULL) {
		x->tag = strdup(cmd->tag);
		x->pool = pool_create(512, 64 * 1024);
		x->mech = m;
	}
	if (x == NULL || x->tag == NULL || x->pool == NULL) {
		if (x != NULL) {
			free(x->tag);
			pool_destroy(&x->pool);
			free(x);
		}
		sasl_wipe_free(ir, ir_len);
		session_tagged(s, cmd->tag, "NO", "UNAVAILABLE", "The server is out of memory.");
		return;
	}
	s->sasl = x;
	sasl_step(s, ir, ir_len);
	sasl_wipe_free(ir, ir_len);
}

void cmd_authenticate_continue(struct session *s, const char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		session_tagged(s, s->sasl->tag, "BAD", NULL, "Authentication cancelled.");
		cmd_authenticate_free(s);
		return;
	}
	size_t n = 0;
	unsigned char *data = len == 0 ? malloc(1) : sasl_decode(line, len, &n);
	if (data == NULL) {
		session_tagged(s, s->sasl->tag, "BAD", NULL,
			       "The authentication response is not valid base64; authentication cancelled.");
		cmd_authenticate_free(s);
		return;
	}
	sasl_step(s, data, n);
	sasl_wipe_free(data, n);
}

void cmd_authenticate_abort(struct session *s, const char *why)
{
	session_tagged(s, s->sasl->tag, "BAD", NULL, "%s; authentication cancelled.", why);
	cmd_authenticate_free(s);
}
