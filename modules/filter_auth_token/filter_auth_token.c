/* FILTER "auth_token": bearer tokens. In a server's chain it checks the request's
 * `authorization: Bearer TOKEN` against a file of salted SHA-256 hashes and sets the
 * call's principal and groups; in a client upstream's chain it sends a token read once
 * from a file or an environment variable with every call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <plexus/plexus.h>

#include "auth_token.h"
#include "secret_file.h"

typedef struct at_conf {
    char *tokens;     /* server: the token file (hashes) */
    char *token_file; /* client: a file holding the token */
    char *token_env;  /* client: an environment variable holding it */
    int required;     /* server: a call without authorization is refused (else anonymous) */
} at_conf;

typedef struct at_state {
    at_table table; /* server */
    int required;
    char *header;   /* client: "Bearer TOKEN" */
    size_t header_len;
} at_state;

#define AT_SCHEME "Bearer "
#define AT_FAIL "missing or invalid credentials"

/* ---- server ------------------------------------------------------------------------ */

/* The request's one authorization value, or NULL (none, or more than one). */
static const char *at_authorization(const px_meta *m, size_t *len)
{
    const char *found = NULL;
    size_t n = px_meta_count(m);
    for (size_t i = 0; i < n; i++) {
        const char *key, *value;
        size_t kl, vl;
        if (px_meta_at(m, i, &key, &kl, (const void **)&value, &vl) != 0 || kl != 13 ||
            memcmp(key, "authorization", 13) != 0)
            continue;
        if (found)
            return NULL; /* two credentials: which one counts would be a guess */
        found = value;
        *len = vl;
    }
    return found;
}

/* The token of "Bearer TOKEN" in v[0..len) into *tl bytes, or NULL. The scheme's case
 * does not matter (RFC 9110 11.1); one or more spaces follow it (RFC 6750 2.1). */
static const char *at_bearer(const char *v, size_t len, size_t *tl)
{
    const size_t sl = sizeof AT_SCHEME - 1;
    if (v == NULL || len <= sl || strncasecmp(v, AT_SCHEME, sl) != 0)
        return NULL;
    const char *tok = v + sl;
    size_t n = len - sl;
    while (n > 0 && *tok == ' ') {
        tok++;
        n--;
    }
    *tl = n;
    return n > 0 && n <= AT_TOKEN_MAX ? tok : NULL;
}

static px_filter_verdict at_server_request(at_state *s, px_fcall *call)
{
    const px_meta *meta = px_fcall_meta(call);
    size_t len = 0, tl = 0;
    const char *v = at_authorization(meta, &len);
    if (v == NULL && !s->required && px_meta_get(meta, "authorization", NULL) == NULL)
        return PX_FILTER_CONTINUE; /* anonymous: what it may call is acl's to say */
    const char *tok = at_bearer(v, len, &tl);
    const at_entry *e = tok ? at_table_find(&s->table, tok, tl) : NULL;
    if (e == NULL) {
        /* One answer whatever failed: no hint of what was missing or near. */
        px_fcall_reject(call, PX_UNAUTHENTICATED, AT_FAIL);
        return PX_FILTER_REJECT;
    }
    px_err err;
    if (px_fcall_set_principal(call, e->principal, &err) != PX_OK ||
        px_fcall_set_groups(call, e->groups, &err) != PX_OK) {
        px_fcall_reject(call, PX_INTERNAL, "auth_token: %s", err.msg);
        return PX_FILTER_REJECT;
    }
    return PX_FILTER_CONTINUE;
}

/* ---- client ------------------------------------------------------------------------ */

static px_filter_verdict at_client_request(at_state *s, px_fcall *call)
{
    px_err err;
    if (px_fcall_add_meta(call, "authorization", s->header, s->header_len, &err) != PX_OK) {
        px_fcall_reject(call, err.status, "auth_token: %s", err.msg);
        return PX_FILTER_REJECT;
    }
    return PX_FILTER_CONTINUE;
}

static px_filter_verdict at_request(void *state, px_fcall *call)
{
    at_state *s = state;
    if (s->header)
        return at_client_request(s, call);
    if (px_fcall_side(call) == PX_FILTER_SERVER)
        return at_server_request(s, call);
    /* A hash file in a client's chain: it has no token to send. */
    px_fcall_reject(call, PX_INTERNAL, "auth_token: 'tokens' is for a server's chain; a "
                                       "client sends token_file or token_env");
    return PX_FILTER_REJECT;
}

/* ---- instances --------------------------------------------------------------------- */

/* The client's token from the trimmed text: "Bearer TOKEN" into s->header. */
static px_status at_set_header(at_state *s, const char *text, size_t len, const char *from,
                               px_err *err)
{
    const char *why = at_token_clean(&text, &len);
    if (why)
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s: %s", from, why);
    s->header_len = sizeof AT_SCHEME - 1 + len;
    if ((s->header = malloc(s->header_len + 1)) == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    memcpy(s->header, AT_SCHEME, sizeof AT_SCHEME - 1);
    memcpy(s->header + sizeof AT_SCHEME - 1, text, len);
    s->header[s->header_len] = '\0';
    return PX_OK;
}

static px_status at_create_client(const px_module_env *env, const at_conf *c, at_state *s,
                                  px_err *err)
{
    if (c->token_env) {
        const char *v = getenv(c->token_env);
        char from[300];
        snprintf(from, sizeof from, "environment variable %s (token_env)", c->token_env);
        if (v == NULL)
            return px_err_set(err, PX_NOT_FOUND, "%s is not set", from);
        return at_set_header(s, v, strlen(v), from, err);
    }
    char *text, abs[4096];
    size_t len;
    px_status st = at_read_secret(env, "token_file", c->token_file, &text, &len, abs,
                                  sizeof abs, err);
    if (st != PX_OK)
        return st;
    char from[4200];
    snprintf(from, sizeof from, "token_file %s", abs);
    st = at_set_header(s, text, len, from, err);
    at_wipe_free(text, len);
    return st;
}

static px_status at_create_server(const px_module_env *env, const at_conf *c, at_state *s,
                                  px_err *err)
{
    char *text, abs[4096];
    size_t len;
    px_status st = at_read_secret(env, "tokens", c->tokens, &text, &len, abs, sizeof abs, err);
    if (st != PX_OK)
        return st;
    st = at_table_parse(text, len, abs, &s->table, err);
    at_wipe_free(text, len);
    return st;
}

static void at_destroy(void *state)
{
    at_state *s = state;
    at_table_free(&s->table);
    at_wipe_free(s->header, s->header_len);
    free(s);
}

static px_status at_create(const px_module_env *env, const void *conf, void **state,
                           px_err *err)
{
    const at_conf *c = conf;
    int server = c->tokens != NULL, client = (c->token_file != NULL) + (c->token_env != NULL);
    if (server + client != 1)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "set exactly one of: tokens (a server checks tokens), token_file or "
                          "token_env (a client upstream sends one)");
    int in_server = env && env->scope && strcmp(env->scope, "server") == 0;
    if (server != in_server)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          server ? "tokens is for server.filters (a client upstream sends a "
                                   "token: token_file or token_env)"
                                 : "token_file and token_env are for client.upstreams.NAME."
                                   "filters (a server checks tokens: tokens)");
    at_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    s->required = c->required;
    px_status st = server ? at_create_server(env, c, s, err) : at_create_client(env, c, s, err);
    if (st != PX_OK) {
        at_destroy(s);
        return st;
    }
    *state = s;
    return PX_OK;
}

static const px_directive at_directives[] = {
    {.name = "tokens", .type = PX_DIR_STRING, .offset = offsetof(at_conf, tokens),
     .help = "server: the token file, one 'PRINCIPAL GROUPS SALT_HEX SHA256_HEX' a line "
             "(plexus token-hash), mode 0600 or stricter, relative to the config file"},
    {.name = "required", .type = PX_DIR_BOOL, .offset = offsetof(at_conf, required),
     .def = "true",
     .help = "server: false lets a call without authorization through with no principal "
             "(a wrong token is still refused)"},
    {.name = "token_file", .type = PX_DIR_STRING, .offset = offsetof(at_conf, token_file),
     .help = "client: a file holding the token to send (mode 0600 or stricter)"},
    {.name = "token_env", .type = PX_DIR_STRING, .offset = offsetof(at_conf, token_env),
     .help = "client: an environment variable holding the token to send"},
    {.name = NULL},
};

static const px_filter_ops at_ops = {
    .sides = PX_FILTER_SERVER | PX_FILTER_CLIENT,
    .on_request = at_request,
};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_FILTER,
    .name = "auth_token",
    .version = "1.0.0",
    .description = "bearer tokens: a server checks them against salted hashes and sets the "
                   "principal; a client sends one",
    .conf_size = sizeof(at_conf),
    .directives = at_directives,
    .create = at_create,
    .destroy = at_destroy,
    .ops = &at_ops,
};
