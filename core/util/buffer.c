/*
 * Byte buffers (see buffer.h). Consumed space at the front is reclaimed by moving the
 * live bytes down before growing, so a buffer that is read and written in turns does
 * not grow without bound.
 */
#include "util/buffer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned char *buf_reserve(struct buf *b, size_t n)
{
	if (b->cap - b->end >= n)
		return b->data + b->end;
	size_t live = b->end - b->start;
	if (b->start > 0 && b->cap - live >= n) {
		memmove(b->data, b->data + b->start, live);
		b->start = 0;
		b->end = live;
		return b->data + b->end;
	}
	size_t cap = b->cap ? b->cap : 1024;
	while (cap - live < n) {
		if (cap > ((size_t)-1) / 2)
			return NULL;
		cap *= 2;
	}
	unsigned char *d = malloc(cap);
	if (d == NULL)
		return NULL;
	if (live > 0)
		memcpy(d, b->data + b->start, live);
	free(b->data);
	b->data = d;
	b->cap = cap;
	b->start = 0;
	b->end = live;
	return b->data + b->end;
}

void buf_commit(struct buf *b, size_t n)
{
	b->end += n;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
	unsigned char *p = buf_reserve(b, n);
	if (p == NULL)
		return -1;
	if (n > 0)
		memcpy(p, data, n);
	b->end += n;
	return 0;
}

/* Formats straight into the free space when it fits (the usual case): measuring first
 * with vsnprintf(NULL, 0) runs glibc's slow byte-at-a-time path for long %s arguments. */
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	if (buf_reserve(b, 256) == NULL)
		return -1;
	size_t room = b->cap - b->end;
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf((char *)b->data + b->end, room, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if ((size_t)n >= room) {
		unsigned char *p = buf_reserve(b, (size_t)n + 1);
		if (p == NULL)
			return -1;
		vsnprintf((char *)p, (size_t)n + 1, fmt, ap);
	}
	b->end += (size_t)n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void buf_consume(struct buf *b, size_t n)
{
	b->start += n;
	if (b->start >= b->end)
		buf_free(b);
}

void buf_reset(struct buf *b)
{
	b->start = b->end = 0;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->start = b->end = b->cap = 0;
}
