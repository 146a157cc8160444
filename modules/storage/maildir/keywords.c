/*
 * Keywords of one folder. Maildir has room for them only as lowercase info letters, so a
 * small per-folder file says which letter means which name. The file is Dovecot's
 * `dovecot-keywords` (lines `<index> <name>`, letter 'a' is index 0), so folders migrated
 * from Dovecot keep their keywords and Dovecot can read ours. It stays tiny (26 names at
 * most) and is rewritten only when a keyword is used for the first time in the folder:
 * setting or copying known keywords never touches it, which is what keeps COPY fast (the
 * Courier story in the seed had a keyword file rewritten per message).
 *
 * The file is read again whenever its inode, size or mtime changed. Rewrites happen under
 * the module's file mutex and Dovecot's dotlock, re-reading the file first, so two writers
 * never give one letter two meanings. $Forwarded is the system letter P, never a keyword
 * letter.
 */
#include "maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAILDIR_FORWARDED "$Forwarded"

void maildir_keywords_free(struct maildir_keywords *kw)
{
	for (unsigned i = 0; i < MAILDIR_KEYWORDS_MAX; i++) {
		free(kw->names[i]);
		kw->names[i] = NULL;
	}
	kw->loaded = kw->exists = false;
}

uint32_t maildir_keywords_known(const struct maildir_keywords *kw)
{
	uint32_t mask = 0;
	for (unsigned i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		if (kw->names[i] != NULL)
			mask |= 1u << i;
	return mask;
}

/* Parses the file's text; malformed lines and indexes past 'z' are ignored. */
static void maildir_keywords_parse(struct maildir_keywords *kw, char *data)
{
	char *save = NULL;
	for (char *line = strtok_r(data, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *end, *name;
		unsigned long idx = strtoul(line, &end, 10);
		size_t len;
		if (end == line || *end != ' ' || idx >= MAILDIR_KEYWORDS_MAX ||
		    kw->names[idx] != NULL)
			continue;
		name = end + 1;
		len = strcspn(name, "\r \t");
		if (len == 0)
			continue;
		kw->names[idx] = strndup(name, len);
	}
}

static bool maildir_keywords_same_file(const struct maildir_keywords *kw, const struct stat *st)
{
	return kw->exists && kw->ino == st->st_ino && kw->size == st->st_size &&
	       kw->mtime.tv_sec == st->st_mtim.tv_sec && kw->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Reads the file unconditionally. */
static int maildir_keywords_load(struct sluice_storage_box *box, struct sluice_error *err)
{
	struct maildir_keywords *kw = &box->kw;
	struct stat st;
	char *data;
	size_t len;
	int ret;

	maildir_keywords_free(kw);
	ret = maildir_file_read(box->user, box->dirfd, box->dir, MAILDIR_KEYWORDS_FILE, &data, &len,
	                        err);
	if (ret < 0)
		return ret;
	kw->loaded = true;
	if (ret == SLUICE_NOTFOUND)
		return 0;
	/* The stat after the read: a change in between makes the next refresh read again. */
	if (fstatat(box->dirfd, MAILDIR_KEYWORDS_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		kw->exists = true;
		kw->ino = st.st_ino;
		kw->size = st.st_size;
		kw->mtime = st.st_mtim;
	}
	maildir_keywords_parse(kw, data);
	free(data);
	return 0;
}

int maildir_keywords_refresh(struct sluice_storage_box *box, struct sluice_error *err)
{
	struct stat st;

	if (fstatat(box->dirfd, MAILDIR_KEYWORDS_FILE, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno != ENOENT)
			return maildir_syserr(box->user, err, SLUICE_E_IO, errno,
			                      MAILDIR_MSG_INTERNAL, "stat of %s/%s/%s",
			                      box->user->root, box->dir, MAILDIR_KEYWORDS_FILE);
		if (box->kw.loaded && !box->kw.exists)
			return 0;
		maildir_keywords_free(&box->kw);
		box->kw.loaded = true;
		return 0;
	}
	if (box->kw.loaded && maildir_keywords_same_file(&box->kw, &st))
		return 0;
	return maildir_keywords_load(box, err);
}

static bool maildir_is_forwarded(const char *name, size_t len)
{
	return len == sizeof(MAILDIR_FORWARDED) - 1 &&
	       strncasecmp(name, MAILDIR_FORWARDED, len) == 0;
}

static int maildir_keyword_index(const struct maildir_keywords *kw, const char *name, size_t len)
{
	for (int i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		if (kw->names[i] != NULL && strlen(kw->names[i]) == len &&
		    strncasecmp(kw->names[i], name, len) == 0)
			return i;
	return -1;
}

/* Steps through a space-separated list: *p at the next atom, *len_r its length. */
static bool maildir_next_atom(const char **p, size_t *len_r)
{
	while (**p == ' ')
		(*p)++;
	if (**p == '\0')
		return false;
	*len_r = strcspn(*p, " ");
	return true;
}

static int maildir_keywords_write(struct sluice_storage_box *box, struct sluice_error *err)
{
	struct maildir_keywords *kw = &box->kw;
	size_t cap = 64, len = 0;
	struct stat st;
	char *text;
	int ret;

	for (unsigned i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		if (kw->names[i] != NULL)
			cap += strlen(kw->names[i]) + 8;
	text = malloc(cap);
	if (text == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	for (unsigned i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		if (kw->names[i] != NULL)
			len += (size_t)snprintf(text + len, cap - len, "%u %s\n", i, kw->names[i]);
	ret = maildir_file_replace(box->user, box->dirfd, box->dir, MAILDIR_KEYWORDS_FILE, text,
	                           len, err);
	free(text);
	if (ret == 0 && fstatat(box->dirfd, MAILDIR_KEYWORDS_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		kw->exists = true;
		kw->ino = st.st_ino;
		kw->size = st.st_size;
		kw->mtime = st.st_mtim;
	}
	return ret;
}

/* Gives every new name of @p keywords a letter and writes the file, under both locks. */
static int maildir_keywords_add(struct sluice_storage_box *box, const char *keywords,
                                struct sluice_error *err)
{
	struct maildir_ctx *ctx = box->user->ctx;
	struct maildir_keywords *kw = &box->kw;
	const char *p = keywords;
	bool changed = false;
	size_t len;
	int ret;

	pthread_mutex_lock(&ctx->file_lock);
	ret = maildir_keywords_load(box, err);
	for (; ret == 0 && maildir_next_atom(&p, &len); p += len) {
		int idx;
		if (maildir_is_forwarded(p, len) || maildir_keyword_index(kw, p, len) >= 0)
			continue;
		for (idx = 0; idx < MAILDIR_KEYWORDS_MAX && kw->names[idx] != NULL; idx++)
			;
		if (idx == MAILDIR_KEYWORDS_MAX) {
			ctx->host->log(ctx->host, SLUICE_LOG_INFO,
			               "maildir of %s: %s/%s already has %d keywords",
			               box->user->name, box->user->root, box->dir,
			               MAILDIR_KEYWORDS_MAX);
			ret = sluice_error_set(err, SLUICE_E_LIMIT, "LIMIT",
			                       "This mailbox cannot hold more than %d different "
			                       "keywords.",
			                       MAILDIR_KEYWORDS_MAX);
			break;
		}
		kw->names[idx] = strndup(p, len);
		if (kw->names[idx] == NULL) {
			ret = sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
			break;
		}
		changed = true;
	}
	if (ret == 0 && changed)
		ret = maildir_keywords_write(box, err);
	/* Names that did not reach the file must not be used: read it again next time. */
	if (ret != 0)
		maildir_keywords_free(kw);
	pthread_mutex_unlock(&ctx->file_lock);
	return ret;
}

int maildir_keywords_mask(struct sluice_storage_box *box, const char *keywords, uint32_t *mask_r,
                          bool *passed_r, struct sluice_error *err)
{
	const char *p;
	bool missing = false;
	size_t len;
	int ret;

	*mask_r = 0;
	*passed_r = false;
	if (keywords == NULL || keywords[0] == '\0')
		return 0;
	for (p = keywords; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return sluice_error_set(err, SLUICE_E_PARSE, "CANNOT",
			                        "A keyword contains a control character.");
	ret = maildir_keywords_refresh(box, err);
	if (ret != 0)
		return ret;
	for (p = keywords; maildir_next_atom(&p, &len); p += len)
		if (!maildir_is_forwarded(p, len) && maildir_keyword_index(&box->kw, p, len) < 0)
			missing = true;
	if (missing) {
		ret = maildir_keywords_add(box, keywords, err);
		if (ret != 0)
			return ret;
	}
	for (p = keywords; maildir_next_atom(&p, &len); p += len) {
		int idx;
		if (maildir_is_forwarded(p, len)) {
			*passed_r = true;
			continue;
		}
		idx = maildir_keyword_index(&box->kw, p, len);
		if (idx < 0)
			return sluice_error_set(err, SLUICE_E_INTERNAL, "SERVERBUG",
			                        MAILDIR_MSG_INTERNAL);
		*mask_r |= 1u << idx;
	}
	return 0;
}

const char *maildir_keywords_text(struct sluice_storage_box *box, const char *letters, bool passed)
{
	const struct maildir_keywords *kw = &box->kw;
	uint32_t seen = 0;
	size_t need = sizeof(MAILDIR_FORWARDED) + 1, len = 0;

	for (const char *p = letters; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z' && kw->names[*p - 'a'] != NULL)
			need += strlen(kw->names[*p - 'a']) + 1;
	if (need > box->scratch_cap) {
		size_t cap = need < 256 ? 256 : need;
		char *s = realloc(box->scratch, cap);
		if (s == NULL)
			return NULL;
		box->scratch = s;
		box->scratch_cap = cap;
	}
	box->scratch[0] = '\0';
	if (passed)
		len += (size_t)snprintf(box->scratch, box->scratch_cap, "%s", MAILDIR_FORWARDED);
	for (const char *p = letters; *p != '\0'; p++) {
		const char *name;
		unsigned idx;
		if (*p < 'a' || *p > 'z')
			continue;
		idx = (unsigned)(*p - 'a');
		name = kw->names[idx];
		if (name == NULL || (seen & (1u << idx)) ||
		    (passed && maildir_is_forwarded(name, strlen(name))))
			continue;
		seen |= 1u << idx;
		len += (size_t)snprintf(box->scratch + len, box->scratch_cap - len, "%s%s",
		                        len > 0 ? " " : "", name);
	}
	return box->scratch;
}
