/*
 * Log output. Lines are formatted into a stack buffer and written with one write(2)
 * (or one syslog call), so lines from different threads never interleave.
 */
#include "util/log.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static enum log_target log_target_now = LOG_TARGET_STDERR;
static enum sluice_log_level log_min_level = SLUICE_LOG_INFO;
static _Thread_local char log_context[192];

static const char *const log_level_names[] = {"debug", "info", "warning", "error"};

void log_setup(enum log_target target, enum sluice_log_level min_level)
{
	if (target == LOG_TARGET_SYSLOG && log_target_now != LOG_TARGET_SYSLOG)
		openlog("sluiced", LOG_PID | LOG_NDELAY, LOG_MAIL);
	log_target_now = target;
	log_min_level = min_level;
}

bool log_enabled(enum sluice_log_level level)
{
	return level >= log_min_level;
}

void log_set_context(const char *context)
{
	if (context == NULL)
		log_context[0] = '\0';
	else
		snprintf(log_context, sizeof(log_context), "%s", context);
}

void log_vwrite(enum sluice_log_level level, const char *origin, const char *fmt, va_list ap)
{
	char line[2048];
	size_t n = 0;

	if (!log_enabled(level))
		return;
	if (log_target_now == LOG_TARGET_STDERR) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
		n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ld ", ts.tv_nsec / 1000000);
	}
	n += (size_t)snprintf(line + n, sizeof(line) - n, "%s: ", log_level_names[level]);
	if (origin != NULL && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s: ", origin);
	if (log_context[0] != '\0' && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s: ", log_context);
	if (n < sizeof(line))
		n += (size_t)vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	/* Control characters from client input must not forge extra log lines. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20)
			line[i] = '?';
	if (log_target_now == LOG_TARGET_SYSLOG) {
		static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
		line[n] = '\0';
		syslog(prio[level], "%s", line);
		return;
	}
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
}

void log_write(enum sluice_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vwrite(level, NULL, fmt, ap);
	va_end(ap);
}
