/* Calls kv.Store three ways: a blocking call (px_call), an asynchronous one
 * (px_call_async) and a generated stub (kv__store__get over px_client_service).
 * Usage: kv_client CLIENT_YAML. Prints what each call answered; exit 0 when all went
 * as expected. It deletes the keys it made, so it may be run again. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <plexus/plexus.h>
#include "kv.pb-c.h"

/* A completion the main thread waits for: async callbacks and stub closures run on
 * the client's IO thread. */
typedef struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    px_status st;
    char text[256]; /* the value, or the error message */
} waiter;

#define WAITER_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, PX_OK, ""}

static void waiter_finish(waiter *w, px_status st, const char *text)
{
    pthread_mutex_lock(&w->lock);
    w->st = st;
    snprintf(w->text, sizeof w->text, "%s", text ? text : "");
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void waiter_wait(waiter *w)
{
    pthread_mutex_lock(&w->lock);
    while (!w->done)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

/* px_call_async's completion: exactly once, with the reply or a status. */
static void wait_done(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    waiter_finish(user, st, st == PX_OK ? ((const Kv__GetReply *)reply)->value : msg);
}

/* The generated stub's closure: the reply, or NULL and px_stub_status says why. */
static void get_closure(const Kv__GetReply *reply, void *user)
{
    const char *msg = NULL;
    px_status st = reply ? PX_OK : px_stub_status(&msg);
    waiter_finish(user, st, reply ? reply->value : msg);
}

/* A blocking Put with a request-id in the request metadata; prints the reply and the
 * request-id the server sent back. */
static int put(px_client *cl, const char *key, const char *value, const char *request_id)
{
    px_err err;
    px_meta *md = px_meta_new(), *reply_md = px_meta_new();
    px_meta_add_str(md, "request-id", request_id, &err);
    px_call_opts opts = {.meta = md, .reply_meta = reply_md};
    Kv__PutRequest req = KV__PUT_REQUEST__INIT;
    req.key = (char *)key;
    req.value = (char *)value;
    ProtobufCMessage *reply;
    px_status st = px_call(cl, "kv.Store/Put", &req.base, &kv__put_reply__descriptor, &opts,
                           &reply, &err);
    if (st == PX_OK) {
        size_t len;
        const char *id = px_meta_get(reply_md, "request-id", &len);
        printf("put %s: %s (request-id %.*s)\n", key,
               ((Kv__PutReply *)reply)->created ? "created" : "replaced", id ? (int)len : 0,
               id ? id : "");
        px_msg_free(reply);
    } else {
        printf("put %s: %s: %s\n", key, px_status_name(err.status), err.msg);
    }
    px_meta_free(md);
    px_meta_free(reply_md);
    return st == PX_OK;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: kv_client CLIENT_YAML\n");
        return 2;
    }
    px_err err;
    px_config *cfg;
    px_client *cl;
    if (px_config_load(argv[1], &cfg, &err) != PX_OK) {
        fprintf(stderr, "kv_client: %s\n", err.msg);
        return 1;
    }
    if (px_client_new(cfg, "kv", &cl, &err) != PX_OK) {
        fprintf(stderr, "kv_client: %s\n", err.msg);
        px_config_free(cfg);
        return 1;
    }
    int ok = 1;

    /* 1. Blocking: px_call returns with the reply or the error. */
    ok &= put(cl, "from-c", "hello", "c-1");

    /* 2. A generated stub, made a remote call by px_client_service. */
    ProtobufCService *store = px_client_service(cl, &kv__store__descriptor);
    waiter got = WAITER_INIT;
    Kv__GetRequest get = KV__GET_REQUEST__INIT;
    get.key = "from-c";
    kv__store__get(store, &get, get_closure, &got);
    waiter_wait(&got);
    printf("stub get from-c: %s\n", got.text);
    ok &= got.st == PX_OK && strcmp(got.text, "hello") == 0;

    /* 3. Asynchronous: Wait for a key nobody has put yet, then put it; Wait blocks a
     * worker of the server meanwhile, and the Put runs on another. */
    waiter woke = WAITER_INIT;
    Kv__GetRequest w = KV__GET_REQUEST__INIT;
    w.key = "signal";
    if (px_call_async(cl, "kv.Store/Wait", &w.base, &kv__get_reply__descriptor, NULL, wait_done,
                      &woke, &err) != PX_OK) {
        printf("async wait signal: %s: %s\n", px_status_name(err.status), err.msg);
        ok = 0;
    } else {
        ok &= put(cl, "signal", "yes", "c-2");
        waiter_wait(&woke); /* px_call_async's done runs exactly once */
        printf("async wait signal: %s\n", woke.text);
        ok &= woke.st == PX_OK && strcmp(woke.text, "yes") == 0;
    }

    /* 4. An error: the status and the server's message. */
    ProtobufCMessage *reply;
    get.key = "missing";
    if (px_call(cl, "kv.Store/Get", &get.base, &kv__get_reply__descriptor, NULL, &reply, &err) ==
        PX_OK) {
        px_msg_free(reply);
        ok = 0;
    } else {
        printf("get missing: %s: %s\n", px_status_name(err.status), err.msg);
        ok &= err.status == PX_NOT_FOUND;
    }

    /* 5. Clean up, so that the next run prints the same. */
    const char *mine[] = {"from-c", "signal"};
    for (int i = 0; i < 2; i++) {
        Kv__DeleteRequest del = KV__DELETE_REQUEST__INIT;
        del.key = (char *)mine[i];
        if (px_call(cl, "kv.Store/Delete", &del.base, &kv__delete_reply__descriptor, NULL, &reply,
                    &err) == PX_OK) {
            printf("delete %s: done\n", mine[i]);
            px_msg_free(reply);
        } else {
            printf("delete %s: %s: %s\n", mine[i], px_status_name(err.status), err.msg);
            ok = 0;
        }
    }

    px_client_free(cl);
    px_config_free(cfg);
    printf("kv_client: %s\n", ok ? "OK" : "FAILED");
    return ok ? 0 : 1;
}
