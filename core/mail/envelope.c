/*
 * ENVELOPE construction (see envelope.h). The header is walked once, remembering the
 * first occurrence of each of the ten fields the envelope needs, so a header with
 * thousands of fields costs one pass however the fields are ordered.
 */
#include "mail/envelope.h"

#include <stdbool.h>
#include <string.h>

#include "mail/address.h"
#include "mail/imap-string.h"
#include "mail/lex.h"
#include "mail/mime.h"
#include "util/pool.h"

enum env_field {
	ENV_DATE,
	ENV_SUBJECT,
	ENV_FROM,
	ENV_SENDER,
	ENV_REPLY_TO,
	ENV_TO,
	ENV_CC,
	ENV_BCC,
	ENV_IN_REPLY_TO,
	ENV_MESSAGE_ID,
	ENV_COUNT
};

static const char *const env_names[ENV_COUNT] = {
    "date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc", "in-reply-to", "message-id",
};

/* Writes an address list; returns false (writing nothing) when it holds no address. */
static bool env_write_addresses(struct mail_buf *out, const char *value, size_t len)
{
	struct mail_address *list;
	if (value == NULL)
		return false;
	if (mail_address_parse(value, len, out->pool, &list) < 0) {
		out->failed = true;
		return true;
	}
	if (list == NULL)
		return false;
	mail_buf_putc(out, '(');
	for (const struct mail_address *a = list; a != NULL; a = a->next) {
		mail_buf_putc(out, '(');
		imap_write_cstring(out, a->name);
		mail_buf_putc(out, ' ');
		imap_write_cstring(out, a->route);
		mail_buf_putc(out, ' ');
		imap_write_cstring(out, a->mailbox);
		mail_buf_putc(out, ' ');
		imap_write_cstring(out, a->host);
		mail_buf_putc(out, ')');
	}
	mail_buf_putc(out, ')');
	return true;
}

void mail_envelope_write(struct mail_buf *out, const unsigned char *hdr, size_t hdr_len)
{
	struct mime_header_field fields[ENV_COUNT];
	bool seen[ENV_COUNT] = {false};
	char *values[ENV_COUNT] = {NULL};
	size_t lens[ENV_COUNT] = {0};
	struct mime_header_field f;
	size_t pos = 0;
	while (mime_header_next(hdr, hdr_len, &pos, &f)) {
		for (unsigned i = 0; i < ENV_COUNT; i++) {
			if (!seen[i] && mail_lex_ascii_ieq(f.name, f.name_len, env_names[i])) {
				seen[i] = true;
				fields[i] = f;
				break;
			}
		}
	}
	for (unsigned i = 0; i < ENV_COUNT; i++) {
		if (!seen[i])
			continue;
		values[i] =
		    mime_header_unfold(fields[i].value, fields[i].value_len, out->pool, &lens[i]);
		if (values[i] == NULL) {
			out->failed = true;
			return;
		}
	}

	mail_buf_putc(out, '(');
	imap_write_string(out, values[ENV_DATE], lens[ENV_DATE]);
	mail_buf_putc(out, ' ');
	imap_write_string(out, values[ENV_SUBJECT], lens[ENV_SUBJECT]);
	mail_buf_putc(out, ' ');
	/* From is written once and copied for Sender and Reply-To when they are missing. */
	size_t from_at = out->len;
	if (!env_write_addresses(out, values[ENV_FROM], lens[ENV_FROM]))
		mail_buf_append(out, "NIL", 3);
	size_t from_len = out->len - from_at;
	for (unsigned i = ENV_SENDER; i <= ENV_BCC; i++) {
		mail_buf_putc(out, ' ');
		if (env_write_addresses(out, values[i], lens[i]))
			continue;
		if (i == ENV_SENDER || i == ENV_REPLY_TO) {
			if (mail_buf_reserve(out, from_len))
				mail_buf_append(out, out->data + from_at, from_len);
		} else {
			mail_buf_append(out, "NIL", 3);
		}
	}
	mail_buf_putc(out, ' ');
	imap_write_string(out, values[ENV_IN_REPLY_TO], lens[ENV_IN_REPLY_TO]);
	mail_buf_putc(out, ' ');
	imap_write_string(out, values[ENV_MESSAGE_ID], lens[ENV_MESSAGE_ID]);
	mail_buf_putc(out, ')');
}

char *mail_envelope(const unsigned char *msg, size_t hdr_len, struct sluice_pool *pool)
{
	struct mail_buf out;
	mail_buf_init(&out, pool, 256);
	mail_envelope_write(&out, msg, hdr_len);
	return mail_buf_finish(&out, NULL);
}
