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
 *
 * CONDSTORE (RFC 7162 3.1.3) adds the modifier (UNCHANGEDSINCE n): a message whose MODSEQ
 * in the index is above n (someone changed it since the client looked) is left alone and
 * named in the tagged OK's [MODIFIED set]. The test reads the index inside the same write
 * transaction that makes the change, so two sessions racing on one message cannot both
 * pass. Once CONDSTORE is on, each answer carries MODSEQ, and .SILENT still answers
 * `* n FETCH (MODSEQ (m))` for the messages it changed, since only then does the client
 * learn their new MODSEQ.
 */
#include "imap/commands.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/flags.h"
#include "imap/modseq.h"
#include "mailbox/mailbox.h"
#include "util/log.h"

enum store_mode { STORE_REPLACE, STORE_ADD, STORE_REMOVE };

#define STORE_USAGE "sequence-set [(UNCHANGEDSINCE modseq)] [+|-]FLAGS[.SILENT] (flag ...)"

/* One STORE's parameters. */
struct store_req {
	enum store_mode mode;
	bool silent;
	bool conditional; /* UNCHANGEDSINCE given */
	uint64_t unchangedsince;
	const struct imap_flagset *set;
	uint32_t *modified; /* sequence numbers or UIDs that failed UNCHANGEDSINCE */
	uint32_t n_modified;
};

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

/* Collects the flag tokens from args[@p first] on: one list, or one or more bare flags
 * (RFC 3501 store-att-flags). */
static bool store_tokens(const struct imap_command *cmd, size_t first, struct sluice_pool *pool,
                         const char ***tokens_r, size_t *count_r)
{
	const struct imap_arg *args = &cmd->args[first];
	size_t n = cmd->count - first;
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

/*
 * The UNCHANGEDSINCE test for @p m: 1 when it passes, 0 when the message goes into the
 * MODIFIED set (or another session expunged it: nothing to store), or a negative code.
 */
static int store_unchanged(struct session *s, struct mailbox_update *upd, struct store_req *req,
                           uint32_t index, struct sluice_error *err)
{
	const struct mailbox_msg *m = &s->selected->msgs[index];
	uint64_t modseq;
	int r = mailbox_update_modseq(upd, m, &modseq, err);
	if (r != 0)
		return r > 0 ? 0 : r;
	if (modseq <= req->unchangedsince)
		return 1;
	req->modified[req->n_modified++] = s->uid_command ? m->uid : index + 1;
	return 0;
}

/* Applies the change to every message named; 0 or a negative code with err filled. */
static int store_run(struct session *s, struct cmd_msgset *ms, struct store_req *req,
                     struct sluice_pool *pool, struct sluice_error *err)
{
	struct mailbox *box = s->selected;
	struct mailbox_update upd;
	int r = mailbox_update_begin(box, &upd, err);
	if (r < 0)
		return r;
	bool condstore = (s->enabled & SESSION_ENABLED_CONDSTORE) != 0;
	bool uid = s->uid_command || (s->enabled & SESSION_ENABLED_QRESYNC);
	uint32_t index;
	while (r >= 0 && cmd_msgset_next(ms, box, &index)) {
		struct mailbox_msg *m = &box->msgs[index];
		const char *kw;
		pool_clear(pool);
		if (req->conditional && (r = store_unchanged(s, &upd, req, index, err)) <= 0)
			continue;
		uint32_t cur = m->flags & SLUICE_FLAGS_ALL;
		uint32_t flags = store_flags(cur, req->set, req->mode);
		r = store_keywords(m, req->set, req->mode, pool, &kw);
		if (r < 0) {
			sluice_error_set(err, r, "LIMIT",
			                 "The command needs more memory than a session may use.");
			break;
		}
		uint64_t before = m->modseq;
		if (flags != cur || strcmp(kw, m->keywords ? m->keywords : "") != 0) {
			r = mailbox_update_flags(&upd, m, flags, kw, err);
			if (r == SLUICE_NOTFOUND) {
				r = 0; /* the file vanished: the next sync expunges it */
				continue;
			}
			if (r < 0)
				break;
		}
		if (!req->silent) {
			cmd_send_flags(s, index, m, s->uid_command, pool);
		} else if (condstore && m->modseq != before) {
			session_printf(s, "* %u FETCH (", index + 1);
			if (uid)
				session_printf(s, "UID %u ", m->uid);
			session_printf(s, "MODSEQ (%llu))\r\n", (unsigned long long)m->modseq);
		}
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

/* The modifier list (UNCHANGEDSINCE n) of RFC 7162; false when it does not fit. */
static bool store_parse_modifiers(const struct imap_arg *list, struct store_req *req)
{
	if (list->count != 2 || !imap_arg_is_atom(&list->list[0], "UNCHANGEDSINCE") ||
	    !imap_modseq_parse(&list->list[1], true, &req->unchangedsince))
		return false;
	req->conditional = true;
	return true;
}

void cmd_store(struct session *s, const struct imap_command *cmd)
{
	struct store_req req = {0};
	size_t at = 1; /* where [+|-]FLAGS is */
	if (cmd->count >= 2 && cmd->args[1].type == IMAP_ARG_LIST) {
		if (!store_parse_modifiers(&cmd->args[1], &req)) {
			session_tagged(s, cmd->tag, "BAD", NULL,
			               "The only STORE modifier is (UNCHANGEDSINCE modseq), with a "
			               "MODSEQ from 0 to 9223372036854775807.");
			return;
		}
		at = 2;
	}
	if (cmd->count < at + 2 || !store_parse_mode(&cmd->args[at], &req.mode, &req.silent)) {
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
	if (!store_tokens(cmd, at + 1, pool, &tokens, &n)) {
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
	req.set = &set;
	if (req.conditional) {
		s->enabled |= SESSION_ENABLED_CONDSTORE; /* RFC 7162 3.1: an enabling command */
		req.modified =
		    malloc((s->selected->count ? s->selected->count : 1) * sizeof(*req.modified));
		if (req.modified == NULL) {
			session_tagged(s, cmd->tag, "NO", "LIMIT", "Out of memory.");
			goto out;
		}
	}
	if (store_run(s, &ms, &req, msgpool, &err) < 0) {
		log_warning("STORE on %s failed: %s", s->selected->name, err.msg);
		session_tagged(s, cmd->tag, "NO", err.resp_code ? err.resp_code : "SERVERBUG", "%s",
		               err.msg[0] ? err.msg : "The flags could not be stored.");
	} else if (req.n_modified > 0) {
		struct buf code = {0};
		if (buf_printf(&code, "MODIFIED ") < 0 ||
		    seqset_write(&code, req.modified, req.n_modified) < 0 ||
		    buf_append(&code, "", 1) < 0)
			session_tagged(s, cmd->tag, "NO", "LIMIT", "Out of memory.");
		else
			session_tagged(s, cmd->tag, "OK", (const char *)buf_head(&code),
			               "Conditional STORE failed for some messages.");
		buf_free(&code);
	} else {
		session_tagged(s, cmd->tag, "OK", NULL, "%sStore completed.",
		               s->uid_command ? "UID " : "");
	}
out:
	free(req.modified);
	pool_destroy(&msgpool);
	pool_destroy(&pool);
}
