/*
 * OpenSSL contexts (see tls.h). Every context requires TLS 1.2 or newer, prefers the
 * server's cipher order, disables compression and renegotiation, and releases its
 * record buffers while a connection is idle (SSL_MODE_RELEASE_BUFFERS), which is most
 * of an IMAP connection's life.
 */
#include "net/tls.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>

#include "util/log.h"

struct tls_entry {
	const char *hostname; /* NULL for the default */
	SSL_CTX *ctx;
};

struct tls_set {
	atomic_int refs;
	size_t count;
	struct tls_entry *entries; /* [0] is the default */
	char *names;               /* storage for hostnames */
};

static void tls_error_text(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();
	if (e == 0)
		snprintf(buf, len, "unknown TLS error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
}

static bool tls_name_matches(const char *pattern, const char *name)
{
	if (strcasecmp(pattern, name) == 0)
		return true;
	if (pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = strchr(name, '.');
		return dot != NULL && dot != name && strcasecmp(pattern + 1, dot) == 0;
	}
	return false;
}

static int tls_on_servername(SSL *ssl, int *alert, void *arg)
{
	struct tls_set *set = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	(void)alert;
	if (name == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	for (size_t i = 1; i < set->count; i++) {
		if (tls_name_matches(set->entries[i].hostname, name)) {
			SSL_set_SSL_CTX(ssl, set->entries[i].ctx);
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_NOACK;
}

static SSL_CTX *tls_make_ctx(const struct tls_conf *tc, struct conf_errors *errs)
{
	char why[256];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		tls_error_text(why, sizeof(why));
		conf_error_add(errs, tc->file, tc->line, "cannot create a TLS context: %s", why);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, tc->min_version == 1 ? TLS1_3_VERSION : TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	if (tc->ciphers != NULL && SSL_CTX_set_cipher_list(ctx, tc->ciphers) != 1) {
		conf_error_add(errs, tc->file, tc->line, "no usable cipher in ciphers = %s", tc->ciphers);
		goto fail;
	}
	if (tc->ciphersuites != NULL && SSL_CTX_set_ciphersuites(ctx, tc->ciphersuites) != 1) {
		conf_error_add(errs, tc->file, tc->line, "no usable suite in ciphersuites = %s",
			       tc->ciphersuites);
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, tc->cert) != 1) {
		tls_error_text(why, sizeof(why));
		conf_error_add(errs, tc->file, tc->line, "cannot load certificate %s: %s", tc->cert, why);
		goto fail;
	}
	const char *key = tc->key != NULL ? tc->key : tc->cert;
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		tls_error_text(why, sizeof(why));
		conf_error_add(errs, tc->file, tc->line, "cannot load private key %s: %s", key, why);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		conf_error_add(errs, tc->file, tc->line, "the private key %s does not match certificate %s",
			       key, tc->cert);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int tls_set_create(const struct server_conf *conf, struct tls_set **set_r, struct conf_errors *errs)
{
	*set_r = NULL;
	if (conf->tls_count == 0)
		return 0;
	struct tls_set *set = calloc(1, sizeof(*set));
	if (set == NULL)
		return -1;
	atomic_init(&set->refs, 1);
	set->entries = calloc(conf->tls_count, sizeof(*set->entries));
	size_t names = 0;
	for (size_t i = 0; i < conf->tls_count; i++)
		if (conf->tls[i].hostname != NULL)
			names += strlen(conf->tls[i].hostname) + 1;
	set->names = malloc(names + 1);
	if (set->entries == NULL || set->names == NULL) {
		tls_set_unref(&set);
		return -1;
	}
	/* The default entry goes first whatever its position in the file. */
	size_t slot = 1, name_off = 0;
	bool have_default = false;
	int rc = 0;
	for (size_t i = 0; i < conf->tls_count; i++) {
		const struct tls_conf *tc = &conf->tls[i];
		size_t at;
		if (tc->hostname == NULL) {
			at = 0;
			have_default = true;
		} else {
			at = slot++;
		}
		if (at >= conf->tls_count)
			break;
		set->entries[at].ctx = tls_make_ctx(tc, errs);
		if (set->entries[at].ctx == NULL)
			rc = -1;
		if (tc->hostname != NULL) {
			size_t n = strlen(tc->hostname) + 1;
			memcpy(set->names + name_off, tc->hostname, n);
			set->entries[at].hostname = set->names + name_off;
			name_off += n;
		}
	}
	set->count = conf->tls_count;
	if (!have_default) {
		conf_error_add(errs, conf->tls[0].file, conf->tls[0].line,
			       "named tls blocks need an unnamed tls block for the default certificate");
		rc = -1;
	}
	if (rc < 0) {
		tls_set_unref(&set);
		return -1;
	}
	if (set->count > 1) {
		SSL_CTX_set_tlsext_servername_callback(set->entries[0].ctx, tls_on_servername);
		SSL_CTX_set_tlsext_servername_arg(set->entries[0].ctx, set);
	}
	*set_r = set;
	return 0;
}

struct tls_set *tls_set_ref(struct tls_set *set)
{
	if (set != NULL)
		atomic_fetch_add(&set->refs, 1);
	return set;
}

void tls_set_unref(struct tls_set **setp)
{
	struct tls_set *set = *setp;
	*setp = NULL;
	if (set == NULL || atomic_fetch_sub(&set->refs, 1) != 1)
		return;
	if (set->entries != NULL)
		for (size_t i = 0; i < set->count; i++)
			SSL_CTX_free(set->entries[i].ctx);
	free(set->entries);
	free(set->names);
	free(set);
}

SSL *tls_set_new_ssl(struct tls_set *set, int fd)
{
	SSL *ssl = SSL_new(set->entries[0].ctx);
	if (ssl == NULL)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_accept_state(ssl);
	return ssl;
}
