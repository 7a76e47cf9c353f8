/* One connection's TLS session over its non-blocking socket: the handshake driven a
 * step at a time by the loop, then records read and written in place of read(2) and
 * write(2), and failures said in words a user can act on. */
#include "px_tls_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "px_log.h"
#include "px_time.h"

static int px__is_ip(const char *host)
{
    unsigned char b[16];
    return inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1;
}

/* OpenSSL's socket BIO writes with write(2), which raises SIGPIPE on a connection the
 * peer closed and kills a program that did not ignore it: a library must not. This BIO
 * is the socket BIO with its writes made by send(2) with MSG_NOSIGNAL. */
static BIO_METHOD *px__bio_meth;
static pthread_once_t px__bio_once = PTHREAD_ONCE_INIT;

static int px__bio_write(BIO *b, const char *data, int len)
{
    int fd = -1;
    BIO_get_fd(b, &fd);
    errno = 0;
    ssize_t n = send(fd, data, (size_t)len, MSG_NOSIGNAL);
    BIO_clear_retry_flags(b);
    if (n < 0 && BIO_sock_should_retry((int)n))
        BIO_set_retry_write(b);
    return (int)n;
}

static void px__bio_init(void)
{
    const BIO_METHOD *sock = BIO_s_socket();
    BIO_METHOD *m = BIO_meth_new(BIO_TYPE_SOCKET, "plexus socket");
    if (!m)
        return;
    BIO_meth_set_write(m, px__bio_write);
    BIO_meth_set_read(m, BIO_meth_get_read(sock));
    BIO_meth_set_puts(m, BIO_meth_get_puts(sock));
    BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(sock));
    BIO_meth_set_create(m, BIO_meth_get_create(sock));
    BIO_meth_set_destroy(m, BIO_meth_get_destroy(sock));
    px__bio_meth = m;
}

/* The session's socket, through the BIO above. */
static int px__set_fd(SSL *ssl, int fd)
{
    pthread_once(&px__bio_once, px__bio_init);
    BIO *b = px__bio_meth ? BIO_new(px__bio_meth) : NULL;
    if (!b)
        return 0;
    BIO_set_fd(b, fd, BIO_NOCLOSE);
    SSL_set_bio(ssl, b, b);
    return 1;
}

/* A client has no timer of its own for its certificate files: a connection that opens
 * looks at them, at most every reload_check (a stat(2) each when nothing changed). */
static void px__client_check(px_tls_ctx *t)
{
    int64_t every = t->conf->reload_check_us, now = px_mono_us();
    int64_t last = __atomic_load_n(&t->checked_us, __ATOMIC_RELAXED);
    if (every <= 0 || now - last < every ||
        !__atomic_compare_exchange_n(&t->checked_us, &last, now, 0, __ATOMIC_RELAXED,
                                     __ATOMIC_RELAXED))
        return;
    px_err err;
    int changed = 0;
    if (px_tls_ctx_reload(t, 0, &changed, &err) != PX_OK)
        px_log_error("%s; the certificate loaded before is still used", err.msg);
    else if (changed)
        px_log_info("%s: reloaded its files: new connections use them", t->where);
}

px_tls_conn *px_tls_conn_new(px_tls_ctx *t, int fd, int server, const char *peer, px_err *err)
{
    if (!server)
        px__client_check(t);
    px_tls_conn *tc = calloc(1, sizeof *tc);
    if (!tc) {
        px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    tc->t = t;
    tc->server = server ? 1 : 0;
    pthread_mutex_lock(&t->lock);
    tc->ssl = SSL_new(t->cur); /* holds the context while the connection lives */
    pthread_mutex_unlock(&t->lock);
    if (!tc->ssl || !px__set_fd(tc->ssl, fd)) {
        char why[200];
        px_tls_ssl_error(why, sizeof why);
        px_err_set(err, PX_RESOURCE_EXHAUSTED, "TLS session for %s: %s", peer, why);
        px_tls_conn_free(tc);
        return NULL;
    }
    SSL_set_app_data(tc->ssl, tc);
    if (server) {
        SSL_set_accept_state(tc->ssl);
        return tc;
    }
    SSL_set_connect_state(tc->ssl);
    const px_tls_conf *c = t->conf;
    char host[PX_NET_NAME_MAX];
    if (c->server_name)
        snprintf(host, sizeof host, "%s", c->server_name);
    else if (px_net_host(peer, host, sizeof host) != 0)
        snprintf(host, sizeof host, "%s", peer); /* not host:port: checked as it is */
    int ip = px__is_ip(host);
    if (!ip)
        SSL_set_tlsext_host_name(tc->ssl, host); /* SNI carries names only */
    if (c->verify) {
        int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tc->ssl), host)
                    : SSL_set1_host(tc->ssl, host);
        if (ok != 1) {
            px_err_set(err, PX_INVALID_ARGUMENT, "TLS: cannot check the name '%s'", host);
            px_tls_conn_free(tc);
            return NULL;
        }
    }
    snprintf(tc->host, sizeof tc->host, "%s", host);
    snprintf(tc->sess_key, sizeof tc->sess_key, "%s", peer);
    SSL_SESSION *s = px_tls_ctx_session(t, peer);
    if (s) {
        SSL_set_session(tc->ssl, s);
        SSL_SESSION_free(s);
    }
    return tc;
}

void px_tls_conn_free(px_tls_conn *tc)
{
    if (!tc)
        return;
    SSL_free(tc->ssl);
    free(tc->subject);
    for (size_t i = 0; i < tc->n_sans; i++)
        free(tc->sans[i]);
    free(tc->sans);
    free(tc);
}

/* Says why the session failed, into tc->err. */
static void px__describe(px_tls_conn *tc, int ssl_err)
{
    long v = SSL_get_verify_result(tc->ssl);
    if (v != X509_V_OK) {
        int name = v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH;
        snprintf(tc->err, sizeof tc->err, "certificate verify failed: %s%s%s%s",
                 X509_verify_cert_error_string(v), name ? " (expected '" : "",
                 name ? tc->host : "", name ? "')" : "");
        ERR_clear_error();
        return;
    }
    unsigned long e, last = 0;
    while ((e = ERR_get_error()) != 0)
        last = e;
    int reason = ERR_GET_REASON(last);
    if (last && ERR_GET_LIB(last) == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET &&
        reason < SSL_AD_REASON_OFFSET + 256) {
        /* An alert from the peer: it refused us, and says why in one word. */
        int alert = reason - SSL_AD_REASON_OFFSET;
        /* TLS 1.3's alerts that OpenSSL 3.0 has no words for. */
        const char *what = alert == 116   ? "certificate required"
                           : alert == 120 ? "no application protocol"
                           : alert == 109 ? "missing extension"
                                          : SSL_alert_desc_string_long(alert);
        snprintf(tc->err, sizeof tc->err, "the %s refused the handshake: alert '%s'",
                 tc->server ? "client" : "server", what);
        return;
    }
    if (last) {
        const char *r = ERR_reason_error_string(last);
        int plain = reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_HTTP_REQUEST ||
                    reason == SSL_R_PACKET_LENGTH_TOO_LONG || reason == SSL_R_RECORD_LENGTH_MISMATCH;
        snprintf(tc->err, sizeof tc->err, "%s%s", r ? r : "TLS error",
                 plain ? " (is the peer speaking TLS?)" : "");
        return;
    }
    if (ssl_err == SSL_ERROR_SYSCALL && errno)
        snprintf(tc->err, sizeof tc->err, "%s", strerror(errno));
    else
        snprintf(tc->err, sizeof tc->err, "the peer closed the connection");
}

/* Maps SSL_get_error to an outcome (after a failed step). */
static int px__outcome(px_tls_conn *tc, int ret)
{
    int e = SSL_get_error(tc->ssl, ret);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return PX_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return PX_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        return PX_TLS_EOF;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0 && (errno == 0 || errno == EPIPE || errno == ECONNRESET) &&
            SSL_is_init_finished(tc->ssl)) {
            snprintf(tc->err, sizeof tc->err, "%s",
                     errno ? strerror(errno) : "the peer closed the connection");
            return errno ? PX_TLS_ERROR : PX_TLS_EOF;
        }
        /* fall through */
    default:
        px__describe(tc, e);
        return PX_TLS_ERROR;
    }
}

int px_tls_handshake(px_tls_conn *tc)
{
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(tc->ssl);
    if (r == 1)
        return PX_TLS_DONE;
    int o = px__outcome(tc, r);
    if (o == PX_TLS_EOF) {
        o = PX_TLS_ERROR; /* an end before the handshake completes is a failure */
        snprintf(tc->err, sizeof tc->err,
                 "the peer closed the connection during the TLS handshake");
    }
    return o;
}

ssize_t px_tls_read(px_tls_conn *tc, void *buf, size_t n)
{
    if (tc->err_pending) {
        int o = tc->err_pending;
        tc->err_pending = 0;
        return o;
    }
    size_t got = 0;
    while (got < n) {
        size_t r = 0;
        ERR_clear_error();
        errno = 0;
        if (SSL_read_ex(tc->ssl, (char *)buf + got, n - got, &r) == 1) {
            got += r;
            continue;
        }
        int o = px__outcome(tc, 0);
        if (got == 0)
            return o;
        if (o != PX_TLS_WANT_READ)
            tc->err_pending = o; /* the bytes first, the end next time */
        break;
    }
    return (ssize_t)got;
}

ssize_t px_tls_write(px_tls_conn *tc, const void *buf, size_t n)
{
    size_t w = 0;
    ERR_clear_error();
    errno = 0;
    if (SSL_write_ex(tc->ssl, buf, n, &w) == 1)
        return (ssize_t)w;
    int o = px__outcome(tc, 0);
    return o == PX_TLS_EOF ? PX_TLS_ERROR : o;
}

const char *px_tls_error(const px_tls_conn *tc) { return tc->err; }

int px_tls_pending(const px_tls_conn *tc) { return SSL_has_pending(tc->ssl); }

void px_tls_shutdown(px_tls_conn *tc)
{
    if (SSL_is_init_finished(tc->ssl)) {
        ERR_clear_error();
        SSL_shutdown(tc->ssl); /* one close_notify; the answer is not waited for */
        ERR_clear_error();
    }
}

int px_tls_resumed(const px_tls_conn *tc) { return SSL_session_reused(tc->ssl); }

const char *px_tls_alpn(const px_tls_conn *tc)
{
    static __thread char id[256];
    const unsigned char *p;
    unsigned len;
    SSL_get0_alpn_selected(tc->ssl, &p, &len);
    memcpy(id, p ? (const char *)p : "", len);
    id[len] = '\0';
    return id;
}

const char *px_tls_version(const px_tls_conn *tc) { return SSL_get_version(tc->ssl); }

/* The subject and subjectAltNames of the peer's certificate, worked out once. */
static void px__peer(px_tls_conn *tc)
{
    if (tc->peer_done)
        return;
    tc->peer_done = 1;
    X509 *x = SSL_get0_peer_certificate(tc->ssl);
    if (!x)
        return;
    BIO *b = BIO_new(BIO_s_mem());
    if (b && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
        char *p;
        long l = BIO_get_mem_data(b, &p);
        if ((tc->subject = malloc((size_t)l + 1)) != NULL) {
            memcpy(tc->subject, p, (size_t)l);
            tc->subject[l] = '\0';
        }
    }
    BIO_free(b);
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int n = names ? sk_GENERAL_NAME_num(names) : 0;
    tc->sans = n > 0 ? calloc((size_t)n + 1, sizeof *tc->sans) : NULL;
    for (int i = 0; tc->sans && i < n; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        char text[300];
        const ASN1_STRING *s = NULL;
        const char *kind = NULL;
        if (g->type == GEN_DNS)
            kind = "DNS", s = g->d.dNSName;
        else if (g->type == GEN_URI)
            kind = "URI", s = g->d.uniformResourceIdentifier;
        else if (g->type == GEN_EMAIL)
            kind = "email", s = g->d.rfc822Name;
        if (s) {
            snprintf(text, sizeof text, "%s:%.*s", kind, ASN1_STRING_length(s),
                     (const char *)ASN1_STRING_get0_data(s));
        } else if (g->type == GEN_IPADD) {
            char a[INET6_ADDRSTRLEN] = "?";
            int l = ASN1_STRING_length(g->d.iPAddress);
            const unsigned char *d = ASN1_STRING_get0_data(g->d.iPAddress);
            if (l == 4 || l == 16)
                inet_ntop(l == 4 ? AF_INET : AF_INET6, d, a, sizeof a);
            snprintf(text, sizeof text, "IP:%s", a);
        } else {
            continue;
        }
        if ((tc->sans[tc->n_sans] = strdup(text)) != NULL)
            tc->n_sans++;
    }
    GENERAL_NAMES_free(names);
}

const char *px_tls_peer_subject(px_tls_conn *tc)
{
    px__peer(tc);
    return tc->subject;
}

const char *px_tls_peer_san(px_tls_conn *tc, size_t i)
{
    px__peer(tc);
    return i < tc->n_sans ? tc->sans[i] : NULL;
}
