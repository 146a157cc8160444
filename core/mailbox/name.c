/* Mailbox name conversion, validation and LIST patterns (see name.h). */
#include "mailbox/name.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/mutf7.h"

static int name_refuse(struct sluice_error *err, const char *why)
{
	return sluice_error_set(err, SLUICE_E_PARSE, "CANNOT", "%s", why);
}

int mailbox_name_from_imap(const char *imap, char delimiter, struct buf *out, struct sluice_error *err)
{
	struct buf utf8 = {0};
	size_t len = strlen(imap);

	buf_free(out);
	if (len == 0)
		return name_refuse(err, "The mailbox name is empty.");
	if (len > MAILBOX_NAME_MAX)
		return name_refuse(err, "The mailbox name is too long.");
	if (mutf7_to_utf8(imap, &utf8) != 0 || buf_append(&utf8, "", 1) < 0) {
		buf_free(&utf8);
		return name_refuse(err, "The mailbox name is not valid modified UTF-7 (RFC 3501 5.1.3).");
	}
	const char *u = (const char *)buf_head(&utf8);
	if (delimiter != '/' && strchr(u, '/') != NULL) {
		buf_free(&utf8);
		return name_refuse(err, "Mailbox names cannot contain '/'.");
	}
	const char *level = u;
	int rc = 0;
	for (;;) {
		const char *end = strchr(level, delimiter);
		size_t n = end != NULL ? (size_t)(end - level) : strlen(level);
		if (n == 0) {
			rc = name_refuse(err, "Mailbox names cannot have an empty level.");
			break;
		}
		if ((n == 1 && level[0] == '.') || (n == 2 && level[0] == '.' && level[1] == '.')) {
			rc = name_refuse(err, "Mailbox names cannot contain a level named '.' or '..'.");
			break;
		}
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)level[i];
			if (c < 0x20 || c == 0x7f) {
				rc = name_refuse(err, "Mailbox names cannot contain control characters.");
				break;
			}
		}
		if (rc != 0)
			break;
		if (level != u)
			buf_append(out, "/", 1);
		if (level == u && n == 5 && strncasecmp(level, "INBOX", 5) == 0)
			buf_append(out, "INBOX", 5);
		else
			buf_append(out, level, n);
		if (end == NULL)
			break;
		level = end + 1;
	}
	buf_free(&utf8);
	if (rc == 0 && buf_append(out, "", 1) < 0)
		rc = sluice_error_set(err, SLUICE_E_NOMEM, "SERVERBUG", "Out of memory.");
	if (rc != 0)
		buf_free(out);
	return rc;
}

int mailbox_name_to_imap(const char *canonical, char delimiter, struct buf *out)
{
	char *copy = strdup(canonical);
	if (copy == NULL)
		return SLUICE_E_NOMEM;
	for (char *p = copy; *p != '\0'; p++)
		if (*p == '/')
			*p = delimiter;
	buf_free(out);
	int rc = utf8_to_mutf7(copy, out);
	free(copy);
	if (rc == 0 && buf_append(out, "", 1) < 0)
		rc = SLUICE_E_NOMEM;
	return rc;
}

/* Dynamic programming over (pattern, name) positions: linear memory, no backtracking
 * blow-up whatever the number of wildcards. */
bool mailbox_pattern_match(const char *pattern, const char *name, char delimiter)
{
	char nbuf[MAILBOX_NAME_MAX + 8], pbuf[MAILBOX_NAME_MAX + 8];
	size_t nl = strlen(name), pl = strlen(pattern);
	if (nl > MAILBOX_NAME_MAX || pl > MAILBOX_NAME_MAX)
		return false;
	memcpy(nbuf, name, nl + 1);
	memcpy(pbuf, pattern, pl + 1);
	/* INBOX is case-insensitive: compare it in capitals on both sides. */
	if (strncasecmp(nbuf, "INBOX", 5) == 0 && (nbuf[5] == '\0' || nbuf[5] == delimiter))
		memcpy(nbuf, "INBOX", 5);
	if (strncasecmp(pbuf, "INBOX", 5) == 0 && (pbuf[5] == '\0' || pbuf[5] == delimiter))
		memcpy(pbuf, "INBOX", 5);

	bool *prev = calloc(nl + 1, sizeof(bool)), *cur = calloc(nl + 1, sizeof(bool));
	bool result = false;
	if (prev == NULL || cur == NULL)
		goto done;
	prev[0] = true;
	for (size_t i = 1; i <= pl; i++) {
		char pc = pbuf[i - 1];
		cur[0] = prev[0] && (pc == '*' || pc == '%');
		for (size_t j = 1; j <= nl; j++) {
			char nc = nbuf[j - 1];
			if (pc == '*')
				cur[j] = prev[j] || cur[j - 1];
			else if (pc == '%')
				cur[j] = prev[j] || (cur[j - 1] && nc != delimiter);
			else
				cur[j] = prev[j - 1] && pc == nc;
		}
		bool *t = prev;
		prev = cur;
		cur = t;
	}
	result = prev[nl];
done:
	free(prev);
	free(cur);
	return result;
}

void mailbox_name_write(struct buf *out, const char *name)
{
	/* "NIL" as an atom would read as no name at all. */
	bool atom = name[0] != '\0' && strcasecmp(name, "NIL") != 0;
	for (const char *p = name; *p != '\0' && atom; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			atom = false;
	}
	if (atom) {
		buf_printf(out, "%s", name);
		return;
	}
	buf_append(out, "\"", 1);
	for (const char *p = name; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_append(out, "\\", 1);
		buf_append(out, p, 1);
	}
	buf_append(out, "\"", 1);
}
