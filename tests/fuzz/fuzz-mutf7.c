/*
 * Fuzz target for modified UTF-7 mailbox names (core/mail/mutf7.c).
 *
 * The input, up to its first NUL, is tried both as a modified UTF-7 name and as UTF-8.
 * Besides the sanitizers' checks, the target aborts when the module breaks a promise:
 * mutf7_valid() disagreeing with the decoder, a decoded name that does not encode back to
 * the very same bytes (every name has one spelling), UTF-8 that does not survive a round
 * trip, an encoder output that is not printable ASCII, or a failure that leaves bytes in
 * the output buffer.
 *
 * It is plain C: built with libFuzzer under clang, or linked with the replay driver that
 * feeds the seed files in tests/fuzz/corpus/mutf7/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mutf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int ok)
{
	if (!ok)
		abort();
}

/* Copies a buffer into a NUL-terminated string the caller frees. */
static char *fuzz_cstr(const struct buf *b)
{
	char *s = malloc(buf_len(b) + 1);
	fuzz_check(s != NULL);
	if (buf_len(b) > 0)
		memcpy(s, buf_head(b), buf_len(b));
	s[buf_len(b)] = '\0';
	return s;
}

static void fuzz_as_mutf7(const char *in)
{
	struct buf utf8 = {0}, back = {0};
	int ret = mutf7_to_utf8(in, &utf8);
	fuzz_check(ret == 0 || ret == SLUICE_E_PARSE);
	fuzz_check((ret == 0) == mutf7_valid(in));
	if (ret != 0) {
		fuzz_check(buf_len(&utf8) == 0);
		buf_free(&utf8);
		return;
	}
	char *s = fuzz_cstr(&utf8);
	/* An encoded NUL is refused, so the decoded text is a whole C string. */
	fuzz_check(strlen(s) == buf_len(&utf8));
	fuzz_check(utf8_to_mutf7(s, &back) == 0);
	fuzz_check(buf_len(&back) == strlen(in) &&
	           (buf_len(&back) == 0 || memcmp(buf_head(&back), in, buf_len(&back)) == 0));
	free(s);
	buf_free(&utf8);
	buf_free(&back);
}

static void fuzz_as_utf8(const char *in)
{
	struct buf m = {0}, back = {0};
	int ret = utf8_to_mutf7(in, &m);
	fuzz_check(ret == 0 || ret == SLUICE_E_PARSE);
	if (ret != 0) {
		fuzz_check(buf_len(&m) == 0);
		buf_free(&m);
		return;
	}
	for (size_t i = 0; i < buf_len(&m); i++)
		fuzz_check(buf_head(&m)[i] >= 0x20 && buf_head(&m)[i] < 0x7f);
	char *s = fuzz_cstr(&m);
	fuzz_check(mutf7_valid(s));
	fuzz_check(mutf7_to_utf8(s, &back) == 0);
	fuzz_check(buf_len(&back) == strlen(in) &&
	           (buf_len(&back) == 0 || memcmp(buf_head(&back), in, buf_len(&back)) == 0));
	free(s);
	buf_free(&m);
	buf_free(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1);
	fuzz_check(in != NULL);
	if (size > 0)
		memcpy(in, data, size);
	in[size] = '\0';
	fuzz_as_mutf7(in);
	fuzz_as_utf8(in);
	free(in);
	return 0;
}
