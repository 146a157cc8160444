/*
 * Pool-backed string builder (see mail-buf.h). Growth doubles the capacity and copies, so
 * the pool ends up holding at most about twice the final size; that waste is the price
 * of keeping every byte under the pool's cap.
 */
#include "mail/mail-buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/pool.h"

void mail_buf_init(struct mail_buf *b, struct sluice_pool *pool, size_t hint)
{
	b->pool = pool;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->failed = false;
	if (hint > 0)
		(void)mail_buf_reserve(b, hint);
}

bool mail_buf_reserve(struct mail_buf *b, size_t n)
{
	if (b->failed)
		return false;
	if (b->data != NULL && b->cap - b->len >= n)
		return true;
	if (n > SIZE_MAX / 4 - b->len) {
		b->failed = true;
		return false;
	}
	size_t cap = b->cap < 64 ? 64 : b->cap;
	while (cap - b->len < n)
		cap *= 2;
	char *d = pool_alloc(b->pool, cap + 1);
	if (d == NULL) {
		b->failed = true;
		return false;
	}
	if (b->len > 0)
		memcpy(d, b->data, b->len);
	b->data = d;
	b->cap = cap;
	return true;
}

void mail_buf_append(struct mail_buf *b, const void *data, size_t n)
{
	if (!mail_buf_reserve(b, n))
		return;
	if (n > 0)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void mail_buf_putc(struct mail_buf *b, char c)
{
	mail_buf_append(b, &c, 1);
}

void mail_buf_puts(struct mail_buf *b, const char *s)
{
	mail_buf_append(b, s, strlen(s));
}

void mail_buf_printf(struct mail_buf *b, const char *fmt, ...)
{
	char small[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		mail_buf_append(b, small, (size_t)n);
		return;
	}
	if (!mail_buf_reserve(b, (size_t)n + 1))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *mail_buf_finish(struct mail_buf *b, size_t *len_r)
{
	if (b->data == NULL)
		(void)mail_buf_reserve(b, 1);
	if (b->failed)
		return NULL;
	if (len_r != NULL)
		*len_r = b->len;
	return b->data;
}
