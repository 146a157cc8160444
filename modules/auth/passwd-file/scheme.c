/*
 * Password schemes of the passwd-file module. A password field is either empty (the user
 * cannot log in), a {SCHEME} prefix followed by the stored secret, or a bare crypt(3)
 * string starting with '$'. The crypt schemes ({CRYPT}, {SHA512-CRYPT}, {BLF-CRYPT},
 * {YESCRYPT}) are checked with libxcrypt's crypt_rn, which keeps its state in a buffer we
 * hand it and so is safe on many worker threads at once; {PLAIN} is compared as text and
 * only accepted with its explicit prefix, so that a hash pasted without its scheme is
 * never mistaken for a plain-text password. Scheme names are matched without regard to
 * case, as Dovecot does. Every comparison of secrets takes the same time whatever the
 * position of the first differing byte.
 */
#include "passwd-file.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A scheme name and the crypt prefixes its hashes may start with (NULL = any). */
struct pwf_scheme_def {
	const char *name;
	enum pwf_scheme scheme;
	const char *const *prefixes;
};

static const char *const pwf_sha512_prefixes[] = {"$6$", NULL};
static const char *const pwf_bcrypt_prefixes[] = {"$2b$", "$2y$", "$2a$", NULL};
static const char *const pwf_yescrypt_prefixes[] = {"$y$", NULL};

static const struct pwf_scheme_def pwf_schemes[] = {
    {"CRYPT", PWF_SCHEME_CRYPT, NULL},
    {"SHA512-CRYPT", PWF_SCHEME_CRYPT, pwf_sha512_prefixes},
    {"BLF-CRYPT", PWF_SCHEME_CRYPT, pwf_bcrypt_prefixes},
    {"YESCRYPT", PWF_SCHEME_CRYPT, pwf_yescrypt_prefixes},
    {"PLAIN", PWF_SCHEME_PLAIN, NULL},
};

static const struct pwf_scheme_def *pwf_scheme_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(pwf_schemes) / sizeof(pwf_schemes[0]); i++) {
		if (strlen(pwf_schemes[i].name) == len &&
		    strncasecmp(pwf_schemes[i].name, name, len) == 0)
			return &pwf_schemes[i];
	}
	return NULL;
}

static bool pwf_has_prefix(const char *s, const char *const *prefixes)
{
	for (; *prefixes != NULL; prefixes++) {
		if (strncmp(s, *prefixes, strlen(*prefixes)) == 0)
			return true;
	}
	return false;
}

int pwf_scheme_parse(const char *field, enum pwf_scheme *scheme_r, const char **secret_r,
                     char *reason, size_t reason_size)
{
	const struct pwf_scheme_def *def;
	const char *close;

	if (*field == '\0') {
		*scheme_r = PWF_SCHEME_NONE;
		*secret_r = field;
		return 0;
	}
	if (*field != '{') {
		/* A bare string is only trusted when it is recognisably a modern crypt hash. */
		if (*field != '$') {
			snprintf(reason, reason_size,
			         "the password has no {SCHEME} prefix and is not a $-crypt hash "
			         "(write {PLAIN} before a plain-text password)");
			return -1;
		}
		*scheme_r = PWF_SCHEME_CRYPT;
		*secret_r = field;
		return 0;
	}
	close = strchr(field, '}');
	if (close == NULL) {
		snprintf(reason, reason_size, "the password scheme has no closing '}'");
		return -1;
	}
	def = pwf_scheme_find(field + 1, (size_t)(close - field - 1));
	if (def == NULL) {
		/* Quote at most a short name: a garbled line must not leak a hash into the log. */
		snprintf(reason, reason_size, "unknown password scheme {%.*s}",
		         close - field - 1 > 32 ? 32 : (int)(close - field - 1), field + 1);
		return -1;
	}
	*secret_r = close + 1;
	*scheme_r = def->scheme;
	if (**secret_r == '\0') {
		if (def->scheme == PWF_SCHEME_PLAIN)
			snprintf(reason, reason_size,
			         "the {PLAIN} password is empty (leave the whole field empty to "
			         "disable password logins)");
		else
			snprintf(reason, reason_size, "the {%s} hash is empty", def->name);
		return -1;
	}
	if (def->prefixes != NULL && !pwf_has_prefix(*secret_r, def->prefixes)) {
		snprintf(reason, reason_size, "a {%s} hash must start with %s", def->name,
		         def->prefixes[0]);
		return -1;
	}
	return 0;
}

/*
 * Compares a candidate with the stored secret in time that depends only on the stored
 * secret's length, so that neither the position of a difference nor a length mismatch
 * shows in the timing of a failed login.
 */
static bool pwf_ct_equal(const char *candidate, size_t candidate_len, const char *stored,
                         size_t stored_len)
{
	volatile unsigned char diff = candidate_len != stored_len;

	for (size_t i = 0; i < stored_len; i++) {
		unsigned char c = i < candidate_len ? (unsigned char)candidate[i] : 0;
		diff |= c ^ (unsigned char)stored[i];
	}
	return diff == 0;
}

enum pwf_check pwf_password_check(enum pwf_scheme scheme, const char *secret, size_t secret_len,
                                  const char *password, size_t password_len)
{
	struct crypt_data *data;
	enum pwf_check ret;
	const char *out;

	switch (scheme) {
	case PWF_SCHEME_PLAIN:
		return pwf_ct_equal(password, password_len, secret, secret_len)
		           ? PWF_CHECK_MATCH
		           : PWF_CHECK_MISMATCH;
	case PWF_SCHEME_CRYPT:
		break;
	case PWF_SCHEME_NONE:
	default:
		return PWF_CHECK_MISMATCH;
	}

	/* crypt(3) stops at a NUL, so a password containing one must never match. */
	if (memchr(password, '\0', password_len) != NULL)
		return PWF_CHECK_MISMATCH;
	/* The 32 KiB work area lives on the heap: worker threads may have small stacks. */
	data = calloc(1, sizeof(*data));
	if (data == NULL)
		return PWF_CHECK_NOMEM;
	out = crypt_rn(password, secret, data, (int)sizeof(*data));
	if (out == NULL || out[0] == '*')
		ret = PWF_CHECK_UNUSABLE;
	else if (pwf_ct_equal(out, strlen(out), secret, secret_len))
		ret = PWF_CHECK_MATCH;
	else
		ret = PWF_CHECK_MISMATCH;
	/* The work area holds state derived from the password. */
	explicit_bzero(data, sizeof(*data));
	free(data);
	return ret;
}
