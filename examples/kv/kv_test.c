/* The tests of service_kv: a server embedded in this program loads the module just
 * built (with max_keys: 8, max_wait: 100ms, workers: 4) on a free port, and a client
 * checks every method, every error, the directives, the metadata and concurrent use.
 * Usage: kv_test MODULE_DIR (where service_kv.so is). Exit 0 when every check passed. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <plexus/plexus.h>
#include "kv.pb-c.h"

#define CHECK(cond, ...)                                                                 \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "kv_test:%d: FAIL: ", __LINE__);                             \
            fprintf(stderr, __VA_ARGS__);                                                \
            fputc('\n', stderr);                                                         \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

static px_client *cl;

/* One blocking call; *err has the status and message of a failure. */
static px_status call(const char *method, const void *req, const ProtobufCMessageDescriptor *rd,
                      const px_call_opts *opts, void *reply, px_err *err)
{
    return px_call(cl, method, req, rd, opts, (ProtobufCMessage **)reply, err);
}

static px_status put(const char *key, const char *value, int *created, px_err *err)
{
    Kv__PutRequest req = KV__PUT_REQUEST__INIT;
    req.key = (char *)key;
    req.value = (char *)value;
    Kv__PutReply *r;
    px_status st = call("kv.Store/Put", &req, &kv__put_reply__descriptor, NULL, &r, err);
    if (st == PX_OK) {
        if (created)
            *created = r->created;
        px_msg_free(&r->base);
    }
    return st;
}

/* Get (or Wait): the value in buf. */
static px_status get(const char *method, const char *key, const px_call_opts *opts, char *buf,
                     size_t size, px_err *err)
{
    Kv__GetRequest req = KV__GET_REQUEST__INIT;
    req.key = (char *)key;
    Kv__GetReply *r;
    px_status st = call(method, &req, &kv__get_reply__descriptor, opts, &r, err);
    if (st == PX_OK) {
        snprintf(buf, size, "%s", r->value);
        px_msg_free(&r->base);
    }
    return st;
}

static px_status del(const char *key, px_err *err)
{
    Kv__DeleteRequest req = KV__DELETE_REQUEST__INIT;
    req.key = (char *)key;
    Kv__DeleteReply *r;
    px_status st = call("kv.Store/Delete", &req, &kv__delete_reply__descriptor, NULL, &r, err);
    if (st == PX_OK)
        px_msg_free(&r->base);
    return st;
}

/* List: the keys joined by commas in buf. */
static void list(const char *prefix, unsigned limit, char *buf, size_t size)
{
    Kv__ListRequest req = KV__LIST_REQUEST__INIT;
    req.prefix = (char *)prefix;
    req.limit = limit;
    Kv__ListReply *r;
    px_err err;
    CHECK(call("kv.Store/List", &req, &kv__list_reply__descriptor, NULL, &r, &err) == PX_OK,
          "List: %s", err.msg);
    buf[0] = 0;
    for (size_t i = 0; i < r->n_keys; i++)
        snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", i ? "," : "", r->keys[i]);
    px_msg_free(&r->base);
}

/* Each thread writes, reads back and deletes a key of its own, many times. */
static void *churn(void *arg)
{
    char key[16], value[16], got[16];
    snprintf(key, sizeof key, "t%d", (int)(intptr_t)arg);
    for (int i = 0; i < 200; i++) {
        px_err err;
        snprintf(value, sizeof value, "%d", i);
        CHECK(put(key, value, NULL, &err) == PX_OK, "Put %s: %s", key, err.msg);
        CHECK(get("kv.Store/Get", key, NULL, got, sizeof got, &err) == PX_OK, "Get %s: %s", key,
              err.msg);
        CHECK(strcmp(got, value) == 0, "Get %s: '%s', expected '%s'", key, got, value);
        CHECK(del(key, &err) == PX_OK, "Delete %s: %s", key, err.msg);
    }
    return NULL;
}

static void *serve(void *srv)
{
    px_err err;
    px_status st = px_server_run(srv, &err);
    CHECK(st == PX_OK, "px_server_run: %s", err.msg);
    return NULL;
}

int main(int argc, char **argv)
{
    CHECK(argc == 2, "usage: kv_test MODULE_DIR");
    px_err err;
    char path[1100], yaml[1400];

    /* The server: the module from MODULE_DIR, the standard ones from the install. */
    snprintf(path, sizeof path, "['%s']", argv[1]);
    px_server_opts *o = px_server_opts_new();
    CHECK(px_server_opts_set(o, "modules.path", path, &err) == PX_OK, "%s", err.msg);
    CHECK(px_server_opts_set(o, "server.listen", "127.0.0.1:0", &err) == PX_OK, "%s", err.msg);
    CHECK(px_server_opts_set(o, "server.services",
                             "[{module: kv, workers: 4, max_keys: 8, max_wait: 100ms}]",
                             &err) == PX_OK, "%s", err.msg);
    px_server *srv;
    CHECK(px_server_new_opts(o, &srv, &err) == PX_OK, "px_server_new_opts: %s", err.msg);
    px_server_opts_free(o);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, serve, srv) == 0, "pthread_create");

    snprintf(yaml, sizeof yaml,
             "client:\n  upstreams:\n    kv:\n      endpoints: [127.0.0.1:%d]\n"
             "      timeout: {module: fixed, connect: 5s, call: 10s}\n",
             px_server_port(srv));
    px_config *cfg;
    CHECK(px_config_parse(yaml, strlen(yaml), "kv_test", &cfg, &err) == PX_OK, "%s", err.msg);
    CHECK(px_client_new(cfg, "kv", &cl, &err) == PX_OK, "px_client_new: %s", err.msg);

    char buf[256];
    int created;
    /* Put, Get, Delete and their errors. */
    CHECK(put("a", "1", &created, &err) == PX_OK && created, "Put a: %s", err.msg);
    CHECK(put("a", "2", &created, &err) == PX_OK && !created, "Put a again: %s", err.msg);
    CHECK(get("kv.Store/Get", "a", NULL, buf, sizeof buf, &err) == PX_OK && !strcmp(buf, "2"),
          "Get a: %s %s", buf, err.msg);
    CHECK(put("", "x", NULL, &err) == PX_INVALID_ARGUMENT, "Put '': %s", px_status_name(err.status));
    CHECK(strstr(err.msg, "kv.Store/Put: key of 0 bytes (1 to 256)"), "Put '': %s", err.msg);
    CHECK(get("kv.Store/Get", "nope", NULL, buf, sizeof buf, &err) == PX_NOT_FOUND, "Get nope");
    CHECK(strstr(err.msg, "kv.Store/Get: no key 'nope'"), "Get nope: %s", err.msg);
    CHECK(del("nope", &err) == PX_NOT_FOUND, "Delete nope: %s", px_status_name(err.status));

    /* Four threads at once: no lost write, no torn read (and under TSan, no race). */
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, churn, (void *)(intptr_t)i) == 0, "pthread_create");
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    list("", 0, buf, sizeof buf);
    CHECK(strcmp(buf, "a") == 0, "List after the threads: '%s'", buf);

    /* max_keys: 8. */
    for (int i = 1; i <= 7; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        CHECK(put(k, "v", NULL, &err) == PX_OK, "Put %s: %s", k, err.msg);
    }
    CHECK(put("k8", "v", NULL, &err) == PX_RESOURCE_EXHAUSTED, "Put k8: %s", err.msg);
    CHECK(strstr(err.msg, "the table is full (max_keys 8)"), "Put k8: %s", err.msg);
    CHECK(put("k7", "w", &created, &err) == PX_OK && !created, "replace in a full table: %s",
          err.msg);
    list("k", 3, buf, sizeof buf);
    CHECK(strcmp(buf, "k1,k2,k3") == 0, "List k limit 3: '%s'", buf);
    list("", 0, buf, sizeof buf);
    CHECK(strcmp(buf, "a,k1,k2,k3,k4,k5,k6,k7") == 0, "List: '%s'", buf);

    /* Wait: at once for a key that exists; NOT_FOUND after max_wait for one that does
     * not; DEADLINE_EXCEEDED when the caller's deadline comes first. */
    CHECK(get("kv.Store/Wait", "a", NULL, buf, sizeof buf, &err) == PX_OK && !strcmp(buf, "2"),
          "Wait a: %s", err.msg);
    CHECK(get("kv.Store/Wait", "later", NULL, buf, sizeof buf, &err) == PX_NOT_FOUND,
          "Wait later: %s %s", px_status_name(err.status), err.msg);
    CHECK(strstr(err.msg, "no key 'later' within max_wait (100 ms)"), "Wait later: %s", err.msg);
    px_call_opts quick = {.timeout_us = 20000};
    CHECK(get("kv.Store/Wait", "later", &quick, buf, sizeof buf, &err) == PX_DEADLINE_EXCEEDED,
          "Wait later in 20ms: %s %s", px_status_name(err.status), err.msg);

    /* Metadata: request-id comes back, with a reply and with an error. */
    px_meta *md = px_meta_new(), *back = px_meta_new();
    CHECK(px_meta_add_str(md, "request-id", "r-42", &err) == PX_OK, "%s", err.msg);
    px_call_opts opts = {.meta = md, .reply_meta = back};
    size_t len;
    const char *id;
    CHECK(get("kv.Store/Get", "a", &opts, buf, sizeof buf, &err) == PX_OK, "Get a: %s", err.msg);
    CHECK((id = px_meta_get(back, "request-id", &len)) && len == 4 && !memcmp(id, "r-42", 4),
          "no request-id r-42 with the reply");
    CHECK(get("kv.Store/Get", "nope", &opts, buf, sizeof buf, &err) == PX_NOT_FOUND, "Get nope");
    CHECK((id = px_meta_get(back, "request-id", &len)) && len == 4 && !memcmp(id, "r-42", 4),
          "no request-id r-42 with the error");
    px_meta_free(md);
    px_meta_free(back);

    px_client_free(cl);
    px_config_free(cfg);
    px_server_stop(srv);
    pthread_join(th, NULL);
    px_server_free(srv);
    printf("kv_test: OK\n");
    return 0;
}
