/*
 * Settings as data. A module declares each configuration key it accepts once, in a
 * table of struct sluice_setting; the core uses that table to parse and validate the
 * module's block in modules.conf (reporting `file:line: reason`), to apply defaults, to
 * build a fresh configuration on reload and to print the reference (`sluiced --settings`).
 * A module never parses its own configuration text.
 *
 * Values land in a plain C struct of the module's (its size is given as conf_size in the
 * module descriptor). The C type of each field follows from the setting type:
 *
 *   SLUICE_SETTING_BOOL       bool          yes/no, true/false, on/off
 *   SLUICE_SETTING_UINT       unsigned int  decimal, within [min, max]
 *   SLUICE_SETTING_SIZE       uint64_t      bytes; suffixes K, M, G, T (powers of 1024)
 *   SLUICE_SETTING_DURATION   uint64_t      milliseconds; suffixes ms, s, m, h, d (bare = s)
 *   SLUICE_SETTING_STRING     const char *  any text; NULL when unset without default
 *   SLUICE_SETTING_ENUM       unsigned int  index into the NULL-terminated choices array
 *   SLUICE_SETTING_CIDR_LIST  const struct sluice_cidr_list *  addresses or networks
 *
 * Memory: strings and lists belong to the configuration the struct was filled from and
 * live until the module's deinit (or until the reload that replaces that configuration
 * has returned). Treat the whole struct as read-only.
 */
#ifndef SLUICE_SETTINGS_H
#define SLUICE_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

enum sluice_setting_type {
	SLUICE_SETTING_BOOL = 1,
	SLUICE_SETTING_UINT,
	SLUICE_SETTING_SIZE,
	SLUICE_SETTING_DURATION,
	SLUICE_SETTING_STRING,
	SLUICE_SETTING_ENUM,
	SLUICE_SETTING_CIDR_LIST,
};

struct sluice_setting {
	const char *key;                /**< the key as written in the configuration */
	enum sluice_setting_type type;  /**< how the value is parsed and stored */
	size_t offset;                  /**< where the value goes in the module's conf struct */
	const char *default_value;      /**< text form, parsed like a configured value; NULL = 0/NULL */
	uint64_t min, max;              /**< UINT, SIZE, DURATION bounds; max 0 means no upper bound */
	const char *const *choices;     /**< ENUM only: NULL-terminated list of accepted words */
	const char *doc;                /**< one line for the reference documentation */
};

/** One address or network: family AF_INET or AF_INET6, address bytes, prefix length. */
struct sluice_cidr {
	int family;
	uint8_t addr[16];
	unsigned prefix;
};

struct sluice_cidr_list {
	size_t count;
	struct sluice_cidr items[];
};

#define SLUICE_SETTING_BOOL(k, st, f, def, d) {k, SLUICE_SETTING_BOOL, offsetof(st, f), def, 0, 0, NULL, d}
#define SLUICE_SETTING_UINT(k, st, f, def, lo, hi, d) {k, SLUICE_SETTING_UINT, offsetof(st, f), def, lo, hi, NULL, d}
#define SLUICE_SETTING_SIZE(k, st, f, def, lo, hi, d) {k, SLUICE_SETTING_SIZE, offsetof(st, f), def, lo, hi, NULL, d}
#define SLUICE_SETTING_DURATION(k, st, f, def, lo, hi, d)                                          \
	{k, SLUICE_SETTING_DURATION, offsetof(st, f), def, lo, hi, NULL, d}
#define SLUICE_SETTING_STRING(k, st, f, def, d) {k, SLUICE_SETTING_STRING, offsetof(st, f), def, 0, 0, NULL, d}
#define SLUICE_SETTING_ENUM(k, st, f, def, ch, d) {k, SLUICE_SETTING_ENUM, offsetof(st, f), def, 0, 0, ch, d}
#define SLUICE_SETTING_CIDR_LIST(k, st, f, def, d)                                                 \
	{k, SLUICE_SETTING_CIDR_LIST, offsetof(st, f), def, 0, 0, NULL, d}
#define SLUICE_SETTING_END {NULL, 0, 0, NULL, 0, 0, NULL, NULL}

/**
 * @brief Tells whether a socket address falls inside one of the networks of @p list.
 * @param[in] list the configured list; NULL counts as empty
 * @param[in] sa   an AF_INET or AF_INET6 address (IPv4-mapped IPv6 matches IPv4 entries)
 * @return true when some entry contains the address.
 * Thread-safe; inline so that modules need not link against the core.
 */
static inline bool sluice_cidr_match(const struct sluice_cidr_list *list, const struct sockaddr *sa)
{
	const uint8_t *a;
	uint8_t v4[4];
	int fam;

	if (list == NULL || sa == NULL)
		return false;
	/* Read the address through byte pointers: the caller may pass a struct smaller than
	 * sockaddr_in6 (a plain sockaddr_in), and compilers rightly object to wider casts. */
	const uint8_t *base = (const uint8_t *)sa;
	if (sa->sa_family == AF_INET) {
		fam = AF_INET;
		a = base + offsetof(struct sockaddr_in, sin_addr);
	} else if (sa->sa_family == AF_INET6) {
		const uint8_t *b = base + offsetof(struct sockaddr_in6, sin6_addr);
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(b, mapped, 12) == 0) {
			memcpy(v4, b + 12, 4);
			fam = AF_INET;
			a = v4;
		} else {
			fam = AF_INET6;
			a = b;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < list->count; i++) {
		const struct sluice_cidr *c = &list->items[i];
		unsigned bits = c->prefix, n;
		if (c->family != fam)
			continue;
		for (n = 0; bits >= 8; n++, bits -= 8)
			if (a[n] != c->addr[n])
				break;
		if (bits >= 8)
			continue;
		if (bits == 0 || ((a[n] ^ c->addr[n]) & (uint8_t)(0xff << (8 - bits))) == 0)
			return true;
	}
	return false;
}

#endif
