/*
 * Message file names. A Maildir message is called `<unique>[,S=<size>][:2,<info>]`: the
 * part before the first ':' never changes and is the message's key at the module ABI; the
 * info after ":2," holds one letter per flag, in ASCII order. The system flags are
 * D (\Draft), F (\Flagged), P (passed, reported as the keyword $Forwarded), R (\Answered),
 * S (\Seen) and T (\Deleted); lowercase letters stand for keywords (keywords.c). Other
 * letters, which other programs may write, are not understood but are carried over when
 * the flags change, so that nothing another tool stored is lost.
 */
#include "maildir.h"

#include <string.h>

static const struct {
	char letter;
	uint32_t flag;
} maildir_flag_letters[] = {
    {'D', SLUICE_FLAG_DRAFT}, {'F', SLUICE_FLAG_FLAGGED}, {'R', SLUICE_FLAG_ANSWERED},
    {'S', SLUICE_FLAG_SEEN},  {'T', SLUICE_FLAG_DELETED},
};

#define MAILDIR_FLAG_LETTER_COUNT (sizeof(maildir_flag_letters) / sizeof(maildir_flag_letters[0]))

size_t maildir_key_len(const char *name)
{
	return strcspn(name, ":");
}

const char *maildir_info_letters(const char *name)
{
	const char *colon = strchr(name, ':');
	if (colon == NULL || colon[1] != '2' || colon[2] != ',')
		return "";
	return colon + 3;
}

bool maildir_key_valid(const char *key)
{
	size_t n = strlen(key);
	return n > 0 && n < MAILDIR_UNIQUE_MAX + 32 && key[0] != '.' && strpbrk(key, "/:") == NULL;
}

uint32_t maildir_flags_from_info(const char *letters, bool *passed_r)
{
	uint32_t flags = 0;
	bool passed = false;

	for (const char *p = letters; *p != '\0'; p++) {
		if (*p == 'P') {
			passed = true;
			continue;
		}
		for (size_t i = 0; i < MAILDIR_FLAG_LETTER_COUNT; i++)
			if (*p == maildir_flag_letters[i].letter)
				flags |= maildir_flag_letters[i].flag;
	}
	if (passed_r != NULL)
		*passed_r = passed;
	return flags;
}

static bool maildir_is_system_letter(unsigned char c)
{
	return c == 'D' || c == 'F' || c == 'P' || c == 'R' || c == 'S' || c == 'T';
}

void maildir_info_compose(uint32_t flags, bool passed, uint32_t kwmask, const char *keep_from,
                          uint32_t known_mask, char out[MAILDIR_INFO_MAX + 1])
{
	bool present[128] = {false};
	size_t n = 0;

	for (size_t i = 0; i < MAILDIR_FLAG_LETTER_COUNT; i++)
		if (flags & maildir_flag_letters[i].flag)
			present[(unsigned char)maildir_flag_letters[i].letter] = true;
	if (passed)
		present['P'] = true;
	for (unsigned i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		if (kwmask & (1u << i))
			present['a' + i] = true;
	for (const unsigned char *p = (const unsigned char *)keep_from; p != NULL && *p != '\0';
	     p++) {
		/* Printable ASCII only: anything else cannot be put back in order safely. */
		if (*p <= 0x20 || *p >= 0x7f || *p == '/' || *p == ':' ||
		    maildir_is_system_letter(*p))
			continue;
		if (*p >= 'a' && *p <= 'z' && (known_mask & (1u << (*p - 'a'))))
			continue;
		present[*p] = true;
	}
	for (unsigned c = 0x21; c < 0x7f; c++)
		if (present[c])
			out[n++] = (char)c;
	out[n] = '\0';
}
