/*
 * UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates, nothing above
 * U+10FFFF. One decoder for the core, so that the configuration reader, the mail
 * matcher and anything else that must judge client or file text agree on what is valid.
 */
#ifndef SLUICE_UTF8_H
#define SLUICE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * Decodes the character at @p p, which has @p avail bytes (at least 1).
 * @return the number of bytes it takes (1 to 4) with *cp_r set, or 0 when the bytes at
 *         @p p are not a valid UTF-8 character.
 */
size_t utf8_decode(const unsigned char *p, size_t avail, uint32_t *cp_r);
/** True when all @p len bytes of @p s are valid UTF-8. */
bool utf8_valid(const void *s, size_t len);

#endif
