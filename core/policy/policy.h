/*
 * Calls into the policy module chain at the fixed points of a session's life. Each
 * function returns 0 when the event is admitted and a negative code with err filled
 * (response code and a sentence for the client) when a module refused it; the refusal
 * is logged here with the module's name.
 */
#ifndef SLUICE_POLICY_CHAIN_H
#define SLUICE_POLICY_CHAIN_H

#include <stddef.h>

#include <sluice/policy.h>

struct session;

int policy_connect(struct session *s, struct sluice_error *err);
int policy_auth_result(struct session *s, const char *user, bool success, uint64_t *delay_ms_r,
		       struct sluice_error *err);
int policy_login(struct session *s, struct sluice_error *err);
/**
 * Asks the modules from index *next_io on about a command. Returns 0 (admitted),
 * SLUICE_WAIT (module *next_io parked it: ask again from there once woken) or a refusal.
 * On return *next_io counts the modules that admitted it: pass it to policy_command_end.
 */
int policy_command_begin(struct session *s, const struct sluice_policy_command *cmd, size_t *next_io,
			 struct sluice_error *err);
/** Tells the first @p admitted modules that the command was answered. */
void policy_command_end(struct session *s, const struct sluice_policy_command *cmd, size_t admitted);
/** True when any policy module is configured. */
bool policy_has_modules(void);
void policy_disconnect(struct session *s);
/**
 * Asks policy module @p i (index into server.policies) for its figures (sluicectl status);
 * modules without a report op, or built before ABI 1.1, report nothing. A worker thread.
 */
void policy_report(size_t i, void (*emit)(void *ctx, const char *key, int64_t value), void *ctx);

#endif
