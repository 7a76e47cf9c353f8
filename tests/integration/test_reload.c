/* plexusd's reload under load (docs/OPERATIONS.md "Reload"): three async clients make
 * 20,000 calls while the server's file changes five times — the relay's upstream
 * balancer, a codec added, a service removed and added back, a listener moved — and once
 * to a file it refuses. No call fails but those to the service while it was gone
 * (UNIMPLEMENTED); every generation answered; what each reload says is seen from
 * outside: the new codec answers, the removed service's .so leaves the process's
 * memory, the moved listener answers on its new port and no longer on the old. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_proc.h"
#include "px_test_module.h"
#include "px_time.h"

#define N_CLIENTS 3
#define N_CALLS 20000
#define MAX_INFLIGHT 48 /* per client */
#define N_GENS 6        /* the first and five reloads */

typedef struct gen_conf {
    const char *balancer;
    const char *codecs;
    int relay;     /* the relay service is served */
    int moved;     /* the extra listener is on its second port */
} gen_conf;

/* What each generation's file says: the first, then the five reloads in order. */
static const gen_conf GENS[N_GENS] = {
    {"random", "[protobuf]", 1, 0},
    {"round_robin", "[protobuf]", 1, 0},       /* 1: the relay's balancer switched */
    {"round_robin", "[protobuf, json]", 1, 0}, /* 2: a codec added */
    {"round_robin", "[protobuf, json]", 0, 0}, /* 3: the relay removed */
    {"round_robin", "[protobuf, json]", 1, 0}, /* 4: ... and added back */
    {"round_robin", "[protobuf, json]", 1, 1}, /* 5: the extra listener moved */
};

typedef struct fixture fixture;

typedef struct client {
    fixture *f;
    int index, share;
    px_config *cfg;
    px_client *cl;
    pthread_t thread;
    int inflight;  /* atomic */
} client;

struct fixture {
    char dir[64], conf[128], log[128];
    px_proc b1, b2;
    pid_t pid;
    int port, extra[2], admin;
    void *relay_so;
    const ProtobufCMethodDescriptor *forward;
    client cl[N_CLIENTS];
    int issued, done;                  /* atomic, over all clients */
    int ok, unimplemented_relay, other; /* atomic */
    int by_gen[N_GENS];                /* atomic: Whoami answers by generation */
    char first_other[256];
    int threads, stop; /* client threads started; atomic: stop them (a failed check) */
};

static const char *moddir(void)
{
    const char *d = getenv("PX_MODULE_DIR");
    return d ? d : "build/modules";
}

/* The server's file for generation g (id "g<g>"); broken: one it must refuse. */
static int write_conf(fixture *f, int g, int broken)
{
    const gen_conf *c = &GENS[g];
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", f->conf);
    FILE *fp = fopen(tmp, "w");
    if (!fp)
        return -1;
    fprintf(fp, "modules:\n  path: [%s]\nserver:\n  listen: 127.0.0.1:%d\n  id: g%d\n"
            "  io_threads: 2\n  shutdown_grace: 10s\n  codecs: %s\n"
            "  listeners:\n    - listen: 127.0.0.1:%d\n  services:\n"
            "    - module: calc\n      workers: 2\n",
            moddir(), f->port, g, c->codecs, f->extra[c->moved]);
    if (c->relay) /* its upstream is the client: section of this very file */
        fprintf(fp, "    - module: relay\n      workers: 8\n      client_config: %s\n",
                f->conf);
    if (broken)
        fprintf(fp, "    - module: calc\n      workers: [\n");
    fprintf(fp, "admin:\n  listen: 127.0.0.1:%d\n", f->admin);
    fprintf(fp, "client:\n  upstreams:\n    next:\n      endpoints: [127.0.0.1:%d, 127.0.0.1:%d]\n"
            "      balancer: %s\n      timeout: { module: fixed, call: 10s }\n",
            f->b1.port, f->b2.port, c->balancer);
    if (fclose(fp) != 0)
        return -1;
    return rename(tmp, f->conf); /* a reload never reads half a file */
}

/* Polls plexusd's log (bounded: 30 s) until it holds `what`; 0 when it does. */
static int log_wait(fixture *f, const char *what)
{
    for (int i = 0; i < 3000; i++) {
        FILE *fp = fopen(f->log, "r");
        char line[1024];
        int seen = 0;
        while (fp && !seen && fgets(line, sizeof line, fp))
            seen = strstr(line, what) != NULL;
        if (fp)
            fclose(fp);
        if (seen)
            return 0;
        usleep(10 * 1000);
    }
    fprintf(stderr, "plexusd's log never said '%s'\n", what);
    return -1;
}

static int client_conf(fixture *f, const char *path, int port, const char *codec)
{
    FILE *fp = fopen(path, "w");
    if (!fp)
        return -1;
    fprintf(fp, "modules:\n  path: [%s]\nclient:\n  upstreams:\n    calc:\n"
            "      endpoints: [127.0.0.1:%d]\n      codec: %s\n"
            "      timeout: { module: fixed, connect: 1s, call: 10s }\n",
            moddir(), port, codec);
    return fclose(fp);
}

typedef struct call_ctx {
    client *c;
    int relay;
} call_ctx;

static void on_done(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    call_ctx *x = user;
    fixture *f = x->c->f;
    if (st == PX_OK) {
        __atomic_add_fetch(&f->ok, 1, __ATOMIC_RELAXED);
        if (!x->relay) {
            const Calc__WhoamiReply *r = (const Calc__WhoamiReply *)reply;
            int g = r->id && r->id[0] == 'g' ? atoi(r->id + 1) : -1;
            if (g >= 0 && g < N_GENS)
                __atomic_add_fetch(&f->by_gen[g], 1, __ATOMIC_RELAXED);
        }
    } else if (st == PX_UNIMPLEMENTED && x->relay) {
        __atomic_add_fetch(&f->unimplemented_relay, 1, __ATOMIC_RELAXED);
    } else if (__atomic_add_fetch(&f->other, 1, __ATOMIC_RELAXED) == 1) {
        snprintf(f->first_other, sizeof f->first_other, "%s%s: %s: %s",
                 x->relay ? "relay.Relay/Forward" : "calc.Calculator/Whoami", "",
                 px_status_name(st), msg);
    }
    __atomic_sub_fetch(&x->c->inflight, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&f->done, 1, __ATOMIC_RELEASE);
    free(x);
}

/* A client's share of the calls, at most MAX_INFLIGHT at once, one in four a relay
 * Forward (which calls a backend), paced to about one a millisecond so that the
 * reloads fall among them. */
static void *client_main(void *arg)
{
    client *c = arg;
    fixture *f = c->f;
    Calc__WhoamiRequest who = CALC__WHOAMI_REQUEST__INIT;
    uint64_t fwd_buf[32];
    ProtobufCMessage *fwd = (ProtobufCMessage *)fwd_buf;
    protobuf_c_message_init(f->forward->input, fwd);
    for (int i = 0; i < c->share && !__atomic_load_n(&f->stop, __ATOMIC_RELAXED); i++) {
        while (__atomic_load_n(&c->inflight, __ATOMIC_RELAXED) >= MAX_INFLIGHT)
            usleep(200);
        call_ctx *x = malloc(sizeof *x);
        x->c = c;
        x->relay = (i % 4) == 3;
        px_err err;
        __atomic_add_fetch(&c->inflight, 1, __ATOMIC_RELAXED);
        px_status st = x->relay
            ? px_call_async(c->cl, "relay.Relay/Forward", fwd, f->forward->output, NULL,
                            on_done, x, &err)
            : px_call_async(c->cl, "calc.Calculator/Whoami", &who.base,
                            &calc__whoami_reply__descriptor, NULL, on_done, x, &err);
        if (st != PX_OK) {
            fprintf(stderr, "px_call_async: %s\n", err.msg);
            __atomic_sub_fetch(&c->inflight, 1, __ATOMIC_RELAXED);
            __atomic_add_fetch(&f->other, 1, __ATOMIC_RELAXED);
            __atomic_add_fetch(&f->done, 1, __ATOMIC_RELEASE);
            free(x);
        }
        __atomic_add_fetch(&f->issued, 1, __ATOMIC_RELAXED);
        usleep(1000);
    }
    return NULL;
}

/* A blocking call of Whoami on port with codec: its status (and the answer's id). */
static px_status probe(fixture *f, int port, const char *codec, char *id, size_t cap)
{
    char path[160];
    snprintf(path, sizeof path, "%s/probe-%d-%s.yaml", f->dir, port, codec);
    px_config *cfg = NULL;
    px_client *cl = NULL;
    px_err err = {0};
    px_status st = PX_INTERNAL;
    if (client_conf(f, path, port, codec) == 0 && px_config_load(path, &cfg, &err) == PX_OK &&
        px_client_new(cfg, NULL, &cl, &err) == PX_OK) {
        Calc__WhoamiRequest req = CALC__WHOAMI_REQUEST__INIT;
        ProtobufCMessage *rep = NULL;
        st = px_call(cl, "calc.Calculator/Whoami", &req.base, &calc__whoami_reply__descriptor,
                     NULL, &rep, &err);
        if (st == PX_OK && id)
            snprintf(id, cap, "%s", ((Calc__WhoamiReply *)rep)->id);
        px_msg_free(rep);
    }
    px_client_free(cl);
    px_config_free(cfg);
    return st;
}

/* Whether plexusd has file (a module's .so) mapped. */
static int maps_hold(fixture *f, const char *file)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)f->pid);
    FILE *fp = fopen(path, "r");
    int seen = 0;
    while (fp && !seen && fgets(line, sizeof line, fp))
        seen = strstr(line, file) != NULL;
    if (fp)
        fclose(fp);
    return seen;
}

static void reload(fixture *f, int g)
{
    assert_int_equal(write_conf(f, g, 0), 0);
    assert_int_equal(kill(f->pid, SIGHUP), 0);
    char what[64];
    snprintf(what, sizeof what, "generation %d serves", g + 1);
    assert_int_equal(log_wait(f, what), 0);
}

static void wait_done(fixture *f, int n)
{
    for (int i = 0; i < 60000 && __atomic_load_n(&f->done, __ATOMIC_ACQUIRE) < n; i++)
        usleep(1000);
}

static void test_reload_under_load(void **state)
{
    fixture *f = *state;
    for (; f->threads < N_CLIENTS; f->threads++)
        assert_int_equal(
            pthread_create(&f->cl[f->threads].thread, NULL, client_main, &f->cl[f->threads]), 0);
    char id[64];
    /* 1: the relay's balancer. */
    wait_done(f, 2500);
    reload(f, 1);
    /* 2: a codec added: a JSON client is answered now. */
    wait_done(f, 5000);
    reload(f, 2);
    assert_int_equal(probe(f, f->port, "json", id, sizeof id), PX_OK);
    assert_string_equal(id, "g2");
    /* A file with an error: refused with where, and generation 3 goes on. */
    assert_int_equal(write_conf(f, 2, 1), 0);
    assert_int_equal(kill(f->pid, SIGHUP), 0);
    char refused[256];
    snprintf(refused, sizeof refused, "reload refused: %s:", f->conf);
    assert_int_equal(log_wait(f, refused), 0);
    assert_int_equal(log_wait(f, "generation 3 keeps serving"), 0);
    /* 3: the relay removed: once the generations that had it are drained, its .so is
     * closed. */
    wait_done(f, 7500);
    reload(f, 3);
    for (int g = 1; g <= 3; g++) {
        char drained[64];
        snprintf(drained, sizeof drained, "generation %d: drained and freed", g);
        assert_int_equal(log_wait(f, drained), 0);
    }
#if !defined(__SANITIZE_THREAD__)
    /* (ThreadSanitizer's plexusd keeps a library mapped after its last dlclose.) */
    assert_false(maps_hold(f, "service_relay.so"));
#endif
    /* 4: ... added back. */
    wait_done(f, 10000);
    reload(f, 4);
    assert_true(maps_hold(f, "service_relay.so"));
    /* 5: the extra listener moved. */
    wait_done(f, 12500);
    assert_int_equal(probe(f, f->extra[0], "protobuf", id, sizeof id), PX_OK);
    reload(f, 5);
    assert_int_equal(log_wait(f, "generation 5: drained and freed"), 0);
    assert_int_equal(probe(f, f->extra[1], "protobuf", id, sizeof id), PX_OK);
    assert_string_equal(id, "g5");
    assert_int_equal(probe(f, f->extra[0], "protobuf", NULL, 0), PX_UNAVAILABLE);

    for (; f->threads > 0; f->threads--)
        pthread_join(f->cl[f->threads - 1].thread, NULL);
    wait_done(f, N_CALLS);
    int ok = __atomic_load_n(&f->ok, __ATOMIC_RELAXED);
    int unimpl = __atomic_load_n(&f->unimplemented_relay, __ATOMIC_RELAXED);
    int other = __atomic_load_n(&f->other, __ATOMIC_RELAXED);
    fprintf(stderr, "%d calls: %d OK, %d UNIMPLEMENTED (relay, while removed), %d other%s%s\n",
            f->done, ok, unimpl, other, other ? "; the first: " : "", f->first_other);
    fprintf(stderr, "Whoami answered by generation:");
    for (int g = 0; g < N_GENS; g++)
        fprintf(stderr, " g%d %d", g, f->by_gen[g]);
    fprintf(stderr, "\n");
    assert_int_equal(f->issued, N_CALLS);
    assert_int_equal(f->done, N_CALLS);
    assert_int_equal(other, 0);
    assert_int_equal(ok + unimpl, N_CALLS);
    for (int g = 0; g < N_GENS; g++)
        assert_true(f->by_gen[g] > 0);
    /* The admin listener (its address kept across reloads) counts them. */
    char url[64], out[65536], err[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", f->admin);
    char *argv[] = {"/usr/bin/curl", "-sS", "--max-time", "10", url, NULL};
    assert_int_equal(px_run(argv, out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "\nplexus_config_reloads_total{result=\"ok\"} 5\n"));
    assert_non_null(strstr(out, "\nplexus_config_reloads_total{result=\"failed\"} 1\n"));
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    *state = f;
    px_proc_die_with_test();
    snprintf(f->dir, sizeof f->dir, "/tmp/pxtest-reload-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    const char *calc = "  codecs: [protobuf]\n  services:\n    - module: calc\n";
    if (px_proc_start(&f->b1, "b1", calc) != 0 || px_proc_start(&f->b2, "b2", calc) != 0)
        return -1;
    const px_module *m = px_test_load_module("service_relay.so", &f->relay_so);
    if (!m)
        return -1;
    f->forward = protobuf_c_service_descriptor_get_method_by_name(
        ((const px_service_ops *)m->ops)->descriptor, "Forward");
    f->port = px_free_port();
    f->extra[0] = px_free_port();
    f->extra[1] = px_free_port();
    f->admin = px_free_port();
    snprintf(f->conf, sizeof f->conf, "%s/server.yaml", f->dir);
    snprintf(f->log, sizeof f->log, "%s/plexusd.log", f->dir);
    if (write_conf(f, 0, 0) != 0)
        return -1;
    char bin[512];
    const char *bdir = getenv("PX_BINARY_DIR");
    snprintf(bin, sizeof bin, "%s/bin/plexusd", bdir ? bdir : "build");
    char *argv[] = {bin, "-c", f->conf, NULL};
    if ((f->pid = px_spawn(argv, f->log)) < 0 || log_wait(f, "listening on") != 0)
        return -1;
    int share = N_CALLS / N_CLIENTS;
    for (int i = 0; i < N_CLIENTS; i++) {
        client *c = &f->cl[i];
        char path[160];
        snprintf(path, sizeof path, "%s/client-%d.yaml", f->dir, i);
        px_err err;
        *c = (client){.f = f, .index = i, .share = i ? share : N_CALLS - share * (N_CLIENTS - 1)};
        if (client_conf(f, path, f->port, "protobuf") != 0 ||
            px_config_load(path, &c->cfg, &err) != PX_OK ||
            px_client_new(c->cfg, NULL, &c->cl, &err) != PX_OK) {
            fprintf(stderr, "client %d: %s\n", i, err.msg);
            return -1;
        }
    }
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    /* A check that failed left the clients' threads running: they stop first. */
    __atomic_store_n(&f->stop, 1, __ATOMIC_RELAXED);
    for (; f->threads > 0; f->threads--)
        pthread_join(f->cl[f->threads - 1].thread, NULL);
    for (int i = 0; i < N_CLIENTS; i++) {
        px_client_free(f->cl[i].cl);
        px_config_free(f->cl[i].cfg);
    }
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        int status = 0;
        waitpid(f->pid, &status, 0);
    }
    px_proc_stop(&f->b1);
    px_proc_stop(&f->b2);
    if (f->relay_so)
        dlclose(f->relay_so);
    free(f);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reload_under_load, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
