/* The table behind kv.Store: keys kept sorted in one array, so List is a range.
 * No locking here: kv_service.c holds its lock around every call. */
#ifndef KV_TABLE_H
#define KV_TABLE_H

#include <stddef.h>

typedef struct kv_entry {
    char *key;
    char *value;
} kv_entry;

typedef struct kv_table {
    kv_entry *e; /* sorted by key (strcmp) */
    size_t n, cap;
} kv_table;

typedef enum kv_put_result { KV_REPLACED, KV_CREATED, KV_FULL, KV_NOMEM } kv_put_result;

/* The value of key, or NULL. */
const char *kv_table_get(const kv_table *t, const char *key);
/* Sets key to a copy of value; a new key only while the table has fewer than max. */
kv_put_result kv_table_put(kv_table *t, const char *key, const char *value, size_t max);
/* 1: deleted, 0: there was no such key. */
int kv_table_delete(kv_table *t, const char *key);
/* The entries whose key starts with prefix are e[*first .. *first + return). */
size_t kv_table_prefix(const kv_table *t, const char *prefix, size_t *first);
void kv_table_free(kv_table *t);

#endif
