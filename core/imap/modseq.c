/*
 * Parsing MODSEQ values (see modseq.h): digits only, no sign, no leading zeros beyond a
 * lone 0, at most 2^63 - 1.
 */
#include "imap/modseq.h"

bool imap_modseq_parse(const struct imap_arg *a, bool zero_ok, uint64_t *v_r)
{
	if (a == NULL || a->type != IMAP_ARG_ATOM || a->len == 0 || a->len > 19)
		return false;
	if (a->str[0] == '0' && a->len > 1)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < a->len; i++) {
		if (a->str[i] < '0' || a->str[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(a->str[i] - '0'); /* 19 digits cannot wrap 64 bits */
	}
	if (v > IMAP_MODSEQ_MAX || (v == 0 && !zero_ok))
		return false;
	*v_r = v;
	return true;
}
