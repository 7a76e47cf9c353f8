/* A sorted array of keys: binary search to find, memmove to insert and delete. */
#include <stdlib.h>
#include <string.h>
#include "kv_table.h"

/* The index of key, or of where it would go; *found says which. */
static size_t kv_find(const kv_table *t, const char *key, int *found)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(t->e[mid].key, key);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

const char *kv_table_get(const kv_table *t, const char *key)
{
    int found;
    size_t i = kv_find(t, key, &found);
    return found ? t->e[i].value : NULL;
}

kv_put_result kv_table_put(kv_table *t, const char *key, const char *value, size_t max)
{
    int found;
    size_t i = kv_find(t, key, &found);
    char *v = strdup(value);
    if (v == NULL)
        return KV_NOMEM;
    if (found) {
        free(t->e[i].value);
        t->e[i].value = v;
        return KV_REPLACED;
    }
    if (t->n >= max) {
        free(v);
        return KV_FULL;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        kv_entry *e = realloc(t->e, cap * sizeof *e);
        if (e == NULL) {
            free(v);
            return KV_NOMEM;
        }
        t->e = e;
        t->cap = cap;
    }
    char *k = strdup(key);
    if (k == NULL) {
        free(v);
        return KV_NOMEM;
    }
    memmove(&t->e[i + 1], &t->e[i], (t->n - i) * sizeof *t->e);
    t->e[i] = (kv_entry){.key = k, .value = v};
    t->n++;
    return KV_CREATED;
}

int kv_table_delete(kv_table *t, const char *key)
{
    int found;
    size_t i = kv_find(t, key, &found);
    if (!found)
        return 0;
    free(t->e[i].key);
    free(t->e[i].value);
    memmove(&t->e[i], &t->e[i + 1], (t->n - i - 1) * sizeof *t->e);
    t->n--;
    return 1;
}

size_t kv_table_prefix(const kv_table *t, const char *prefix, size_t *first)
{
    int found;
    size_t plen = strlen(prefix), i = kv_find(t, prefix, &found), n = 0;
    *first = i; /* the keys with this prefix sort right from here */
    while (i + n < t->n && strncmp(t->e[i + n].key, prefix, plen) == 0)
        n++;
    return n;
}

void kv_table_free(kv_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->e[i].key);
        free(t->e[i].value);
    }
    free(t->e);
    *t = (kv_table){0};
}
