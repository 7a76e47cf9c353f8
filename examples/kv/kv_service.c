/* SERVICE "kv": kv.Store, a key-value table in memory (docs/WRITING-SERVICES.md).
 * Its handlers run on several threads at once (the IO threads, or the service's
 * workers), so one mutex guards the table. Wait blocks: run kv with `workers: N`. */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <plexus/plexus.h>
#include "kv.pb-c.h"
#include "kv_table.h"

#define KV_MAX_KEY 256

/* What the directives fill (see kv_directives below). */
typedef struct kv_conf {
    int64_t max_keys;    /* PX_DIR_INT */
    int64_t max_wait_us; /* PX_DIR_DURATION: microseconds */
} kv_conf;

/* One instance per `- module: kv` of a server config. */
typedef struct kv_state {
    Kv__Store_Service svc;  /* handed to the server; handlers get back here */
    pthread_mutex_t lock;   /* guards table: handlers run on several threads at once */
    pthread_cond_t changed; /* Put broadcasts it; Wait sleeps on it (CLOCK_MONOTONIC) */
    kv_table table;
    size_t max_keys;
    int64_t max_wait_us;
} kv_state;

static kv_state *kv_of(Kv__Store_Service *svc)
{
    return (kv_state *)((char *)svc - offsetof(kv_state, svc));
}

/* Every handler starts here: the key must be 1..256 bytes, and a request-id in the
 * request metadata goes back in the response metadata (with the reply or the error).
 * 0: the call has been answered. */
static int kv_begin(const char *key, void *data)
{
    size_t len;
    const void *id = px_meta_get(px_handler_meta(data), "request-id", &len);
    px_err err;
    if (id != NULL && px_handler_set_meta(data, "request-id", id, len, &err) != PX_OK) {
        px_handler_fail(data, err.status, "%s", err.msg);
        return 0;
    }
    if (key == NULL)
        return 1; /* List has a prefix, not a key */
    size_t klen = strlen(key);
    if (klen == 0 || klen > KV_MAX_KEY) {
        px_handler_fail(data, PX_INVALID_ARGUMENT, "%s: key of %zu bytes (1 to %d)",
                        px_handler_method(data), klen, KV_MAX_KEY);
        return 0;
    }
    return 1;
}

static void kv_put(Kv__Store_Service *svc, const Kv__PutRequest *in, Kv__PutReply_Closure closure,
                   void *data)
{
    kv_state *st = kv_of(svc);
    if (!kv_begin(in->key, data)) {
        closure(NULL, data);
        return;
    }
    pthread_mutex_lock(&st->lock);
    kv_put_result r = kv_table_put(&st->table, in->key, in->value, st->max_keys);
    if (r == KV_CREATED || r == KV_REPLACED)
        pthread_cond_broadcast(&st->changed); /* wakes every Wait: one may want this key */
    pthread_mutex_unlock(&st->lock);

    if (r == KV_FULL) {
        px_handler_fail(data, PX_RESOURCE_EXHAUSTED, "kv.Store/Put: the table is full (max_keys %zu)",
                        st->max_keys);
        closure(NULL, data);
        return;
    }
    if (r == KV_NOMEM) {
        px_handler_fail(data, PX_RESOURCE_EXHAUSTED, "kv.Store/Put: out of memory");
        closure(NULL, data);
        return;
    }
    Kv__PutReply reply = KV__PUT_REPLY__INIT;
    reply.created = r == KV_CREATED;
    closure(&reply, data);
}

static void kv_get(Kv__Store_Service *svc, const Kv__GetRequest *in, Kv__GetReply_Closure closure,
                   void *data)
{
    kv_state *st = kv_of(svc);
    if (!kv_begin(in->key, data)) {
        closure(NULL, data);
        return;
    }
    pthread_mutex_lock(&st->lock);
    const char *v = kv_table_get(&st->table, in->key);
    if (v == NULL) {
        px_handler_fail(data, PX_NOT_FOUND, "kv.Store/Get: no key '%s'", in->key);
        closure(NULL, data);
    } else {
        Kv__GetReply reply = KV__GET_REPLY__INIT;
        reply.value = (char *)v;
        closure(&reply, data); /* under the lock: the reply points into the table */
    }
    pthread_mutex_unlock(&st->lock);
}

static void kv_delete(Kv__Store_Service *svc, const Kv__DeleteRequest *in,
                      Kv__DeleteReply_Closure closure, void *data)
{
    kv_state *st = kv_of(svc);
    if (!kv_begin(in->key, data)) {
        closure(NULL, data);
        return;
    }
    pthread_mutex_lock(&st->lock);
    int deleted = kv_table_delete(&st->table, in->key);
    pthread_mutex_unlock(&st->lock);
    if (!deleted) {
        px_handler_fail(data, PX_NOT_FOUND, "kv.Store/Delete: no key '%s'", in->key);
        closure(NULL, data);
        return;
    }
    Kv__DeleteReply reply = KV__DELETE_REPLY__INIT;
    closure(&reply, data);
}

static void kv_list(Kv__Store_Service *svc, const Kv__ListRequest *in,
                    Kv__ListReply_Closure closure, void *data)
{
    kv_state *st = kv_of(svc);
    if (!kv_begin(NULL, data)) {
        closure(NULL, data);
        return;
    }
    pthread_mutex_lock(&st->lock);
    size_t first, n = kv_table_prefix(&st->table, in->prefix, &first);
    if (in->limit > 0 && n > in->limit)
        n = in->limit;
    char **keys = malloc((n ? n : 1) * sizeof *keys);
    if (keys == NULL) {
        pthread_mutex_unlock(&st->lock);
        px_handler_fail(data, PX_RESOURCE_EXHAUSTED, "kv.Store/List: out of memory");
        closure(NULL, data);
        return;
    }
    for (size_t i = 0; i < n; i++)
        keys[i] = st->table.e[first + i].key;
    Kv__ListReply reply = KV__LIST_REPLY__INIT;
    reply.n_keys = n;
    reply.keys = keys;
    closure(&reply, data); /* under the lock: the keys point into the table */
    pthread_mutex_unlock(&st->lock);
    free(keys); /* the core has encoded the reply when closure returns */
}

/* Blocks until the key exists: at most max_wait, and never past the caller's deadline.
 * A handler that blocks must run on workers (`workers: N`), or it stalls an IO thread
 * and every connection on it. */
static void kv_wait(Kv__Store_Service *svc, const Kv__GetRequest *in,
                    Kv__GetReply_Closure closure, void *data)
{
    kv_state *st = kv_of(svc);
    if (!kv_begin(in->key, data)) {
        closure(NULL, data);
        return;
    }
    int64_t left = px_handler_remaining_us(data); /* INT64_MAX: the caller set none */
    int by_deadline = left <= st->max_wait_us;
    int64_t wait_us = by_deadline ? left : st->max_wait_us;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    if (wait_us > 0) {
        until.tv_sec += wait_us / 1000000;
        until.tv_nsec += (long)(wait_us % 1000000) * 1000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&st->lock);
    const char *v;
    int rc = 0;
    while ((v = kv_table_get(&st->table, in->key)) == NULL && wait_us > 0 && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&st->changed, &st->lock, &until);
    if (v != NULL) {
        Kv__GetReply reply = KV__GET_REPLY__INIT;
        reply.value = (char *)v;
        closure(&reply, data);
    } else if (by_deadline) {
        /* The caller has given up by now: this answer is dropped, but there must be one. */
        px_handler_fail(data, PX_DEADLINE_EXCEEDED, "kv.Store/Wait: no key '%s' before the deadline",
                        in->key);
        closure(NULL, data);
    } else {
        px_handler_fail(data, PX_NOT_FOUND, "kv.Store/Wait: no key '%s' within max_wait (%lld ms)",
                        in->key, (long long)(st->max_wait_us / 1000));
        closure(NULL, data);
    }
    pthread_mutex_unlock(&st->lock);
}

static px_status kv_create(const px_module_env *env, const void *conf, void **state, px_err *err)
{
    const kv_conf *cf = conf; /* filled and range-checked by the core from the directives */
    kv_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "kv: out of memory");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines are not wall-clock time */
    pthread_cond_init(&st->changed, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&st->lock, NULL);
    Kv__Store_Service svc = KV__STORE__INIT(kv_); /* kv_put, kv_get, ... in method order */
    st->svc = svc;
    st->max_keys = (size_t)cf->max_keys;
    st->max_wait_us = cf->max_wait_us;
    px_log(PX_LOG_INFO, "kv", "server %s: max_keys %zu, max_wait %lld ms", env->server_id,
           st->max_keys, (long long)(st->max_wait_us / 1000));
    *state = st;
    return PX_OK;
}

/* After the server has stopped: no handler runs any more. */
static void kv_destroy(void *state)
{
    kv_state *st = state;
    kv_table_free(&st->table);
    pthread_cond_destroy(&st->changed);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static ProtobufCService *kv_service(void *state)
{
    return &((kv_state *)state)->svc.base;
}

static const px_service_ops kv_ops = {
    .descriptor = &kv__store__descriptor,
    .service = kv_service,
};

static const px_directive kv_directives[] = {
    {.name = "max_keys", .type = PX_DIR_INT, .offset = offsetof(kv_conf, max_keys),
     .def = "1000", .min = "1", .max = "10000000",
     .help = "most keys the table holds; a Put of one more fails RESOURCE_EXHAUSTED"},
    {.name = "max_wait", .type = PX_DIR_DURATION, .offset = offsetof(kv_conf, max_wait_us),
     .def = "5s", .min = "0ms", .max = "1h",
     .help = "longest a Wait blocks for its key; then NOT_FOUND"},
    {.name = NULL},
};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_SERVICE,
    .name = "kv", /* the file is service_kv.so; a config says `module: kv` */
    .version = "1.0.0",
    .description = "example key-value store: Put, Get, Delete, List, Wait",
    .conf_size = sizeof(kv_conf),
    .directives = kv_directives,
    .create = kv_create,
    .destroy = kv_destroy,
    .ops = &kv_ops,
};
