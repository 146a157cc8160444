/*
 * RFC 5322 / RFC 2045 lexical helpers (see lex.h). A backslash at the very end of the
 * input, inside a comment or a quoted string, simply ends it: there is nothing left to
 * escape, and reading on would run past the value.
 */
#include "mail/lex.h"

#include <string.h>

bool mail_lex_ascii_ieq(const void *a, size_t alen, const char *b)
{
	const unsigned char *p = a;
	for (size_t i = 0; i < alen; i++) {
		if (b[i] == '\0' || mail_lex_lower(p[i]) != mail_lex_lower((unsigned char)b[i]))
			return false;
	}
	return b[alen] == '\0';
}

bool mail_lex_is_token_char(unsigned char c)
{
	if (c <= ' ' || c >= 0x7f)
		return false;
	return strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

bool mail_lex_is_atext(unsigned char c)
{
	if (c >= 0x80)
		return true;
	if (c <= ' ' || c == 0x7f)
		return false;
	return strchr("()<>[]:;@\\,.\"", c) == NULL;
}

const unsigned char *mail_lex_skip_comment(const unsigned char *p, const unsigned char *end)
{
	size_t depth = 0;
	while (p < end) {
		unsigned char c = *p++;
		if (c == '\\') {
			if (p < end)
				p++;
		} else if (c == '(') {
			depth++;
		} else if (c == ')') {
			if (--depth == 0)
				return p;
		}
	}
	return end;
}

const unsigned char *mail_lex_skip_cfws(const unsigned char *p, const unsigned char *end)
{
	while (p < end) {
		if (mail_lex_is_wsp(*p))
			p++;
		else if (*p == '(')
			p = mail_lex_skip_comment(p, end);
		else
			break;
	}
	return p;
}

const unsigned char *mail_lex_quoted(const unsigned char *p, const unsigned char *end,
                                     struct mail_buf *out)
{
	p++; /* the opening quote */
	while (p < end) {
		const unsigned char *run = p;
		while (p < end && *p != '"' && *p != '\\')
			p++;
		if (out != NULL)
			mail_buf_append(out, run, (size_t)(p - run));
		if (p == end)
			break;
		if (*p == '"')
			return p + 1;
		p++; /* the backslash */
		if (p < end) {
			if (out != NULL)
				mail_buf_putc(out, (char)*p);
			p++;
		}
	}
	return end;
}

const unsigned char *mail_lex_token(const unsigned char *p, const unsigned char *end)
{
	while (p < end && mail_lex_is_token_char(*p))
		p++;
	return p;
}
