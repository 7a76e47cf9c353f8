/* Dynamic membership against real plexusd processes: four calc servers s0..s3 that take
 * 20 ms per call, a client whose naming module (tests/fixtures/fx_naming.c) the test
 * drives from its own thread. While calls are in flight, s1 is removed, s2 added, then a
 * full list [s2, s3] replaces the rest. Every call completes once and OK (those in flight
 * on a removed server too); no call made after an update returned is answered by a
 * server it removed; a new server starts answering; the client's connections to a
 * removed server close once its calls are done. Through px_call_async, then px_call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_client_int.h"
#include "px_cluster.h"
#include "px_time.h"

#define NSRV 4

static const char *SERVER_YAML = "  io_threads: 1\n"
                                 "  codecs: [protobuf]\n"
                                 "  services:\n"
                                 "    - module: calc\n"
                                 "      workers: 16\n"
                                 "      delay: 20ms\n";

typedef px_naming_sink *(*sink_fn)(const char *upstream);

typedef struct fx {
    px_cluster c;
    px_naming_sink *sink;
    void *fixture; /* the naming fixture, as the client loaded it */
    char addr[NSRV][64];
} fx;

/* A cluster of NSRV servers whose client lists s0 and s1 only. */
static fx *fx_up(int calls)
{
    static char upstream[600];
    const char *dir = getenv("PX_FIXTURE_DIR");
    assert_non_null(dir);
    char path[400];
    snprintf(path, sizeof path, "%s/naming_fxdrive.so", dir);
    snprintf(upstream, sizeof upstream,
             "      naming: {module: '%s'}\n"
             "      balancer: round_robin\n"
             "      timeout: { module: fixed, connect: 1s, call: 5s }\n"
             "      pool_size: 8\n",
             path);
    fx *f = calloc(1, sizeof *f);
    px_cluster_spec spec = {.n = NSRV, .default_yaml = SERVER_YAML, .upstream_yaml = upstream,
                            .calls = calls};
    assert_int_equal(px_cluster_up(&f->c, &spec), 0);
    /* The client loaded the fixture into this process: find it without loading it again. */
    f->fixture = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(f->fixture);
    sink_fn get = (sink_fn)dlsym(f->fixture, "fx_naming_sink");
    assert_non_null(get);
    f->sink = get("calc");
    assert_non_null(f->sink);
    for (int i = 0; i < NSRV; i++)
        px_host_port(f->addr[i], sizeof f->addr[i], "127.0.0.1", f->c.srv[i].port);
    px_naming_endpoint two[] = {{.address = f->addr[0]}, {.address = f->addr[1]}};
    assert_int_equal(px_naming_set(f->sink, two, 2), PX_OK);
    return f;
}

/* Calls of this client in flight on server i now. */
static uint32_t inflight_on(fx *f, int i)
{
    return px_endpoint_inflight(&px_upstream_ep(f->c.cl->up, (uint32_t)i)->pub);
}

static void fx_down(fx *f)
{
    assert_int_equal(px_cluster_down(&f->c), 0);
    dlclose(f->fixture);
    free(f);
}

/* Established TCP connections of this machine to 127.0.0.1:port (the servers are this
 * test's own, so they are the client's). */
static int established_to(int port)
{
    FILE *fp = fopen("/proc/net/tcp", "r");
    if (fp == NULL)
        return -1;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, fp)) {
        unsigned rport, st;
        if (sscanf(line, " %*d: %*x:%*x %*x:%x %x", &rport, &st) == 2 && rport == (unsigned)port &&
            st == 1)
            n++;
    }
    fclose(fp);
    return n;
}

/* Waits up to 3 s until the client keeps no connection to server i. */
static void no_connection_to(fx *f, int i)
{
    int n = -1;
    for (int k = 0; k < 300 && (n = established_to(f->c.srv[i].port)) > 0; k++)
        usleep(10000);
    if (n != 0)
        print_error("still %d connections to s%d\n", n, i);
    assert_int_equal(n, 0);
}

/* ---- async ------------------------------------------------------------------------- */

enum { CALLS = 1600 };

typedef struct events {
    fx *f;
    int at_remove, at_add, at_set; /* calls issued before each update returned */
    int64_t t_remove;
} events;

/* Runs between the load's calls, on the test thread: the updates at set points. */
static void updates_tick(void *arg)
{
    events *e = arg;
    fx *f = e->f;
    int issued = f->c.load.issued;
    /* Removed while calls are in flight on it: those must still complete. */
    if (!e->at_remove && issued >= CALLS / 4 && inflight_on(f, 1) >= 2) {
        assert_int_equal(px_naming_remove(f->sink, f->addr[1]), PX_OK);
        e->at_remove = f->c.load.issued;
        e->t_remove = px_mono_us();
    } else if (e->at_remove && !e->at_add && issued >= CALLS / 2) {
        px_naming_endpoint s2 = {.address = f->addr[2]};
        assert_int_equal(px_naming_add(f->sink, &s2), PX_OK);
        e->at_add = f->c.load.issued;
    } else if (e->at_add && !e->at_set && issued >= 3 * CALLS / 4) {
        px_naming_endpoint l[] = {{.address = f->addr[2]}, {.address = f->addr[3]}};
        assert_int_equal(px_naming_set(f->sink, l, 2), PX_OK);
        e->at_set = f->c.load.issued;
    }
}

static void test_async_membership_changes(void **state)
{
    fx *f = fx_up(CALLS);
    px_load *l = &f->c.load;
    events e = {.f = f};
    assert_int_equal(px_load_run(l, CALLS, 2400 * 1000, updates_tick, &e), 0);
    assert_int_equal(px_load_drain(l, 10 * 1000000, NULL, NULL), 0);
    assert_true(e.at_set > 0);
    px_load_sum all, before, mid, late, last;
    px_load_sum_up(l, 0, CALLS, &all);
    px_load_sum_print(l, 0, CALLS, &all, "all");
    /* None lost: every call completed exactly once, with OK. */
    assert_int_equal(all.ok, CALLS);
    assert_int_equal(all.twice, 0);
    assert_int_equal(all.never, 0);
    px_load_sum_up(l, 0, e.at_remove, &before);
    px_load_sum_up(l, e.at_remove, e.at_add, &mid);
    px_load_sum_up(l, e.at_add, e.at_set, &late);
    px_load_sum_up(l, e.at_set, CALLS, &last);
    print_message("  before removing s1: s0 %d s1 %d | s1 removed: s0 %d s1 %d | s2 added: s0 %d "
                  "s1 %d s2 %d | [s2, s3]: s0 %d s1 %d s2 %d s3 %d\n",
                  before.per_server[0], before.per_server[1], mid.per_server[0],
                  mid.per_server[1], late.per_server[0], late.per_server[1],
                  late.per_server[2], last.per_server[0], last.per_server[1],
                  last.per_server[2], last.per_server[3]);
    assert_true(before.per_server[1] > 0);
    /* After an update returned, no call went to a server it removed. */
    assert_int_equal(mid.per_server[1] + late.per_server[1] + last.per_server[1], 0);
    assert_int_equal(last.per_server[0], 0);
    /* Servers that joined answer. */
    assert_true(late.per_server[2] > 0);
    assert_true(last.per_server[2] > 0 && last.per_server[3] > 0);
    /* Calls in flight on s1 when it was removed were answered by it, after the removal. */
    int in_flight = 0;
    for (int i = 0; i < e.at_remove; i++)
        in_flight += l->rec[i].server == 1 && l->rec[i].end_us > e.t_remove;
    print_message("  %d calls in flight on s1 when it was removed completed OK\n", in_flight);
    assert_true(in_flight > 0);
    /* Their connections close once their calls are done. */
    no_connection_to(f, 1);
    no_connection_to(f, 0);
    assert_true(established_to(f->c.srv[2].port) > 0);
    fx_down(f);
}

/* ---- blocking ---------------------------------------------------------------------- */

enum { THREADS = 4, MAX_PER_THREAD = 4000 };

typedef struct bcall {
    int phase;  /* updates returned before the call began */
    int server; /* who answered; -1 failed */
    int64_t end_us;
} bcall;

typedef struct bjob {
    fx *f;
    int *phase; /* atomic */
    int *stop;  /* atomic */
    bcall calls[MAX_PER_THREAD];
    int n;
    char first_error[600];
} bjob;

static void *blocking_caller(void *arg)
{
    bjob *j = arg;
    Calc__WhoamiRequest req = CALC__WHOAMI_REQUEST__INIT;
    while (!__atomic_load_n(j->stop, __ATOMIC_ACQUIRE) && j->n < MAX_PER_THREAD) {
        bcall *c = &j->calls[j->n++];
        c->phase = __atomic_load_n(j->phase, __ATOMIC_ACQUIRE);
        ProtobufCMessage *reply = NULL;
        px_err err;
        px_status st = px_call(j->f->c.cl, "calc.Calculator/Whoami", &req.base,
                               &calc__whoami_reply__descriptor, NULL, &reply, &err);
        c->end_us = px_mono_us();
        c->server = -1;
        if (st == PX_OK) {
            const char *id = ((Calc__WhoamiReply *)reply)->id;
            c->server = id[0] == 's' ? id[1] - '0' : -2;
        } else if (!j->first_error[0]) {
            snprintf(j->first_error, sizeof j->first_error, "%s: %s", px_status_name(st),
                     err.msg);
        }
        px_msg_free(reply);
    }
    return NULL;
}

static void test_blocking_membership_changes(void **state)
{
    fx *f = fx_up(1);
    int phase = 0, stop = 0;
    bjob *jobs = calloc(THREADS, sizeof *jobs);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (bjob){.f = f, .phase = &phase, .stop = &stop};
        assert_int_equal(pthread_create(&t[i], NULL, blocking_caller, &jobs[i]), 0);
    }
    usleep(300000);
    for (int k = 0; k < 1000 && inflight_on(f, 1) == 0; k++) /* remove it with a call on it */
        usleep(1000);
    assert_int_equal(px_naming_remove(f->sink, f->addr[1]), PX_OK);
    int64_t t_remove = px_mono_us();
    __atomic_store_n(&phase, 1, __ATOMIC_RELEASE);
    usleep(300000);
    px_naming_endpoint s2 = {.address = f->addr[2]};
    assert_int_equal(px_naming_add(f->sink, &s2), PX_OK);
    __atomic_store_n(&phase, 2, __ATOMIC_RELEASE);
    usleep(300000);
    px_naming_endpoint l[] = {{.address = f->addr[2]}, {.address = f->addr[3]}};
    assert_int_equal(px_naming_set(f->sink, l, 2), PX_OK);
    __atomic_store_n(&phase, 3, __ATOMIC_RELEASE);
    usleep(300000);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    int per[4][NSRV] = {{0}}, failed = 0, total = 0, in_flight = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        if (jobs[i].first_error[0])
            print_error("thread %d: %s\n", i, jobs[i].first_error);
        for (int k = 0; k < jobs[i].n; k++) {
            const bcall *c = &jobs[i].calls[k];
            total++;
            if (c->server < 0 || c->server >= NSRV) {
                failed++;
                continue;
            }
            per[c->phase][c->server]++;
            in_flight += c->phase == 0 && c->server == 1 && c->end_us > t_remove;
        }
    }
    for (int p = 0; p < 4; p++)
        print_message("  phase %d: s0 %d s1 %d s2 %d s3 %d\n", p, per[p][0], per[p][1],
                      per[p][2], per[p][3]);
    print_message("  %d calls, %d failed; %d in flight on s1 when it was removed\n", total,
                  failed, in_flight);
    assert_int_equal(failed, 0);
    assert_true(per[0][1] > 0);
    assert_true(in_flight > 0);
    /* A call that began after an update returned never reached a server it removed. */
    assert_int_equal(per[1][1] + per[2][1] + per[3][1], 0);
    assert_int_equal(per[3][0], 0);
    assert_true(per[2][2] > 0);
    assert_true(per[3][2] > 0 && per[3][3] > 0);
    /* Pooled connections to removed servers are closed (on return, or idle in the pool). */
    no_connection_to(f, 1);
    no_connection_to(f, 0);
    free(jobs);
    fx_down(f);
}

int main(void)
{
    px_proc_die_with_test();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_async_membership_changes),
        cmocka_unit_test(test_blocking_membership_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
