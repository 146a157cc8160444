/*
 * MODSEQ values on the wire (RFC 7162 section 7): `mod-sequence-value` is a positive
 * 63-bit number, `mod-sequence-valzer` the same or 0. CHANGEDSINCE and QRESYNC take the
 * first, UNCHANGEDSINCE and SEARCH MODSEQ the second. Values beyond 2^63 - 1 and leading
 * junk are refused, so a client cannot make the server compare against a wrapped number.
 */
#ifndef SLUICE_IMAP_MODSEQ_H
#define SLUICE_IMAP_MODSEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/parser.h"

/* The largest MODSEQ a client may name. */
#define IMAP_MODSEQ_MAX ((uint64_t)INT64_MAX)

/**
 * @brief Reads a MODSEQ from an atom argument.
 * @param[in]  a       the argument; anything but an atom of 1 to 19 digits is refused
 * @param[in]  zero_ok whether 0 is allowed (mod-sequence-valzer)
 * @param[out] v_r     the value
 * @return true when @p a is a valid value. Any thread.
 */
bool imap_modseq_parse(const struct imap_arg *a, bool zero_ok, uint64_t *v_r);

#endif
