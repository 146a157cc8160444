/*
 * The incremental IMAP command parser (see parser.h for the contract).
 *
 * It is a byte-at-a-time state machine, so a token may be split across any chunk boundary and
 * the parser never needs to look ahead or back into input it was given earlier. Literal data
 * is the exception: it is copied (or skipped) in bulk. Everything a command needs lives in
 * three growable buffers that are reused from command to command and freed when they grew
 * big: `data` holds the text of the tag, the name and every string, NUL-terminated; `stack`
 * holds the arguments of the lists still open, innermost last; `out` receives the elements of
 * each list as it closes, so that they end up contiguous. When the command completes, one
 * array of struct imap_arg is filled from `out`, and only then are offsets turned into
 * pointers, because the buffers may move while they grow.
 *
 * A rejected command is reported at the byte that made it wrong, with that byte left
 * unconsumed; the parser then discards the rest of the command line. A small tracker watches
 * every byte outside literal data for a literal header `{N}` or `{N+}` right before a line
 * break, so that the discarding knows whether the client will send N bytes we must skip (a
 * non-synchronizing literal) or will wait for a continuation it never gets (a synchronizing
 * one, which therefore ends the command).
 *
 * A big APPEND literal is not copied at all: imap_parser_feed hands each piece of it back to
 * the caller as it arrives (IMAP_PARSE_LITERAL_DATA, pointing into the caller's input), so
 * the parser's memory stays small whatever the message size; the session spools it to disk.
 */
#include "imap/parser.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A non-synchronizing literal this far above the limit is an attack or a broken client; we
   refuse to skip it byte by byte and end the connection instead. */
#define IMAP_PARSER_ABSURD_LITERAL ((size_t)1 << 30)
#define IMAP_PARSER_ABSURD_FACTOR 16

/* Buffers up to these sizes survive imap_parser_next(); bigger ones are freed so that an
   idle parser costs well under 1 KiB besides its struct. */
#define IMAP_PARSER_KEEP_DATA 256
#define IMAP_PARSER_KEEP_NODES 4

#define IMAP_PARSER_NO_LIST SIZE_MAX

enum imap_parser_state {
	IMAP_PARSER_ST_TAG,          /* reading the tag; the start of every command */
	IMAP_PARSER_ST_NAME,         /* reading the command name */
	IMAP_PARSER_ST_ARG_START,    /* after a SP or '(', an argument must start */
	IMAP_PARSER_ST_ATOM,         /* inside an atom */
	IMAP_PARSER_ST_ATOM_BRACKET, /* inside the [...] part of an atom */
	IMAP_PARSER_ST_QUOTED,       /* inside a quoted string */
	IMAP_PARSER_ST_QUOTED_ESC,   /* after a backslash in a quoted string */
	IMAP_PARSER_ST_LIT_LEN,      /* after '{', reading digits */
	IMAP_PARSER_ST_LIT_PLUS,     /* after '{N+' */
	IMAP_PARSER_ST_LIT_CLOSE,    /* after '}' */
	IMAP_PARSER_ST_LIT_CR,       /* after '}' CR */
	IMAP_PARSER_ST_LIT_DATA,     /* copying literal bytes (or passing them on, lit_stream) */
	IMAP_PARSER_ST_SEP,          /* after an argument: SP, ')' or the line end */
	IMAP_PARSER_ST_CR,           /* after the CR that ends the command line */
	IMAP_PARSER_ST_DISCARD,      /* skipping the rest of a rejected command line */
	IMAP_PARSER_ST_DISCARD_LIT,  /* skipping the data of a rejected literal */
	IMAP_PARSER_ST_LINE,         /* line mode, reading a line */
	IMAP_PARSER_ST_LINE_SKIP,    /* line mode, skipping the rest of a long line */
	IMAP_PARSER_ST_DEAD,         /* after a fatal error */
};

enum imap_parser_held {
	IMAP_PARSER_HELD_NONE,
	IMAP_PARSER_HELD_COMMAND,
	IMAP_PARSER_HELD_LINE,
	IMAP_PARSER_HELD_ERROR,
};

/* What the tracker has seen at the end of the bytes consumed so far. */
enum imap_parser_track {
	IMAP_PARSER_TRK_NONE,
	IMAP_PARSER_TRK_DIGITS,    /* '{' and maybe digits */
	IMAP_PARSER_TRK_PLUS,      /* '{N+' */
	IMAP_PARSER_TRK_CLOSED,    /* '{N}' or '{N+}' */
	IMAP_PARSER_TRK_CLOSED_CR, /* the same followed by CR */
};

/* What handling one byte did with it. */
enum imap_parser_step {
	IMAP_PARSER_STEP_NEXT,     /* consumed, go on */
	IMAP_PARSER_STEP_REJECT,   /* error held, the byte is not consumed */
	IMAP_PARSER_STEP_ERROR,    /* error held, the byte is consumed */
	IMAP_PARSER_STEP_COMMAND,  /* consumed, the command is complete */
	IMAP_PARSER_STEP_CONTINUE, /* consumed, a synchronizing literal was accepted */
};

/* An argument while it is being parsed: offsets instead of pointers. */
struct imap_parser_node {
	enum imap_arg_type type;
	bool nonsync;
	bool streamed; /* LITERAL: its bytes were handed to the caller, none are in data */
	size_t off;    /* ATOM/QUOTED/LITERAL: where the text starts in data */
	size_t len;
	size_t first; /* LIST: open: stack index of the enclosing open list; closed: index of
	                 the first element in out */
	size_t count; /* LIST, closed: number of elements */
};

struct imap_parser {
	struct imap_parser_limits lim;
	enum imap_parser_state state;
	enum imap_parser_held held;

	bool after_open;   /* ARG_START: the previous byte was '(', not SP */
	bool tag_done;     /* the tag is complete and NUL-terminated at data[0] */
	size_t name_off;   /* where the command name starts in data */
	size_t tok_off;    /* where the current token's text starts in data */
	unsigned depth;    /* lists open */
	unsigned bracket;  /* '[' open in the current atom */
	unsigned literals; /* literals accepted in this command */
	size_t line_bytes; /* bytes of this command outside literals, without line breaks */
	size_t cmd_bytes;  /* all bytes of this command */
	size_t lit_len;    /* the literal length being read, saturated at SIZE_MAX */
	bool lit_digits;   /* at least one digit was read */
	bool lit_nonsync;  /* the literal header had a '+' */
	size_t remaining;  /* LIT_DATA and DISCARD_LIT: bytes still to come */
	bool lit_stream;   /* LIT_DATA: the bytes go to the caller instead of into data */
	const unsigned char *chunk; /* the streamed bytes consumed by the last feed */
	size_t chunk_len;
	bool line_cr; /* line mode: a CR is pending, kept only if no LF follows */

	enum imap_parser_track trk;
	size_t trk_len;
	bool trk_digits;
	bool trk_nonsync;

	char *data;
	size_t data_len, data_cap;
	struct imap_parser_node *stack;
	size_t stack_len, stack_cap;
	size_t open; /* stack index of the innermost open list, or IMAP_PARSER_NO_LIST */
	struct imap_parser_node *out;
	size_t out_len, out_cap;
	struct imap_arg *argv;
	size_t argv_cap;

	struct imap_command cmd;
	struct imap_parse_error err;
	char errmsg[160];
	size_t line_len;
};

void imap_parser_limits_default(struct imap_parser_limits *lim)
{
	lim->max_line = 65536;
	lim->max_literal = (size_t)64 << 20;
	lim->max_depth = 64;
	lim->max_literals = 1000;
	lim->max_command = lim->max_literal + ((size_t)1 << 20);
	lim->stream_min = (size_t)64 << 10;
	lim->max_nonsync = 0;
}

struct imap_parser *imap_parser_create(const struct imap_parser_limits *lim)
{
	struct imap_parser *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	if (lim != NULL)
		p->lim = *lim;
	else
		imap_parser_limits_default(&p->lim);
	p->state = IMAP_PARSER_ST_TAG;
	p->open = IMAP_PARSER_NO_LIST;
	return p;
}

void imap_parser_destroy(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;

	if (p == NULL)
		return;
	free(p->data);
	free(p->stack);
	free(p->out);
	free(p->argv);
	free(p);
	*pp = NULL;
}

void imap_parser_set_limits(struct imap_parser *p, const struct imap_parser_limits *lim)
{
	p->lim = *lim;
}

/*
 * Returns buf grown to hold at least `need` elements (and never NULL on success) of `size` bytes,
 * or NULL (buf intact) when out of memory. Growth doubles, but never beyond `hint` when the final
 * size is known, so a literal of 1 MiB costs 1 MiB and not 2.
 */
static void *imap_parser_grow(void *buf, size_t *cap, size_t size, size_t need, size_t hint)
{
	size_t ncap = *cap < 4 ? 4 : *cap;
	void *nbuf;

	/* An empty request still gets a buffer, so that NULL only ever means failure. */
	if (need <= *cap && buf != NULL)
		return buf;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (hint >= need && ncap > hint)
		ncap = hint;
	if (ncap > SIZE_MAX / size)
		return NULL;
	nbuf = realloc(buf, ncap * size);
	if (nbuf != NULL)
		*cap = ncap;
	return nbuf;
}

static bool imap_parser_reserve(struct imap_parser *p, size_t more, size_t hint)
{
	char *nbuf;

	if (more > SIZE_MAX - p->data_len)
		return false;
	nbuf = imap_parser_grow(p->data, &p->data_cap, 1, p->data_len + more, hint);
	if (nbuf == NULL)
		return false;
	p->data = nbuf;
	return true;
}

static bool imap_parser_append(struct imap_parser *p, char c)
{
	if (p->data_len == p->data_cap && !imap_parser_reserve(p, 1, SIZE_MAX))
		return false;
	p->data[p->data_len++] = c;
	return true;
}

static bool imap_parser_push(struct imap_parser *p, const struct imap_parser_node *node)
{
	struct imap_parser_node *nstack;

	nstack =
	    imap_parser_grow(p->stack, &p->stack_cap, sizeof(*nstack), p->stack_len + 1, SIZE_MAX);
	if (nstack == NULL)
		return false;
	p->stack = nstack;
	p->stack[p->stack_len++] = *node;
	return true;
}

/* Moves the last n nodes of the stack to the end of out. */
static bool imap_parser_move_out(struct imap_parser *p, size_t n)
{
	struct imap_parser_node *nout;

	nout = imap_parser_grow(p->out, &p->out_cap, sizeof(*nout), p->out_len + n, SIZE_MAX);
	if (nout == NULL)
		return false;
	p->out = nout;
	if (n > 0)
		memcpy(p->out + p->out_len, p->stack + p->stack_len - n, n * sizeof(*nout));
	p->out_len += n;
	p->stack_len -= n;
	return true;
}

static void imap_parser_track_reset(struct imap_parser *p)
{
	p->trk = IMAP_PARSER_TRK_NONE;
}

/* Feeds one byte outside literal data (never LF) to the literal-header tracker. */
static void imap_parser_track(struct imap_parser *p, unsigned char c)
{
	enum imap_parser_track t = p->trk;

	p->trk = IMAP_PARSER_TRK_NONE;
	if (c == '{') {
		p->trk = IMAP_PARSER_TRK_DIGITS;
		p->trk_len = 0;
		p->trk_digits = false;
		p->trk_nonsync = false;
	} else if (c >= '0' && c <= '9' && t == IMAP_PARSER_TRK_DIGITS) {
		unsigned d = c - '0';

		p->trk_len = p->trk_len > (SIZE_MAX - d) / 10 ? SIZE_MAX : p->trk_len * 10 + d;
		p->trk_digits = true;
		p->trk = t;
	} else if (c == '+' && t == IMAP_PARSER_TRK_DIGITS && p->trk_digits) {
		p->trk_nonsync = true;
		p->trk = IMAP_PARSER_TRK_PLUS;
	} else if (c == '}' &&
	           ((t == IMAP_PARSER_TRK_DIGITS && p->trk_digits) || t == IMAP_PARSER_TRK_PLUS)) {
		p->trk = IMAP_PARSER_TRK_CLOSED;
	} else if (c == '\r' && t == IMAP_PARSER_TRK_CLOSED) {
		p->trk = IMAP_PARSER_TRK_CLOSED_CR;
	}
}

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static void
imap_parser_fail(struct imap_parser *p, enum imap_parser_state then, const char *resp_code,
                 bool fatal, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->errmsg, sizeof(p->errmsg), fmt, ap);
	va_end(ap);
	p->err.tag = p->tag_done ? p->data : NULL;
	p->err.resp_code = resp_code;
	p->err.message = p->errmsg;
	p->err.fatal = fatal;
	p->err.append_too_big = false;
	p->held = IMAP_PARSER_HELD_ERROR;
	p->state = fatal ? IMAP_PARSER_ST_DEAD : then;
}

/* The usual rejection: the current byte is bad, skip it and the rest of the line. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static enum imap_parser_step
imap_parser_reject(struct imap_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->errmsg, sizeof(p->errmsg), fmt, ap);
	va_end(ap);
	p->err.tag = p->tag_done ? p->data : NULL;
	p->err.resp_code = NULL;
	p->err.message = p->errmsg;
	p->err.fatal = false;
	p->err.append_too_big = false;
	p->held = IMAP_PARSER_HELD_ERROR;
	p->state = IMAP_PARSER_ST_DISCARD;
	return IMAP_PARSER_STEP_REJECT;
}

static enum imap_parser_step imap_parser_oom(struct imap_parser *p)
{
	imap_parser_fail(p, IMAP_PARSER_ST_DEAD, NULL, true, "Out of memory");
	return IMAP_PARSER_STEP_REJECT;
}

/* ASTRING-CHAR except "+" (RFC 3501 tag). */
static bool imap_parser_is_tag_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\+", c) == NULL;
}

/* ATOM-CHAR (RFC 3501), used for the command name. */
static bool imap_parser_is_name_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

/* Characters of an argument atom. This is wider than ATOM-CHAR on purpose: list wildcards,
   backslashes and ']' appear in LIST patterns, sequence sets and flags. '[' is allowed and
   opens the bracketed part handled separately. */
static bool imap_parser_is_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '"';
}

static enum imap_parser_step imap_parser_bad_char(struct imap_parser *p, unsigned char c,
                                                  const char *where)
{
	if (c == '\0')
		return imap_parser_reject(p, "NUL byte in %s", where);
	if (c >= 0x80)
		return imap_parser_reject(p, "Invalid 8-bit byte 0x%02x in %s", c, where);
	if (c < 0x20 || c == 0x7f)
		return imap_parser_reject(p, "Control character 0x%02x in %s", c, where);
	return imap_parser_reject(p, "Character '%c' is not allowed in %s", c, where);
}

/* Builds the struct imap_command from the nodes; offsets become pointers only now. */
static enum imap_parser_step imap_parser_complete(struct imap_parser *p)
{
	size_t top = p->stack_len;
	struct imap_arg *argv;

	if (p->open != IMAP_PARSER_NO_LIST)
		return imap_parser_reject(p, "Missing ')' at the end of the command line");
	if (!imap_parser_move_out(p, top))
		return imap_parser_oom(p);
	argv = imap_parser_grow(p->argv, &p->argv_cap, sizeof(*argv), p->out_len, SIZE_MAX);
	if (argv == NULL)
		return imap_parser_oom(p);
	p->argv = argv;
	for (size_t i = 0; i < p->out_len; i++) {
		const struct imap_parser_node *n = &p->out[i];
		struct imap_arg *a = &argv[i];

		a->type = n->type;
		a->nonsync = n->nonsync;
		a->streamed = n->streamed;
		if (n->type == IMAP_ARG_LIST) {
			a->str = NULL;
			a->len = 0;
			a->list = n->count > 0 ? &argv[n->first] : NULL;
			a->count = n->count;
		} else {
			a->str = n->streamed ? NULL : p->data + n->off;
			a->len = n->len;
			a->list = NULL;
			a->count = 0;
		}
	}
	p->cmd.tag = p->data;
	p->cmd.name = p->data + p->name_off;
	p->cmd.args = top > 0 ? &argv[p->out_len - top] : NULL;
	p->cmd.count = top;
	p->held = IMAP_PARSER_HELD_COMMAND;
	p->state = IMAP_PARSER_ST_TAG;
	return IMAP_PARSER_STEP_COMMAND;
}

static enum imap_parser_step imap_parser_close_list(struct imap_parser *p)
{
	struct imap_parser_node *list;
	size_t n, parent;

	if (p->open == IMAP_PARSER_NO_LIST)
		return imap_parser_reject(p, "Unexpected ')' without a matching '('");
	list = &p->stack[p->open];
	parent = list->first;
	n = p->stack_len - p->open - 1;
	list->first = p->out_len;
	list->count = n;
	if (!imap_parser_move_out(p, n))
		return imap_parser_oom(p);
	p->open = parent;
	p->depth--;
	p->state = IMAP_PARSER_ST_SEP;
	return IMAP_PARSER_STEP_NEXT;
}

/* Ends a string token whose text runs from tok_off to the end of data. */
static enum imap_parser_step imap_parser_end_token(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_parser_node node = {.type = type, .off = p->tok_off};

	node.len = p->data_len - p->tok_off;
	if (!imap_parser_append(p, '\0') || !imap_parser_push(p, &node))
		return imap_parser_oom(p);
	p->state = IMAP_PARSER_ST_SEP;
	return IMAP_PARSER_STEP_NEXT;
}

/* Called with the LF that ends a literal header: admits the literal or rejects it. */
static enum imap_parser_step imap_parser_literal(struct imap_parser *p)
{
	size_t n = p->lit_len, max = p->lim.max_literal;
	bool nonsync = p->lit_nonsync;
	/* A rejected non-synchronizing literal still comes, so it is skipped; a rejected
	   synchronizing one never comes, so the command ends here. */
	enum imap_parser_state then =
	    !nonsync ? IMAP_PARSER_ST_TAG
	             : (n > 0 ? IMAP_PARSER_ST_DISCARD_LIT : IMAP_PARSER_ST_DISCARD);
	struct imap_parser_node node = {.type = IMAP_ARG_LITERAL, .nonsync = nonsync};

	if (nonsync &&
	    (n > IMAP_PARSER_ABSURD_LITERAL || (max <= SIZE_MAX / IMAP_PARSER_ABSURD_FACTOR &&
	                                        n > max * IMAP_PARSER_ABSURD_FACTOR))) {
		if (n == SIZE_MAX)
			imap_parser_fail(p, then, "TOOBIG", true,
			                 "Literal length is far larger than the limit of %zu bytes",
			                 max);
		else
			imap_parser_fail(p, then, "TOOBIG", true,
			                 "Literal of %zu bytes is far larger than the limit of %zu "
			                 "bytes",
			                 n, max);
		return IMAP_PARSER_STEP_ERROR;
	}
	p->remaining = n;
	if (p->literals >= p->lim.max_literals) {
		imap_parser_fail(p, then, "LIMIT", false, "More than %u literals in one command",
		                 p->lim.max_literals);
		return IMAP_PARSER_STEP_ERROR;
	}
	bool append = strcmp(p->data + p->name_off, "APPEND") == 0;
	if (n == SIZE_MAX) {
		imap_parser_fail(p, then, "TOOBIG", false,
		                 "Literal length is larger than the limit of %zu bytes", max);
		p->err.append_too_big = append;
		return IMAP_PARSER_STEP_ERROR;
	}
	if (n > max) {
		imap_parser_fail(p, then, "TOOBIG", false,
		                 "Literal of %zu bytes is larger than the limit of %zu bytes", n,
		                 max);
		p->err.append_too_big = append;
		return IMAP_PARSER_STEP_ERROR;
	}
	/* LITERAL- (RFC 7888 5): a bigger one must wait for the server's continuation. The
	   client sends its bytes anyway, so they are skipped and the connection goes on. */
	if (nonsync && p->lim.max_nonsync > 0 && n > p->lim.max_nonsync) {
		imap_parser_fail(p, then, "TOOBIG", false,
		                 "Non-synchronizing literals may have at most %zu bytes (LITERAL-); "
		                 "send {%zu} and wait for the server's \"+\"",
		                 p->lim.max_nonsync, n);
		return IMAP_PARSER_STEP_ERROR;
	}
	/* cmd_bytes < max_command holds here: it is checked before every byte. */
	if (n >= p->lim.max_command - p->cmd_bytes) {
		imap_parser_fail(p, then, "TOOBIG", false,
		                 "Command is larger than the limit of %zu bytes",
		                 p->lim.max_command);
		return IMAP_PARSER_STEP_ERROR;
	}
	p->literals++;
	p->cmd_bytes += n;
	node.off = p->data_len;
	node.len = n;
	/* The name is complete (and NUL-terminated) before any argument starts. */
	node.streamed = p->lim.stream_min > 0 && n >= p->lim.stream_min &&
	                strcmp(p->data + p->name_off, "APPEND") == 0;
	p->lit_stream = node.streamed;
	if (!imap_parser_push(p, &node))
		return imap_parser_oom(p);
	if (n == 0) {
		if (!imap_parser_append(p, '\0'))
			return imap_parser_oom(p);
		p->state = IMAP_PARSER_ST_SEP;
	} else {
		p->state = IMAP_PARSER_ST_LIT_DATA;
	}
	return nonsync ? IMAP_PARSER_STEP_NEXT : IMAP_PARSER_STEP_CONTINUE;
}

static enum imap_parser_step imap_parser_tag(struct imap_parser *p, unsigned char c)
{
	if (imap_parser_is_tag_char(c))
		return imap_parser_append(p, (char)c) ? IMAP_PARSER_STEP_NEXT : imap_parser_oom(p);
	if (c != ' ' && c != '\r' && c != '\n')
		return imap_parser_bad_char(p, c, "the command tag");
	if (p->data_len == 0)
		return imap_parser_reject(p, "Missing command tag");
	if (!imap_parser_append(p, '\0'))
		return imap_parser_oom(p);
	p->tag_done = true;
	if (c != ' ')
		return imap_parser_reject(p, "Missing command name");
	p->name_off = p->data_len;
	p->state = IMAP_PARSER_ST_NAME;
	return IMAP_PARSER_STEP_NEXT;
}

static enum imap_parser_step imap_parser_name(struct imap_parser *p, unsigned char c)
{
	if (imap_parser_is_name_char(c)) {
		char u = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : (char)c;

		return imap_parser_append(p, u) ? IMAP_PARSER_STEP_NEXT : imap_parser_oom(p);
	}
	if (c != ' ' && c != '\r' && c != '\n')
		return imap_parser_bad_char(p, c, "the command name");
	if (p->data_len == p->name_off)
		return imap_parser_reject(p, c == ' ' ? "Extra space after the command tag"
		                                      : "Missing command name");
	if (!imap_parser_append(p, '\0'))
		return imap_parser_oom(p);
	if (c == '\n')
		return imap_parser_complete(p);
	p->state = c == ' ' ? IMAP_PARSER_ST_ARG_START : IMAP_PARSER_ST_CR;
	p->after_open = false;
	return IMAP_PARSER_STEP_NEXT;
}

static enum imap_parser_step imap_parser_sep(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case ' ':
		p->state = IMAP_PARSER_ST_ARG_START;
		p->after_open = false;
		return IMAP_PARSER_STEP_NEXT;
	case ')':
		return imap_parser_close_list(p);
	case '\r':
		p->state = IMAP_PARSER_ST_CR;
		return IMAP_PARSER_STEP_NEXT;
	case '\n':
		return imap_parser_complete(p);
	default:
		return imap_parser_reject(p, "Missing space between arguments");
	}
}

static enum imap_parser_step imap_parser_atom(struct imap_parser *p, unsigned char c);

/*
 * RFC 3501 asks for exactly one SP between arguments and none after '(' or before ')'.
 * Clients do send exactly that, so extra or trailing spaces are rejected rather than
 * forgiven: accepting them would only hide client bugs and make the grammar ambiguous.
 */
static enum imap_parser_step imap_parser_arg_start(struct imap_parser *p, unsigned char c)
{
	struct imap_parser_node list = {.type = IMAP_ARG_LIST};

	switch (c) {
	case ' ':
		return imap_parser_reject(p, p->after_open ? "Space after '(' is not allowed"
		                                           : "Extra space between arguments");
	case '\r':
	case '\n':
		return imap_parser_reject(p, p->after_open
		                                 ? "Missing ')' at the end of the command line"
		                                 : "Trailing space at the end of the command line");
	case '(':
		if (p->depth >= p->lim.max_depth) {
			imap_parser_fail(p, IMAP_PARSER_ST_DISCARD, "LIMIT", false,
			                 "Lists nested deeper than %u levels", p->lim.max_depth);
			return IMAP_PARSER_STEP_REJECT;
		}
		list.first = p->open;
		if (!imap_parser_push(p, &list))
			return imap_parser_oom(p);
		p->open = p->stack_len - 1;
		p->depth++;
		p->after_open = true;
		return IMAP_PARSER_STEP_NEXT;
	case ')':
		if (!p->after_open && p->open != IMAP_PARSER_NO_LIST)
			return imap_parser_reject(p, "Space before ')' is not allowed");
		return imap_parser_close_list(p);
	case '"':
		p->tok_off = p->data_len;
		p->state = IMAP_PARSER_ST_QUOTED;
		return IMAP_PARSER_STEP_NEXT;
	case '{':
		p->lit_len = 0;
		p->lit_digits = false;
		p->lit_nonsync = false;
		p->state = IMAP_PARSER_ST_LIT_LEN;
		return IMAP_PARSER_STEP_NEXT;
	default:
		if (!imap_parser_is_atom_char(c))
			return imap_parser_bad_char(p, c, "an argument");
		p->tok_off = p->data_len;
		p->state = IMAP_PARSER_ST_ATOM;
		return imap_parser_atom(p, c);
	}
}

static enum imap_parser_step imap_parser_atom(struct imap_parser *p, unsigned char c)
{
	if (c == ' ' || c == ')' || c == '\r' || c == '\n') {
		enum imap_parser_step step = imap_parser_end_token(p, IMAP_ARG_ATOM);

		return step == IMAP_PARSER_STEP_NEXT ? imap_parser_sep(p, c) : step;
	}
	if (c == '{')
		return imap_parser_reject(p, "Character '{' may only start a literal, not appear "
		                             "inside an atom");
	if (!imap_parser_is_atom_char(c))
		return imap_parser_bad_char(p, c, "an atom");
	if (c == '[') {
		p->bracket = 1;
		p->state = IMAP_PARSER_ST_ATOM_BRACKET;
	}
	return imap_parser_append(p, (char)c) ? IMAP_PARSER_STEP_NEXT : imap_parser_oom(p);
}

/*
 * Inside brackets (FETCH's BODY[HEADER.FIELDS (From To)]) spaces and parentheses belong to
 * the atom; the FETCH handler parses them. Quotes are plain characters here, and literals
 * are not possible: a '{' is just a character and a line break is an error.
 */
static enum imap_parser_step imap_parser_atom_bracket(struct imap_parser *p, unsigned char c)
{
	if (c == '\r' || c == '\n')
		return imap_parser_reject(p, "Missing ']' at the end of the command line");
	if (c < 0x20 || c >= 0x7f)
		return imap_parser_bad_char(p, c, "an atom");
	if (c == '[')
		p->bracket++;
	else if (c == ']' && --p->bracket == 0)
		p->state = IMAP_PARSER_ST_ATOM;
	return imap_parser_append(p, (char)c) ? IMAP_PARSER_STEP_NEXT : imap_parser_oom(p);
}

/* Quoted strings may hold any byte but NUL, CR and LF; 8-bit bytes are UTF-8 (RFC 6855). */
static enum imap_parser_step imap_parser_quoted(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case '"':
		return imap_parser_end_token(p, IMAP_ARG_QUOTED);
	case '\\':
		p->state = IMAP_PARSER_ST_QUOTED_ESC;
		return IMAP_PARSER_STEP_NEXT;
	case '\0':
		return imap_parser_reject(p, "NUL byte in a quoted string");
	case '\r':
	case '\n':
		return imap_parser_reject(p, "Line break inside a quoted string");
	default:
		return imap_parser_append(p, (char)c) ? IMAP_PARSER_STEP_NEXT : imap_parser_oom(p);
	}
}

static enum imap_parser_step imap_parser_quoted_esc(struct imap_parser *p, unsigned char c)
{
	if (c != '"' && c != '\\') {
		if (c > 0x20 && c < 0x7f)
			return imap_parser_reject(
			    p,
			    "Invalid escape \\%c in a quoted string (only \\\\ and \\\" are "
			    "allowed)",
			    c);
		return imap_parser_reject(p, "Invalid escape in a quoted string (only \\\\ and "
		                             "\\\" are allowed)");
	}
	p->state = IMAP_PARSER_ST_QUOTED;
	return imap_parser_append(p, (char)c) ? IMAP_PARSER_STEP_NEXT : imap_parser_oom(p);
}

/* Digits only, no sign, saturating at SIZE_MAX so that no length ever wraps around. */
static enum imap_parser_step imap_parser_lit_len(struct imap_parser *p, unsigned char c)
{
	if (c >= '0' && c <= '9') {
		unsigned d = c - '0';

		p->lit_len = p->lit_len > (SIZE_MAX - 1 - d) / 10 ? SIZE_MAX : p->lit_len * 10 + d;
		p->lit_digits = true;
		return IMAP_PARSER_STEP_NEXT;
	}
	if (p->lit_digits && c == '+') {
		p->lit_nonsync = true;
		p->state = IMAP_PARSER_ST_LIT_PLUS;
		return IMAP_PARSER_STEP_NEXT;
	}
	if (p->lit_digits && c == '}') {
		p->state = IMAP_PARSER_ST_LIT_CLOSE;
		return IMAP_PARSER_STEP_NEXT;
	}
	return imap_parser_reject(p, "Invalid literal length");
}

static enum imap_parser_step imap_parser_byte(struct imap_parser *p, unsigned char c)
{
	switch (p->state) {
	case IMAP_PARSER_ST_TAG:
		return imap_parser_tag(p, c);
	case IMAP_PARSER_ST_NAME:
		return imap_parser_name(p, c);
	case IMAP_PARSER_ST_ARG_START:
		return imap_parser_arg_start(p, c);
	case IMAP_PARSER_ST_ATOM:
		return imap_parser_atom(p, c);
	case IMAP_PARSER_ST_ATOM_BRACKET:
		return imap_parser_atom_bracket(p, c);
	case IMAP_PARSER_ST_QUOTED:
		return imap_parser_quoted(p, c);
	case IMAP_PARSER_ST_QUOTED_ESC:
		return imap_parser_quoted_esc(p, c);
	case IMAP_PARSER_ST_LIT_LEN:
		return imap_parser_lit_len(p, c);
	case IMAP_PARSER_ST_LIT_PLUS:
		if (c != '}')
			return imap_parser_reject(p, "Invalid literal length");
		p->state = IMAP_PARSER_ST_LIT_CLOSE;
		return IMAP_PARSER_STEP_NEXT;
	case IMAP_PARSER_ST_LIT_CLOSE:
		if (c == '\n')
			return imap_parser_literal(p);
		if (c != '\r')
			return imap_parser_reject(p, "A literal's length must be followed by a "
			                             "line break");
		p->state = IMAP_PARSER_ST_LIT_CR;
		return IMAP_PARSER_STEP_NEXT;
	case IMAP_PARSER_ST_LIT_CR:
		if (c != '\n')
			return imap_parser_reject(p, "Carriage return not followed by a line feed");
		return imap_parser_literal(p);
	case IMAP_PARSER_ST_SEP:
		return imap_parser_sep(p, c);
	case IMAP_PARSER_ST_CR:
		if (c != '\n')
			return imap_parser_reject(p, "Carriage return not followed by a line feed");
		return imap_parser_complete(p);
	default:
		/* The bulk states are handled by the callers; reaching here is a bug. */
		imap_parser_fail(p, IMAP_PARSER_ST_DEAD, NULL, true, "Internal parser error");
		return IMAP_PARSER_STEP_REJECT;
	}
}

/*
 * Runs the states that consume bytes without parsing them: the rest of a rejected command
 * line, the data of a rejected literal, the rest of a long line in line mode. Returns how
 * many bytes were used; the state has changed when fewer than len were.
 */
static size_t imap_parser_skip(struct imap_parser *p, const unsigned char *data, size_t len)
{
	size_t pos = 0, n;
	const unsigned char *lf;

	switch (p->state) {
	case IMAP_PARSER_ST_DISCARD:
		while (pos < len) {
			unsigned char c = data[pos++];

			if (c != '\n') {
				imap_parser_track(p, c);
				continue;
			}
			if (p->trk == IMAP_PARSER_TRK_CLOSED ||
			    p->trk == IMAP_PARSER_TRK_CLOSED_CR) {
				if (p->trk_nonsync) {
					/* The client sends the literal without waiting: skip it
					   and the rest of the line that follows it. */
					imap_parser_track_reset(p);
					p->remaining = p->trk_len;
					p->state = IMAP_PARSER_ST_DISCARD_LIT;
					return pos;
				}
			}
			imap_parser_track_reset(p);
			p->state = IMAP_PARSER_ST_TAG;
			return pos;
		}
		return pos;
	case IMAP_PARSER_ST_DISCARD_LIT:
		n = p->remaining < len ? p->remaining : len;
		p->remaining -= n;
		if (p->remaining == 0)
			p->state = IMAP_PARSER_ST_DISCARD;
		return n;
	case IMAP_PARSER_ST_LINE_SKIP:
		lf = memchr(data, '\n', len);
		if (lf == NULL)
			return len;
		p->state = IMAP_PARSER_ST_TAG;
		return (size_t)(lf - data) + 1;
	default:
		return 0;
	}
}

static bool imap_parser_skipping(const struct imap_parser *p)
{
	return p->state == IMAP_PARSER_ST_DISCARD || p->state == IMAP_PARSER_ST_DISCARD_LIT ||
	       p->state == IMAP_PARSER_ST_LINE_SKIP;
}

/* Copies literal data in bulk; returns how many bytes were used. */
static size_t imap_parser_lit_data(struct imap_parser *p, const unsigned char *data, size_t len)
{
	size_t n = p->remaining < len ? p->remaining : len;
	/* Grow towards the literal's final size; its bytes arrive anyway. */
	size_t hint = p->data_len + p->remaining + 1;

	if (!imap_parser_reserve(p, n + 1, hint)) {
		imap_parser_oom(p);
		return 0;
	}
	memcpy(p->data + p->data_len, data, n);
	p->data_len += n;
	p->remaining -= n;
	if (p->remaining == 0) {
		p->data[p->data_len++] = '\0';
		p->state = IMAP_PARSER_ST_SEP;
	}
	return n;
}

/* Passes literal data on to the caller; returns how many bytes were used. */
static size_t imap_parser_lit_stream(struct imap_parser *p, const unsigned char *data, size_t len)
{
	size_t n = p->remaining < len ? p->remaining : len;

	p->chunk = data;
	p->chunk_len = n;
	p->remaining -= n;
	if (p->remaining == 0) {
		p->lit_stream = false;
		p->state = IMAP_PARSER_ST_SEP;
	}
	return n;
}

/* If a result is still held (or the parser is dead), returns true and the result. */
static bool imap_parser_pending(struct imap_parser *p, enum imap_parse_result *result_r)
{
	if (p->state == IMAP_PARSER_ST_DEAD)
		p->held = IMAP_PARSER_HELD_ERROR;
	switch (p->held) {
	case IMAP_PARSER_HELD_NONE:
		return false;
	case IMAP_PARSER_HELD_ERROR:
		*result_r = IMAP_PARSE_ERROR;
		return true;
	default:
		*result_r = IMAP_PARSE_COMMAND;
		return true;
	}
}

enum imap_parse_result imap_parser_feed(struct imap_parser *p, const unsigned char *data,
                                        size_t len, size_t *consumed_r)
{
	enum imap_parse_result result;
	size_t pos = 0;

	*consumed_r = 0;
	p->chunk = NULL;
	p->chunk_len = 0;
	if (imap_parser_pending(p, &result))
		return result;
	if (p->state == IMAP_PARSER_ST_LINE) {
		imap_parser_fail(p, IMAP_PARSER_ST_DEAD, NULL, true,
		                 "A command was fed while a line was incomplete");
		return IMAP_PARSE_ERROR;
	}
	while (pos < len) {
		enum imap_parser_step step;
		unsigned char c;

		if (imap_parser_skipping(p)) {
			pos += imap_parser_skip(p, data + pos, len - pos);
			continue;
		}
		if (p->state == IMAP_PARSER_ST_LIT_DATA && p->lit_stream) {
			pos += imap_parser_lit_stream(p, data + pos, len - pos);
			*consumed_r = pos;
			return IMAP_PARSE_LITERAL_DATA;
		}
		if (p->state == IMAP_PARSER_ST_LIT_DATA) {
			pos += imap_parser_lit_data(p, data + pos, len - pos);
			if (p->held != IMAP_PARSER_HELD_NONE)
				break;
			continue;
		}
		c = data[pos];
		if (c != '\r' && c != '\n' && p->line_bytes >= p->lim.max_line) {
			/* Reported at once, not at the line end, so that a client sending an
			   endless line learns why as early as possible. */
			imap_parser_fail(p, IMAP_PARSER_ST_DISCARD, "TOOBIG", false,
			                 "Command line is longer than the limit of %zu bytes",
			                 p->lim.max_line);
			break;
		}
		if (p->cmd_bytes >= p->lim.max_command) {
			imap_parser_fail(p, IMAP_PARSER_ST_DISCARD, "TOOBIG", false,
			                 "Command is larger than the limit of %zu bytes",
			                 p->lim.max_command);
			break;
		}
		step = imap_parser_byte(p, c);
		if (step != IMAP_PARSER_STEP_REJECT) {
			pos++;
			p->cmd_bytes++;
			if (c == '\n') {
				/* Every consumed LF ends the command or a literal header. */
				imap_parser_track_reset(p);
			} else {
				imap_parser_track(p, c);
				if (c != '\r')
					p->line_bytes++;
			}
		}
		if (step == IMAP_PARSER_STEP_CONTINUE) {
			*consumed_r = pos;
			return IMAP_PARSE_CONTINUE;
		}
		if (step != IMAP_PARSER_STEP_NEXT)
			break;
	}
	*consumed_r = pos;
	if (imap_parser_pending(p, &result))
		return result;
	return IMAP_PARSE_NEED_MORE;
}

static void imap_parser_line_done(struct imap_parser *p, const char **line_r, size_t *len_r)
{
	*line_r = p->data;
	*len_r = p->line_len;
}

enum imap_parse_result imap_parser_feed_line(struct imap_parser *p, const unsigned char *data,
                                             size_t len, size_t *consumed_r, const char **line_r,
                                             size_t *len_r)
{
	enum imap_parse_result result;
	size_t pos = 0;

	*consumed_r = 0;
	*line_r = NULL;
	*len_r = 0;
	p->chunk = NULL;
	p->chunk_len = 0;
	if (imap_parser_pending(p, &result)) {
		if (p->held == IMAP_PARSER_HELD_LINE)
			imap_parser_line_done(p, line_r, len_r);
		return result;
	}
	if (!imap_parser_skipping(p) && p->state != IMAP_PARSER_ST_LINE && !imap_parser_idle(p)) {
		imap_parser_fail(p, IMAP_PARSER_ST_DEAD, NULL, true,
		                 "A line was fed while a command was incomplete");
		return IMAP_PARSE_ERROR;
	}
	while (pos < len) {
		unsigned char c;

		if (imap_parser_skipping(p)) {
			pos += imap_parser_skip(p, data + pos, len - pos);
			continue;
		}
		if (p->state == IMAP_PARSER_ST_TAG) {
			p->state = IMAP_PARSER_ST_LINE;
			p->line_cr = false;
			p->data_len = 0;
		}
		c = data[pos];
		if (c == '\n') {
			pos++;
			if (!imap_parser_reserve(p, 1, SIZE_MAX)) {
				imap_parser_oom(p);
				break;
			}
			p->line_len = p->data_len;
			p->data[p->data_len++] = '\0';
			p->held = IMAP_PARSER_HELD_LINE;
			p->state = IMAP_PARSER_ST_TAG;
			*consumed_r = pos;
			imap_parser_line_done(p, line_r, len_r);
			return IMAP_PARSE_COMMAND;
		}
		/* A CR counts only once we know it is not the one ending the line. */
		if (p->line_cr && p->data_len >= p->lim.max_line)
			goto too_long;
		if (p->line_cr && !imap_parser_append(p, '\r')) {
			imap_parser_oom(p);
			break;
		}
		p->line_cr = false;
		pos++;
		if (c == '\r') {
			p->line_cr = true;
			continue;
		}
		if (p->data_len >= p->lim.max_line) {
			pos--;
			goto too_long;
		}
		if (!imap_parser_append(p, (char)c)) {
			imap_parser_oom(p);
			break;
		}
	}
	*consumed_r = pos;
	if (imap_parser_pending(p, &result))
		return result;
	return IMAP_PARSE_NEED_MORE;

too_long:
	imap_parser_fail(p, IMAP_PARSER_ST_LINE_SKIP, "TOOBIG", false,
	                 "Line is longer than the limit of %zu bytes", p->lim.max_line);
	*consumed_r = pos;
	return IMAP_PARSE_ERROR;
}

const struct imap_command *imap_parser_command(const struct imap_parser *p)
{
	return p->held == IMAP_PARSER_HELD_COMMAND ? &p->cmd : NULL;
}

const struct imap_parse_error *imap_parser_error(const struct imap_parser *p)
{
	return p->held == IMAP_PARSER_HELD_ERROR ? &p->err : NULL;
}

void imap_parser_literal_chunk(const struct imap_parser *p, const unsigned char **data_r,
                               size_t *len_r)
{
	*data_r = p->chunk;
	*len_r = p->chunk_len;
}

void imap_parser_next(struct imap_parser *p)
{
	if (p->held == IMAP_PARSER_HELD_NONE || p->state == IMAP_PARSER_ST_DEAD)
		return;
	p->held = IMAP_PARSER_HELD_NONE;
	p->tag_done = false;
	p->depth = 0;
	p->literals = 0;
	p->line_bytes = 0;
	p->cmd_bytes = 0;
	p->data_len = 0;
	p->stack_len = 0;
	p->out_len = 0;
	p->open = IMAP_PARSER_NO_LIST;
	memset(&p->cmd, 0, sizeof(p->cmd));
	memset(&p->err, 0, sizeof(p->err));
	if (p->data_cap > IMAP_PARSER_KEEP_DATA) {
		free(p->data);
		p->data = NULL;
		p->data_cap = 0;
	}
	if (p->stack_cap > IMAP_PARSER_KEEP_NODES) {
		free(p->stack);
		p->stack = NULL;
		p->stack_cap = 0;
	}
	if (p->out_cap > IMAP_PARSER_KEEP_NODES) {
		free(p->out);
		p->out = NULL;
		p->out_cap = 0;
	}
	if (p->argv_cap > IMAP_PARSER_KEEP_NODES) {
		free(p->argv);
		p->argv = NULL;
		p->argv_cap = 0;
	}
}

bool imap_parser_idle(const struct imap_parser *p)
{
	return p->state == IMAP_PARSER_ST_TAG &&
	       (p->held != IMAP_PARSER_HELD_NONE || p->cmd_bytes == 0);
}

size_t imap_parser_memory(const struct imap_parser *p)
{
	return sizeof(*p) + p->data_cap + (p->stack_cap + p->out_cap) * sizeof(*p->stack) +
	       p->argv_cap * sizeof(*p->argv);
}

bool imap_arg_is_atom(const struct imap_arg *a, const char *upper_word)
{
	size_t i;

	if (a == NULL || a->type != IMAP_ARG_ATOM)
		return false;
	for (i = 0; i < a->len && upper_word[i] != '\0'; i++) {
		char c = a->str[i];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c != upper_word[i])
			return false;
	}
	return i == a->len && upper_word[i] == '\0';
}

bool imap_arg_is_nil(const struct imap_arg *a)
{
	return imap_arg_is_atom(a, "NIL");
}

bool imap_arg_is_string(const struct imap_arg *a)
{
	return a != NULL && (a->type == IMAP_ARG_QUOTED || a->type == IMAP_ARG_LITERAL);
}

bool imap_arg_is_astring(const struct imap_arg *a)
{
	return a != NULL && a->type != IMAP_ARG_LIST;
}
