/* The token file: parsing it, hashing a token, writing an entry's line. */
#include "auth_token.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

int at_name_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == ',')
            return 0;
    return len > 0;
}

const char *at_token_clean(const char **text, size_t *len)
{
    const char *t = *text;
    size_t n = *len;
    while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    while (n > 0 && (*t == ' ' || *t == '\t')) {
        t++;
        n--;
    }
    *text = t;
    *len = n;
    if (n == 0)
        return "the token is empty";
    if (n > AT_TOKEN_MAX)
        return "the token is longer than 4096 bytes";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
            return "the token must be one line of printable ASCII without blanks";
    return NULL;
}

/*
 * One SHA-256 over salt and token, not a password KDF (bcrypt, scrypt, argon2): a token
 * is a random secret of 128 bits or more, so no dictionary or brute force can find it
 * from its hash, and a slow hash would only make every call slow. The salt keeps two
 * equal tokens from having equal lines.
 */
int at_hash_in(EVP_MD_CTX *ctx, const EVP_MD *md, const uint8_t salt[AT_SALT_LEN],
               const void *token, size_t len, uint8_t out[AT_HASH_LEN])
{
    unsigned n = 0;
    int ok = EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
             EVP_DigestUpdate(ctx, salt, AT_SALT_LEN) == 1 &&
             EVP_DigestUpdate(ctx, token, len) == 1 && EVP_DigestFinal_ex(ctx, out, &n) == 1 &&
             n == AT_HASH_LEN;
    return ok ? 0 : -1;
}

int at_hash(const uint8_t salt[AT_SALT_LEN], const void *token, size_t len,
            uint8_t out[AT_HASH_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = ctx ? at_hash_in(ctx, EVP_sha256(), salt, token, len, out) : -1;
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* ---- parsing ----------------------------------------------------------------------- */

typedef struct at_field {
    const char *s;
    size_t len;
} at_field;

static int at_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Exactly 2 * n hex digits into out[n]; 0 or -1. */
static int at_unhex(const at_field *f, uint8_t *out, size_t n)
{
    if (f->len != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = at_hexval(f->s[2 * i]), lo = at_hexval(f->s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* Splits line[0..len) at blanks into at most cap fields; returns how many there were. */
static size_t at_split(const char *line, size_t len, at_field *f, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i == len)
            break;
        size_t b = i;
        while (i < len && line[i] != ' ' && line[i] != '\t')
            i++;
        if (n < cap)
            f[n] = (at_field){line + b, i - b};
        n++;
    }
    return n;
}

/* Groups "a,b" (or "-") into out; NULL or what is wrong. */
static const char *at_groups(const at_field *g, char *out)
{
    if (g->len == 1 && g->s[0] == '-') {
        out[0] = '\0';
        return NULL;
    }
    if (g->len > PX_GROUPS_MAX)
        return "groups are longer than 256 bytes";
    for (size_t b = 0, i = 0; i <= g->len; i++) {
        if (i < g->len && g->s[i] != ',')
            continue;
        if (!at_name_ok(g->s + b, i - b))
            return "groups must be '-' or names separated by commas (printable ASCII)";
        b = i + 1;
    }
    memcpy(out, g->s, g->len);
    out[g->len] = '\0';
    return NULL;
}

/* NULL when s[0..len) may be a token file's principal, else why not. */
static const char *at_principal_why(const char *s, size_t len)
{
    if (len > PX_PRINCIPAL_MAX)
        return "the principal is longer than 128 bytes";
    if (!at_name_ok(s, len))
        return "the principal must be printable ASCII without a comma";
    /* acl's rules read these as "no principal" and "a group": no one may be named so. */
    if ((len == 9 && memcmp(s, "anonymous", 9) == 0) || (len >= 6 && memcmp(s, "group:", 6) == 0))
        return "the principal 'anonymous' and principals beginning 'group:' are reserved";
    return NULL;
}

/* One entry's line (no newline, not blank, not a comment) into e; NULL or why not. */
static const char *at_entry_parse(const char *line, size_t len, at_entry *e)
{
    at_field f[4];
    size_t n = at_split(line, len, f, 4);
    if (n != 4)
        return "expected 4 fields: PRINCIPAL GROUPS SALT_HEX SHA256_HEX "
               "(make one with 'plexus token-hash')";
    const char *why = at_principal_why(f[0].s, f[0].len);
    if (why)
        return why;
    memcpy(e->principal, f[0].s, f[0].len);
    e->principal[f[0].len] = '\0';
    why = at_groups(&f[1], e->groups);
    if (why)
        return why;
    if (at_unhex(&f[2], e->salt, AT_SALT_LEN) != 0)
        return "the salt must be 32 hex digits (16 bytes)";
    if (at_unhex(&f[3], e->hash, AT_HASH_LEN) != 0)
        return "the hash must be 64 hex digits (SHA-256)";
    return NULL;
}

px_status at_table_parse(const char *text, size_t len, const char *name, at_table *t,
                         px_err *err)
{
    *t = (at_table){.cmp = NULL};
    size_t cap = 0;
    int lineno = 0;
    for (size_t at = 0; at < len;) {
        const char *line = text + at;
        const char *nl = memchr(line, '\n', len - at);
        size_t ll = nl ? (size_t)(nl - line) : len - at;
        at += ll + (nl != NULL);
        lineno++;
        if (ll > 0 && line[ll - 1] == '\r')
            ll--;
        if (memchr(line, '\0', ll)) {
            at_table_free(t);
            return px_err_set(err, PX_INVALID_ARGUMENT, "%s:%d: contains a NUL byte", name,
                              lineno);
        }
        size_t b = 0;
        while (b < ll && (line[b] == ' ' || line[b] == '\t'))
            b++;
        if (b == ll || line[b] == '#')
            continue;
        if (t->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            at_entry *ne = realloc(t->e, ncap * sizeof *ne);
            if (ne == NULL) {
                at_table_free(t);
                return px_err_set(err, PX_RESOURCE_EXHAUSTED, "%s: out of memory", name);
            }
            t->e = ne;
            cap = ncap;
        }
        const char *why = at_entry_parse(line, ll, &t->e[t->n]);
        if (why) {
            at_table_free(t);
            return px_err_set(err, PX_INVALID_ARGUMENT, "%s:%d: %s", name, lineno, why);
        }
        t->n++;
    }
    if (t->n == 0)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "%s: no entries (one line per token: PRINCIPAL GROUPS SALT_HEX "
                          "SHA256_HEX)", name);
    return PX_OK;
}

void at_table_free(at_table *t)
{
    free(t->e);
    t->e = NULL;
    t->n = 0;
}

/* ---- writing an entry ---------------------------------------------------------------- */

static void at_tohex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

px_status at_line(char *out, const char *principal, const char *groups, const void *token,
                  size_t len, px_err *err)
{
    at_entry e;
    const char *why;
    if ((why = at_principal_why(principal, strlen(principal))) != NULL)
        return px_err_set(err, PX_INVALID_ARGUMENT, "'%s': %s", principal, why);
    at_field g = {groups && groups[0] ? groups : "-", groups && groups[0] ? strlen(groups) : 1};
    if ((why = at_groups(&g, e.groups)) != NULL)
        return px_err_set(err, PX_INVALID_ARGUMENT, "groups '%s': %s", g.s, why);
    if (len < AT_TOKEN_MIN || len > AT_TOKEN_MAX)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "the token must be %d to %d bytes (a short one is easy to find from "
                          "its hash: use --generate)",
                          AT_TOKEN_MIN, AT_TOKEN_MAX);
    if (RAND_bytes(e.salt, AT_SALT_LEN) != 1 || at_hash(e.salt, token, len, e.hash) != 0)
        return px_err_set(err, PX_INTERNAL, "libcrypto failed to make a salt or a hash");
    char salt[2 * AT_SALT_LEN + 1], hash[2 * AT_HASH_LEN + 1];
    at_tohex(e.salt, AT_SALT_LEN, salt);
    at_tohex(e.hash, AT_HASH_LEN, hash);
    snprintf(out, AT_LINE_MAX + 1, "%s %s %s %s", principal, g.s, salt, hash);
    return PX_OK;
}
