/*
 * The `subscriptions` file in the mail root: one canonical mailbox name per line, UTF-8,
 * the way Dovecot keeps it for Maildir. Dovecot 2.3 may have written its newer form, a
 * "V\t2" line, an empty line and names whose levels are separated by tabs; it is read as
 * well, and the next change writes the plain form. Changes re-read the file and replace it
 * atomically under the module's file mutex and Dovecot's dotlock, so two sessions
 * subscribing at once both get their way.
 */
#include "maildir.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void maildir_subs_free(char **names, size_t count)
{
	if (names == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

/* The spelling to compare and store: INBOX always in capitals. */
static char *maildir_subs_canonical(const char *s, size_t n)
{
	char *name = strndup(s, n);
	if (name != NULL && strncasecmp(name, "INBOX", 5) == 0 && (n == 5 || name[5] == '/'))
		memcpy(name, "INBOX", 5);
	return name;
}

struct maildir_subs_reading {
	char **names;
	size_t count, cap;
	bool v2, first;
};

static int maildir_subs_line(void *ctx, char *line, size_t n)
{
	struct maildir_subs_reading *r = ctx;
	bool first = r->first;
	r->first = false;
	if (first && strcmp(line, "V\t2") == 0) {
		r->v2 = true;
		return 0;
	}
	if (n == 0)
		return 0;
	if (r->v2)
		for (size_t i = 0; i < n; i++)
			if (line[i] == '\t')
				line[i] = '/';
	if (r->count == r->cap) {
		char **bigger = realloc(r->names, (r->cap == 0 ? 16 : r->cap * 2) * sizeof(char *));
		if (bigger == NULL)
			return 1; /* keep what was read: a partial list beats none */
		r->names = bigger;
		r->cap = r->cap == 0 ? 16 : r->cap * 2;
	}
	if ((r->names[r->count] = maildir_subs_canonical(line, n)) == NULL)
		return 1;
	r->count++;
	return 0;
}

int maildir_subs_read(struct sluice_storage_user *user, char ***names_r, size_t *count_r,
                      struct sluice_error *err)
{
	struct maildir_subs_reading r = {.first = true};
	int ret = maildir_file_lines(user, MAILDIR_SUBSCRIPTIONS_FILE, maildir_subs_line, &r, err);
	*names_r = r.names;
	*count_r = r.count;
	return ret > 0 ? 0 : ret;
}

static int maildir_subs_write(struct sluice_storage_user *user, char **names, size_t count,
                              struct sluice_error *err)
{
	size_t len = 0, cap = 1;
	char *text;
	int ret;

	for (size_t i = 0; i < count; i++)
		if (names[i] != NULL)
			cap += strlen(names[i]) + 1;
	text = malloc(cap);
	if (text == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	for (size_t i = 0; i < count; i++) {
		if (names[i] == NULL)
			continue;
		size_t n = strlen(names[i]);
		memcpy(text + len, names[i], n);
		len += n;
		text[len++] = '\n';
	}
	ret = maildir_file_replace(user, user->rootfd, user->root, MAILDIR_SUBSCRIPTIONS_FILE, text,
	                           len, err);
	free(text);
	return ret;
}

int maildir_mailbox_subscribe(struct sluice_storage_user *user, const char *name, bool subscribe,
                              struct sluice_error *err)
{
	char **names = NULL, *canon;
	size_t count = 0, at;
	bool changed = false;
	int ret;

	if (name[0] == '\0' || strpbrk(name, "\r\n") != NULL)
		return sluice_error_set(err, SLUICE_E_PARSE, "CANNOT",
		                        "This mailbox name cannot be subscribed.");
	canon = maildir_subs_canonical(name, strlen(name));
	if (canon == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	pthread_mutex_lock(&user->ctx->file_lock);
	ret = maildir_subs_read(user, &names, &count, err);
	for (at = 0; ret == 0 && at < count; at++)
		if (strcmp(names[at], canon) == 0)
			break;
	if (ret == 0 && subscribe && at == count) {
		char **bigger = realloc(names, (count + 1) * sizeof(char *));
		if (bigger == NULL) {
			ret = sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
		} else {
			names = bigger;
			names[count++] = canon;
			canon = NULL;
			changed = true;
		}
	} else if (ret == 0 && !subscribe && at < count) {
		/* Every copy goes, in case another program wrote the name twice. */
		for (size_t i = at; i < count; i++) {
			if (names[i] != NULL && strcmp(names[i], canon) == 0) {
				free(names[i]);
				names[i] = NULL;
			}
		}
		changed = true;
	}
	if (ret == 0 && changed)
		ret = maildir_subs_write(user, names, count, err);
	pthread_mutex_unlock(&user->ctx->file_lock);
	maildir_subs_free(names, count);
	free(canon);
	return ret;
}

int maildir_subs_rename(struct sluice_storage_user *user, const char *from, const char *to,
                        struct sluice_error *err)
{
	size_t count = 0, flen = strlen(from);
	char **names = NULL;
	bool changed = false;
	int ret;

	pthread_mutex_lock(&user->ctx->file_lock);
	ret = maildir_subs_read(user, &names, &count, err);
	for (size_t i = 0; ret == 0 && i < count; i++) {
		char *renamed;
		if (strncmp(names[i], from, flen) != 0 ||
		    (names[i][flen] != '\0' && names[i][flen] != '/'))
			continue;
		renamed = malloc(strlen(to) + strlen(names[i] + flen) + 1);
		if (renamed == NULL) {
			ret = sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
			break;
		}
		strcpy(renamed, to);
		strcat(renamed, names[i] + flen);
		free(names[i]);
		names[i] = renamed;
		changed = true;
	}
	if (ret == 0 && changed)
		ret = maildir_subs_write(user, names, count, err);
	pthread_mutex_unlock(&user->ctx->file_lock);
	maildir_subs_free(names, count);
	return ret;
}
