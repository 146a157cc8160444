/*
 * Growable byte buffers for a connection's input and output. Bytes are appended at the
 * end and consumed from the front; the memory is released entirely when a buffer
 * empties and has grown past a small size, so an idle connection holds no buffer at all.
 */
#ifndef SLUICE_BUFFER_H
#define SLUICE_BUFFER_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	unsigned char *data;
	size_t start; /* first unconsumed byte */
	size_t end;   /* one past the last byte */
	size_t cap;
};

static inline size_t buf_len(const struct buf *b)
{
	return b->end - b->start;
}

static inline unsigned char *buf_head(const struct buf *b)
{
	return b->data + b->start;
}

/** Makes room for @p n more bytes at the end; returns the write position or NULL. */
unsigned char *buf_reserve(struct buf *b, size_t n);
/** Records that @p n bytes were written at the position buf_reserve returned. */
void buf_commit(struct buf *b, size_t n);
int buf_append(struct buf *b, const void *data, size_t n);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/** Drops @p n bytes from the front; frees the memory when the buffer becomes empty. */
void buf_consume(struct buf *b, size_t n);
void buf_free(struct buf *b);
/** Drops every byte but keeps the memory, for a buffer about to be refilled at once. */
void buf_reset(struct buf *b);

#endif
