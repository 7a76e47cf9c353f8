/* The OpenSSL context of a listener or an upstream: built from its tls: block, swapped
 * for a new one when the certificate files change (connections already open keep the
 * context they started with: SSL_new takes a reference), and, on the client side, the
 * sessions servers gave it, kept per endpoint for resumption. */
#include "px_tls_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "px_log.h"
#include "px_time.h"

void px_tls_conf_release(px_tls_conf *tc)
{
    free(tc->cert);
    free(tc->key);
    free(tc->ca);
    free(tc->server_name);
    free(tc->ciphers);
    free(tc->ciphersuites);
    for (size_t i = 0; i < tc->n_alpn; i++)
        free(tc->alpn[i]);
    free(tc->alpn);
    memset(tc, 0, sizeof *tc);
}

void px_tls_ssl_error(char *buf, size_t cap)
{
    unsigned long e, last = 0;
    while ((e = ERR_get_error()) != 0)
        last = e; /* the innermost reason comes last */
    if (!last) {
        snprintf(buf, cap, "%s", errno ? strerror(errno) : "unknown error");
        return;
    }
    const char *r = ERR_reason_error_string(last);
    if (r)
        snprintf(buf, cap, "%s", r);
    else
        ERR_error_string_n(last, buf, cap);
}

/* A file the context reads: there and readable, said in plain words before OpenSSL's. */
static px_status px__readable(const char *where, const char *what, const char *path,
                              struct stat *st, px_err *err)
{
    if (stat(path, st) != 0)
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s.%s: %s: %s", where, what, path,
                          strerror(errno));
    if (!S_ISREG(st->st_mode))
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s.%s: %s is not a regular file", where,
                          what, path);
    FILE *f = fopen(path, "r");
    if (!f)
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s.%s: %s: %s", where, what, path,
                          strerror(errno));
    fclose(f);
    return PX_OK;
}

/* A private key anyone may read or change is no longer private: refused, as module
 * files others may write are. */
static px_status px__key_private(const char *where, const char *path, const struct stat *st,
                                 px_err *err)
{
    if (st->st_mode & (S_IROTH | S_IWOTH | S_IWGRP))
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "%s.key: %s has mode %04o: a private key must not be readable by "
                          "others nor writable by its group or others (chmod 600 %s)",
                          where, path, (unsigned)(st->st_mode & 07777), path);
    return PX_OK;
}

/* Warns when the own certificate is expired or not yet valid: peers will refuse it, and
 * the log should say so before they do. */
static void px__check_dates(SSL_CTX *ctx, const char *where, const char *path)
{
    X509 *x = SSL_CTX_get0_certificate(ctx);
    if (!x)
        return;
    if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0)
        px_log_warn("%s.cert: %s has expired: peers will refuse it", where, path);
    else if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0)
        px_log_warn("%s.cert: %s is not valid yet: peers will refuse it", where, path);
}

/* Server: the first of our ALPN ids (in our order) that the client offers. A client
 * offering none of them gets no ALPN (NOACK): a native client that offers nothing is
 * served, and a gRPC client that requires h2 fails with its own clear error. */
static int px__alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                           const unsigned char *in, unsigned int inlen, void *arg)
{
    px_tls_ctx *t = arg;
    (void)ssl;
    for (size_t i = 0; i < t->alpn_len; i += 1u + t->alpn_wire[i]) {
        const unsigned char *ours = &t->alpn_wire[i];
        for (unsigned j = 0; j < inlen; j += 1u + in[j]) {
            if (j + 1u + in[j] > inlen)
                break;
            if (in[j] == ours[0] && memcmp(&in[j + 1], &ours[1], ours[0]) == 0) {
                *out = &in[j + 1];
                *outlen = in[j];
                return SSL_TLSEXT_ERR_OK;
            }
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/* Client: a session the server gave on a connection (TLS 1.3 sends tickets after the
 * handshake) is kept for the connection's endpoint, for the next connection there. */
static int px__new_session(SSL *ssl, SSL_SESSION *s)
{
    px_tls_conn *tc = SSL_get_app_data(ssl);
    if (!tc || !tc->sess_key[0])
        return 0;
    px_tls_ctx *t = tc->t;
    pthread_mutex_lock(&t->lock);
    if (SSL_get_SSL_CTX(ssl) != t->cur) { /* made with a certificate since replaced */
        pthread_mutex_unlock(&t->lock);
        return 0;
    }
    size_t i = 0;
    while (i < t->n_sess && strcmp(t->sess[i].key, tc->sess_key) != 0)
        i++;
    if (i == t->n_sess) {
        if (t->n_sess < PX_TLS_SESS_MAX)
            t->n_sess++;
        else
            i = (size_t)(t->sess_next++ % PX_TLS_SESS_MAX); /* full: replace one */
        snprintf(t->sess[i].key, sizeof t->sess[i].key, "%s", tc->sess_key);
    }
    SSL_SESSION *old = t->sess[i].s;
    t->sess[i].s = s;
    pthread_mutex_unlock(&t->lock);
    if (old)
        SSL_SESSION_free(old);
    return 1; /* we keep the reference */
}

SSL_SESSION *px_tls_ctx_session(px_tls_ctx *t, const char *key)
{
    SSL_SESSION *s = NULL;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n_sess; i++)
        if (strcmp(t->sess[i].key, key) == 0) {
            s = t->sess[i].s;
            if (s && !SSL_SESSION_is_resumable(s))
                s = NULL;
            if (s)
                SSL_SESSION_up_ref(s);
            break;
        }
    pthread_mutex_unlock(&t->lock);
    return s;
}

static const unsigned char px__sid_ctx[] = "plexus";

/* A new OpenSSL context from the conf, or NULL with err naming the file and why. */
static SSL_CTX *px__build(px_tls_ctx *t, px_stamp stamps[3], px_err *err)
{
    const px_tls_conf *c = t->conf;
    const char *w = t->where;
    struct stat st;
    if (c->cert) {
        if (px__readable(w, "cert", c->cert, &st, err) != PX_OK)
            return NULL;
        stamps[0] = (px_stamp){st.st_mtim, st.st_size, st.st_ino};
    }
    if (c->key) {
        if (px__readable(w, "key", c->key, &st, err) != PX_OK ||
            px__key_private(w, c->key, &st, err) != PX_OK)
            return NULL;
        stamps[1] = (px_stamp){st.st_mtim, st.st_size, st.st_ino};
    }
    if (c->ca) {
        if (px__readable(w, "ca", c->ca, &st, err) != PX_OK)
            return NULL;
        stamps[2] = (px_stamp){st.st_mtim, st.st_size, st.st_ino};
    }
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(t->server ? TLS_server_method() : TLS_client_method());
    char why[256];
    if (!ctx) {
        px_tls_ssl_error(why, sizeof why);
        px_err_set(err, PX_INTERNAL, "%s: OpenSSL: %s", w, why);
        return NULL;
    }
    /* Idle connections give their read and write buffers back (about 34 KiB each). */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Every protocol here frames its messages, so a peer that closes without
     * close_notify cuts nothing the framing would not notice: a plain end, not an error. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* One read(2) takes every record that has arrived, not a header and a body apiece
     * (three reads per wake-up become one and the EAGAIN): records may then wait inside
     * OpenSSL, which px_tls_pending says. */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_min_proto_version(ctx, c->min_version);
    const char *step = NULL, *file = NULL;
    if (c->ciphers && !SSL_CTX_set_cipher_list(ctx, c->ciphers))
        step = "ciphers", file = c->ciphers;
    else if (c->ciphersuites && !SSL_CTX_set_ciphersuites(ctx, c->ciphersuites))
        step = "ciphersuites", file = c->ciphersuites;
    else if (c->cert && SSL_CTX_use_certificate_chain_file(ctx, c->cert) != 1)
        step = "cert", file = c->cert;
    else if (c->key && SSL_CTX_use_PrivateKey_file(ctx, c->key, SSL_FILETYPE_PEM) != 1)
        step = "key", file = c->key;
    else if (c->key && SSL_CTX_check_private_key(ctx) != 1)
        step = "key", file = c->key;
    else if (c->ca && SSL_CTX_load_verify_locations(ctx, c->ca, NULL) != 1)
        step = "ca", file = c->ca;
    else if (!c->ca && !t->server && c->verify && SSL_CTX_set_default_verify_paths(ctx) != 1)
        step = "ca", file = "(the system's certificate store)";
    if (step) {
        px_tls_ssl_error(why, sizeof why);
        px_err_set(err, PX_INVALID_ARGUMENT, "%s.%s: %s: %s%s", w, step, file, why,
                   strcmp(step, "key") == 0 && strstr(why, "mismatch")
                       ? " (the key is not the certificate's)"
                       : "");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (t->server) {
        /* Resumption: tickets (on by default) and a session id context, without which a
         * server that verifies clients refuses to resume. */
        SSL_CTX_set_session_id_context(ctx, px__sid_ctx, sizeof px__sid_ctx - 1);
        if (c->verify_client != PX_TLS_VERIFY_NONE) {
            int mode = SSL_VERIFY_PEER;
            if (c->verify_client == PX_TLS_VERIFY_REQUIRE)
                mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
            SSL_CTX_set_verify(ctx, mode, NULL);
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(c->ca);
            if (names)
                SSL_CTX_set_client_CA_list(ctx, names);
        }
        if (t->alpn_len)
            SSL_CTX_set_alpn_select_cb(ctx, px__alpn_select, t);
        px__check_dates(ctx, w, c->cert);
    } else {
        SSL_CTX_set_verify(ctx, c->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
        if (t->alpn_len)
            SSL_CTX_set_alpn_protos(ctx, t->alpn_wire, (unsigned)t->alpn_len);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
                                                SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, px__new_session);
    }
    return ctx;
}

px_status px_tls_ctx_new(const px_tls_conf *tc, int server, const char *where,
                         px_tls_ctx **out, px_err *err)
{
    *out = NULL;
    if (server && (!tc->cert || !tc->key))
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s: a server needs cert and key", where);
    if (!tc->cert != !tc->key)
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s: cert and key go together", where);
    if (server && tc->verify_client != PX_TLS_VERIFY_NONE && !tc->ca)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "%s: verify_client needs ca (the CA bundle client certificates "
                          "must chain to)", where);
    px_tls_ctx *t = calloc(1, sizeof *t);
    if (!t)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    pthread_mutex_init(&t->lock, NULL);
    pthread_mutex_init(&t->reload_lock, NULL);
    t->conf = tc;
    t->server = server;
    snprintf(t->where, sizeof t->where, "%s", where);
    for (size_t i = 0; i < tc->n_alpn; i++) {
        size_t l = strlen(tc->alpn[i]);
        if (l == 0 || l > 255 || t->alpn_len + 1 + l > sizeof t->alpn_wire) {
            px_tls_ctx_free(t);
            return px_err_set(err, PX_INVALID_ARGUMENT, "%s.alpn: '%s' is %s", where,
                              tc->alpn[i], l == 0 || l > 255 ? "not 1..255 bytes long"
                                                             : "one id too many (256 bytes)");
        }
        t->alpn_wire[t->alpn_len++] = (unsigned char)l;
        memcpy(&t->alpn_wire[t->alpn_len], tc->alpn[i], l);
        t->alpn_len += l;
    }
    t->checked_us = px_mono_us();
    t->cur = px__build(t, t->stamps, err);
    if (!t->cur) {
        px_tls_ctx_free(t);
        return err->status;
    }
    *out = t;
    return PX_OK;
}

void px_tls_ctx_free(px_tls_ctx *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->cur);
    for (size_t i = 0; i < t->n_sess; i++)
        SSL_SESSION_free(t->sess[i].s);
    pthread_mutex_destroy(&t->lock);
    pthread_mutex_destroy(&t->reload_lock);
    free(t);
}

static int px__stamp_eq(const px_stamp *a, const px_stamp *b)
{
    return a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->size == b->size && a->ino == b->ino;
}

/* Whether any file differs from what the current context was built from. */
static int px__files_changed(px_tls_ctx *t)
{
    const char *paths[3] = {t->conf->cert, t->conf->key, t->conf->ca};
    for (int i = 0; i < 3; i++) {
        struct stat st;
        if (!paths[i])
            continue;
        if (stat(paths[i], &st) != 0)
            return 1; /* gone: a reload says so */
        px_stamp s = {st.st_mtim, st.st_size, st.st_ino};
        if (!px__stamp_eq(&s, &t->stamps[i]))
            return 1;
    }
    return 0;
}

static px_status px__reload(px_tls_ctx *t, int force, int *changed, px_err *err)
{
    if (!force && !px__files_changed(t))
        return PX_OK;
    px_stamp stamps[3] = {{{0, 0}, 0, 0}};
    SSL_CTX *ctx = px__build(t, stamps, err);
    if (!ctx) {
        /* Not again until the files change once more: the log would repeat it. */
        const char *paths[3] = {t->conf->cert, t->conf->key, t->conf->ca};
        for (int i = 0; i < 3; i++) {
            struct stat st;
            if (paths[i] && stat(paths[i], &st) == 0)
                t->stamps[i] = (px_stamp){st.st_mtim, st.st_size, st.st_ino};
        }
        return err->status;
    }
    pthread_mutex_lock(&t->lock);
    SSL_CTX *old = t->cur;
    t->cur = ctx;
    memcpy(t->stamps, stamps, sizeof t->stamps);
    /* A resumed session keeps the identity of the handshake that made it: sessions made
     * with the old certificate are not resumed with the new one. */
    size_t n_sess = t->n_sess;
    SSL_SESSION *gone[PX_TLS_SESS_MAX];
    for (size_t i = 0; i < n_sess; i++)
        gone[i] = t->sess[i].s;
    t->n_sess = 0;
    pthread_mutex_unlock(&t->lock);
    for (size_t i = 0; i < n_sess; i++)
        SSL_SESSION_free(gone[i]);
    SSL_CTX_free(old); /* connections that use it hold their own reference */
    *changed = 1;
    return PX_OK;
}

px_status px_tls_ctx_reload(px_tls_ctx *t, int force, int *changed, px_err *err)
{
    *changed = 0;
    pthread_mutex_lock(&t->reload_lock);
    px_status st = px__reload(t, force, changed, err);
    pthread_mutex_unlock(&t->reload_lock);
    return st;
}

int64_t px_tls_ctx_check_us(const px_tls_ctx *t) { return t->conf->reload_check_us; }
