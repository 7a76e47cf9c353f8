/* auth_token: bearer tokens checked against a file of salted SHA-256 hashes. What the
 * module, the `plexus token-hash` command, the fuzz target and the tests share. */
#ifndef AUTH_TOKEN_H
#define AUTH_TOKEN_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <plexus/plexus.h>

#define AT_SALT_LEN 16
#define AT_HASH_LEN 32
/* Longest token accepted, either side: a random secret is tens of bytes. */
#define AT_TOKEN_MAX 4096
/* Shortest token `plexus token-hash` hashes: one SHA-256 is fast, so a short token
 * could be found from its line by trying them all (--generate makes 64 hex digits). */
#define AT_TOKEN_MIN 16
/* Bytes of the longest line at_line writes (principal, groups, hex, separators). */
#define AT_LINE_MAX (PX_PRINCIPAL_MAX + PX_GROUPS_MAX + 2 * (AT_SALT_LEN + AT_HASH_LEN) + 8)

/* One line of the token file: "PRINCIPAL GROUPS SALT_HEX SHA256_HEX", GROUPS "a,b" or
 * "-" for none, SHA256_HEX = SHA-256(salt || token). */
typedef struct at_entry {
    char principal[PX_PRINCIPAL_MAX + 1];
    char groups[PX_GROUPS_MAX + 1]; /* "": none */
    uint8_t salt[AT_SALT_LEN];
    uint8_t hash[AT_HASH_LEN];
} at_entry;

typedef struct at_table {
    at_entry *e;
    size_t n;
    /* The comparison of a computed hash with an entry's: CRYPTO_memcmp. A test puts a
     * counting wrapper here to check the work done is the same whatever matched. */
    int (*cmp)(const void *a, const void *b, size_t len);
} at_table;

/**
 * Parses a token file's text (name: the file, for messages). Blank lines and lines whose
 * first non-blank is '#' are skipped; every other line must be an entry, or the whole
 * file is refused with "NAME:LINE: what is wrong". At least one entry. On success *t
 * holds the entries (at_table_free).
 */
px_status at_table_parse(const char *text, size_t len, const char *name, at_table *t,
                         px_err *err);
void at_table_free(at_table *t);

/**
 * The entry whose hash is SHA-256(salt || token), or NULL. Hashes the token with every
 * entry's salt and compares the whole digest with every entry, whatever matched before,
 * so which entry matched, or how much of a hash did, does not change the work done.
 */
const at_entry *at_table_find(const at_table *t, const void *token, size_t len);

/** SHA-256(salt || token) into out (OpenSSL EVP); 0, or -1 when libcrypto fails. */
int at_hash(const uint8_t salt[AT_SALT_LEN], const void *token, size_t len,
            uint8_t out[AT_HASH_LEN]);
/** at_hash with the caller's context and SHA-256 (fetched once per lookup, not once per
 *  entry: OpenSSL 3 looks EVP_sha256() up again at every init). */
int at_hash_in(EVP_MD_CTX *ctx, const EVP_MD *md, const uint8_t salt[AT_SALT_LEN],
               const void *token, size_t len, uint8_t out[AT_HASH_LEN]);

/** A token's file line (no newline) with a fresh random salt into out[AT_LINE_MAX + 1];
 *  groups NULL or "" for none. PX_OK or err says why (a bad principal or group, a token
 *  shorter than AT_TOKEN_MIN). */
px_status at_line(char *out, const char *principal, const char *groups, const void *token,
                  size_t len, px_err *err);

/** Trims blanks and line ends around *text[0..*len) in place; NULL when what is left is a
 *  token (1..AT_TOKEN_MAX bytes of printable ASCII without blanks), else why not. */
const char *at_token_clean(const char **text, size_t *len);

/** A name is printable ASCII without space or comma (what a call's principal allows). */
int at_name_ok(const char *s, size_t len);

#endif
