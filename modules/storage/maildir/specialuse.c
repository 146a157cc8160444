/*
 * The `sluice-special-use` file in the mail root: which folders a user (through
 * CREATE-SPECIAL-USE) or the server (for the default folders of a new account) marked as
 * \Sent, \Trash and the other special uses of RFC 6154. Neither Maildir++ nor Courier has a
 * place for them, and Dovecot keeps them in its configuration, so the module keeps its own
 * small file beside `subscriptions`; other programs ignore it, and a Maildir without it
 * simply has no special uses. One line per folder, the canonical name, a tab (names cannot
 * contain control characters) and the uses as words:
 *
 *   Sent	\Sent
 *   Archive/2024	\Archive
 *
 * Unknown words are skipped, so an administrator's typo costs that word only. Changes
 * re-read the file and replace it under the module's file mutex and the dotlock, as the
 * subscriptions file does; a rename carries the uses of a folder and its children along,
 * a delete forgets those of the folder itself.
 */
#include "maildir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void maildir_special_free(struct maildir_special *list, size_t count)
{
	if (list == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		free(list[i].name);
	free(list);
}

static uint32_t maildir_special_parse_words(char *words)
{
	uint32_t bits = 0;
	char *save = NULL;
	for (char *w = strtok_r(words, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save))
		for (uint32_t bit = SLUICE_MAILBOX_SPECIAL_ALL; bit & SLUICE_MAILBOX_SPECIAL_USE;
		     bit <<= 1)
			if (strcasecmp(w, sluice_special_use_word(bit)) == 0)
				bits |= bit;
	return bits;
}

struct maildir_special_reading {
	struct maildir_special *list;
	size_t count, cap;
};

static int maildir_special_line(void *ctx, char *line, size_t n)
{
	struct maildir_special_reading *r = ctx;
	char *tab = memchr(line, '\t', n);
	if (tab == NULL || tab == line)
		return 0;
	*tab = '\0';
	uint32_t bits = maildir_special_parse_words(tab + 1);
	if (bits == 0)
		return 0;
	if (r->count == r->cap) {
		struct maildir_special *bigger =
		    realloc(r->list, (r->cap == 0 ? 8 : r->cap * 2) * sizeof(*bigger));
		if (bigger == NULL)
			return 1; /* keep what was read */
		r->list = bigger;
		r->cap = r->cap == 0 ? 8 : r->cap * 2;
	}
	if ((r->list[r->count].name = strdup(line)) == NULL)
		return 1;
	r->list[r->count++].bits = bits;
	return 0;
}

int maildir_special_read(struct sluice_storage_user *user, struct maildir_special **list_r,
                         size_t *count_r, struct sluice_error *err)
{
	struct maildir_special_reading r = {0};
	int ret = maildir_file_lines(user, MAILDIR_SPECIAL_USE_FILE, maildir_special_line, &r, err);
	*list_r = r.list;
	*count_r = r.count;
	return ret > 0 ? 0 : ret;
}

static int maildir_special_write(struct sluice_storage_user *user,
                                 const struct maildir_special *list, size_t count,
                                 struct sluice_error *err)
{
	size_t len = 0, cap = 1;
	char *text;
	int ret;

	for (size_t i = 0; i < count; i++)
		if (list[i].name != NULL && list[i].bits != 0)
			cap += strlen(list[i].name) + 80;
	text = malloc(cap);
	if (text == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	for (size_t i = 0; i < count; i++) {
		if (list[i].name == NULL || list[i].bits == 0)
			continue;
		len += (size_t)snprintf(text + len, cap - len, "%s\t", list[i].name);
		const char *sep = "";
		for (uint32_t bit = SLUICE_MAILBOX_SPECIAL_ALL; bit & SLUICE_MAILBOX_SPECIAL_USE;
		     bit <<= 1) {
			if (list[i].bits & bit) {
				len += (size_t)snprintf(text + len, cap - len, "%s%s", sep,
				                        sluice_special_use_word(bit));
				sep = " ";
			}
		}
		text[len++] = '\n';
	}
	ret = maildir_file_replace(user, user->rootfd, user->root, MAILDIR_SPECIAL_USE_FILE, text,
	                           len, err);
	free(text);
	return ret;
}

/* Read-modify-write of the file under the file mutex; @p change edits the list in place. */
static int maildir_special_update(struct sluice_storage_user *user,
                                  bool (*change)(struct maildir_special **list, size_t *count,
                                                 const void *arg),
                                  const void *arg, struct sluice_error *err)
{
	struct maildir_special *list = NULL;
	size_t count = 0;
	int ret;

	pthread_mutex_lock(&user->ctx->file_lock);
	ret = maildir_special_read(user, &list, &count, err);
	if (ret == 0 && change(&list, &count, arg))
		ret = maildir_special_write(user, list, count, err);
	pthread_mutex_unlock(&user->ctx->file_lock);
	maildir_special_free(list, count);
	return ret;
}

struct maildir_special_set {
	const char *name;
	uint32_t bits;
	bool nomem;
};

static bool maildir_special_change_set(struct maildir_special **list, size_t *count,
                                       const void *arg)
{
	struct maildir_special_set *set = (struct maildir_special_set *)arg;
	bool changed = false, found = false;
	for (size_t i = 0; i < *count; i++) {
		if ((*list)[i].name == NULL || strcmp((*list)[i].name, set->name) != 0)
			continue;
		/* The first line for the name takes the new uses; a repeat written by hand goes. */
		uint32_t want = found ? 0 : set->bits;
		changed |= (*list)[i].bits != want;
		(*list)[i].bits = want;
		found = true;
	}
	if (found || set->bits == 0)
		return changed;
	struct maildir_special *bigger = realloc(*list, (*count + 1) * sizeof(**list));
	char *name = strdup(set->name);
	if (bigger == NULL || name == NULL) {
		if (bigger != NULL)
			*list = bigger;
		free(name);
		set->nomem = true;
		return false;
	}
	*list = bigger;
	(*list)[*count].name = name;
	(*list)[(*count)++].bits = set->bits;
	return true;
}

int maildir_mailbox_set_special_use(struct sluice_storage_user *user, const char *name,
                                    uint32_t special_use, struct sluice_error *err)
{
	struct maildir_special_set set = {.name = name, .bits = special_use & SLUICE_MAILBOX_SPECIAL_USE};
	char *dir;
	int ret = maildir_folder_dir(name, &dir, err);
	if (ret != 0)
		return ret == SLUICE_E_PARSE
		           ? sluice_error_set(err, SLUICE_NOTFOUND, "NONEXISTENT",
		                              "The mailbox does not exist.")
		           : ret;
	bool exists = maildir_is_maildir(user->rootfd, dir);
	free(dir);
	if (!exists)
		return sluice_error_set(err, SLUICE_NOTFOUND, "NONEXISTENT",
		                        "The mailbox does not exist.");
	/* INBOX is always spelled so in the file, whatever the caller's case. */
	if (strcasecmp(name, "INBOX") == 0)
		set.name = "INBOX";
	ret = maildir_special_update(user, maildir_special_change_set, &set, err);
	if (ret == 0 && set.nomem)
		ret = sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	return ret;
}

struct maildir_special_move {
	const char *from, *to;
	size_t from_len;
	bool nomem;
};

static bool maildir_special_change_rename(struct maildir_special **list, size_t *count,
                                          const void *arg)
{
	struct maildir_special_move *mv = (struct maildir_special_move *)arg;
	bool changed = false;
	for (size_t i = 0; i < *count; i++) {
		char *old = (*list)[i].name, *renamed;
		if (old == NULL || strncmp(old, mv->from, mv->from_len) != 0 ||
		    (old[mv->from_len] != '\0' && old[mv->from_len] != '/'))
			continue;
		if (asprintf(&renamed, "%s%s", mv->to, old + mv->from_len) < 0) {
			mv->nomem = true;
			return false;
		}
		free(old);
		(*list)[i].name = renamed;
		changed = true;
	}
	return changed;
}

int maildir_special_rename(struct sluice_storage_user *user, const char *from, const char *to,
                           struct sluice_error *err)
{
	struct maildir_special_move mv = {.from = from, .to = to, .from_len = strlen(from)};
	int ret = maildir_special_update(user, maildir_special_change_rename, &mv, err);
	if (ret == 0 && mv.nomem)
		ret = sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	return ret;
}

int maildir_special_forget(struct sluice_storage_user *user, const char *name,
                           struct sluice_error *err)
{
	struct maildir_special_set set = {.name = name, .bits = 0};
	return maildir_special_update(user, maildir_special_change_set, &set, err);
}
