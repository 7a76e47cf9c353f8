/* Finding a token's entry with the same work whatever the token is. */
#include "auth_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

/*
 * Every entry costs one SHA-256 of its salt and the token and one CRYPTO_memcmp over
 * the whole digest, whether an earlier entry matched or not, and the match is kept with
 * a mask rather than a branch: the time of a call tells neither which entry matched nor
 * how many bytes of a hash did. (It does grow with the number of entries and with the
 * length of the token the caller sent, which the caller knows already.)
 */
const at_entry *at_table_find(const at_table *t, const void *token, size_t len)
{
    int (*cmp)(const void *, const void *, size_t) = t->cmp ? t->cmp : CRYPTO_memcmp;
    size_t match = 0, found = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (ctx == NULL || md == NULL) {
        EVP_MD_CTX_free(ctx);
        EVP_MD_free(md);
        return NULL; /* out of memory: refused, as a token not found is */
    }
    for (size_t i = 0; i < t->n; i++) {
        uint8_t d[AT_HASH_LEN];
        int failed = at_hash_in(ctx, md, t->e[i].salt, token, len, d) != 0;
        size_t eq = (size_t)((cmp(d, t->e[i].hash, AT_HASH_LEN) == 0) & !failed);
        size_t take = (size_t)0 - (eq & (found ^ 1)); /* all ones at the first match */
        match = (match & ~take) | (i & take);
        found |= eq;
    }
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    return found ? &t->e[match] : NULL;
}
