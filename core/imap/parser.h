/*
 * The incremental IMAP command parser. A session feeds it whatever bytes arrived from the
 * client, in chunks of any size, and gets back one result at a time: "need more", "send a
 * continuation for this synchronizing literal", "here is a complete command" or "this
 * command was rejected". It turns a command line (RFC 3501 section 9, with LITERAL+ from
 * RFC 7888) into a tree of arguments, enforces the size limits that keep a hostile client
 * from making the server buffer without bound, and resynchronises on the next command after
 * a rejected one whenever the byte stream allows it. A second, simpler mode reads single
 * lines for AUTHENTICATE responses and IDLE's DONE.
 *
 * The parser knows nothing about individual commands: it only tokenizes. A parser belongs
 * to one session and is used by one thread at a time; there is no global state.
 */
#ifndef SLUICE_IMAP_PARSER_H
#define SLUICE_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>

/* Size limits; every one applies to a single command and is checked as bytes arrive. */
struct imap_parser_limits {
	size_t max_line;       /* bytes outside literals per command, default 65536 */
	size_t max_literal;    /* largest literal accepted, default 64 MiB; 8192 before login */
	unsigned max_depth;    /* parenthesis nesting, default 64 */
	unsigned max_literals; /* literals per command, default 1000 (caps memory, cf.
	                          CVE-2024-34055) */
	size_t max_command;    /* total bytes of one command incl. literals, default
	                          max_literal + 1 MiB */
	size_t stream_min;     /* an APPEND literal this long or longer is handed over in
	                          chunks (IMAP_PARSE_LITERAL_DATA) instead of being buffered;
	                          default 64 KiB, 0 = never stream */
	size_t max_nonsync;    /* largest non-synchronizing literal {N+}: 4096 when the server
	                          offers LITERAL- (RFC 7888 5); default 0 = up to max_literal,
	                          as LITERAL+ allows */
};

/*
 * Fills *lim with the defaults above.
 */
void imap_parser_limits_default(struct imap_parser_limits *lim);

enum imap_arg_type { IMAP_ARG_ATOM, IMAP_ARG_QUOTED, IMAP_ARG_LITERAL, IMAP_ARG_LIST };

struct imap_arg {
	enum imap_arg_type type;
	char *str; /* ATOM/QUOTED/LITERAL: NUL-terminated copy (literal may contain NULs; use
	              len); NULL for LIST and for a streamed LITERAL */
	size_t len;
	struct imap_arg *list; /* LIST: its elements, NULL when the list is empty */
	size_t count;          /* LIST: number of elements */
	bool nonsync;          /* LITERAL: was sent as {N+} */
	bool streamed;         /* LITERAL: its len bytes went out as IMAP_PARSE_LITERAL_DATA
	                          chunks and str is NULL */
};

struct imap_command {
	const char *tag;
	const char *name;      /* upper-cased command name, e.g. "UID" (the next arg then holds
	                          "FETCH") */
	struct imap_arg *args; /* top-level arguments after the command name, NULL if none */
	size_t count;
};

enum imap_parse_result {
	IMAP_PARSE_NEED_MORE, /* every input byte was consumed; the command is not complete yet */
	IMAP_PARSE_CONTINUE,  /* a synchronizing literal {N} was accepted: the caller must send
	                         "+ Ready for literal data\r\n" before the client will send its
	                         bytes */
	IMAP_PARSE_COMMAND,   /* one command is complete: imap_parser_command() */
	IMAP_PARSE_ERROR,     /* one command was rejected: imap_parser_error() */
	IMAP_PARSE_LITERAL_DATA, /* bytes of a streamed literal were consumed:
	                            imap_parser_literal_chunk() */
};

struct imap_parse_error {
	const char *tag;       /* the tag if it had been read, else NULL (answer with "* BAD") */
	const char *resp_code; /* "TOOBIG" for size limits, "LIMIT" for the nesting depth and
	                          the number of literals, else NULL */
	const char *message;   /* a sentence a human understands, no trailing CRLF */
	bool fatal;            /* the stream cannot be resynchronised: send "* BYE ..." and
	                          close */
	bool append_too_big;   /* a literal of an APPEND was over max_literal: the message is
	                          too big rather than the command wrong, which RFC 7889 answers
	                          with NO [TOOBIG] */
};

struct imap_parser;

/*
 * Creates a parser.
 * [in] lim  limits to apply, copied; NULL means imap_parser_limits_default().
 * Returns the parser, or NULL when out of memory. Free it with imap_parser_destroy().
 */
struct imap_parser *imap_parser_create(const struct imap_parser_limits *lim);

/*
 * Frees the parser and everything it returned, and sets *p = NULL. *p may be NULL.
 */
void imap_parser_destroy(struct imap_parser **p);

/*
 * Replaces the limits (copied), e.g. after login. They apply from the next byte fed, so a
 * caller normally changes them between commands.
 */
void imap_parser_set_limits(struct imap_parser *p, const struct imap_parser_limits *lim);

/*
 * Feeds bytes of the command stream.
 * [in]  data, len    the bytes; the parser never reads past data + len
 * [out] consumed_r   how many bytes were used; the caller feeds the rest later
 * Returns:
 *   IMAP_PARSE_NEED_MORE  all bytes were consumed and no command is complete;
 *   IMAP_PARSE_CONTINUE   a synchronizing literal was accepted; answer "+ ..." and go on
 *                         feeding (imap_parser_next() is not needed);
 *   IMAP_PARSE_COMMAND    a command is complete, see imap_parser_command();
 *   IMAP_PARSE_ERROR      a command was rejected, see imap_parser_error();
 *   IMAP_PARSE_LITERAL_DATA  bytes of a streamed literal (see stream_min) were consumed, see
 *                         imap_parser_literal_chunk(); go on feeding.
 * A literal is streamed when it belongs to an APPEND command and is at least stream_min
 * bytes long (limits, continuation and errors are as for any literal). Every feed that has
 * some of its bytes returns IMAP_PARSE_LITERAL_DATA with them, once; the argument then
 * appears in the finished command with streamed = true, str = NULL and len = its length.
 * It stops right after a result other than NEED_MORE, so the caller can act (answer, change
 * limits, start TLS) before feeding the rest. After COMMAND or ERROR the caller must call
 * imap_parser_next() before feeding again; until then every feed returns the same result
 * and consumes nothing. After a fatal error the parser stays in that error for good.
 * Calling it while imap_parser_feed_line() has half a line buffered is a fatal error.
 */
enum imap_parse_result imap_parser_feed(struct imap_parser *p, const unsigned char *data,
                                        size_t len, size_t *consumed_r);

/*
 * The command just completed, or NULL if the last result was not IMAP_PARSE_COMMAND. All of
 * it (strings, argument arrays) is owned by the parser and valid until imap_parser_next().
 */
const struct imap_command *imap_parser_command(const struct imap_parser *p);

/*
 * The error just reported, or NULL if the last result was not IMAP_PARSE_ERROR. Owned by the
 * parser and valid until imap_parser_next().
 */
const struct imap_parse_error *imap_parser_error(const struct imap_parser *p);

/*
 * The bytes of a streamed literal consumed by the last feed that returned
 * IMAP_PARSE_LITERAL_DATA.
 * [out] data_r, len_r  the chunk, pointing into the caller's input (not copied), so valid
 *                      only as long as that input and until the next feed; NULL and 0 when
 *                      the last result was something else
 */
void imap_parser_literal_chunk(const struct imap_parser *p, const unsigned char **data_r,
                               size_t *len_r);

/*
 * Releases the last command, line or error and readies the parser for the next one; big
 * buffers are freed here. Does nothing if no result is held.
 */
void imap_parser_next(struct imap_parser *p);

/*
 * True when the parser stands between two commands: no byte of an unfinished command or line
 * has been consumed, and it is not skipping the rest of a rejected one. A held result does
 * not count as unfinished.
 */
bool imap_parser_idle(const struct imap_parser *p);

/*
 * Bytes currently held by the parser, its own struct included (for memory accounting).
 */
size_t imap_parser_memory(const struct imap_parser *p);

/*
 * Line mode for AUTHENTICATE responses and IDLE's DONE: reads one CRLF-terminated line (LF
 * alone accepted), at most max_line bytes without the line break.
 * [in]  data, len    the bytes
 * [out] consumed_r   how many bytes were used
 * [out] line_r, len_r  with IMAP_PARSE_COMMAND: the line without its CRLF, NUL-terminated,
 *                    valid until imap_parser_next()
 * Returns IMAP_PARSE_NEED_MORE, IMAP_PARSE_COMMAND (a line is ready) or IMAP_PARSE_ERROR: the
 * line is too long (fatal = false; after imap_parser_next() the rest of that line is skipped
 * by whichever feed function comes next), or the parser was in the middle of a command
 * (fatal). A CR not followed by LF is kept as part of the line.
 */
enum imap_parse_result imap_parser_feed_line(struct imap_parser *p, const unsigned char *data,
                                             size_t len, size_t *consumed_r, const char **line_r,
                                             size_t *len_r);

/* Helpers for command handlers; each returns false for a NULL argument. */
bool imap_arg_is_atom(const struct imap_arg *a,
                      const char *upper_word);      /* case-insensitive compare */
bool imap_arg_is_nil(const struct imap_arg *a);     /* the atom NIL */
bool imap_arg_is_string(const struct imap_arg *a);  /* QUOTED or LITERAL */
bool imap_arg_is_astring(const struct imap_arg *a); /* ATOM, QUOTED or LITERAL */

/*
 * Caveats:
 * - Literals are kept in memory whole (up to max_literal), except an APPEND's literals of
 *   stream_min bytes or more, which the caller receives in chunks and must store itself.
 *   The parser does not check which APPEND argument a streamed literal is: the command
 *   handler refuses one where it wants a string it can read.
 * - An atom containing '[' runs to the matching ']' and may contain spaces, parentheses and
 *   quotes there (FETCH's BODY[HEADER.FIELDS (From To)]<0.100> is one atom). The command
 *   handler parses what is inside the brackets.
 * - Exactly one space separates arguments: double and trailing spaces are rejected.
 */

#endif
