/* Special-use words, bits and the defaults by name (see special-use.h). */
#include "mailbox/special-use.h"

#include <string.h>
#include <strings.h>

#include "conf/mailbox-conf.h"
#include "mailbox/user.h"

uint32_t special_use_from_word(const char *word, size_t len)
{
	for (uint32_t bit = SLUICE_MAILBOX_SPECIAL_ALL; bit & SLUICE_MAILBOX_SPECIAL_USE; bit <<= 1) {
		const char *w = sluice_special_use_word(bit);
		if (strlen(w) == len && strncasecmp(w, word, len) == 0)
			return bit;
	}
	return 0;
}

unsigned special_use_write(struct buf *out, uint32_t bits, bool first)
{
	unsigned n = 0;
	/* Bit order is alphabetical order, as RFC 6154 lists the words. */
	for (uint32_t bit = SLUICE_MAILBOX_SPECIAL_ALL; bit & SLUICE_MAILBOX_SPECIAL_USE; bit <<= 1) {
		if ((bits & bit) == 0)
			continue;
		if (!first || n > 0)
			buf_append(out, " ", 1);
		buf_append(out, sluice_special_use_word(bit), strlen(sluice_special_use_word(bit)));
		n++;
	}
	return n;
}

bool special_use_storable(const struct mail_user *mu)
{
	return mu != NULL && SLUICE_STORAGE_HAS_OP(mu->storage_ops, mailbox_set_special_use);
}

uint32_t special_use_of(const struct mailbox_defaults *defaults, const char *canonical,
                        uint32_t listed_attrs)
{
	uint32_t stored = listed_attrs & SLUICE_MAILBOX_SPECIAL_USE;
	if (stored != 0 || defaults == NULL)
		return stored;
	for (size_t i = 0; i < defaults->count; i++)
		if (strcmp(defaults->items[i].name, canonical) == 0)
			return defaults->items[i].special_use;
	return 0;
}
