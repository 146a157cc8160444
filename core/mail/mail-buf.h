/*
 * A growable string built in pool memory. The mail code (ENVELOPE, BODYSTRUCTURE,
 * HEADER.FIELDS, decoded text) produces strings whose final size is unknown until the
 * end; building them in the caller's pool, rather than with malloc, keeps them under the
 * session's memory cap. Errors are sticky: once an append fails, later appends do
 * nothing and mail_buf_finish() returns NULL, so writers need one check at the end.
 */
#ifndef SLUICE_MAIL_BUF_H
#define SLUICE_MAIL_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct sluice_pool;

struct mail_buf {
	struct sluice_pool *pool;
	char *data; /* NUL-terminated while !failed */
	size_t len;
	size_t cap;  /* bytes usable before the NUL */
	bool failed; /* an allocation failed; the content is incomplete */
};

/** Starts an empty builder; @p hint bytes are reserved when non-zero. */
void mail_buf_init(struct mail_buf *b, struct sluice_pool *pool, size_t hint);
/** Makes room for @p n more bytes; false (and failed set) when the pool refuses. */
bool mail_buf_reserve(struct mail_buf *b, size_t n);
void mail_buf_append(struct mail_buf *b, const void *data, size_t n);
void mail_buf_putc(struct mail_buf *b, char c);
void mail_buf_puts(struct mail_buf *b, const char *s);
void mail_buf_printf(struct mail_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** The NUL-terminated result (an empty string when nothing was written), or NULL if any
 *  append failed. The memory belongs to the pool. */
char *mail_buf_finish(struct mail_buf *b, size_t *len_r);

#endif
