/*
 * Fuzz target for the IMAP command parser (core/imap/parser.c).
 *
 * The first input byte picks how the rest is delivered and under which limits: the chunk size
 * (whole, or 1 to 255 bytes at a time, so tokens split at every boundary), the small limits
 * a session uses before login, and whether a completed AUTHENTICATE or IDLE switches the
 * parser to line mode for the next line, as the session does. The rest is the client's byte
 * stream. Besides the sanitizers' checks, the target aborts when the parser breaks one of its
 * promises: consuming more than it was given, not consuming everything on NEED_MORE, handing
 * out a string that is not NUL-terminated, a tree deeper than max_depth, an error without a
 * sentence, or memory that is not given back after imap_parser_next().
 *
 * It is plain C: built with libFuzzer under clang, or linked with a small main that feeds
 * the seed files in tests/fuzz/corpus/parser/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What an idle parser may hold after imap_parser_next(), its struct included. */
#define FUZZ_PARSER_IDLE_MEMORY 2048

static const size_t fuzz_chunks[8] = {0, 1, 2, 3, 7, 16, 64, 255};

static void fuzz_check(int ok)
{
	if (!ok)
		abort();
}

/* Walks an argument tree, touching every byte it claims to own. */
static void fuzz_walk(const struct imap_arg *args, size_t count, unsigned depth, unsigned max_depth)
{
	fuzz_check(count == 0 || args != NULL);
	for (size_t i = 0; i < count; i++) {
		const struct imap_arg *a = &args[i];
		volatile char sink = 0;

		switch (a->type) {
		case IMAP_ARG_LIST:
			fuzz_check(depth < max_depth);
			fuzz_check(a->str == NULL);
			fuzz_walk(a->list, a->count, depth + 1, max_depth);
			break;
		case IMAP_ARG_ATOM:
			fuzz_check(a->len > 0);
			/* fall through */
		case IMAP_ARG_QUOTED:
		case IMAP_ARG_LITERAL:
			if (a->streamed) {
				fuzz_check(a->type == IMAP_ARG_LITERAL && a->str == NULL);
				break;
			}
			fuzz_check(a->str != NULL && a->str[a->len] == '\0');
			for (size_t j = 0; j < a->len; j++)
				sink ^= a->str[j];
			if (a->type != IMAP_ARG_LITERAL)
				fuzz_check(strlen(a->str) == a->len);
			(void)sink;
			(void)imap_arg_is_nil(a);
			(void)imap_arg_is_astring(a);
			break;
		default:
			abort();
		}
	}
}

static void fuzz_check_error(const struct imap_parse_error *err)
{
	fuzz_check(err != NULL && err->message != NULL && err->message[0] != '\0');
	fuzz_check(strpbrk(err->message, "\r\n") == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_limits lim;
	struct imap_parser *p;
	size_t chunk, pos = 0, end = 0;
	bool line_mode = false, use_lines;

	if (size == 0)
		return 0;
	imap_parser_limits_default(&lim);
	if (data[0] & 0x08) {
		/* Before login: small limits, so that every limit is reachable by the fuzzer. */
		lim.max_line = 256;
		lim.max_literal = 64;
		lim.max_depth = 8;
		lim.max_literals = 4;
		lim.max_command = 512;
		lim.stream_min = 16;
	}
	chunk = fuzz_chunks[data[0] & 0x07];
	use_lines = (data[0] & 0x10) != 0;
	data++;
	size--;

	p = imap_parser_create(&lim);
	if (p == NULL)
		return 0;
	while (pos < size) {
		size_t avail, used = 0, llen = 0;
		const char *line = NULL;
		enum imap_parse_result r;

		if (end <= pos)
			end = chunk == 0 || size - pos < chunk ? size : pos + chunk;
		avail = end - pos;
		if (line_mode)
			r = imap_parser_feed_line(p, data + pos, avail, &used, &line, &llen);
		else
			r = imap_parser_feed(p, data + pos, avail, &used);
		fuzz_check(used <= avail);
		pos += used;
		switch (r) {
		case IMAP_PARSE_NEED_MORE:
			fuzz_check(used == avail);
			break;
		case IMAP_PARSE_CONTINUE:
			fuzz_check(!line_mode && used > 0);
			break;
		case IMAP_PARSE_LITERAL_DATA: {
			const unsigned char *lit;
			size_t llit;
			volatile unsigned char sink = 0;

			imap_parser_literal_chunk(p, &lit, &llit);
			fuzz_check(!line_mode && llit > 0 && lit >= data + pos - used &&
			           lit + llit <= data + pos);
			for (size_t j = 0; j < llit; j++)
				sink ^= lit[j];
			(void)sink;
			break;
		}
		case IMAP_PARSE_COMMAND:
			if (line_mode) {
				fuzz_check(line != NULL && line[llen] == '\0');
				fuzz_check(llen <= lim.max_line);
				line_mode = false;
			} else {
				const struct imap_command *cmd = imap_parser_command(p);

				fuzz_check(cmd != NULL && cmd->tag[0] != '\0' &&
				           cmd->name[0] != '\0');
				fuzz_walk(cmd->args, cmd->count, 0, lim.max_depth);
				line_mode = use_lines && (strcmp(cmd->name, "AUTHENTICATE") == 0 ||
				                          strcmp(cmd->name, "IDLE") == 0);
			}
			imap_parser_next(p);
			fuzz_check(imap_parser_memory(p) <= FUZZ_PARSER_IDLE_MEMORY);
			break;
		case IMAP_PARSE_ERROR: {
			const struct imap_parse_error *err = imap_parser_error(p);

			fuzz_check_error(err);
			if (err->fatal) {
				/* A dead parser keeps refusing and takes nothing more. */
				fuzz_check(imap_parser_feed(p, data + pos, size - pos, &used) ==
				               IMAP_PARSE_ERROR &&
				           used == 0);
				pos = size;
				break;
			}
			imap_parser_next(p);
			fuzz_check(imap_parser_memory(p) <= FUZZ_PARSER_IDLE_MEMORY);
			line_mode = false;
			break;
		}
		default:
			abort();
		}
	}
	imap_parser_destroy(&p);
	return 0;
}
