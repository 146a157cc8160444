/*
 * STORE and UID STORE (RFC 3501 6.4.6, 6.4.8): FLAGS, +FLAGS and -FLAGS, each with an
 * optional .SILENT, given a parenthesised flag list or bare flags, keywords included.
 *
 * The flags are parsed (imap/flags.c refuses \Recent and anything that is not a flag)
 * before any message is touched. The changes then go through one mailbox update, that is
 * one index write transaction begun and committed inside this command with one new MODSEQ
 * for every message changed: for each message the storage renames the file (Maildir's
 * `:2,` letters), then the index record and the session's view take the new flags. A
 * message whose file has vanished is skipped silently; the next open of the mailbox
 * expunges it. Unless .SILENT, each message named is answered with its flags (and UID
 * for UID STORE), changed or not.
 */
#include "imap/commands.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/flags.h"
#include "mailbox/mailbox.h"
#include "util/log.h"

enum store_mode { STORE_REPLACE, STORE_ADD, STORE_REMOVE };

#define STORE_USAGE "sequence-set [+|-]FLAGS[.SILENT] (flag ...)"

static bool store_parse_mode(const struct imap_arg *a, enum store_mode *mode_r, bool *silent_r)
{
	if (a->type != IMAP_ARG_ATOM)
		return false;
	const char *p = a->str;
	*mode_r = STORE_REPLACE;
	if (*p == '+' || *p == '-')
		*mode_r = *p++ == '+' ? STORE_ADD : STORE_REMOVE;
	if (strncasecmp(p, "FLAGS", 5) != 0)
		return false;
	p += 5;
	*silent_r = strcasecmp(p, ".SILENT") == 0;
	return *p == '\0' || *silent_r;
}

/* Collects the flag tokens: one list, or one or more bare flags (RFC 3501 store-att-flags). */
static bool store_tokens(const struct imap_command *cmd, struct sluice_pool *pool,
                         const char ***tokens_r, size_t *count_r)
{
	const struct imap_arg *args = &cmd->args[2];
	size_t n = cmd->count - 2;
	if (n == 1 && args[0].type == IMAP_ARG_LIST) {
		n = args[0].count;
		args = args[0].list;
	}
	const char **tokens = pool_alloc(pool, (n ? n : 1) * sizeof(*tokens));
	if (tokens == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (args[i].type != IMAP_ARG_ATOM)
			return false;
		tokens[i] = args[i].str;
	}
	*tokens_r = tokens;
	*count_r = n;
	return true;
}

/* The keywords of @p m changed by @p set as @p mode says, joined as the ABI wants them. */
static int store_keywords(const struct mailbox_msg *m, const struct imap_flagset *set,
                          enum store_mode mode, struct sluice_pool *pool, const char **kw_r)
{
	if (mode == STORE_REPLACE)
		return imap_flagset_keywords_join(set, pool, kw_r);
	struct imap_flagset cur;
	if (imap_flagset_from_keywords(0, m->keywords, pool, &cur) < 0)
		return SLUICE_E_NOMEM;
	size_t n = cur.keyword_count + (mode == STORE_ADD ? set->keyword_count : 0);
	const char **all = pool_alloc(pool, (n ? n : 1) * sizeof(*all));
	if (all == NULL)
		return SLUICE_E_NOMEM;
	struct imap_flagset out = {.keywords = all};
	for (size_t i = 0; i < cur.keyword_count; i++)
		if (mode == STORE_ADD || !imap_flagset_has_keyword(set, cur.keywords[i]))
			all[out.keyword_count++] = cur.keywords[i];
	if (mode == STORE_ADD)
		for (size_t i = 0; i < set->keyword_count; i++)
			if (!imap_flagset_has_keyword(&cur, set->keywords[i]))
				all[out.keyword_count++] = set->keywords[i];
	return imap_flagset_keywords_join(&out, pool, kw_r);
}

static uint32_t store_flags(uint32_t cur, const struct imap_flagset *set, enum store_mode mode)
{
	uint32_t want = set->flags & IMAP_FLAGS_STORABLE;
	switch (mode) {
	case STORE_ADD:
		return cur | want;
	case STORE_REMOVE:
		return cur & ~want;
	case STORE_REPLACE:
		break;
	}
	return want;
}

/* Applies the change to every message named; 0 or a negative code with err filled. */
static int store_run(struct session *s, struct cmd_msgset *ms, const struct imap_flagset *set,
                     enum store_mode mode, bool silent, struct sluice_pool *pool,
                     struct sluice_error *err)
{
	struct mailbox *box = s->selected;
	struct mailbox_update upd;
	int r = mailbox_update_begin(box, &upd, err);
	if (r < 0)
		return r;
	uint32_t index;
	while (r >= 0 && cmd_msgset_next(ms, box, &index)) {
		struct mailbox_msg *m = &box->msgs[index];
		const char *kw;
		pool_clear(pool);
		uint32_t cur = m->flags & SLUICE_FLAGS_ALL;
		uint32_t flags = store_flags(cur, set, mode);
		r = store_keywords(m, set, mode, pool, &kw);
		if (r < 0) {
			sluice_error_set(err, r, "LIMIT",
			                 "The command needs more memory than a session may use.");
			break;
		}
		if (flags != cur || strcmp(kw, m->keywords ? m->keywords : "") != 0) {
			r = mailbox_update_flags(&upd, m, flags, kw, err);
			if (r == SLUICE_NOTFOUND) {
				r = 0; /* the file vanished: the next sync expunges it */
				continue;
			}
			if (r < 0)
				break;
		}
		if (!silent)
			cmd_send_flags(s, index, m, s->uid_command, pool);
	}
	/* Commit what was done even after a failure: the files are renamed already. */
	struct sluice_error cerr = SLUICE_ERROR_INIT;
	int c = mailbox_update_commit(&upd, &cerr);
	if (r >= 0 && c < 0) {
		*err = cerr;
		r = c;
	}
	return r < 0 ? r : 0;
}

void cmd_store(struct session *s, const struct imap_command *cmd)
{
	enum store_mode mode;
	bool silent = false;
	if (cmd->count < 3 || !store_parse_mode(&cmd->args[1], &mode, &silent)) {
		cmd_bad_arguments(s, cmd, STORE_USAGE);
		return;
	}
	struct sluice_pool *pool = pool_create(4096, 0);
	struct sluice_pool *msgpool = pool_create(4096, 0);
	if (pool == NULL || msgpool == NULL) {
		session_tagged(s, cmd->tag, "NO", "SERVERBUG", "The server is out of memory.");
		goto out;
	}
	struct cmd_msgset ms;
	if (!cmd_msgset_parse(s, cmd, &cmd->args[0], pool, &ms))
		goto out;
	const char **tokens;
	size_t n;
	if (!store_tokens(cmd, pool, &tokens, &n)) {
		cmd_bad_arguments(s, cmd, STORE_USAGE);
		goto out;
	}
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct imap_flagset set;
	if (imap_flags_parse(tokens, n, IMAP_FLAGS_FOR_STORE, pool, &set, &err) != 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s",
		               err.msg[0] ? err.msg : "Invalid flag list.");
		goto out;
	}
	if (s->selected->readonly) {
		session_tagged(
		    s, cmd->tag, "NO", NULL,
		    "The mailbox is open read-only (EXAMINE); SELECT it to change flags.");
		goto out;
	}
	if (store_run(s, &ms, &set, mode, silent, msgpool, &err) < 0) {
		log_warning("STORE on %s failed: %s", s->selected->name, err.msg);
		session_tagged(s, cmd->tag, "NO", err.resp_code ? err.resp_code : "SERVERBUG", "%s",
		               err.msg[0] ? err.msg : "The flags could not be stored.");
	} else {
		session_tagged(s, cmd->tag, "OK", NULL, "%sStore completed.",
		               s->uid_command ? "UID " : "");
	}
out:
	pool_destroy(&msgpool);
	pool_destroy(&pool);
}
