/*
 * Lexical helpers shared by the MIME header parser and the address parser: the pieces of
 * RFC 5322 and RFC 2045 syntax (whitespace, comments, quoted strings, tokens, atoms) that
 * both need. Every function takes the end of its input and never reads past it, and none
 * recurses: nested comments are tracked with a counter, so "((((((" costs one pass.
 * Inputs are header values that were already unfolded.
 */
#ifndef SLUICE_MAIL_LEX_H
#define SLUICE_MAIL_LEX_H

#include <stdbool.h>
#include <stddef.h>

#include "mail/mail-buf.h"

static inline bool mail_lex_is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static inline unsigned char mail_lex_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/** ASCII case-insensitive comparison of @p a (@p alen bytes) with the string @p b; it does
 *  not depend on the locale, which header names must not. */
bool mail_lex_ascii_ieq(const void *a, size_t alen, const char *b);

/** RFC 2045 token character: printable US-ASCII other than tspecials. */
bool mail_lex_is_token_char(unsigned char c);
/** RFC 5322 atext, widened to every 8-bit byte so that raw UTF-8 stays in one word. */
bool mail_lex_is_atext(unsigned char c);

/** Skips a comment that starts at @p p (which must be '('); returns the position after its
 *  closing parenthesis, or @p end when it is not closed. */
const unsigned char *mail_lex_skip_comment(const unsigned char *p, const unsigned char *end);
/** Skips whitespace and comments. */
const unsigned char *mail_lex_skip_cfws(const unsigned char *p, const unsigned char *end);
/** Reads a quoted string that starts at @p p (which must be '"'), appending its content
 *  without the quoted-pair backslashes to @p out when non-NULL; returns the position after
 *  the closing quote, or @p end when it is not closed. */
const unsigned char *mail_lex_quoted(const unsigned char *p, const unsigned char *end,
                                     struct mail_buf *out);
/** Returns the end of the run of token characters starting at @p p. */
const unsigned char *mail_lex_token(const unsigned char *p, const unsigned char *end);

#endif
