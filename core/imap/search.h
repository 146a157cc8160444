/*
 * SEARCH keys (RFC 3501 section 6.4.4, `search-key` in section 9): the client's arguments,
 * already split into atoms, strings and parenthesised lists by the command parser, are
 * turned into a tree once; the tree is then evaluated against each message of the view.
 *
 * Beyond RFC 3501 it knows MODSEQ (CONDSTORE, RFC 7162: messages whose MODSEQ is
 * at least the value given; the optional flag entry name is checked and then not needed,
 * since a message keeps one MODSEQ for all its flags) and `$` (SEARCHRES, RFC 5182: the
 * messages of the saved result, as a set of UIDs).
 *
 * The tree is small and normalised: FROM, TO, CC, BCC and SUBJECT become HEADER keys,
 * the UN- keys become NOT, NEW becomes RECENT AND UNSEEN, OLD becomes NOT RECENT, and
 * the children of every AND are sorted so that the keys that cost the least run first.
 *
 * Evaluation is three-valued so that a message is read no further than needed. The
 * caller first fills a search_msg from the in-memory view (flags, keywords, numbers) and
 * evaluates: keys that need more answer SEARCH_UNKNOWN, and AND, OR and NOT combine the
 * answers so that a definite one wins whenever it can (a false key under AND is false
 * however the unknown ones turn out). Only when the answer is still unknown does the
 * caller read the index record (INTERNALDATE, RFC822.SIZE), and only when it is unknown
 * after that does it open the message file and parse it. A message that cannot be read
 * (it vanished) is unknown to the end, and the caller counts it as not matching.
 *
 * The tree lives in the pool passed to search_parse(); nothing here keeps state, and the
 * functions may be called from any thread.
 */
#ifndef SLUICE_IMAP_SEARCH_H
#define SLUICE_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/parser.h"
#include "imap/seqset.h"
#include "sluice/result.h"
#include "util/pool.h"

struct mime_part;

/* Keys (AND, OR, NOT and leaves) in one SEARCH, and how deeply they may nest. */
#define SEARCH_MAX_NODES 10000
#define SEARCH_MAX_DEPTH 100
/* The response code of a CHARSET this server does not search in. */
#define SEARCH_BADCHARSET "BADCHARSET (US-ASCII UTF-8)"

enum search_op {
	SEARCH_ALL,
	SEARCH_AND,     /* children, in cost order */
	SEARCH_OR,      /* exactly two children */
	SEARCH_NOT,     /* exactly one child */
	SEARCH_FLAG,    /* a system flag bit, or MAILBOX_MSG_RECENT: flag */
	SEARCH_KEYWORD, /* str */
	SEARCH_SEQSET,  /* set (sequence numbers) */
	SEARCH_UIDSET,  /* set (UIDs) */
	SEARCH_BEFORE,  /* INTERNALDATE's day: day */
	SEARCH_ON,
	SEARCH_SINCE,
	SEARCH_SENTBEFORE, /* the Date: header's day: day */
	SEARCH_SENTON,
	SEARCH_SENTSINCE,
	SEARCH_LARGER, /* RFC822.SIZE: size */
	SEARCH_SMALLER,
	SEARCH_HEADER, /* field, str; str "" matches any message that has the field */
	SEARCH_BODY,   /* str */
	SEARCH_TEXT,   /* str: header or body */
	SEARCH_MODSEQ, /* modseq: the message's MODSEQ is at least this */
};

/* What a key needs beyond the view; an AND's children are sorted by this. */
enum search_cost {
	SEARCH_COST_VIEW,   /* flags, keywords, numbers */
	SEARCH_COST_RECORD, /* the index record: INTERNALDATE, RFC822.SIZE */
	SEARCH_COST_HEADER, /* the message file, header only */
	SEARCH_COST_BODY,   /* the message file, decoded body */
};

struct search_node {
	enum search_op op;
	enum search_cost cost; /* the most expensive thing this key or its children need */
	struct search_node *children;
	struct search_node *next; /* the next child of the same parent */
	uint32_t flag;
	const char *field;
	const char *str;
	int64_t day; /* days since 1970-01-01 */
	uint64_t size;
	uint64_t modseq;
	struct seqset set; /* resolved by search_parse() */
};

/* What the caller knows of one message; the evaluator reads only what is marked known. */
struct search_msg {
	uint32_t seq, uid;
	uint32_t flags;       /* SLUICE_FLAG_* | MAILBOX_MSG_RECENT */
	const char *keywords; /* space-separated; NULL or "" for none */
	uint64_t modseq;

	bool have_record; /* internal_date and internal_zone are set */
	int64_t internal_date;
	int32_t internal_zone;
	bool have_size; /* size is RFC822.SIZE */
	uint64_t size;

	const struct mime_part *root; /* the parsed message, or NULL when not read */
};

enum search_result {
	SEARCH_ERROR = -1, /* out of memory */
	SEARCH_NO = 0,
	SEARCH_YES = 1,
	SEARCH_UNKNOWN = 2, /* the key needs what the caller has not filled in yet */
};

/**
 * @brief Parses the arguments of SEARCH into a tree.
 * @param[in]  args, count the command's arguments (after UID's command name, if any)
 * @param[in]  msg_count   the view's message count: the value of `*` in sequence sets
 * @param[in]  max_uid     the highest UID in the view (0 when empty): `*` in UID sets
 * @param[in]  saved       the UIDs `$` stands for (a resolved set, copied); NULL or an
 *                         empty set when nothing is saved: `$` then matches nothing
 * @param[in]  pool        where the tree, its strings and its sets are allocated
 * @param[out] root_r      the tree (an AND of the top-level keys)
 * @param[out] err         on failure, a sentence for the client
 * @return 0; SLUICE_E_PARSE for arguments that are not a search program (unknown key,
 *         missing or malformed argument, NUL in a string, too many keys or too deep):
 *         answer BAD with err->msg; SLUICE_NOTFOUND for a CHARSET other than US-ASCII and
 *         UTF-8: answer NO with err->resp_code (SEARCH_BADCHARSET); SLUICE_E_NOMEM when
 *         the pool refuses.
 * Sequence numbers above @p msg_count and UIDs above @p max_uid match nothing.
 */
int search_parse(const struct imap_arg *args, size_t count, uint32_t msg_count, uint32_t max_uid,
                 const struct seqset *saved, struct sluice_pool *pool, struct search_node **root_r,
                 struct sluice_error *err);

/** Whether the tree has a MODSEQ key (the answer then reports the highest MODSEQ). */
bool search_has_modseq(const struct search_node *node);

/**
 * @brief Evaluates the tree for one message with what @p m says is known.
 * @param[in] pool where decoded header and body text goes; clear it between messages
 * @return SEARCH_YES, SEARCH_NO, SEARCH_UNKNOWN (fill in the record or the message and
 *         ask again) or SEARCH_ERROR when @p pool refuses memory.
 */
enum search_result search_eval(const struct search_node *node, const struct search_msg *m,
                               struct sluice_pool *pool);

/*
 * Caveats:
 * - Header and body text is matched after decoding (RFC 2047, base64, quoted-printable,
 *   charsets to UTF-8) with core/mail's case folding, whose limits are in decode.h.
 * - A message without a valid Date: header matches no SENT* key.
 * - Bodies of parts larger than SEARCH_MAX_PART bytes are not searched.
 */
#define SEARCH_MAX_PART (64u * 1024 * 1024)

#endif
