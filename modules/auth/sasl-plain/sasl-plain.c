/*
 * The PLAIN SASL mechanism (RFC 4616) for AUTHENTICATE PLAIN. The client sends one
 * message, [authzid] NUL authcid NUL passwd, either as a SASL-IR initial response or
 * after an empty challenge; this module checks its shape and hands the three parts to
 * the core, which verifies them through the passdb chain exactly as for LOGIN. Enabled
 * in modules.conf with an empty block, `auth sasl-plain { }`; it has no settings.
 *
 * The checks are strict, because the parts become a user name looked up in password
 * databases and a password fed to crypt(3): exactly two NUL separators, a non-empty
 * authcid and password, each part at most 255 bytes (the RFC's minimum that servers
 * must accept, and plenty for real names and passwords), and each part valid UTF-8
 * without overlong forms, surrogates or code points beyond U+10FFFF. The message is
 * never logged: it contains the password.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/sasl.h>

#ifndef PLAIN_VERSION
#define PLAIN_VERSION "0"
#endif

#define PLAIN_PART_MAX 255

struct plain_ctx {
	const struct sluice_host *host;
};

/* Where one exchange stands; lives in the exchange's pool. */
struct plain_state {
	bool challenged; /* the empty challenge was sent */
	bool done;       /* credentials were returned */
};

/* One part of the message, pointing into the client's bytes. */
struct plain_part {
	const unsigned char *data;
	size_t len;
};

static bool plain_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t n;

		if (c < 0x80) {
			i++;
			continue;
		}
		/* 0x80-0xc1 are continuation bytes or the leads of overlong 2-byte forms. */
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* Splits the message at its NULs; returns how many separators it has (up to 3). */
static unsigned plain_split(const unsigned char *in, size_t in_len, struct plain_part part[3])
{
	const unsigned char *p = in, *end = in + in_len, *nul;
	unsigned seps = 0;

	while ((nul = memchr(p, '\0', (size_t)(end - p))) != NULL) {
		if (seps < 3) {
			part[seps].data = p;
			part[seps].len = (size_t)(nul - p);
		}
		seps++;
		p = nul + 1;
		if (seps == 3)
			break;
	}
	if (seps < 3) {
		part[seps].data = p;
		part[seps].len = (size_t)(end - p);
	}
	return seps;
}

static int plain_parse(const unsigned char *in, size_t in_len, struct plain_part part[3],
                       struct sluice_error *err)
{
	if (in_len == 0)
		return sluice_error_set(err, SLUICE_E_PARSE, NULL, "The PLAIN message is empty.");
	if (plain_split(in, in_len, part) != 2)
		return sluice_error_set(err, SLUICE_E_PARSE, NULL,
		                        "The PLAIN message must contain exactly two NUL "
		                        "separators.");
	if (part[1].len == 0)
		return sluice_error_set(err, SLUICE_E_PARSE, NULL,
		                        "The PLAIN message has an empty user name.");
	if (part[2].len == 0)
		return sluice_error_set(err, SLUICE_E_PARSE, NULL,
		                        "The PLAIN message has an empty password.");
	for (int i = 0; i < 3; i++) {
		if (part[i].len > PLAIN_PART_MAX)
			return sluice_error_set(err, SLUICE_E_PARSE, NULL,
			                        "Each part of the PLAIN message must be at most "
			                        "255 bytes long.");
		if (!plain_utf8_valid(part[i].data, part[i].len))
			return sluice_error_set(err, SLUICE_E_PARSE, NULL,
			                        "The PLAIN message is not valid UTF-8.");
	}
	return 0;
}

static int plain_step(void *modctx, struct sluice_pool *pool, void **state, const unsigned char *in,
                      size_t in_len, struct sluice_sasl_step *out, struct sluice_error *err)
{
	const struct sluice_host *host = ((struct plain_ctx *)modctx)->host;
	struct plain_state *st = *state;
	struct plain_part part[3];
	char *authzid = NULL, *authcid, *password;
	int ret;

	memset(out, 0, sizeof(*out));
	if (st == NULL) {
		st = host->pool_alloc(pool, sizeof(*st));
		if (st == NULL)
			return sluice_error_set(err, SLUICE_E_NOMEM, "UNAVAILABLE",
			                        "The server is out of memory.");
		*state = st;
	}
	if (st->done)
		return sluice_error_set(err, SLUICE_E_PARSE, NULL,
		                        "The PLAIN exchange is already complete.");
	if (in == NULL && !st->challenged) {
		/* No initial response: the client sends the message after an empty challenge. */
		st->challenged = true;
		out->challenge = (const unsigned char *)"";
		out->challenge_len = 0;
		return SLUICE_CONTINUE;
	}
	st->done = true;
	ret = plain_parse(in, in != NULL ? in_len : 0, part, err);
	if (ret != 0)
		return ret;
	if (part[0].len > 0) {
		authzid = host->pool_strndup(pool, (const char *)part[0].data, part[0].len);
		if (authzid == NULL)
			goto nomem;
	}
	authcid = host->pool_strndup(pool, (const char *)part[1].data, part[1].len);
	password = host->pool_strndup(pool, (const char *)part[2].data, part[2].len);
	if (authcid == NULL || password == NULL)
		goto nomem;
	out->authzid = authzid;
	out->authcid = authcid;
	out->password = password;
	out->password_len = part[2].len;
	return 0;
nomem:
	return sluice_error_set(err, SLUICE_E_NOMEM, "UNAVAILABLE", "The server is out of memory.");
}

static int plain_init(const struct sluice_host *host, const void *conf, void **modctx_r,
                      struct sluice_error *err)
{
	struct plain_ctx *ctx = malloc(sizeof(*ctx));

	if (ctx == NULL)
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "Out of memory.");
	ctx->host = host;
	*modctx_r = ctx;
	return 0;
}

static void plain_deinit(void *modctx)
{
	free(modctx);
}

static const struct sluice_sasl_ops plain_ops = {
    .size = sizeof(struct sluice_sasl_ops),
    .mechanism = "PLAIN",
    .flags = SLUICE_SASL_PLAINTEXT,
    .step = plain_step,
};

SLUICE_MODULE(.kind = SLUICE_KIND_SASL, .name = "sasl-plain", .version = PLAIN_VERSION,
              .description = "the PLAIN SASL mechanism (RFC 4616)", .settings = NULL,
              .conf_size = 0, .init = plain_init, .deinit = plain_deinit, .ops = &plain_ops);
