/*
 * The control socket: the UNIX socket (control_socket, mode 0600) through which
 * `sluicectl` asks the running server for its status, closes sessions and reloads the
 * configuration. One request line in, one JSON object and a newline out, then the server
 * closes the connection. The requests and their answers are in docs/limits.md and
 * tools/sluicectl; the answers themselves are built in requests.c.
 *
 * Threads: the socket and its connections live on the event loop thread, which only
 * accepts, reads a line and writes answers without blocking. `reload` runs right there,
 * where SIGHUP's reload runs; `status` and `kick` walk the session registry and call
 * modules, so they are built on a worker and handed back to the loop for writing.
 */
#ifndef SLUICE_CTL_CONTROL_H
#define SLUICE_CTL_CONTROL_H

#include "conf/server-conf.h"

/**
 * Creates the socket named by @p conf's control_socket (nothing when it is empty). A
 * stale socket file left by a server that died is replaced; a live one, or a path that is
 * not a socket, is left alone. A failure is logged as a warning and the server runs
 * without a control socket. Main thread, before the worker threads exist (it sets the
 * process umask for a moment).
 */
void control_open(const struct server_conf *conf);
/** Starts accepting (after ev_init). */
void control_start(void);
/** Stops accepting and disarms the connections' timers. Before ev_shutdown. */
void control_stop(void);
/**
 * Closes every control connection and removes the socket file (after control_stop). After
 * ev_shutdown, when no worker runs any more.
 */
void control_close(void);

#endif
