/*
 * FETCH and UID FETCH (RFC 3501 6.4.5, 6.4.8, 7.4.2).
 *
 * The whole item list is parsed before anything is answered, so an unknown item is a
 * BAD with nothing sent. Then each message is answered in turn: its index record is read
 * when an item needs it (INTERNALDATE, RFC822.SIZE, ENVELOPE, BODY, BODYSTRUCTURE), the
 * file is opened only when a body section is asked for or the record lacks a cached
 * field, and the file is unmapped before the next message. Cached fields computed here
 * are written back to the index in batches of FETCH_CACHE_BATCH messages, each batch one
 * short write transaction inside this command, so `FETCH 1:* (FLAGS UID RFC822.SIZE
 * ENVELOPE)` on a warm mailbox reads no message file; the debug log says how many files
 * a FETCH opened.
 *
 * Message data is sent as literals of the CRLF form (mailbox/message.h). A NUL byte
 * inside the data is sent as it is, as Dovecot does: replacing it would change sizes and
 * signatures, and clients that care read literals as bytes. ENVELOPE and BODYSTRUCTURE
 * strings never carry NUL (mail/imap-string.h turns it into 0x80).
 *
 * A non-PEEK BODY[...], RFC822 and RFC822.TEXT set \Seen (unless the mailbox is read-only)
 * through the mailbox layer, which renames the file and gives the index record a new
 * MODSEQ; that message's response then carries FLAGS (RFC 3501 7.4.2).
 *
 * CONDSTORE and QRESYNC (RFC 7162) add the MODSEQ item and the modifiers
 * `(CHANGEDSINCE n [VANISHED])`. CHANGEDSINCE does not walk the set: the index lists the
 * messages whose MODSEQ is above n (mailbox/changes.c), and only those in the set are
 * answered, so `UID FETCH 1:* (FLAGS) (CHANGEDSINCE n)` costs what changed. VANISHED
 * (UID FETCH with QRESYNC on) first reports the UIDs of the set expunged since n as
 * `* VANISHED (EARLIER)`. Once CONDSTORE is on, every answer that carries FLAGS carries
 * MODSEQ too, so the client's record of both stays in step.
 */
#include "imap/commands.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/datetime.h"
#include "imap/flags.h"
#include "imap/modseq.h"
#include "imap/seqset.h"
#include "mail/section.h"
#include "mailbox/mailbox.h"
#include "mailbox/message.h"
#include "util/log.h"

#define FETCH_CACHE_BATCH 256
#define FETCH_ITEMS_MAX 64

enum fetch_kind {
	FI_UID,
	FI_FLAGS,
	FI_INTERNALDATE,
	FI_RFC822_SIZE,
	FI_ENVELOPE,
	FI_BODY,
	FI_BODYSTRUCTURE,
	FI_RFC822,
	FI_RFC822_HEADER,
	FI_RFC822_TEXT,
	FI_SECTION,
	FI_MODSEQ,
};

struct fetch_item {
	enum fetch_kind kind;
	bool peek;
	struct mail_section sec;
	const char *spec; /* FI_SECTION: the text between the brackets, echoed back */
	size_t spec_len;
};

struct fetch_ctx {
	struct session *s;
	struct mailbox *box;
	struct fetch_item items[FETCH_ITEMS_MAX + 2]; /* room for an implied UID and MODSEQ */
	size_t count;
	bool need_index, need_file, sets_seen, has_flags, has_uid;
	struct sluice_pool *pool;  /* per message, cleared after each */
	struct sluice_pool *batch; /* the pending cache writes */
	struct mail_cached pending[FETCH_CACHE_BATCH];
	size_t pending_count;
	unsigned files_opened;
	bool vanished;
	bool has_modseq;
	bool changedsince, want_vanished; /* the modifiers (CHANGEDSINCE n [VANISHED]) */
	uint64_t since;
	uint32_t *changed; /* with CHANGEDSINCE: view indexes changed since, ascending */
	uint32_t n_changed, next_changed;
};

/* ---- parsing the item list ------------------------------------------------------------ */

struct fetch_name {
	const char *name;
	enum fetch_kind kind;
};

static const struct fetch_name fetch_names[] = {
    {"UID", FI_UID},
    {"FLAGS", FI_FLAGS},
    {"INTERNALDATE", FI_INTERNALDATE},
    {"RFC822.SIZE", FI_RFC822_SIZE},
    {"ENVELOPE", FI_ENVELOPE},
    {"BODY", FI_BODY},
    {"BODYSTRUCTURE", FI_BODYSTRUCTURE},
    {"RFC822", FI_RFC822},
    {"RFC822.HEADER", FI_RFC822_HEADER},
    {"RFC822.TEXT", FI_RFC822_TEXT},
    {"MODSEQ", FI_MODSEQ},
};

static bool fetch_add(struct fetch_ctx *f, enum fetch_kind kind)
{
	if (f->count == FETCH_ITEMS_MAX)
		return false;
	struct fetch_item *it = &f->items[f->count++];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	return true;
}

/* BODY[...]<...> or BODY.PEEK[...]<...>; returns a sentence on failure. */
static const char *fetch_parse_section(struct fetch_ctx *f, const char *text, size_t len)
{
	bool peek = strncasecmp(text, "BODY.PEEK[", 10) == 0;
	size_t open = peek ? 10 : 5;
	const char *close = NULL;
	for (const char *p = text + len; p > text + open - 1; p--)
		if (p[-1] == ']') {
			close = p - 1;
			break;
		}
	if (close == NULL)
		return "A BODY[ section lacks its closing bracket.";
	if (f->count == FETCH_ITEMS_MAX)
		return "Too many FETCH items.";
	struct fetch_item *it = &f->items[f->count];
	memset(it, 0, sizeof(*it));
	it->kind = FI_SECTION;
	it->peek = peek;
	it->spec = text + open;
	it->spec_len = (size_t)(close - (text + open));
	const char *why = NULL;
	int r = mail_section_parse(it->spec, it->spec_len, f->pool, &it->sec, &why);
	if (r == MAIL_SECTION_NOMEM)
		return "The command needs more memory than a session may use.";
	if (r != 0)
		return why != NULL ? why : "Invalid section.";
	size_t rest = (size_t)(text + len - (close + 1));
	if (rest > 0 && mail_section_partial_parse(close + 1, rest, &it->sec, &why) != 0)
		return why != NULL ? why : "Invalid partial <start.count>.";
	f->count++;
	return NULL;
}

static const char *fetch_parse_item(struct fetch_ctx *f, const struct imap_arg *a)
{
	if (a->type != IMAP_ARG_ATOM)
		return "FETCH items are atoms such as FLAGS or BODY.PEEK[HEADER].";
	if (strncasecmp(a->str, "BODY[", 5) == 0 || strncasecmp(a->str, "BODY.PEEK[", 10) == 0)
		return fetch_parse_section(f, a->str, a->len);
	for (size_t i = 0; i < sizeof(fetch_names) / sizeof(fetch_names[0]); i++)
		if (strcasecmp(a->str, fetch_names[i].name) == 0)
			return fetch_add(f, fetch_names[i].kind) ? NULL : "Too many FETCH items.";
	return "";
}

static bool fetch_parse(struct fetch_ctx *f, const struct imap_command *cmd)
{
	struct session *s = f->s;
	const struct imap_arg *a = &cmd->args[1];
	const char *why = NULL;
	const struct imap_arg *bad = a;
	static const enum fetch_kind fast[] = {FI_FLAGS, FI_INTERNALDATE, FI_RFC822_SIZE};

	if (a->type == IMAP_ARG_ATOM &&
	    (strcasecmp(a->str, "ALL") == 0 || strcasecmp(a->str, "FAST") == 0 ||
	     strcasecmp(a->str, "FULL") == 0)) {
		for (size_t i = 0; i < 3; i++)
			fetch_add(f, fast[i]);
		if (strcasecmp(a->str, "FAST") != 0)
			fetch_add(f, FI_ENVELOPE);
		if (strcasecmp(a->str, "FULL") == 0)
			fetch_add(f, FI_BODY);
	} else if (a->type == IMAP_ARG_LIST) {
		if (a->count == 0)
			why = "The FETCH item list is empty.";
		for (size_t i = 0; i < a->count && why == NULL; i++)
			why = fetch_parse_item(f, bad = &a->list[i]);
	} else {
		why = fetch_parse_item(f, a);
	}
	if (why == NULL)
		return true;
	if (why[0] == '\0')
		session_tagged(s, cmd->tag, "BAD", NULL,
		               "Unknown FETCH item %.40s; this server knows UID, FLAGS, "
		               "INTERNALDATE, RFC822.SIZE, ENVELOPE, BODY, BODYSTRUCTURE, RFC822, "
		               "RFC822.HEADER, RFC822.TEXT, MODSEQ, BODY[section]<partial>, "
		               "BODY.PEEK[...] and the macros ALL, FAST and FULL.",
		               bad->type == IMAP_ARG_ATOM ? bad->str : "(not an atom)");
	else
		session_tagged(s, cmd->tag, "BAD", NULL, "%s", why);
	return false;
}

/* What the items need, decided once for the whole command. */
static void fetch_plan(struct fetch_ctx *f)
{
	for (size_t i = 0; i < f->count; i++) {
		struct fetch_item *it = &f->items[i];
		switch (it->kind) {
		case FI_UID:
			f->has_uid = true;
			break;
		case FI_FLAGS:
			f->has_flags = true;
			break;
		case FI_INTERNALDATE:
		case FI_RFC822_SIZE:
		case FI_ENVELOPE:
		case FI_BODY:
		case FI_BODYSTRUCTURE:
			f->need_index = true;
			break;
		case FI_RFC822:
		case FI_RFC822_TEXT:
			f->need_file = true;
			f->sets_seen = true;
			break;
		case FI_RFC822_HEADER:
			f->need_file = true;
			break;
		case FI_SECTION:
			f->need_file = true;
			f->sets_seen |= !it->peek;
			break;
		case FI_MODSEQ:
			f->has_modseq = true;
			break;
		}
	}
	/* Asking for MODSEQ, or for changes since one, turns CONDSTORE on (RFC 7162 3.1);
	 * from then on FLAGS never come without their MODSEQ. */
	if (f->has_modseq || f->changedsince)
		f->s->enabled |= SESSION_ENABLED_CONDSTORE;
	bool condstore = (f->s->enabled & SESSION_ENABLED_CONDSTORE) != 0;
	if (!f->has_modseq && (f->changedsince || (f->has_flags && condstore))) {
		memset(&f->items[f->count], 0, sizeof(f->items[0]));
		f->items[f->count++].kind = FI_MODSEQ;
		f->has_modseq = true;
	}
	if (f->box->readonly)
		f->sets_seen = false;
	/* UID FETCH always reports the UID (RFC 3501 6.4.8); it goes first. */
	if (f->s->uid_command && !f->has_uid) {
		memmove(&f->items[1], &f->items[0], f->count * sizeof(f->items[0]));
		memset(&f->items[0], 0, sizeof(f->items[0]));
		f->items[0].kind = FI_UID;
		f->count++;
		f->has_uid = true;
	}
}

/* The modifiers list (RFC 4466): CHANGEDSINCE n and VANISHED (RFC 7162); answers BAD. */
static bool fetch_parse_modifiers(struct fetch_ctx *f, const struct imap_command *cmd,
                                  const struct imap_arg *list)
{
	struct session *s = f->s;
	const char *why = NULL;
	if (list->type != IMAP_ARG_LIST || list->count == 0)
		why = "FETCH modifiers are a list such as (CHANGEDSINCE 12345).";
	for (size_t i = 0; why == NULL && i < list->count; i++) {
		const struct imap_arg *a = &list->list[i];
		if (imap_arg_is_atom(a, "CHANGEDSINCE") && !f->changedsince) {
			f->changedsince = true;
			if (i + 1 >= list->count ||
			    !imap_modseq_parse(&list->list[++i], false, &f->since))
				why = "CHANGEDSINCE needs a MODSEQ from 1 to 9223372036854775807.";
		} else if (imap_arg_is_atom(a, "VANISHED") && !f->want_vanished) {
			f->want_vanished = true;
		} else {
			why = "Unknown or repeated FETCH modifier; this server knows CHANGEDSINCE "
			      "and VANISHED.";
		}
	}
	if (why == NULL && f->want_vanished) {
		if (!s->uid_command || !f->changedsince)
			why = "VANISHED belongs to UID FETCH, together with CHANGEDSINCE.";
		else if (!(s->enabled & SESSION_ENABLED_QRESYNC)) {
			session_tagged(s, cmd->tag, "BAD", "CLIENTBUG",
			               "VANISHED needs QRESYNC enabled first (ENABLE QRESYNC).");
			return false;
		}
	}
	if (why != NULL)
		session_tagged(s, cmd->tag, "BAD", NULL, "%s", why);
	return why == NULL;
}

/*
 * The UIDs of the set that were expunged since the CHANGEDSINCE value, as
 * `* VANISHED (EARLIER)`. `*` stands for the last UID ever handed out here, not the last
 * one left, so that expunges at the top of the mailbox are reported too.
 */
static int fetch_send_vanished(struct fetch_ctx *f, const struct imap_arg *set_arg,
                               struct sluice_pool *pool, struct sluice_error *err)
{
	struct seqset set;
	if (seqset_parse(set_arg->str, &set, pool, NULL) != 0)
		return sluice_error_set(err, SLUICE_E_NOMEM, "LIMIT", "Out of memory.");
	if (set.saved)
		set = f->s->searchres;
	else
		seqset_resolve(&set, f->box->uidnext - 1);
	uint32_t *uids, n;
	int r = mailbox_vanished_since(f->box, f->since, &set, &uids, &n, err);
	if (r < 0)
		return r;
	cmd_send_vanished_earlier(f->s, uids, n);
	free(uids);
	return 0;
}

/* The next message to answer: the set's next one, or with CHANGEDSINCE the next changed. */
static bool fetch_next(struct fetch_ctx *f, struct cmd_msgset *ms, uint32_t *index_r)
{
	if (!f->changedsince)
		return cmd_msgset_next(ms, f->box, index_r);
	while (f->next_changed < f->n_changed) {
		uint32_t index = f->changed[f->next_changed++];
		if (cmd_msgset_contains(ms, f->box, index)) {
			*index_r = index;
			return true;
		}
	}
	return false;
}

/* ---- answering ---------------------------------------------------------------------- */

static int fetch_flush_cache(struct fetch_ctx *f)
{
	struct sluice_error err = SLUICE_ERROR_INIT;
	int r = mail_cached_store(f->box, f->pending, f->pending_count, &err);
	if (r < 0)
		/* The cache is an optimisation: the answer stands, the next FETCH tries again. */
		log_warning("cannot cache message fields of %s: %s", f->box->name, err.msg);
	f->pending_count = 0;
	pool_clear(f->batch);
	return 0;
}

static void fetch_queue_cache(struct fetch_ctx *f, const struct mail_cached *c)
{
	struct mail_cached *p = &f->pending[f->pending_count];
	p->uid = c->uid;
	p->size = c->size;
	p->envelope = pool_strdup(f->batch, c->envelope);
	p->bodystructure = pool_strdup(f->batch, c->bodystructure);
	p->body = pool_strdup(f->batch, c->body);
	if (p->envelope == NULL || p->bodystructure == NULL || p->body == NULL)
		return; /* not cached this time */
	if (++f->pending_count == FETCH_CACHE_BATCH)
		fetch_flush_cache(f);
}

static void fetch_literal(struct session *s, const unsigned char *data, size_t len)
{
	session_printf(s, "{%zu}\r\n", len);
	session_write(s, (const char *)data, len);
}

/* Writes one section item; returns a negative code when memory ran out. */
static int fetch_write_section(struct fetch_ctx *f, const struct fetch_item *it,
                               struct mail_message *msg)
{
	struct session *s = f->s;
	struct mail_section_result res;
	int r = mail_message_parse(msg, f->pool);
	if (r == 0)
		r = mail_section_fetch(msg->data, msg->len, msg->root, &it->sec, &res, f->pool);
	if (r < 0)
		return SLUICE_E_NOMEM;
	session_printf(s, "BODY[%.*s]", (int)it->spec_len, it->spec);
	if (it->sec.partial)
		session_printf(s, "<%u>", it->sec.partial_start);
	session_write(s, " ", 1);
	fetch_literal(s, res.data, res.len);
	return 0;
}

static int fetch_write_item(struct fetch_ctx *f, const struct fetch_item *it,
                            const struct mailbox_msg *m, const struct mail_cached *c,
                            struct mail_message *msg)
{
	struct session *s = f->s;
	char date[IMAP_DATETIME_LEN + 1];
	size_t hdr;

	switch (it->kind) {
	case FI_UID:
		session_printf(s, "UID %u", m->uid);
		break;
	case FI_FLAGS:
		session_printf(s, "FLAGS ");
		if (!cmd_write_flags(s, m, f->pool))
			return SLUICE_E_NOMEM;
		break;
	case FI_INTERNALDATE:
		imap_datetime_format((time_t)c->internal_date, c->internal_zone, date);
		session_printf(s, "INTERNALDATE \"%s\"", date);
		break;
	case FI_RFC822_SIZE:
		session_printf(s, "RFC822.SIZE %llu", (unsigned long long)c->size);
		break;
	case FI_ENVELOPE:
		session_printf(s, "ENVELOPE %s", c->envelope);
		break;
	case FI_BODY:
		session_printf(s, "BODY %s", c->body);
		break;
	case FI_BODYSTRUCTURE:
		session_printf(s, "BODYSTRUCTURE %s", c->bodystructure);
		break;
	case FI_RFC822:
		session_printf(s, "RFC822 ");
		fetch_literal(s, msg->data, msg->len);
		break;
	case FI_RFC822_HEADER:
	case FI_RFC822_TEXT:
		if (mail_message_parse(msg, f->pool) < 0)
			return SLUICE_E_NOMEM;
		hdr = msg->root->hdr_len;
		if (it->kind == FI_RFC822_HEADER) {
			session_printf(s, "RFC822.HEADER ");
			fetch_literal(s, msg->data, hdr);
		} else {
			session_printf(s, "RFC822.TEXT ");
			fetch_literal(s, msg->data + hdr, msg->len - hdr);
		}
		break;
	case FI_SECTION:
		return fetch_write_section(f, it, msg);
	case FI_MODSEQ:
		session_printf(s, "MODSEQ (%llu)", (unsigned long long)m->modseq);
		break;
	}
	return 0;
}

/* Sets \Seen for a non-PEEK body fetch; true when the flags changed. */
static bool fetch_set_seen(struct fetch_ctx *f, struct mailbox_msg *m)
{
	if (!f->sets_seen || (m->flags & SLUICE_FLAG_SEEN))
		return false;
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct mailbox_update upd;
	int r = mailbox_update_begin(f->box, &upd, &err);
	if (r == 0) {
		r = mailbox_update_flags(&upd, m, (m->flags & SLUICE_FLAGS_ALL) | SLUICE_FLAG_SEEN,
		                         m->keywords, &err);
		if (r < 0) {
			mailbox_update_abort(&upd);
		} else {
			int c = mailbox_update_commit(&upd, &err);
			r = c < 0 ? c : r;
		}
	}
	if (r < 0)
		log_warning("cannot set \\Seen on message %u of %s: %s", m->uid, f->box->name,
		            err.msg);
	return r == 0 && (m->flags & SLUICE_FLAG_SEEN);
}

/* Answers one message; 0, or a negative code with err filled to end the command. */
static int fetch_message(struct fetch_ctx *f, uint32_t index, struct sluice_error *err)
{
	struct mailbox_msg *m = &f->box->msgs[index];
	struct mail_cached c = {.uid = m->uid};
	struct mail_message msg = {0};
	int r;

	if (f->need_index) {
		r = mail_cached_read(f->box, m->uid, f->pool, &c, err);
		if (r == SLUICE_NOTFOUND) {
			f->vanished = true; /* expunged by another session meanwhile */
			return 0;
		}
		if (r < 0)
			return r;
	}
	bool fill = f->need_index && !mail_cached_complete(&c);
	if (f->need_file || fill) {
		r = mail_message_open(f->box, m, (size_t)f->s->conf->s.max_literal, &msg, err);
		f->files_opened++;
		if (r == SLUICE_NOTFOUND) {
			mail_message_close(&msg);
			f->vanished = true;
			return 0;
		}
		if (r < 0) {
			mail_message_close(&msg);
			return r;
		}
		if (fill) {
			if (mail_cached_compute(&msg, f->pool, &c) < 0) {
				mail_message_close(&msg);
				return sluice_error_set(err, SLUICE_E_NOMEM, "LIMIT",
				                        "The command needs more memory than a "
				                        "session may use.");
			}
			fetch_queue_cache(f, &c);
		}
	}
	bool seen_now = fetch_set_seen(f, m);

	session_printf(f->s, "* %u FETCH (", index + 1);
	r = 0;
	for (size_t i = 0; i < f->count && r == 0; i++) {
		if (i > 0)
			session_write(f->s, " ", 1);
		r = fetch_write_item(f, &f->items[i], m, &c, &msg);
	}
	if (r == 0 && seen_now && !f->has_flags) {
		session_printf(f->s, " FLAGS ");
		if (!cmd_write_flags(f->s, m, f->pool))
			r = SLUICE_E_NOMEM;
		if (!f->has_modseq && (f->s->enabled & SESSION_ENABLED_CONDSTORE))
			session_printf(f->s, " MODSEQ (%llu)", (unsigned long long)m->modseq);
	}
	session_write(f->s, ")\r\n", 3);
	mail_message_close(&msg);
	if (r < 0)
		return sluice_error_set(err, r, "LIMIT",
		                        "The command needs more memory than a session may use.");
	return 0;
}

void cmd_fetch(struct session *s, const struct imap_command *cmd)
{
	if (cmd->count != 2 && cmd->count != 3) {
		cmd_bad_arguments(s, cmd,
		                  "sequence-set (items) or ALL, FAST, FULL or one item "
		                  "[(CHANGEDSINCE modseq [VANISHED])]");
		return;
	}
	struct fetch_ctx *f = calloc(1, sizeof(*f));
	struct sluice_pool *cmdpool = pool_create(4096, 0);
	if (f != NULL) {
		/* Per message: the MIME tree and section copies, bounded like a literal. */
		f->pool = pool_create(16384, (size_t)s->conf->s.max_literal + 16 * 1024 * 1024);
		f->batch = pool_create(16384, 0);
	}
	if (f == NULL || cmdpool == NULL || f->pool == NULL || f->batch == NULL) {
		session_tagged(s, cmd->tag, "NO", "SERVERBUG", "The server is out of memory.");
		goto out;
	}
	f->s = s;
	f->box = s->selected;
	struct cmd_msgset ms;
	if (!cmd_msgset_parse(s, cmd, &cmd->args[0], cmdpool, &ms))
		goto out;
	/* The items are parsed into the command pool: they live through every message. */
	struct sluice_pool *per_message = f->pool;
	f->pool = cmdpool;
	bool ok = fetch_parse(f, cmd) &&
	          (cmd->count == 2 || fetch_parse_modifiers(f, cmd, &cmd->args[2]));
	f->pool = per_message;
	if (!ok)
		goto out;
	fetch_plan(f);

	struct sluice_error err = SLUICE_ERROR_INIT;
	uint32_t index;
	int r = 0;
	if (f->want_vanished)
		r = fetch_send_vanished(f, &cmd->args[0], cmdpool, &err);
	if (r == 0 && f->changedsince)
		r = mailbox_changed_since(f->box, f->since, NULL, &f->changed, &f->n_changed, &err);
	while (r == 0 && !s->closing && fetch_next(f, &ms, &index)) {
		r = fetch_message(f, index, &err);
		pool_clear(f->pool);
	}
	fetch_flush_cache(f);
	log_debug("FETCH on %s opened %u message files", f->box->name, f->files_opened);
	if (r < 0)
		session_tagged(s, cmd->tag, "NO", err.resp_code ? err.resp_code : "SERVERBUG", "%s",
		               err.msg[0] ? err.msg : "A message could not be read.");
	else if (f->vanished)
		session_tagged(s, cmd->tag, "NO", "EXPUNGEISSUED",
		               "Some messages were expunged by someone else and were skipped.");
	else
		session_tagged(s, cmd->tag, "OK", NULL, "%sFetch completed.",
		               s->uid_command ? "UID " : "");
out:
	if (f != NULL) {
		pool_destroy(&f->pool);
		pool_destroy(&f->batch);
		free(f->changed);
	}
	free(f);
	pool_destroy(&cmdpool);
}
