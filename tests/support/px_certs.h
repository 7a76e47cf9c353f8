/* Test helper: a set of TLS certificates made at test time with the openssl CLI. */
#ifndef PX_CERTS_H
#define PX_CERTS_H

#include <stddef.h>
#include "plexus/px_status.h"

/**
 * Writes into dir (created if missing) certificates and keys (EC P-256; keys mode
 * 0600), each NAME.pem with NAME.key:
 *   ca, other-ca        two unrelated CAs
 *   server, server2     from ca, valid now, SAN DNS:localhost IP:127.0.0.1 IP:::1;
 *                       CN localhost and server2.localhost, different serials
 *   expired, notyet     as server, valid only 2020-2021 / only from 2099
 *   wronghost           from ca, valid, CN and SAN DNS:wrong.example only
 *   other-server        as server, but from other-ca
 *   client              from ca, clientAuth, CN alice,
 *                       SAN URI:spiffe://plexus.test/alice DNS:alice.clients.test
 *   client-other        from other-ca, clientAuth, CN mallory,
 *                       SAN URI:spiffe://plexus.test/mallory
 * Runs only the openssl CLI (found on PATH). Returns PX_OK, or an error whose message
 * names the step that failed and what openssl said (FAILED_PRECONDITION: no openssl).
 */
px_status px_certs_make(const char *dir, px_err *err);

/**
 * The same set made once per test process in a fresh /tmp directory, removed when
 * the process exits; later calls return the same directory. NULL with err set if
 * it could not be made.
 */
const char *px_certs_shared(px_err *err);

/** The openssl CLI's path on PATH into buf: 0, or -1 when there is none. */
int px_certs_find_openssl(char *buf, size_t cap);

#endif
