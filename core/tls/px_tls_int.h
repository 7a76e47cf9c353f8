/* Inside the TLS layer: the context and a connection's session. */
#ifndef PX_TLS_INT_H
#define PX_TLS_INT_H

#include <pthread.h>
#include <sys/stat.h>
#include <openssl/ssl.h>
#include "px_net.h"
#include "px_tls.h"

/* Endpoints whose last session a client context keeps (a pool of this many is plenty:
 * an upstream lists more only with naming, and a miss costs one full handshake). */
#define PX_TLS_SESS_MAX 64

/* What a file was when the context was built: a change means reload. */
typedef struct px_stamp {
    struct timespec mtime;
    off_t size;
    ino_t ino;
} px_stamp;

struct px_tls_ctx {
    pthread_mutex_t lock;  /* cur, stamps, sess */
    pthread_mutex_t reload_lock; /* one reload at a time (a timer and a SIGHUP) */
    SSL_CTX *cur;
    const px_tls_conf *conf; /* the config's: lives as long as the context */
    int server;
    int64_t checked_us;    /* client: when the files were last looked at (monotonic) */
    char where[96];
    px_stamp stamps[3];    /* cert, key, ca */
    unsigned char alpn_wire[256];
    size_t alpn_len;
    struct {
        char key[PX_NET_NAME_MAX];
        SSL_SESSION *s;
    } sess[PX_TLS_SESS_MAX];
    size_t n_sess;
    unsigned sess_next;
};

struct px_tls_conn {
    SSL *ssl;
    px_tls_ctx *t;
    unsigned server : 1, peer_done : 1;
    int err_pending;       /* a read that returned bytes met this outcome after them */
    char sess_key[PX_NET_NAME_MAX]; /* client: the endpoint, for its session ... */
    char host[PX_NET_NAME_MAX];     /* ... and the name its certificate must carry */
    char *subject;         /* the peer certificate's, once asked */
    char **sans;
    size_t n_sans;
    char err[256];
};

/** The reason of OpenSSL's error queue (emptied), or errno's. */
void px_tls_ssl_error(char *buf, size_t cap);
/** A kept session for the endpoint key (a reference), or NULL. */
SSL_SESSION *px_tls_ctx_session(px_tls_ctx *t, const char *key);

#endif
