/*
 * Base64 (RFC 4648) for SASL exchanges. Decoding is strict: any character outside the
 * alphabet, misplaced padding or a length that is not a multiple of four is an error,
 * so malformed client input is refused instead of guessed at.
 */
#ifndef SLUICE_BASE64_H
#define SLUICE_BASE64_H

#include <stddef.h>

/** Size of the encoding of @p n bytes, without the NUL. */
size_t base64_encoded_len(size_t n);
/** Encodes into @p out, which must hold base64_encoded_len(n) + 1 bytes; NUL-terminates. */
void base64_encode(const unsigned char *in, size_t n, char *out);
/** Decodes @p len chars into @p out (room for len / 4 * 3 bytes); returns the length or -1. */
long base64_decode(const char *in, size_t len, unsigned char *out);

#endif
