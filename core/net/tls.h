/*
 * TLS contexts built from the `tls` blocks of the configuration: the unnamed block is
 * the default certificate, named blocks are chosen by the SNI name the client sends.
 * A tls_set is immutable and reference-counted: a reload builds a new set while
 * connections already in a handshake keep the set they started with.
 */
#ifndef SLUICE_TLS_H
#define SLUICE_TLS_H

#include <openssl/ssl.h>

#include "conf/conf.h"
#include "conf/server-conf.h"

struct tls_set;

/** Builds contexts for every tls block; errors name the block's file:line. NULL set when none. */
int tls_set_create(const struct server_conf *conf, struct tls_set **set_r, struct conf_errors *errs);
struct tls_set *tls_set_ref(struct tls_set *set);
void tls_set_unref(struct tls_set **set);
/** A new server-side SSL on @p fd using the default certificate (SNI may switch it). */
SSL *tls_set_new_ssl(struct tls_set *set, int fd);

#endif
