/*
 * Trash expiry (trash_expiry = Trash:7d, Junk:30d): after a login, the messages of the named
 * folders whose INTERNALDATE is older than the folder's age are expunged, as Courier's
 * IMAP_EMPTYTRASH does. The work never delays the login: the login command only queues a
 * job on the worker pool, and the job opens the user's mail with handles of its own (a
 * session's handles belong to its thread), so the tagged OK goes out at once and the client
 * may work meanwhile; sessions with one of these folders selected hear of the expunges at
 * their next NOOP, like of any other session's.
 *
 * The age counts from INTERNALDATE, the message's arrival on the server, which COPY and MOVE
 * keep (copy_keeps_metadata): a message that arrived a year ago and is moved to Trash today
 * goes at the next login. With copy_keeps_metadata = no a moved message starts afresh.
 *
 * At most one expiry runs per user (clients log in with several connections at once), and
 * expiries together use at most half of the workers, so that commands are never starved;
 * a login that finds no room skips the expiry (the next login does it).
 */
#ifndef SLUICE_MAILBOX_EXPIRY_H
#define SLUICE_MAILBOX_EXPIRY_H

#include <sluice/passdb.h>

#include "conf/server-conf.h"

/**
 * Queues the expiry of @p conf's trash_expiry folders for @p user (copied; the caller keeps
 * its own). Does nothing when the setting is none, an expiry of the user runs already, or
 * half the workers are busy with expiries.
 * @return true when a job was queued. Any thread.
 */
bool mailbox_expiry_start(const struct sluice_user *user, struct server_conf *conf);

/* Caveats:
 * - The job runs after the login's answer has been queued, not necessarily after it has
 *   reached the client; nothing it does waits for the session.
 * - At shutdown, a queued job still runs (the pool drains its queue) but skips its work.
 */

#endif
