/* The tls: block of server: and of an upstream, read into a px_tls_conf with its paths
 * made absolute (relative to the config file), and its OpenSSL context built at load, so
 * that `plexusd -t` refuses a certificate that a start would refuse. */
#include "px_config_tls.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/ssl.h>

#include "px_conf.h"

typedef struct px__tls_raw {
    char *cert, *key, *ca, *server_name, *ciphers, *ciphersuites;
    int verify_client, verify, min_version;
    int64_t reload_check_us;
} px__tls_raw;

static const char *const px__verify_client_values[] = {"none", "optional", "require", NULL};
static const char *const px__version_values[] = {"1.2", "1.3", NULL};

#define PX__TLS_COMMON                                                                       \
    {"cert", PX_DIR_STRING, offsetof(px__tls_raw, cert), NULL, 0, NULL, NULL, NULL,          \
     "PEM certificate chain (the own certificate first)"},                                   \
    {"key", PX_DIR_STRING, offsetof(px__tls_raw, key), NULL, 0, NULL, NULL, NULL,             \
     "PEM private key of cert (mode 600: not readable by others)"},                          \
    {"min_version", PX_DIR_ENUM, offsetof(px__tls_raw, min_version), "1.3", 0, NULL, NULL,    \
     px__version_values, "lowest TLS version accepted"},                                     \
    {"ciphers", PX_DIR_STRING, offsetof(px__tls_raw, ciphers), NULL, 0, NULL, NULL, NULL,     \
     "TLS 1.2 cipher list (OpenSSL syntax); default: OpenSSL's"},                            \
    {"ciphersuites", PX_DIR_STRING, offsetof(px__tls_raw, ciphersuites), NULL, 0, NULL, NULL, \
     NULL, "TLS 1.3 cipher suites (OpenSSL syntax); default: OpenSSL's"}

static const px_directive px__tls_server_dirs[] = {
    PX__TLS_COMMON,
    {"ca", PX_DIR_STRING, offsetof(px__tls_raw, ca), NULL, 0, NULL, NULL, NULL,
     "PEM bundle client certificates must chain to (with verify_client)"},
    {"verify_client", PX_DIR_ENUM, offsetof(px__tls_raw, verify_client), "none", 0, NULL, NULL,
     px__verify_client_values, "ask for a client certificate: none, optional, require"},
    {"reload_check", PX_DIR_DURATION, offsetof(px__tls_raw, reload_check_us), "5s", 0, "0",
     "1h", NULL, "how often cert, key and ca are looked at for a change; 0: only on SIGHUP"},
    {NULL},
};

static const px_directive px__tls_client_dirs[] = {
    PX__TLS_COMMON,
    {"ca", PX_DIR_STRING, offsetof(px__tls_raw, ca), NULL, 0, NULL, NULL, NULL,
     "PEM bundle the server's certificate must chain to; default: the system's"},
    {"verify", PX_DIR_BOOL, offsetof(px__tls_raw, verify), "true", 0, NULL, NULL, NULL,
     "check the server's certificate chain and name"},
    {"server_name", PX_DIR_STRING, offsetof(px__tls_raw, server_name), NULL, 0, NULL, NULL,
     NULL, "name sent (SNI) and checked; default: the endpoint's host"},
    {"reload_check", PX_DIR_DURATION, offsetof(px__tls_raw, reload_check_us), "5s", 0, "0",
     "1h", NULL, "cert, key and ca are looked at for a change when a connection opens, at "
     "most this often; 0: never"},
    {NULL},
};

static const char *const px__tls_skip[] = {"alpn", NULL};

const char *px_tls_alpn_of(const char *protocol)
{
    static const struct {
        const char *protocol, *alpn;
    } known[] = {{"native", PX_TLS_ALPN_NATIVE}, {"grpc", "h2"}, {"http", "http/1.1"}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(known[i].protocol, protocol) == 0)
            return known[i].alpn;
    return NULL;
}

/* A path relative to the config file's folder made absolute (in place). */
static px_status px__abs(char **path, const char *dir, px_err *err)
{
    if (!*path || (*path)[0] == '/')
        return PX_OK;
    size_t n = strlen(dir) + strlen(*path) + 2;
    char *p = malloc(n);
    if (!p)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    snprintf(p, n, "%s/%s", dir, *path);
    free(*path);
    *path = p;
    return PX_OK;
}

/* alpn: a list of ids, or none: the protocols' own (default_alpn). */
static px_status px__alpn(const px_ynode *node, const char *scope, const char *file,
                          const char *const *def, size_t n_def, px_tls_conf *out, px_err *err)
{
    const px_ynode *l = node ? px_ymap_get(node, "alpn") : NULL;
    size_t n = l ? l->n : n_def;
    if (l && (l->kind != PX_YSEQ || l->n == 0))
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s:%d:%d: %s.alpn: expected a non-empty "
                          "list of protocol ids, e.g. [h2, http/1.1]", file, l->line, l->col,
                          scope);
    if (n == 0)
        return PX_OK;
    if ((out->alpn = calloc(n, sizeof *out->alpn)) == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const px_ynode *it = l ? l->items[i] : NULL;
        if (it && (it->kind != PX_YSCALAR || it->len == 0 || it->len > 255 ||
                   strlen(it->str) != it->len))
            return px_err_set(err, PX_INVALID_ARGUMENT, "%s:%d:%d: %s.alpn[%zu]: expected a "
                              "protocol id of 1 to 255 bytes", file, it->line, it->col, scope, i);
        if ((out->alpn[i] = strdup(it ? it->str : def[i])) == NULL)
            return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
        out->n_alpn++;
    }
    return PX_OK;
}

px_status px_config_tls(const px_ynode *node, int server, const char *scope, const char *file,
                        const char *dir, const char *const *def_alpn, size_t n_def_alpn,
                        px_tls_conf *out, px_tls_ctx **ctx, px_err *err)
{
    memset(out, 0, sizeof *out);
    *ctx = NULL;
    if (!node || px_ynode_is_null(node))
        return PX_OK;
    px__tls_raw raw;
    memset(&raw, 0, sizeof raw);
    const px_directive *dirs = server ? px__tls_server_dirs : px__tls_client_dirs;
    px_status st = px_conf_apply_scoped(dirs, &raw, node, px__tls_skip, scope, file, err);
    if (st != PX_OK)
        return st;
    out->present = 1;
    out->cert = raw.cert;
    out->key = raw.key;
    out->ca = raw.ca;
    out->server_name = raw.server_name;
    out->ciphers = raw.ciphers;
    out->ciphersuites = raw.ciphersuites;
    out->verify_client = raw.verify_client;
    out->verify = raw.verify;
    out->min_version = raw.min_version == 0 ? TLS1_2_VERSION : TLS1_3_VERSION;
    out->reload_check_us = raw.reload_check_us;
    if ((st = px__abs(&out->cert, dir, err)) != PX_OK ||
        (st = px__abs(&out->key, dir, err)) != PX_OK ||
        (st = px__abs(&out->ca, dir, err)) != PX_OK ||
        (st = px__alpn(node, scope, file, def_alpn, n_def_alpn, out, err)) != PX_OK)
        return st;
    st = px_tls_ctx_new(out, server, scope, ctx, err);
    if (st != PX_OK) {
        /* "FILE:LINE:COL: server.tls.cert: /abs/path: why", at the key the message names
         * (else at the block). */
        static const char *const keys[] = {"cert", "key", "ca", "ciphers", "ciphersuites",
                                           "alpn"};
        const px_ynode *at = node;
        size_t sl = strlen(scope);
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            size_t kl = strlen(keys[i]);
            const px_ynode *k = px_ymap_get(node, keys[i]);
            if (k && strncmp(err->msg, scope, sl) == 0 && err->msg[sl] == '.' &&
                strncmp(err->msg + sl + 1, keys[i], kl) == 0 && err->msg[sl + 1 + kl] == ':')
                at = k;
        }
        px_err inner = *err;
        px_err_set(err, inner.status, "%s:%d:%d: %s", file, at->line, at->col, inner.msg);
    }
    return st;
}
