/*
 * Unit tests for the incremental IMAP command parser (core/imap/parser.c).
 *
 * Most tests describe a byte stream and the results it must produce, written as a transcript
 * ("+" for a continuation request, "C tag NAME args" for a command, "BAD tag [CODE]" or
 * "BYE ..." for a rejected command, "PARTIAL" when the stream ends inside a command). The
 * helper feeds every stream whole and also in chunks of 1, 2, 3, 5 and 64 bytes, so each test
 * also proves that a token split at any byte boundary parses the same. A few tests use the
 * API directly where the transcript cannot say enough: exact literal bytes, consumed counts,
 * memory held.
 */
#include <CUnit/CUnit.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/parser.h"

struct transcript {
	char buf[4096];
	size_t len;
};

static void ts_add(struct transcript *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void ts_add(struct transcript *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->len >= sizeof(t->buf))
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->len += (size_t)n;
	if (t->len > sizeof(t->buf) - 1)
		t->len = sizeof(t->buf) - 1;
}

/* Long strings are shortened so that transcripts stay readable. */
static void ts_bytes(struct transcript *t, const char *s, size_t len)
{
	size_t shown = len > 40 ? 16 : len;

	for (size_t i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || c == '\\' || c == '"')
			ts_add(t, "\\x%02x", c);
		else
			ts_add(t, "%c", c);
	}
	if (shown < len)
		ts_add(t, "...");
}

static void ts_arg(struct transcript *t, const struct imap_arg *a)
{
	switch (a->type) {
	case IMAP_ARG_ATOM:
		ts_bytes(t, a->str, a->len);
		break;
	case IMAP_ARG_QUOTED:
		ts_add(t, "\"");
		ts_bytes(t, a->str, a->len);
		ts_add(t, "\"");
		break;
	case IMAP_ARG_LITERAL:
		/* A streamed literal's bytes were shown as they came ("L ..."). */
		ts_add(t, "{%zu%s%s}", a->len, a->nonsync ? "+" : "", a->streamed ? "~" : "");
		if (!a->streamed)
			ts_bytes(t, a->str, a->len);
		else
			CU_ASSERT_PTR_NULL(a->str);
		break;
	case IMAP_ARG_LIST:
		ts_add(t, "(");
		for (size_t i = 0; i < a->count; i++) {
			if (i > 0)
				ts_add(t, " ");
			ts_arg(t, &a->list[i]);
		}
		ts_add(t, ")");
		break;
	}
}

/* Checks what every error must look like, whatever the input. */
static void check_error_shape(const struct imap_parse_error *err)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(err->message);
	CU_ASSERT(err->message[0] >= 'A' && err->message[0] <= 'Z');
	CU_ASSERT(strpbrk(err->message, "\r\n") == NULL);
}

/*
 * Feeds len bytes in chunks of `chunk` bytes (0: all at once), answering every result the
 * way a session would, and writes the transcript.
 */
static void run(const struct imap_parser_limits *lim, const void *in, size_t len, size_t chunk,
                struct transcript *t)
{
	const unsigned char *data = in;
	struct imap_parser *p = imap_parser_create(lim);
	size_t pos = 0, end = 0;
	char streamed[256]; /* the streamed bytes since the last result shown */
	size_t streamed_len = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	t->len = 0;
	t->buf[0] = '\0';
	while (pos < len) {
		size_t avail, used;
		enum imap_parse_result r;

		if (end <= pos)
			end = chunk == 0 || len - pos < chunk ? len : pos + chunk;
		avail = end - pos;
		r = imap_parser_feed(p, data + pos, avail, &used);
		CU_ASSERT_FATAL(used <= avail);
		pos += used;
		if (r == IMAP_PARSE_NEED_MORE) {
			CU_ASSERT_FATAL(used == avail);
			continue;
		}
		if (r == IMAP_PARSE_LITERAL_DATA) {
			const unsigned char *lit;
			size_t n;

			/* Chunks differ with the chunking; only their concatenation is shown. */
			imap_parser_literal_chunk(p, &lit, &n);
			CU_ASSERT_FATAL(n > 0 && lit >= data + pos - used && lit + n <= data + pos);
			CU_ASSERT_FATAL(streamed_len + n <= sizeof(streamed));
			memcpy(streamed + streamed_len, lit, n);
			streamed_len += n;
			continue;
		}
		if (t->len > 0)
			ts_add(t, " | ");
		if (streamed_len > 0) {
			ts_add(t, "L ");
			ts_bytes(t, streamed, streamed_len);
			ts_add(t, " | ");
			streamed_len = 0;
		}
		if (r == IMAP_PARSE_CONTINUE) {
			ts_add(t, "+");
		} else if (r == IMAP_PARSE_COMMAND) {
			const struct imap_command *cmd = imap_parser_command(p);

			CU_ASSERT_PTR_NOT_NULL_FATAL(cmd);
			CU_ASSERT_PTR_NULL(imap_parser_error(p));
			ts_add(t, "C %s %s", cmd->tag, cmd->name);
			for (size_t i = 0; i < cmd->count; i++) {
				ts_add(t, " ");
				ts_arg(t, &cmd->args[i]);
			}
			imap_parser_next(p);
		} else {
			const struct imap_parse_error *err = imap_parser_error(p);

			check_error_shape(err);
			CU_ASSERT_PTR_NULL(imap_parser_command(p));
			ts_add(t, "%s %s", err->fatal ? "BYE" : "BAD",
			       err->tag != NULL ? err->tag : "*");
			if (err->resp_code != NULL)
				ts_add(t, " [%s]", err->resp_code);
			if (err->fatal) {
				/* A dead parser keeps saying so and takes nothing more. */
				imap_parser_next(p);
				CU_ASSERT(imap_parser_feed(p, data + pos, len - pos, &used) ==
				          IMAP_PARSE_ERROR);
				CU_ASSERT(used == 0);
				break;
			}
			imap_parser_next(p);
		}
	}
	if (streamed_len > 0) {
		ts_add(t, "%sL ", t->len > 0 ? " | " : "");
		ts_bytes(t, streamed, streamed_len);
	}
	if (!imap_parser_idle(p) && (pos == len))
		ts_add(t, "%sPARTIAL", t->len > 0 ? " | " : "");
	imap_parser_destroy(&p);
	CU_ASSERT_PTR_NULL(p);
}

static const size_t chunkings[] = {0, 1, 2, 3, 5, 64};

/* Every chunking must give the expected transcript. */
static void check_lim(const struct imap_parser_limits *lim, const void *in, size_t len,
                      const char *expected)
{
	struct transcript t;

	for (size_t i = 0; i < sizeof(chunkings) / sizeof(chunkings[0]); i++) {
		run(lim, in, len, chunkings[i], &t);
		if (strcmp(t.buf, expected) != 0) {
			fprintf(stderr, "\n  chunk %zu\n  got:      %s\n  expected: %s\n",
			        chunkings[i], t.buf, expected);
		}
		CU_ASSERT_STRING_EQUAL(t.buf, expected);
	}
}

#define CHECK(in, expected) check_lim(NULL, in, sizeof(in) - 1, expected)
#define CHECK_LIM(lim, in, expected) check_lim(lim, in, sizeof(in) - 1, expected)

static struct imap_parser_limits small_limits(void)
{
	struct imap_parser_limits lim;

	imap_parser_limits_default(&lim);
	lim.max_literal = 8192;
	lim.max_command = 8192 + 1024;
	return lim;
}

/* Parses one complete command from a string and returns the parser holding it. */
static struct imap_parser *parse_one(const char *in, size_t len)
{
	struct imap_parser *p = imap_parser_create(NULL);
	size_t used, pos = 0;
	enum imap_parse_result r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	do {
		r = imap_parser_feed(p, (const unsigned char *)in + pos, len - pos, &used);
		pos += used;
	} while (r == IMAP_PARSE_CONTINUE);
	CU_ASSERT_FATAL(r == IMAP_PARSE_COMMAND);
	CU_ASSERT(pos == len);
	return p;
}

static void test_limits_default_values(void)
{
	struct imap_parser_limits lim;

	imap_parser_limits_default(&lim);
	CU_ASSERT_EQUAL(lim.max_line, 65536);
	CU_ASSERT_EQUAL(lim.max_literal, 64u << 20);
	CU_ASSERT_EQUAL(lim.max_depth, 64);
	CU_ASSERT_EQUAL(lim.max_literals, 1000);
	CU_ASSERT_EQUAL(lim.max_command, (64u << 20) + (1u << 20));
}

static void test_every_token_type_parses(void)
{
	CHECK("a1 X atom \"quoted\" {3}\r\nlit (l1 l2)\r\n",
	      "+ | C a1 X atom \"quoted\" {3}lit (l1 l2)");
	CHECK("a2 LIST \"\" %\r\n", "C a2 LIST \"\" %");
	CHECK("a3 STORE 1:* +FLAGS (\\Seen \\Deleted)\r\n",
	      "C a3 STORE 1:* +FLAGS (\\x5cSeen \\x5cDeleted)");
}

static void test_command_name_is_upper_cased_and_uid_keeps_subcommand(void)
{
	struct imap_parser *p = parse_one("t1 uid fetch 1:* (flags)\r\n", 26);
	const struct imap_command *cmd = imap_parser_command(p);

	CU_ASSERT_STRING_EQUAL(cmd->tag, "t1");
	CU_ASSERT_STRING_EQUAL(cmd->name, "UID");
	CU_ASSERT_EQUAL_FATAL(cmd->count, 3);
	CU_ASSERT_STRING_EQUAL(cmd->args[0].str, "fetch");
	CU_ASSERT_EQUAL(cmd->args[0].type, IMAP_ARG_ATOM);
	imap_parser_destroy(&p);
}

static void test_command_without_arguments_has_none(void)
{
	struct imap_parser *p = parse_one("a NOOP\r\n", 8);
	const struct imap_command *cmd = imap_parser_command(p);

	CU_ASSERT_STRING_EQUAL(cmd->name, "NOOP");
	CU_ASSERT_EQUAL(cmd->count, 0);
	CU_ASSERT_PTR_NULL(cmd->args);
	imap_parser_destroy(&p);
}

static void test_nested_lists_build_a_tree(void)
{
	const char in[] = "a X (a (b (c)) d) e\r\n";
	struct imap_parser *p = parse_one(in, sizeof(in) - 1);
	const struct imap_command *cmd = imap_parser_command(p);
	const struct imap_arg *l;

	CU_ASSERT_EQUAL_FATAL(cmd->count, 2);
	l = &cmd->args[0];
	CU_ASSERT_EQUAL_FATAL(l->type, IMAP_ARG_LIST);
	CU_ASSERT_EQUAL_FATAL(l->count, 3);
	CU_ASSERT_STRING_EQUAL(l->list[0].str, "a");
	CU_ASSERT_EQUAL_FATAL(l->list[1].type, IMAP_ARG_LIST);
	CU_ASSERT_EQUAL_FATAL(l->list[1].count, 2);
	CU_ASSERT_STRING_EQUAL(l->list[1].list[0].str, "b");
	CU_ASSERT_EQUAL_FATAL(l->list[1].list[1].count, 1);
	CU_ASSERT_STRING_EQUAL(l->list[1].list[1].list[0].str, "c");
	CU_ASSERT_STRING_EQUAL(l->list[2].str, "d");
	CU_ASSERT_STRING_EQUAL(cmd->args[1].str, "e");
	imap_parser_destroy(&p);
	CHECK("a X ((1 (2)) (3) 4)\r\n", "C a X ((1 (2)) (3) 4)");
}

static void test_empty_list_has_no_elements(void)
{
	const char in[] = "a X () (())\r\n";
	struct imap_parser *p = parse_one(in, sizeof(in) - 1);
	const struct imap_command *cmd = imap_parser_command(p);

	CU_ASSERT_EQUAL_FATAL(cmd->count, 2);
	CU_ASSERT_EQUAL(cmd->args[0].type, IMAP_ARG_LIST);
	CU_ASSERT_EQUAL(cmd->args[0].count, 0);
	CU_ASSERT_PTR_NULL(cmd->args[0].list);
	CU_ASSERT_EQUAL_FATAL(cmd->args[1].count, 1);
	CU_ASSERT_EQUAL(cmd->args[1].list[0].type, IMAP_ARG_LIST);
	CU_ASSERT_EQUAL(cmd->args[1].list[0].count, 0);
	imap_parser_destroy(&p);
}

static void test_fetch_bracket_atom_keeps_spaces_and_parens(void)
{
	const char in[] = "a FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>)\r\n";
	struct imap_parser *p = parse_one(in, sizeof(in) - 1);
	const struct imap_command *cmd = imap_parser_command(p);

	CU_ASSERT_EQUAL_FATAL(cmd->count, 2);
	CU_ASSERT_EQUAL_FATAL(cmd->args[1].count, 2);
	CU_ASSERT_EQUAL(cmd->args[1].list[1].type, IMAP_ARG_ATOM);
	CU_ASSERT_STRING_EQUAL(cmd->args[1].list[1].str,
	                       "BODY.PEEK[HEADER.FIELDS (From To)]<0.100>");
	imap_parser_destroy(&p);
	CHECK("a FETCH 1 BODY[]\r\n", "C a FETCH 1 BODY[]");
	CHECK("a FETCH 1 (BODY[1.2.MIME] BINARY[1]<0.5>)\r\n",
	      "C a FETCH 1 (BODY[1.2.MIME] BINARY[1]<0.5>)");
	CHECK("a SELECT [Gmail]/Sent\r\n", "C a SELECT [Gmail]/Sent");
}

static void test_unclosed_bracket_at_line_end_is_bad(void)
{
	CHECK("a FETCH 1 BODY[HEADER\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a FETCH 1 (BODY[HEADER.FIELDS (From)\r\nb NOOP\r\n", "BAD a | C b NOOP");
}

static void test_quoted_escapes_are_unescaped(void)
{
	const char in[] = "a X \"a\\\"b\\\\c\"\r\n";
	struct imap_parser *p = parse_one(in, sizeof(in) - 1);
	const struct imap_command *cmd = imap_parser_command(p);

	CU_ASSERT_EQUAL_FATAL(cmd->count, 1);
	CU_ASSERT_EQUAL(cmd->args[0].type, IMAP_ARG_QUOTED);
	CU_ASSERT_EQUAL(cmd->args[0].len, 5);
	CU_ASSERT_STRING_EQUAL(cmd->args[0].str, "a\"b\\c");
	imap_parser_destroy(&p);
	CHECK("a X \"\"\r\n", "C a X \"\"");
}

static void test_invalid_quoted_escape_is_bad(void)
{
	CHECK("a X \"a\\nb\"\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X \"a\\\r\nb NOOP\r\n", "BAD a | C b NOOP");
}

static void test_nul_in_quoted_is_bad(void)
{
	CHECK("a X \"a\0b\"\r\nb NOOP\r\n", "BAD a | C b NOOP");
}

static void test_line_break_in_quoted_is_bad(void)
{
	CHECK("a X \"ab\r\nb NOOP\r\n", "BAD a | C b NOOP");
	/* A lone LF ends the line, so what follows it is a command of its own. */
	CHECK("a X \"ab\ncd\"\r\nb NOOP\r\n", "BAD a | BAD * | C b NOOP");
	CHECK("a X \"ab\rcd\"\r\nb NOOP\r\n", "BAD a | C b NOOP");
}

static void test_8bit_in_quoted_is_accepted(void)
{
	const char in[] = "a CREATE \"Gr\xc3\xbc\xc3\x9f"
	                  "e\"\r\n";
	struct imap_parser *p = parse_one(in, sizeof(in) - 1);
	const struct imap_command *cmd = imap_parser_command(p);

	CU_ASSERT_EQUAL_FATAL(cmd->count, 1);
	CU_ASSERT_EQUAL(cmd->args[0].len, 7);
	CU_ASSERT(memcmp(cmd->args[0].str,
	                 "Gr\xc3\xbc\xc3\x9f"
	                 "e",
	                 7) == 0);
	imap_parser_destroy(&p);
}

static void test_8bit_nul_and_ctl_in_atom_are_bad(void)
{
	CHECK("a SELECT Gr\xc3\xbc\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a SELECT a\0b\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a SELECT a\tb\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a SELECT \x7f\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a N\xc3\xb6OP\r\nb NOOP\r\n", "BAD a | C b NOOP");
}

static void test_brace_inside_atom_is_bad(void)
{
	/* The "{3+}" must still be honoured: its 3 bytes are skipped, not parsed as a command. */
	CHECK("a X foo{3+}\r\nc X\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X foo(\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X foo\"\r\nb NOOP\r\n", "BAD a | C b NOOP");
}

static void test_sync_literal_continues_then_completes_with_exact_bytes(void)
{
	struct imap_parser *p = imap_parser_create(NULL);
	const char hdr[] = "a LOGIN {6}\r\n";
	const char rest[] = "a\r\n\0b} pass\r\n";
	const struct imap_command *cmd;
	size_t used;

	CU_ASSERT(imap_parser_feed(p, (const unsigned char *)hdr, sizeof(hdr) - 1, &used) ==
	          IMAP_PARSE_CONTINUE);
	CU_ASSERT_EQUAL(used, sizeof(hdr) - 1);
	CU_ASSERT_PTR_NULL(imap_parser_command(p));
	CU_ASSERT_FALSE(imap_parser_idle(p));
	CU_ASSERT(imap_parser_feed(p, (const unsigned char *)rest, sizeof(rest) - 1, &used) ==
	          IMAP_PARSE_COMMAND);
	CU_ASSERT_EQUAL(used, sizeof(rest) - 1);
	cmd = imap_parser_command(p);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cmd);
	CU_ASSERT_EQUAL_FATAL(cmd->count, 2);
	CU_ASSERT_EQUAL(cmd->args[0].type, IMAP_ARG_LITERAL);
	CU_ASSERT_FALSE(cmd->args[0].nonsync);
	CU_ASSERT_EQUAL_FATAL(cmd->args[0].len, 6);
	CU_ASSERT(memcmp(cmd->args[0].str, "a\r\n\0b}", 6) == 0);
	CU_ASSERT_EQUAL(cmd->args[0].str[6], '\0');
	CU_ASSERT_STRING_EQUAL(cmd->args[1].str, "pass");
	imap_parser_destroy(&p);
	CHECK("a LOGIN {6}\r\na\r\n\0b} pass\r\n", "+ | C a LOGIN {6}a\\x0d\\x0a\\x00b} pass");
	CHECK("a X {2}\r\n{}\r\n", "+ | C a X {2}{}");
}

static void test_nonsync_literal_does_not_ask_for_continuation(void)
{
	CHECK("a LOGIN {3+}\r\nabc def\r\n", "C a LOGIN {3+}abc def");
	CHECK("a X ({3+}\r\nabc)\r\n", "C a X ({3+}abc)");
	CHECK("a X ({3}\r\nabc {1}\r\n()\r\n", "+ | + | C a X ({3}abc {1}()");
}

static void test_empty_literal_is_valid(void)
{
	CHECK("a LOGIN {0}\r\n {0+}\r\n\r\n", "+ | C a LOGIN {0} {0+}");
}

static void test_literal_length_overflow_is_rejected_not_wrapped(void)
{
	CHECK("a X {18446744073709551616}\r\nb NOOP\r\n", "BAD a [TOOBIG] | C b NOOP");
	CHECK("a X {4294967296}\r\nb NOOP\r\n", "BAD a [TOOBIG] | C b NOOP");
	CHECK("a X {99999999999999999999999}\r\nb NOOP\r\n", "BAD a [TOOBIG] | C b NOOP");
	CHECK("a X {18446744073709551615}\r\nb NOOP\r\n", "BAD a [TOOBIG] | C b NOOP");
	CHECK("a X {18446744073709551617+}\r\nb NOOP\r\n", "BYE a [TOOBIG]");
	CHECK("a X {4294967296+}\r\nb NOOP\r\n", "BYE a [TOOBIG]");
}

static void test_literal_length_must_be_plain_digits(void)
{
	CHECK("a X {-1}\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X {+1}\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X {1a}\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X {}\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X { 1}\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X {1++}\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X {0x10}\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X {1}x\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X {1}\rx\r\nb NOOP\r\n", "BAD a | C b NOOP");
}

static void test_sync_literal_over_limit_is_toobig_without_continuation(void)
{
	struct imap_parser_limits lim = small_limits();
	struct imap_parser *p = imap_parser_create(&lim);
	const char in[] = "a APPEND INBOX {8193}\r\nb NOOP\r\n";
	const struct imap_parse_error *err;
	size_t used;

	CU_ASSERT(imap_parser_feed(p, (const unsigned char *)in, sizeof(in) - 1, &used) ==
	          IMAP_PARSE_ERROR);
	CU_ASSERT_EQUAL(used, 23);
	err = imap_parser_error(p);
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	CU_ASSERT_STRING_EQUAL(err->tag, "a");
	CU_ASSERT_STRING_EQUAL(err->resp_code, "TOOBIG");
	CU_ASSERT_STRING_EQUAL(err->message,
	                       "Literal of 8193 bytes is larger than the limit of 8192 bytes");
	CU_ASSERT_FALSE(err->fatal);
	imap_parser_next(p);
	CU_ASSERT_TRUE(imap_parser_idle(p));
	imap_parser_destroy(&p);
	CHECK_LIM(&lim, "a APPEND INBOX {8193}\r\nb NOOP\r\n", "BAD a [TOOBIG] | C b NOOP");
	CHECK_LIM(&lim, "a APPEND INBOX {8192}\r\nb NOOP\r\n", "+ | PARTIAL");
}

static void test_nonsync_literal_over_limit_is_skipped(void)
{
	struct imap_parser_limits lim = small_limits();
	size_t hlen, len, n = 8193;
	char *in = malloc(n + 100);
	struct transcript t;

	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	hlen = (size_t)sprintf(in, "a APPEND INBOX {%zu+}\r\n", n);
	/* The skipped bytes look like commands; none of them may be parsed. */
	for (size_t i = 0; i < n; i++)
		in[hlen + i] = "z NOOP\r\n"[i % 8];
	len = hlen + n;
	len += (size_t)sprintf(in + len, " (more) {2+}\r\nxy\r\nb NOOP\r\n");
	for (size_t i = 0; i < sizeof(chunkings) / sizeof(chunkings[0]); i++) {
		run(&lim, in, len, chunkings[i], &t);
		CU_ASSERT_STRING_EQUAL(t.buf, "BAD a [TOOBIG] | C b NOOP");
	}
	free(in);
}

/* RFC 7889: an APPEND's message over the limit is a NO, other commands' literals a BAD. */
static void test_only_append_literal_over_limit_is_append_too_big(void)
{
	struct imap_parser_limits lim = small_limits();
	const char *ins[] = {"a APPEND INBOX {8193}\r\n", "a LOGIN {8193}\r\n",
	                     "a APPEND {9000+}\r\n"};
	const bool want[] = {true, false, true};
	for (size_t i = 0; i < 3; i++) {
		struct imap_parser *p = imap_parser_create(&lim);
		size_t used;
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		CU_ASSERT(imap_parser_feed(p, (const unsigned char *)ins[i], strlen(ins[i]), &used) ==
		          IMAP_PARSE_ERROR);
		const struct imap_parse_error *err = imap_parser_error(p);
		CU_ASSERT_PTR_NOT_NULL_FATAL(err);
		CU_ASSERT_STRING_EQUAL(err->resp_code, "TOOBIG");
		CU_ASSERT_EQUAL(err->append_too_big, want[i]);
		imap_parser_destroy(&p);
	}
	/* A syntax error in an APPEND is never a "too big". */
	struct imap_parser *p = imap_parser_create(&lim);
	size_t used;
	CU_ASSERT(imap_parser_feed(p, (const unsigned char *)"a APPEND \"x\r\n", 13, &used) ==
	          IMAP_PARSE_ERROR);
	CU_ASSERT_FALSE(imap_parser_error(p)->append_too_big);
	imap_parser_destroy(&p);
}

/* LITERAL- (RFC 7888 5): {N+} above 4096 is refused and its bytes skipped; {N} is not. */
static void test_literal_minus_refuses_big_nonsync_and_skips_it(void)
{
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	lim.max_nonsync = 4096;
	size_t n = 4097;
	char *in = malloc(2 * n + 100);
	struct transcript t;
	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	size_t len = (size_t)sprintf(in, "a APPEND INBOX {%zu+}\r\n", n);
	/* The skipped bytes look like commands; none of them may be parsed. */
	for (size_t i = 0; i < n; i++)
		in[len++] = "z NOOP\r\n"[i % 8];
	len += (size_t)sprintf(in + len, "\r\nb NOOP\r\n");
	for (size_t i = 0; i < sizeof(chunkings) / sizeof(chunkings[0]); i++) {
		run(&lim, in, len, chunkings[i], &t);
		CU_ASSERT_STRING_EQUAL(t.buf, "BAD a [TOOBIG] | C b NOOP");
	}
	/* 4096 bytes are fine without waiting, and so is a big synchronizing literal. */
	len = (size_t)sprintf(in, "a X {4096+}\r\n");
	memset(in + len, 'q', 4096);
	len += 4096;
	len += (size_t)sprintf(in + len, "\r\n");
	run(&lim, in, len, 0, &t);
	CU_ASSERT_EQUAL(strncmp(t.buf, "C a X ", 6), 0);
	CHECK_LIM(&lim, "a X {5000}\r\n", "+ | PARTIAL");
	CHECK_LIM(&lim, "a X {4097+}\r\n", "BAD a [TOOBIG] | PARTIAL");
	free(in);
}

static void test_absurd_nonsync_literal_is_fatal(void)
{
	struct imap_parser_limits lim = small_limits();

	/* 16 times the limit is still skipped, one byte more ends the connection. */
	CHECK_LIM(&lim, "a APPEND INBOX {131073+}\r\nb NOOP\r\n", "BYE a [TOOBIG]");
	CHECK_LIM(&lim, "a APPEND INBOX {131072+}\r\n", "BAD a [TOOBIG] | PARTIAL");
	CHECK("a APPEND INBOX {2000000000+}\r\nb NOOP\r\n", "BYE a [TOOBIG]");
	CHECK("a APPEND INBOX {2000000000}\r\nb NOOP\r\n", "BAD a [TOOBIG] | C b NOOP");
}

/* A command of exactly `total` bytes before its CRLF. */
static size_t make_line(char *buf, const char *tag, size_t total)
{
	size_t n = (size_t)sprintf(buf, "%s X ", tag);

	while (n < total)
		buf[n++] = 'x';
	buf[n++] = '\r';
	buf[n++] = '\n';
	return n;
}

static void test_line_at_limit_is_accepted_and_one_over_is_bad(void)
{
	struct imap_parser_limits lim;
	char in[256];
	size_t len;
	struct transcript t;

	imap_parser_limits_default(&lim);
	lim.max_line = 64;
	len = make_line(in, "a", 64);
	len += (size_t)sprintf(in + len, "b NOOP\r\n");
	check_lim(&lim, in, len, "C a X xxxxxxxxxxxxxxxx... | C b NOOP");
	len = make_line(in, "a", 65);
	len += (size_t)sprintf(in + len, "b NOOP\r\n");
	check_lim(&lim, in, len, "BAD a [TOOBIG] | C b NOOP");

	/* The error comes as soon as the limit is crossed, without waiting for the CRLF. */
	struct imap_parser *p = imap_parser_create(&lim);
	size_t used;
	const struct imap_parse_error *err;

	memset(in, 'x', 200);
	memcpy(in, "a X ", 4);
	CU_ASSERT(imap_parser_feed(p, (const unsigned char *)in, 200, &used) == IMAP_PARSE_ERROR);
	CU_ASSERT_EQUAL(used, 64);
	err = imap_parser_error(p);
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	CU_ASSERT_STRING_EQUAL(err->message, "Command line is longer than the limit of 64 bytes");
	CU_ASSERT_STRING_EQUAL(err->tag, "a");
	imap_parser_next(p);
	CU_ASSERT(imap_parser_feed(p, (const unsigned char *)in, 200, &used) ==
	          IMAP_PARSE_NEED_MORE);
	CU_ASSERT_FALSE(imap_parser_idle(p));
	imap_parser_destroy(&p);

	/* A tag that never ends has no tag to report. */
	memset(in, 'x', 200);
	run(&lim, in, 200, 0, &t);
	CU_ASSERT_STRING_EQUAL(t.buf, "BAD * [TOOBIG] | PARTIAL");
}

static void test_line_limit_counts_all_segments_around_literals(void)
{
	struct imap_parser_limits lim;
	char in[256];
	size_t len;

	imap_parser_limits_default(&lim);
	lim.max_line = 40;
	/* 18 + 25 = 43 bytes outside the literal data, each segment under the limit. */
	len = (size_t)sprintf(in, "a X xxxxxxxx {20+}\r\n01234567890123456789 yyyyyyyyyyyyyyy "
	                          "zzzzzzzz\r\nb NOOP\r\n");
	check_lim(&lim, in, len, "BAD a [TOOBIG] | C b NOOP");
}

static void test_long_line_discard_skips_nonsync_literal_at_line_end(void)
{
	struct imap_parser_limits lim;
	char in[256];
	size_t len;

	imap_parser_limits_default(&lim);
	lim.max_line = 32;
	len = make_line(in, "a", 40) - 2;
	len += (size_t)sprintf(in + len, " {8+}\r\nz NOOP\r\n more {3+}\r\n\r\n\n\r\nb NOOP\r\n");
	check_lim(&lim, in, len, "BAD a [TOOBIG] | C b NOOP");
	/* The same when the limit is crossed inside the literal header itself. */
	len = make_line(in, "a", 30) - 2;
	len += (size_t)sprintf(in + len, " {8+}\r\nz NOOP\r\n\r\nb NOOP\r\n");
	check_lim(&lim, in, len, "BAD a [TOOBIG] | C b NOOP");
}

static void test_long_line_discard_stops_at_sync_literal(void)
{
	struct imap_parser_limits lim;
	char in[256];
	size_t len;

	imap_parser_limits_default(&lim);
	lim.max_line = 32;
	len = make_line(in, "a", 40) - 2;
	len += (size_t)sprintf(in + len, " {8}\r\nb NOOP\r\n");
	check_lim(&lim, in, len, "BAD a [TOOBIG] | C b NOOP");
}

static void test_nesting_at_max_depth_is_accepted_and_one_deeper_is_bad(void)
{
	char in[512];
	size_t len;
	struct transcript t;

	for (unsigned depth = 64; depth <= 65; depth++) {
		len = (size_t)sprintf(in, "a X ");
		for (unsigned i = 0; i < depth; i++)
			in[len++] = '(';
		for (unsigned i = 0; i < depth; i++)
			in[len++] = ')';
		len += (size_t)sprintf(in + len, "\r\nb NOOP\r\n");
		for (size_t i = 0; i < sizeof(chunkings) / sizeof(chunkings[0]); i++) {
			run(NULL, in, len, chunkings[i], &t);
			if (depth == 64) {
				CU_ASSERT_EQUAL(strncmp(t.buf, "C a X ((((", 10), 0);
			} else {
				CU_ASSERT_STRING_EQUAL(t.buf, "BAD a [LIMIT] | C b NOOP");
			}
		}
	}
}

static void test_missing_tag_is_untagged_bad(void)
{
	CHECK(" NOOP\r\nb NOOP\r\n", "BAD * | C b NOOP");
	CHECK("\r\nb NOOP\r\n", "BAD * | C b NOOP");
	CHECK("\nb NOOP\r\n", "BAD * | C b NOOP");
}

static void test_invalid_tag_is_untagged_bad(void)
{
	CHECK("+ NOOP\r\nb NOOP\r\n", "BAD * | C b NOOP");
	CHECK("a+b NOOP\r\nb NOOP\r\n", "BAD * | C b NOOP");
	CHECK("* NOOP\r\nb NOOP\r\n", "BAD * | C b NOOP");
	CHECK("a% NOOP\r\nb NOOP\r\n", "BAD * | C b NOOP");
	CHECK("\"a\" NOOP\r\nb NOOP\r\n", "BAD * | C b NOOP");
	CHECK("{3+}\r\nabc NOOP\r\nb NOOP\r\n", "BAD * | C b NOOP");
	CHECK("t\xc3\xa4g NOOP\r\nb NOOP\r\n", "BAD * | C b NOOP");
	CHECK("a] NOOP\r\n", "C a] NOOP");
}

static void test_missing_command_name_is_tagged_bad(void)
{
	CHECK("a\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a \r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a  NOOP\r\nb NOOP\r\n", "BAD a | C b NOOP");
}

static void test_lone_lf_ends_a_line(void)
{
	CHECK("a NOOP\nb X (1 2)\nc X {2}\nab\n", "C a NOOP | C b X (1 2) | + | C c X {2}ab");
}

static void test_cr_without_lf_is_bad(void)
{
	CHECK("a NOOP\rb NOOP\r\nc NOOP\r\n", "BAD a | C c NOOP");
	CHECK("a X y\rz\r\nc NOOP\r\n", "BAD a | C c NOOP");
	CHECK("a X y\r\r\nc NOOP\r\n", "BAD a | C c NOOP");
}

static void test_unbalanced_parens_are_bad(void)
{
	CHECK("a X (a\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X ((a)\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X a)\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X )\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X (\r\nb NOOP\r\n", "BAD a | C b NOOP");
}

static void test_extra_and_trailing_spaces_are_bad(void)
{
	CHECK("a NOOP \r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X a  b\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X a \r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X ( a)\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X (a )\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X \"a\"\"b\"\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X (a)(b)\r\nb NOOP\r\n", "BAD a | C b NOOP");
	CHECK("a X {1+}\r\nab\r\nb NOOP\r\n", "BAD a | C b NOOP");
}

static void test_too_many_literals_is_bad(void)
{
	struct imap_parser_limits lim;

	imap_parser_limits_default(&lim);
	lim.max_literals = 3;
	CHECK_LIM(&lim, "a X {1+}\r\n1 {1+}\r\n2 {1+}\r\n3\r\nb NOOP\r\n",
	          "C a X {1+}1 {1+}2 {1+}3 | C b NOOP");
	/* The fourth non-synchronizing literal is still sent by the client and is skipped. */
	CHECK_LIM(&lim,
	          "a X {1+}\r\n1 {1+}\r\n2 {1+}\r\n3 {9+}\r\nz NOOP\r\n {1+}\r\n5\r\nb NOOP\r\n",
	          "BAD a [LIMIT] | C b NOOP");
	/* A synchronizing one is refused without a continuation, which ends the command. */
	CHECK_LIM(&lim, "a X {1+}\r\n1 {1+}\r\n2 {1+}\r\n3 {1}\r\nb NOOP\r\n",
	          "BAD a [LIMIT] | C b NOOP");
}

static void test_max_command_counts_literal_bytes(void)
{
	struct imap_parser_limits lim;
	char in[512];
	size_t len;

	imap_parser_limits_default(&lim);
	lim.max_literal = 1000;
	lim.max_command = 100;
	len = (size_t)sprintf(in, "a X {50+}\r\n");
	memset(in + len, 'd', 50);
	len += 50;
	len += (size_t)sprintf(in + len, " {60+}\r\n");
	memset(in + len, 'e', 60);
	len += 60;
	len += (size_t)sprintf(in + len, "\r\nb NOOP\r\n");
	check_lim(&lim, in, len, "BAD a [TOOBIG] | C b NOOP");
}

/* Inputs for the chunking test, one per behaviour above. */
static const struct {
	const char *in;
	size_t len;
} chunk_cases[] = {
#define CASE(s)                                                                                    \
	{                                                                                          \
		s, sizeof(s) - 1                                                                   \
	}
    CASE("a1 X atom \"quoted\" {3}\r\nlit (l1 l2)\r\n"),
    CASE("a FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>)\r\n"),
    CASE("a X \"a\\\"b\\\\c\" \"a\\nb\"\r\nb NOOP\r\n"),
    CASE("a X \"a\0b\"\r\nb NOOP\r\na X \"\xc3\xa4\" \xc3\xa4\r\n"),
    CASE("a LOGIN {6}\r\na\r\n\0b} pass\r\nb X {3+}\r\nabc {0}\r\n\r\n"),
    CASE("a X {18446744073709551616}\r\nb X {4294967296}\r\nc X {99999999999999999999999}\r\n"),
    CASE("a X {-1}\r\nb X { 1}\r\nc X {1}x\r\n"),
    CASE("\r\n+ NOOP\r\na+b X\r\na\nb NOOP\nc NOOP\rd NOOP\r\n"),
    CASE("a X (a\r\nb X a)\r\nc X a  b\r\nd X (a )\r\ne NOOP \r\n"),
    CASE("a X foo{3+}\r\nc X\r\nb X (a {2+}\r\n\r\n)\r\n"),
    CASE("a X {4294967296+}\r\nb NOOP\r\n"),
#undef CASE
};

static void test_every_case_gives_same_result_in_any_chunking(void)
{
	struct transcript whole, piece;

	for (size_t c = 0; c < sizeof(chunk_cases) / sizeof(chunk_cases[0]); c++) {
		run(NULL, chunk_cases[c].in, chunk_cases[c].len, 0, &whole);
		CU_ASSERT(whole.len > 0);
		for (size_t chunk = 1; chunk <= 9; chunk++) {
			run(NULL, chunk_cases[c].in, chunk_cases[c].len, chunk, &piece);
			CU_ASSERT_STRING_EQUAL(piece.buf, whole.buf);
		}
	}
}

static void test_pipelined_commands_stop_after_each_with_exact_consumed(void)
{
	const char in[] = "a NOOP\r\nb LOGIN {3}\r\nabc def\r\nc X (1)\r\nd NO";
	const unsigned char *data = (const unsigned char *)in;
	struct imap_parser *p = imap_parser_create(NULL);
	size_t len = sizeof(in) - 1, pos = 0, used;

	CU_ASSERT(imap_parser_feed(p, data, len, &used) == IMAP_PARSE_COMMAND);
	CU_ASSERT_EQUAL(used, 8);
	CU_ASSERT_STRING_EQUAL(imap_parser_command(p)->tag, "a");
	/* Until the command is released, feeding returns it again and takes nothing. */
	CU_ASSERT(imap_parser_feed(p, data + 8, len - 8, &used) == IMAP_PARSE_COMMAND);
	CU_ASSERT_EQUAL(used, 0);
	imap_parser_next(p);
	pos = 8;
	CU_ASSERT(imap_parser_feed(p, data + pos, len - pos, &used) == IMAP_PARSE_CONTINUE);
	CU_ASSERT_EQUAL(used, 13);
	pos += used;
	CU_ASSERT(imap_parser_feed(p, data + pos, len - pos, &used) == IMAP_PARSE_COMMAND);
	CU_ASSERT_EQUAL(used, 9);
	CU_ASSERT_STRING_EQUAL(imap_parser_command(p)->name, "LOGIN");
	pos += used;
	imap_parser_next(p);
	CU_ASSERT(imap_parser_feed(p, data + pos, len - pos, &used) == IMAP_PARSE_COMMAND);
	CU_ASSERT_EQUAL(used, 9);
	CU_ASSERT_STRING_EQUAL(imap_parser_command(p)->tag, "c");
	pos += used;
	imap_parser_next(p);
	CU_ASSERT(imap_parser_feed(p, data + pos, len - pos, &used) == IMAP_PARSE_NEED_MORE);
	CU_ASSERT_EQUAL(used, 4);
	CU_ASSERT_FALSE(imap_parser_idle(p));
	CU_ASSERT(imap_parser_feed(p, (const unsigned char *)"OP\r\n", 4, &used) ==
	          IMAP_PARSE_COMMAND);
	CU_ASSERT_STRING_EQUAL(imap_parser_command(p)->name, "NOOP");
	imap_parser_destroy(&p);
}

/* Reads lines in line mode, chunk bytes at a time, and joins them with '|'. */
static void run_lines(struct imap_parser *p, const char *in, size_t len, size_t chunk, char *out,
                      size_t outsize)
{
	size_t pos = 0, n = 0;

	out[0] = '\0';
	while (pos < len) {
		size_t avail = chunk == 0 || len - pos < chunk ? len - pos : chunk, used, llen;
		const char *line;
		enum imap_parse_result r;

		r = imap_parser_feed_line(p, (const unsigned char *)in + pos, avail, &used, &line,
		                          &llen);
		pos += used;
		if (r == IMAP_PARSE_COMMAND) {
			CU_ASSERT_EQUAL(strlen(line), llen);
			n += (size_t)snprintf(out + n, outsize - n, "%s%s|", line,
			                      llen == 0 ? "<empty>" : "");
			imap_parser_next(p);
		} else if (r == IMAP_PARSE_ERROR) {
			check_error_shape(imap_parser_error(p));
			CU_ASSERT_FALSE(imap_parser_error(p)->fatal);
			n += (size_t)snprintf(out + n, outsize - n, "ERR|");
			imap_parser_next(p);
		} else {
			CU_ASSERT_EQUAL(used, avail);
		}
	}
}

static void test_feed_line_returns_base64_and_done_lines(void)
{
	const char in[] = "dGVzdA==\r\nDONE\n\r\n=\r\n";
	char out[256];

	for (size_t chunk = 0; chunk <= 3; chunk++) {
		struct imap_parser *p = imap_parser_create(NULL);

		run_lines(p, in, sizeof(in) - 1, chunk, out, sizeof(out));
		CU_ASSERT_STRING_EQUAL(out, "dGVzdA==|DONE|<empty>|=|");
		CU_ASSERT_TRUE(imap_parser_idle(p));
		imap_parser_destroy(&p);
	}
}

static void test_feed_line_too_long_is_bad_and_skips_rest(void)
{
	struct imap_parser_limits lim;
	const char in[] = "0123456789\r\nDONE\r\n01234567\r\n0123456\r\r\n";
	char out[256];

	imap_parser_limits_default(&lim);
	lim.max_line = 8;
	for (size_t chunk = 0; chunk <= 3; chunk++) {
		struct imap_parser *p = imap_parser_create(&lim);

		run_lines(p, in, sizeof(in) - 1, chunk, out, sizeof(out));
		CU_ASSERT_STRING_EQUAL(out, "ERR|DONE|01234567|0123456\r|");
		imap_parser_destroy(&p);
	}

	/* The error comes as soon as the limit is crossed. */
	struct imap_parser *p = imap_parser_create(&lim);
	const char *line;
	size_t used, llen;

	CU_ASSERT(imap_parser_feed_line(p, (const unsigned char *)in, 10, &used, &line, &llen) ==
	          IMAP_PARSE_ERROR);
	CU_ASSERT_EQUAL(used, 8);
	CU_ASSERT_STRING_EQUAL(imap_parser_error(p)->resp_code, "TOOBIG");
	imap_parser_destroy(&p);
}

static void test_feed_line_between_commands(void)
{
	const char in[] = "a AUTHENTICATE PLAIN\r\nAGZvbwBiYXI=\r\nb NOOP\r\n";
	const unsigned char *data = (const unsigned char *)in;
	struct imap_parser *p = imap_parser_create(NULL);
	size_t len = sizeof(in) - 1, pos = 0, used, llen;
	const char *line;

	CU_ASSERT(imap_parser_feed(p, data, len, &used) == IMAP_PARSE_COMMAND);
	CU_ASSERT_STRING_EQUAL(imap_parser_command(p)->name, "AUTHENTICATE");
	pos += used;
	imap_parser_next(p);
	CU_ASSERT(imap_parser_feed_line(p, data + pos, len - pos, &used, &line, &llen) ==
	          IMAP_PARSE_COMMAND);
	CU_ASSERT_STRING_EQUAL(line, "AGZvbwBiYXI=");
	CU_ASSERT_EQUAL(llen, 12);
	CU_ASSERT_EQUAL(used, 14);
	pos += used;
	imap_parser_next(p);
	CU_ASSERT(imap_parser_feed(p, data + pos, len - pos, &used) == IMAP_PARSE_COMMAND);
	CU_ASSERT_STRING_EQUAL(imap_parser_command(p)->name, "NOOP");
	CU_ASSERT_EQUAL(pos + used, len);
	imap_parser_next(p);

	/* Mixing the modes in the middle of a command or line is a bug in the caller. */
	CU_ASSERT(imap_parser_feed(p, (const unsigned char *)"c NO", 4, &used) ==
	          IMAP_PARSE_NEED_MORE);
	CU_ASSERT(imap_parser_feed_line(p, (const unsigned char *)"x\r\n", 3, &used, &line,
	                                &llen) == IMAP_PARSE_ERROR);
	CU_ASSERT_TRUE(imap_parser_error(p)->fatal);
	imap_parser_destroy(&p);
}

static void test_memory_drops_after_large_literal(void)
{
	struct imap_parser_limits lim;
	struct imap_parser *p;
	size_t n = 1u << 20, len, used, before;
	char *in = malloc(n + 64);

	/* Buffered, not streamed: that is what this test is about. */
	imap_parser_limits_default(&lim);
	lim.stream_min = 0;
	p = imap_parser_create(&lim);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	len = (size_t)sprintf(in, "a APPEND INBOX {%zu+}\r\n", n);
	memset(in + len, 'm', n);
	len += n;
	len += (size_t)sprintf(in + len, "\r\n");
	CU_ASSERT(imap_parser_feed(p, (const unsigned char *)"a NOOP\r\n", 8, &used) ==
	          IMAP_PARSE_COMMAND);
	imap_parser_next(p);
	before = imap_parser_memory(p);
	CU_ASSERT(before < 2048);
	CU_ASSERT(imap_parser_feed(p, (const unsigned char *)in, len, &used) == IMAP_PARSE_COMMAND);
	CU_ASSERT_EQUAL_FATAL(imap_parser_command(p)->args[1].len, n);
	CU_ASSERT(imap_parser_memory(p) > n);
	/* The buffer grows to the literal's size, not to the next power of two beyond it. */
	CU_ASSERT(imap_parser_memory(p) < n + n / 4);
	imap_parser_next(p);
	CU_ASSERT(imap_parser_memory(p) <= before + 1024);
	CU_ASSERT(imap_parser_memory(p) < 2048);
	free(in);
	imap_parser_destroy(&p);
}

static struct imap_parser_limits stream_limits(size_t stream_min)
{
	struct imap_parser_limits lim;

	imap_parser_limits_default(&lim);
	lim.stream_min = stream_min;
	return lim;
}

static void test_streamed_literal_transcripts(void)
{
	struct imap_parser_limits lim = stream_limits(16);
	struct imap_parser_limits never = stream_limits(0);

	/* At and above stream_min in APPEND: chunks, then the command without the bytes. */
	CHECK_LIM(&lim, "a APPEND INBOX {16}\r\n0123456789abcdef\r\nb NOOP\r\n",
	          "+ | L 0123456789abcdef | C a APPEND INBOX {16~} | C b NOOP");
	CHECK_LIM(&lim,
	          "a append INBOX (\\Seen) \"1-Jan-2020 00:00:00 +0000\" {18+}\r\n"
	          "x\r\n\0yz0123456789ab\r\n",
	          "L x\\x0d\\x0a\\x00yz0123456789ab | C a APPEND INBOX (\\x5cSeen) "
	          "\"1-Jan-2020 00:00:00 +0000\" {18+~}");
	/* Below stream_min, in another command, or with streaming off: buffered as before. */
	CHECK_LIM(&lim, "a APPEND INBOX {15}\r\n0123456789abcde\r\n",
	          "+ | C a APPEND INBOX {15}0123456789abcde");
	CHECK_LIM(&lim, "a X INBOX {16}\r\n0123456789abcdef\r\n",
	          "+ | C a X INBOX {16}0123456789abcdef");
	CHECK_LIM(&never, "a APPEND INBOX {16+}\r\n0123456789abcdef\r\n",
	          "C a APPEND INBOX {16+}0123456789abcdef");
	/* Limits and errors are unchanged: too big is refused before any byte is streamed, and
	   a bad byte after the streamed literal rejects the command. */
	lim.max_literal = 20;
	CHECK_LIM(&lim, "a APPEND INBOX {21}\r\nb NOOP\r\n", "BAD a [TOOBIG] | C b NOOP");
	CHECK_LIM(&lim, "a APPEND INBOX {21+}\r\n0123456789abcdef01234\r\nb NOOP\r\n",
	          "BAD a [TOOBIG] | C b NOOP");
	CHECK_LIM(&lim, "a APPEND INBOX {16+}\r\n0123456789abcdefx\r\nb NOOP\r\n",
	          "L 0123456789abcdef | BAD a | C b NOOP");
	CHECK_LIM(&lim, "a APPEND INBOX {16+}\r\n01234567", "L 01234567 | PARTIAL");
}

/* Feeds in to a parser `chunk` bytes at a time and checks the streamed bytes are `lit`. */
static void check_streamed(const char *in, size_t len, size_t chunk, const char *lit,
                           size_t lit_len, bool sync)
{
	struct imap_parser_limits lim = stream_limits(64);
	struct imap_parser *p = imap_parser_create(&lim);
	char *got = malloc(lit_len + 1);
	size_t pos = 0, got_len = 0, continues = 0, commands = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	while (pos < len) {
		size_t avail = len - pos < chunk ? len - pos : chunk, used, n;
		const unsigned char *c;
		enum imap_parse_result r =
		    imap_parser_feed(p, (const unsigned char *)in + pos, avail, &used);

		CU_ASSERT_FATAL(used <= avail);
		imap_parser_literal_chunk(p, &c, &n);
		if (r == IMAP_PARSE_LITERAL_DATA) {
			/* A synchronizing literal's bytes only come after the continuation. */
			CU_ASSERT_FATAL(!sync || continues == 1);
			CU_ASSERT_FATAL(n > 0 && got_len + n <= lit_len);
			CU_ASSERT_FATAL(c + n == (const unsigned char *)in + pos + used);
			memcpy(got + got_len, c, n);
			got_len += n;
		} else {
			CU_ASSERT_PTR_NULL(c);
			CU_ASSERT_EQUAL(n, 0);
		}
		if (r == IMAP_PARSE_CONTINUE)
			continues++;
		if (r == IMAP_PARSE_COMMAND) {
			const struct imap_command *cmd = imap_parser_command(p);

			CU_ASSERT_EQUAL_FATAL(cmd->count, 2);
			CU_ASSERT_EQUAL(cmd->args[1].type, IMAP_ARG_LITERAL);
			CU_ASSERT_TRUE(cmd->args[1].streamed);
			CU_ASSERT_PTR_NULL(cmd->args[1].str);
			CU_ASSERT_EQUAL(cmd->args[1].len, lit_len);
			CU_ASSERT_EQUAL(cmd->args[1].nonsync, !sync);
			commands++;
			imap_parser_next(p);
		}
		CU_ASSERT_FATAL(r != IMAP_PARSE_ERROR);
		pos += used;
	}
	CU_ASSERT_EQUAL(continues, sync ? 1 : 0);
	CU_ASSERT_EQUAL(commands, 1);
	CU_ASSERT_EQUAL_FATAL(got_len, lit_len);
	CU_ASSERT(memcmp(got, lit, lit_len) == 0);
	CU_ASSERT_TRUE(imap_parser_idle(p));
	free(got);
	imap_parser_destroy(&p);
}

static void test_streamed_literal_arrives_whole_in_any_chunking(void)
{
	static const size_t sizes[] = {1, 2, 3, 7, 64, 100, 1000, 100000};
	size_t lit_len = 5000, len;
	char *lit = malloc(lit_len), *in = malloc(lit_len + 64);

	CU_ASSERT_PTR_NOT_NULL_FATAL(lit);
	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	for (size_t i = 0; i < lit_len; i++)
		lit[i] = (char)(i * 7 + i / 251); /* every byte value, CR, LF and NUL included */
	for (int sync = 0; sync <= 1; sync++) {
		len = (size_t)sprintf(in, "a APPEND INBOX {%zu%s}\r\n", lit_len, sync ? "" : "+");
		memcpy(in + len, lit, lit_len);
		len += lit_len;
		memcpy(in + len, "\r\n", 2);
		len += 2;
		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
			check_streamed(in, len, sizes[k], lit, lit_len, sync);
	}
	free(lit);
	free(in);
}

static void test_memory_stays_small_during_streamed_literal(void)
{
	struct imap_parser *p = imap_parser_create(NULL); /* default stream_min */
	size_t n = (size_t)10 << 20, sent = 0, total = 0, used, max_mem = 0;
	unsigned char body[65536];
	char hdr[64];
	int len = snprintf(hdr, sizeof(hdr), "a APPEND INBOX {%zu}\r\n", n);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memset(body, 'm', sizeof(body));
	CU_ASSERT(imap_parser_feed(p, (const unsigned char *)hdr, (size_t)len, &used) ==
	          IMAP_PARSE_CONTINUE);
	while (sent < n) {
		size_t want = n - sent < 3000 ? n - sent : 3000 + sent % 7;
		const unsigned char *c;
		size_t clen;

		CU_ASSERT_FATAL(imap_parser_feed(p, body, want, &used) == IMAP_PARSE_LITERAL_DATA);
		CU_ASSERT_FATAL(used == want);
		imap_parser_literal_chunk(p, &c, &clen);
		CU_ASSERT_FATAL(c == body && clen == used);
		total += clen;
		sent += used;
		if (imap_parser_memory(p) > max_mem)
			max_mem = imap_parser_memory(p);
	}
	CU_ASSERT(imap_parser_feed(p, (const unsigned char *)"\r\n", 2, &used) ==
	          IMAP_PARSE_COMMAND);
	CU_ASSERT_EQUAL(total, n);
	CU_ASSERT_EQUAL(imap_parser_command(p)->args[1].len, n);
	CU_ASSERT(max_mem < 2048);
	imap_parser_next(p);
	imap_parser_destroy(&p);
}

static void test_memory_drops_after_rejected_long_line(void)
{
	struct imap_parser *p = imap_parser_create(NULL);
	size_t n = 65536 + 10, used, before = imap_parser_memory(p);
	char *in = malloc(n);

	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	memset(in, 'x', n);
	memcpy(in, "a X ", 4);
	CU_ASSERT(imap_parser_feed(p, (const unsigned char *)in, n, &used) == IMAP_PARSE_ERROR);
	CU_ASSERT(imap_parser_memory(p) > 65536);
	imap_parser_next(p);
	CU_ASSERT(imap_parser_memory(p) <= before + 1024);
	free(in);
	imap_parser_destroy(&p);
}

static void test_idle_reports_partial_commands(void)
{
	struct imap_parser_limits lim;
	struct imap_parser *p;
	size_t used;

	imap_parser_limits_default(&lim);
	lim.max_line = 16;
	p = imap_parser_create(&lim);
	CU_ASSERT_TRUE(imap_parser_idle(p));
	CU_ASSERT(imap_parser_feed(p, (const unsigned char *)"a NO", 4, &used) ==
	          IMAP_PARSE_NEED_MORE);
	CU_ASSERT_FALSE(imap_parser_idle(p));
	CU_ASSERT(imap_parser_feed(p, (const unsigned char *)"OP\r\n", 4, &used) ==
	          IMAP_PARSE_COMMAND);
	CU_ASSERT_TRUE(imap_parser_idle(p));
	imap_parser_next(p);
	CU_ASSERT_TRUE(imap_parser_idle(p));
	/* While the rest of a rejected line is being discarded, the parser is not idle. */
	CU_ASSERT(imap_parser_feed(p, (const unsigned char *)"a X 0123456789abcdef", 20, &used) ==
	          IMAP_PARSE_ERROR);
	imap_parser_next(p);
	CU_ASSERT_FALSE(imap_parser_idle(p));
	CU_ASSERT(imap_parser_feed(p, (const unsigned char *)"xyz\r\n", 5, &used) ==
	          IMAP_PARSE_NEED_MORE);
	CU_ASSERT_TRUE(imap_parser_idle(p));
	imap_parser_destroy(&p);
	imap_parser_destroy(&p); /* destroying NULL is harmless */
}

static void test_error_carries_tag_code_and_sentence(void)
{
	struct imap_parser *p = imap_parser_create(NULL);
	const struct imap_parse_error *err;
	size_t used;

	CU_ASSERT(imap_parser_feed(p, (const unsigned char *)"t7 X a  b\r\n", 11, &used) ==
	          IMAP_PARSE_ERROR);
	CU_ASSERT_EQUAL(used, 7);
	err = imap_parser_error(p);
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	CU_ASSERT_STRING_EQUAL(err->tag, "t7");
	CU_ASSERT_PTR_NULL(err->resp_code);
	CU_ASSERT_STRING_EQUAL(err->message, "Extra space between arguments");
	CU_ASSERT_FALSE(err->fatal);
	imap_parser_next(p);
	CU_ASSERT_PTR_NULL(imap_parser_error(p));
	imap_parser_destroy(&p);
}

static void test_set_limits_applies_to_next_command(void)
{
	struct imap_parser_limits lim = small_limits();
	struct imap_parser *p = imap_parser_create(&lim);
	const char in[] = "a APPEND INBOX {10000}\r\n";
	size_t used;

	CU_ASSERT(imap_parser_feed(p, (const unsigned char *)in, sizeof(in) - 1, &used) ==
	          IMAP_PARSE_ERROR);
	imap_parser_next(p);
	imap_parser_limits_default(&lim);
	imap_parser_set_limits(p, &lim);
	CU_ASSERT(imap_parser_feed(p, (const unsigned char *)in, sizeof(in) - 1, &used) ==
	          IMAP_PARSE_CONTINUE);
	imap_parser_destroy(&p);
}

static void test_arg_helpers_classify_arguments(void)
{
	const char in[] = "a X nil \"NIL\" {3+}\r\nNiL Inbox ()\r\n";
	struct imap_parser *p = parse_one(in, sizeof(in) - 1);
	const struct imap_command *cmd = imap_parser_command(p);
	const struct imap_arg *a = cmd->args;

	CU_ASSERT_EQUAL_FATAL(cmd->count, 5);
	CU_ASSERT_TRUE(imap_arg_is_nil(&a[0]));
	CU_ASSERT_FALSE(imap_arg_is_nil(&a[1]));
	CU_ASSERT_FALSE(imap_arg_is_nil(&a[2]));
	CU_ASSERT_TRUE(imap_arg_is_atom(&a[3], "INBOX"));
	CU_ASSERT_FALSE(imap_arg_is_atom(&a[3], "INBOXES"));
	CU_ASSERT_FALSE(imap_arg_is_atom(&a[3], "INBO"));
	CU_ASSERT_FALSE(imap_arg_is_atom(&a[1], "NIL"));
	CU_ASSERT_FALSE(imap_arg_is_string(&a[0]));
	CU_ASSERT_TRUE(imap_arg_is_string(&a[1]));
	CU_ASSERT_TRUE(imap_arg_is_string(&a[2]));
	CU_ASSERT_TRUE(imap_arg_is_astring(&a[0]));
	CU_ASSERT_TRUE(imap_arg_is_astring(&a[2]));
	CU_ASSERT_FALSE(imap_arg_is_astring(&a[4]));
	CU_ASSERT_FALSE(imap_arg_is_string(&a[4]));
	CU_ASSERT_FALSE(imap_arg_is_atom(NULL, "NIL"));
	imap_parser_destroy(&p);
}

static CU_TestInfo parser_tests[] = {
    {"limits_default_values", test_limits_default_values},
    {"every_token_type_parses", test_every_token_type_parses},
    {"command_name_is_upper_cased_and_uid_keeps_subcommand",
     test_command_name_is_upper_cased_and_uid_keeps_subcommand},
    {"command_without_arguments_has_none", test_command_without_arguments_has_none},
    {"nested_lists_build_a_tree", test_nested_lists_build_a_tree},
    {"empty_list_has_no_elements", test_empty_list_has_no_elements},
    {"fetch_bracket_atom_keeps_spaces_and_parens", test_fetch_bracket_atom_keeps_spaces_and_parens},
    {"unclosed_bracket_at_line_end_is_bad", test_unclosed_bracket_at_line_end_is_bad},
    {"quoted_escapes_are_unescaped", test_quoted_escapes_are_unescaped},
    {"invalid_quoted_escape_is_bad", test_invalid_quoted_escape_is_bad},
    {"nul_in_quoted_is_bad", test_nul_in_quoted_is_bad},
    {"line_break_in_quoted_is_bad", test_line_break_in_quoted_is_bad},
    {"8bit_in_quoted_is_accepted", test_8bit_in_quoted_is_accepted},
    {"8bit_nul_and_ctl_in_atom_are_bad", test_8bit_nul_and_ctl_in_atom_are_bad},
    {"brace_inside_atom_is_bad", test_brace_inside_atom_is_bad},
    {"sync_literal_continues_then_completes_with_exact_bytes",
     test_sync_literal_continues_then_completes_with_exact_bytes},
    {"nonsync_literal_does_not_ask_for_continuation",
     test_nonsync_literal_does_not_ask_for_continuation},
    {"empty_literal_is_valid", test_empty_literal_is_valid},
    {"literal_length_overflow_is_rejected_not_wrapped",
     test_literal_length_overflow_is_rejected_not_wrapped},
    {"literal_length_must_be_plain_digits", test_literal_length_must_be_plain_digits},
    {"sync_literal_over_limit_is_toobig_without_continuation",
     test_sync_literal_over_limit_is_toobig_without_continuation},
    {"nonsync_literal_over_limit_is_skipped", test_nonsync_literal_over_limit_is_skipped},
    {"only_append_literal_over_limit_is_append_too_big",
     test_only_append_literal_over_limit_is_append_too_big},
    {"literal_minus_refuses_big_nonsync_and_skips_it",
     test_literal_minus_refuses_big_nonsync_and_skips_it},
    {"absurd_nonsync_literal_is_fatal", test_absurd_nonsync_literal_is_fatal},
    {"line_at_limit_is_accepted_and_one_over_is_bad",
     test_line_at_limit_is_accepted_and_one_over_is_bad},
    {"line_limit_counts_all_segments_around_literals",
     test_line_limit_counts_all_segments_around_literals},
    {"long_line_discard_skips_nonsync_literal_at_line_end",
     test_long_line_discard_skips_nonsync_literal_at_line_end},
    {"long_line_discard_stops_at_sync_literal", test_long_line_discard_stops_at_sync_literal},
    {"nesting_at_max_depth_is_accepted_and_one_deeper_is_bad",
     test_nesting_at_max_depth_is_accepted_and_one_deeper_is_bad},
    {"missing_tag_is_untagged_bad", test_missing_tag_is_untagged_bad},
    {"invalid_tag_is_untagged_bad", test_invalid_tag_is_untagged_bad},
    {"missing_command_name_is_tagged_bad", test_missing_command_name_is_tagged_bad},
    {"lone_lf_ends_a_line", test_lone_lf_ends_a_line},
    {"cr_without_lf_is_bad", test_cr_without_lf_is_bad},
    {"unbalanced_parens_are_bad", test_unbalanced_parens_are_bad},
    {"extra_and_trailing_spaces_are_bad", test_extra_and_trailing_spaces_are_bad},
    {"too_many_literals_is_bad", test_too_many_literals_is_bad},
    {"max_command_counts_literal_bytes", test_max_command_counts_literal_bytes},
    {"every_case_gives_same_result_in_any_chunking",
     test_every_case_gives_same_result_in_any_chunking},
    {"pipelined_commands_stop_after_each_with_exact_consumed",
     test_pipelined_commands_stop_after_each_with_exact_consumed},
    {"feed_line_returns_base64_and_done_lines", test_feed_line_returns_base64_and_done_lines},
    {"feed_line_too_long_is_bad_and_skips_rest", test_feed_line_too_long_is_bad_and_skips_rest},
    {"feed_line_between_commands", test_feed_line_between_commands},
    {"memory_drops_after_large_literal", test_memory_drops_after_large_literal},
    {"memory_drops_after_rejected_long_line", test_memory_drops_after_rejected_long_line},
    {"streamed_literal_transcripts", test_streamed_literal_transcripts},
    {"streamed_literal_arrives_whole_in_any_chunking",
     test_streamed_literal_arrives_whole_in_any_chunking},
    {"memory_stays_small_during_streamed_literal", test_memory_stays_small_during_streamed_literal},
    {"idle_reports_partial_commands", test_idle_reports_partial_commands},
    {"error_carries_tag_code_and_sentence", test_error_carries_tag_code_and_sentence},
    {"set_limits_applies_to_next_command", test_set_limits_applies_to_next_command},
    {"arg_helpers_classify_arguments", test_arg_helpers_classify_arguments},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo parser_suites[] = {
    {"parser", NULL, NULL, NULL, NULL, parser_tests},
    CU_SUITE_INFO_NULL,
};
