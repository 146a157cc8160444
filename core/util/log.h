/*
 * Logging: one line per event, to stderr or syslog. Each worker thread carries the
 * context of the session it is serving (connection id, client address, user), and
 * every line written while that context is set starts with it, so an admin can grep
 * a user or an address and see the whole story. Passwords are never passed here.
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include <sluice/module.h>

enum log_target { LOG_TARGET_STDERR = 0, LOG_TARGET_SYSLOG = 1 };

/** Chooses where lines go and the lowest level written. Call before threads start. */
void log_setup(enum log_target target, enum sluice_log_level min_level);
bool log_enabled(enum sluice_log_level level);

/** Writes a line with the thread's session context; @p origin (a module name) may be NULL. */
void log_vwrite(enum sluice_log_level level, const char *origin, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
void log_write(enum sluice_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_write(SLUICE_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(SLUICE_LOG_INFO, __VA_ARGS__)
#define log_warning(...) log_write(SLUICE_LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_write(SLUICE_LOG_ERROR, __VA_ARGS__)

/**
 * Sets the calling thread's session context, e.g. "conn=12 ip=192.0.2.7 user=demo";
 * NULL clears it. The string is copied.
 */
void log_set_context(const char *context);

#endif
