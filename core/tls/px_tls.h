/* TLS (OpenSSL 3) under a connection: a reloadable context per listener or upstream,
 * non-blocking handshakes on the connection's loop, and the record layer in place of
 * read(2)/write(2) once the handshake is done. */
#ifndef PX_TLS_H
#define PX_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "plexus/px_status.h"

/** A `tls:` block of a listener (server) or an upstream (client), paths absolute. */
typedef struct px_tls_conf {
    int present;        /**< the block is there */
    char *cert, *key;   /**< PEM chain and its key: a server's (required), a client's (mTLS) */
    char *ca;           /**< PEM bundle: server: verifies client certs; client: the
                         *   server's (default: the system's store) */
    int verify_client;  /**< server: PX_TLS_VERIFY_* */
    int verify;         /**< client: check the server's chain and name (default 1) */
    char *server_name;  /**< client: SNI and the name checked (default: the endpoint's host) */
    int min_version;    /**< TLS1_2_VERSION or TLS1_3_VERSION (default 1.3) */
    char *ciphers;      /**< TLS 1.2 cipher list (OpenSSL syntax); NULL: OpenSSL's default */
    char *ciphersuites; /**< TLS 1.3 suites; NULL: OpenSSL's default */
    char **alpn;        /**< protocol ids offered / accepted, in preference order */
    size_t n_alpn;
    int64_t reload_check_us; /**< how often the files are looked at (server: on a timer;
                              *   client: when a connection opens); 0: never */
} px_tls_conf;

enum { PX_TLS_VERIFY_NONE = 0, PX_TLS_VERIFY_OPTIONAL = 1, PX_TLS_VERIFY_REQUIRE = 2 };

/** Frees the strings of a px_tls_conf. */
void px_tls_conf_release(px_tls_conf *tc);

/** A reloadable OpenSSL context: new connections take the current one; those open keep
 *  the one they started with. Any thread. */
typedef struct px_tls_ctx px_tls_ctx;

/** Builds the context (server: cert and key required). err: what file and why. */
px_status px_tls_ctx_new(const px_tls_conf *tc, int server, const char *where,
                         px_tls_ctx **out, px_err *err);
void px_tls_ctx_free(px_tls_ctx *t);
/**
 * Reloads the certificate, key and CA when their files changed (force: whatever the
 * files say). A bad new set is refused with err and the old one stays. Returns PX_OK
 * with *changed 1 when a new context took over.
 */
px_status px_tls_ctx_reload(px_tls_ctx *t, int force, int *changed, px_err *err);
/** The reload check period, 0: none. */
int64_t px_tls_ctx_check_us(const px_tls_ctx *t);

/* ---- a connection's TLS session --------------------------------------------- */

typedef struct px_tls_conn px_tls_conn;

/** Starts a session on fd (server: accepting; client: connecting to host, the
 *  endpoint's host name or address, unless the conf names server_name). */
px_tls_conn *px_tls_conn_new(px_tls_ctx *t, int fd, int server, const char *host, px_err *err);
void px_tls_conn_free(px_tls_conn *tc);

/** px_tls_handshake, px_tls_read and px_tls_write's outcomes besides bytes. */
enum {
    PX_TLS_DONE = 0,       /**< handshake complete */
    PX_TLS_WANT_READ = -2, /**< wait until the socket is readable */
    PX_TLS_WANT_WRITE = -3,/**< wait until it is writable */
    PX_TLS_EOF = -4,       /**< the peer closed (cleanly or not) */
    PX_TLS_ERROR = -5,     /**< failed: px_tls_error says why */
};

/** Drives the handshake one step. */
int px_tls_handshake(px_tls_conn *tc);
/** Reads up to n plaintext bytes: > 0 bytes, or one of the outcomes. Reads records
 *  until n is full or the socket has no more, as one read(2) would. */
ssize_t px_tls_read(px_tls_conn *tc, void *buf, size_t n);
/** Writes: > 0 bytes taken (possibly fewer than n), or one of the outcomes. A call
 *  after WANT_* must come back with the same bytes (the buffer may move). */
ssize_t px_tls_write(px_tls_conn *tc, const void *buf, size_t n);
/** Whether OpenSSL holds input a read would take at once (plaintext, or records read
 *  ahead and not yet decrypted): the socket may not say so. */
int px_tls_pending(const px_tls_conn *tc);
/** Why the session failed, in words ("certificate verify failed: certificate has
 *  expired"); "" when it did not. */
const char *px_tls_error(const px_tls_conn *tc);
/** Sends close_notify, best effort, without waiting. */
void px_tls_shutdown(px_tls_conn *tc);
/** Whether the handshake resumed a session. */
int px_tls_resumed(const px_tls_conn *tc);
/** The negotiated ALPN id ("" for none) and version ("TLSv1.3"). */
const char *px_tls_alpn(const px_tls_conn *tc);
const char *px_tls_version(const px_tls_conn *tc);
/** The verified peer certificate's subject (RFC 2253) and its subjectAltNames as
 *  "DNS:name", "URI:uri", "IP:addr", "email:addr", NULL past the last; NULL when the
 *  peer gave none. Worked out once, after the handshake. */
const char *px_tls_peer_subject(px_tls_conn *tc);
const char *px_tls_peer_san(px_tls_conn *tc, size_t i);

#endif
