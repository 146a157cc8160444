/*
 * The policy chain (see policy.h and include/sluice/policy.h). Modules are asked in
 * configuration order; SLUICE_DECLINED passes to the next, SLUICE_OK stops the chain
 * admitting, and a negative answer stops it refusing.
 */
#include "policy/policy.h"

#include "imap/session.h"
#include "server.h"
#include "util/log.h"

static void policy_conn(const struct session *s, struct sluice_policy_conn *pc)
{
	pc->id = s->id;
	pc->peer = &s->peer;
	pc->user = s->user;
	pc->connected_ms = s->connected_ms;
}

static const struct sluice_policy_ops *policy_ops(size_t i)
{
	return server.policies[i]->desc->ops;
}

/* Common ending of a refusal: make sure the client gets a sentence, log who refused. */
static int policy_refused(size_t i, int r, const char *event, struct sluice_error *err)
{
	if (err->msg[0] == '\0')
		sluice_error_set(err, r, err->resp_code, "Refused by the server's policy.");
	if (err->code == 0)
		err->code = r;
	log_info("%s refused by policy %s: %s", event, server.policies[i]->name, err->msg);
	return r;
}

int policy_connect(struct session *s, struct sluice_error *err)
{
	struct sluice_policy_conn pc;
	policy_conn(s, &pc);
	for (size_t i = 0; i < server.policy_count; i++) {
		if (policy_ops(i)->connect == NULL)
			continue;
		int r = policy_ops(i)->connect(server.policies[i]->modctx, &pc, err);
		if (r == SLUICE_OK)
			return 0;
		if (r < 0)
			return policy_refused(i, r, "connection", err);
	}
	return 0;
}

int policy_auth_result(struct session *s, const char *user, bool success, uint64_t *delay_ms_r,
		       struct sluice_error *err)
{
	struct sluice_policy_conn pc;
	policy_conn(s, &pc);
	for (size_t i = 0; i < server.policy_count; i++) {
		if (policy_ops(i)->auth_result == NULL)
			continue;
		uint64_t delay = 0;
		int r = policy_ops(i)->auth_result(server.policies[i]->modctx, &pc, user, success, &delay, err);
		if (delay > *delay_ms_r)
			*delay_ms_r = delay;
		if (r < 0)
			return policy_refused(i, r, "authentication", err);
	}
	return 0;
}

int policy_login(struct session *s, struct sluice_error *err)
{
	struct sluice_policy_conn pc;
	policy_conn(s, &pc);
	for (size_t i = 0; i < server.policy_count; i++) {
		if (policy_ops(i)->login == NULL)
			continue;
		int r = policy_ops(i)->login(server.policies[i]->modctx, &pc, err);
		if (r == SLUICE_OK)
			return 0;
		if (r < 0)
			return policy_refused(i, r, "login", err);
	}
	return 0;
}

bool policy_has_modules(void)
{
	return server.policy_count > 0;
}

int policy_command_begin(struct session *s, const struct sluice_policy_command *cmd, size_t *next_io,
			 struct sluice_error *err)
{
	struct sluice_policy_conn pc;
	policy_conn(s, &pc);
	for (size_t i = *next_io; i < server.policy_count; i++) {
		*next_io = i;
		if (policy_ops(i)->command_begin == NULL)
			continue;
		int r = policy_ops(i)->command_begin(server.policies[i]->modctx, &pc, cmd, err);
		if (r == SLUICE_OK) {
			*next_io = i + 1;
			return 0;
		}
		if (r == SLUICE_WAIT) {
			log_debug("%s %s waits for policy %s", cmd->tag, cmd->name, server.policies[i]->name);
			return SLUICE_WAIT;
		}
		if (r < 0)
			return policy_refused(i, r, "command", err);
	}
	*next_io = server.policy_count;
	return 0;
}

void policy_command_end(struct session *s, const struct sluice_policy_command *cmd, size_t admitted)
{
	struct sluice_policy_conn pc;
	policy_conn(s, &pc);
	for (size_t i = 0; i < admitted && i < server.policy_count; i++)
		if (policy_ops(i)->command_end != NULL)
			policy_ops(i)->command_end(server.policies[i]->modctx, &pc, cmd);
}

void policy_disconnect(struct session *s)
{
	struct sluice_policy_conn pc;
	policy_conn(s, &pc);
	for (size_t i = 0; i < server.policy_count; i++)
		if (policy_ops(i)->disconnect != NULL)
			policy_ops(i)->disconnect(server.policies[i]->modctx, &pc);
}

void policy_report(size_t i, void (*emit)(void *ctx, const char *key, int64_t value), void *ctx)
{
	const struct sluice_policy_ops *ops = policy_ops(i);

	/* A module built against ABI 1.0 has no report op: its table ends before it. */
	if (SLUICE_HAS_MEMBER(ops, struct sluice_policy_ops, report) && ops->report != NULL)
		ops->report(server.policies[i]->modctx, emit, ctx);
}
