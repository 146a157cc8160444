/*
 * Listening sockets. The event loop thread accepts connections (cheap, never blocks:
 * the sockets are non-blocking) and hands each one to a new session.
 */
#ifndef SLUICE_LISTENER_H
#define SLUICE_LISTENER_H

#include "conf/conf.h"
#include "conf/server-conf.h"

/** Binds every listener of @p conf; errors carry the listener's file:line. */
int listeners_open(const struct server_conf *conf, struct conf_errors *errs);
/** Starts accepting on every bound listener (after the event loop exists). */
void listeners_start(void);
/** Stops accepting (at shutdown). */
void listeners_close(void);
void listeners_free(void);

#endif
