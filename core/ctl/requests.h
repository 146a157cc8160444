/*
 * The answers of the control socket's requests that read the server's live state (see
 * control.h): `status` (connections, per address and per user, sessions, module figures)
 * and `kick` (close the sessions of a user or an address). Each writes one JSON object
 * followed by a newline. They run on a worker thread: they take the session registry's
 * lock only to copy it, and call the policy modules' report op without holding it.
 */
#ifndef SLUICE_CTL_REQUESTS_H
#define SLUICE_CTL_REQUESTS_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buffer.h"

/**
 * Writes the status answer into @p out. @p started_ms is when the server started
 * (ev_now_ms clock). @return 0, or -1 when out of memory (then @p out holds an error
 * answer if even that fitted).
 */
int ctl_status(struct buf *out, uint64_t started_ms);

/**
 * Closes every session of the user @p who (compared exactly) or, with @p by_address, from
 * the address @p who (in the form inet_ntop writes, IPv4-mapped IPv6 as IPv4), each with
 * `* BYE [UNAVAILABLE] Disconnected by the administrator`, and writes how many into @p out.
 * @return 0, or -1 when out of memory.
 */
int ctl_kick(struct buf *out, bool by_address, const char *who);

/** Writes `{"ok":false,"error":...}` and a newline into @p out. */
void ctl_error(struct buf *out, const char *message);

#endif
