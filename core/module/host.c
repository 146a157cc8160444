/*
 * The host table: the core services a module reaches through the struct sluice_host
 * handed to its init. Each instance gets its own table whose core_private points back to
 * the instance, so a log line can carry the module's name without the module passing it.
 * Modules never link against core symbols; these small wrappers are the whole interface.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "imap/session.h"
#include "module/loader.h"
#include "util/log.h"
#include "util/pool.h"

static void host_log(const struct sluice_host *host, enum sluice_log_level level, const char *fmt,
                     ...) __attribute__((format(printf, 3, 4)));
static void host_log(const struct sluice_host *host, enum sluice_log_level level, const char *fmt,
                     ...)
{
	const struct module_instance *inst = module_host_instance(host);
	va_list ap;

	/* A module's level is untrusted input to the log's name table. */
	if ((unsigned)level > SLUICE_LOG_ERROR)
		level = SLUICE_LOG_ERROR;
	va_start(ap, fmt);
	log_vwrite(level, inst != NULL ? inst->name : NULL, fmt, ap);
	va_end(ap);
}

static void *host_pool_alloc(struct sluice_pool *pool, size_t size)
{
	return pool != NULL ? pool_alloc(pool, size) : NULL;
}

static char *host_pool_strndup(struct sluice_pool *pool, const char *s, size_t len)
{
	/* len + 1 must not wrap around, and a NULL source with a length is a module bug. */
	if (pool == NULL || len >= SIZE_MAX / 2 || (s == NULL && len > 0))
		return NULL;
	return pool_strndup(pool, s, len);
}

static uint64_t host_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int host_session_wake(const struct sluice_host *host, uint64_t conn_id, uint64_t at_ms)
{
	(void)host;
	return session_wake(conn_id, at_ms);
}

/* How much of a module's BYE text reaches the client. */
#define HOST_BYE_TEXT_MAX 300

static bool host_atom(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
			return false;
	return true;
}

static int host_session_close(const struct sluice_host *host, uint64_t conn_id,
                              const char *resp_code, const char *text)
{
	const struct module_instance *inst = module_host_instance(host);
	char clean[HOST_BYE_TEXT_MAX + 1], why[96];
	size_t n = 0;

	if (text == NULL || (resp_code != NULL && !host_atom(resp_code)))
		return SLUICE_E_PARSE;
	/* The text ends up on the client's line: no CR, LF or other control bytes in it. */
	for (; text[n] != '\0' && n < HOST_BYE_TEXT_MAX; n++)
		clean[n] = (unsigned char)text[n] < 0x20 || text[n] == 0x7f ? ' ' : text[n];
	/* A cut text must not end inside a UTF-8 character. */
	while (text[n] != '\0' && n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
		n--;
	clean[n] = '\0';
	snprintf(why, sizeof(why), "closed by %s", inst != NULL ? inst->name : "a module");
	return session_request_close(conn_id, resp_code, clean, why);
}

void module_host_init(struct module_instance *inst)
{
	inst->host = (struct sluice_host){
	    .abi_major = SLUICE_ABI_MAJOR,
	    .abi_minor = SLUICE_ABI_MINOR,
	    .size = sizeof(struct sluice_host),
	    .log = host_log,
	    .pool_alloc = host_pool_alloc,
	    .pool_strndup = host_pool_strndup,
	    .now_ms = host_now_ms,
	    .core_private = inst,
	    .session_wake = host_session_wake,
	    .session_close = host_session_close,
	};
}

struct module_instance *module_host_instance(const struct sluice_host *host)
{
	return host != NULL ? host->core_private : NULL;
}
