/* Chaos with real plexusd processes: three servers, a steady stream of calls, one server
 * kill -9'ed mid-run and restarted on the same port. Every call ends exactly once; with
 * the retry module almost all succeed; the dead server is ejected, re-admitted once it is
 * back, and takes traffic again. Once through the async client, once through px_call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_client_int.h"
#include "px_proc.h"
#include "px_time.h"

#define NSRV 3
#define VICTIM 1 /* the server that is killed and restarted */

static const char *SERVER_YAML =
    "  io_threads: 1\n"
    "  codecs: [protobuf]\n"
    "  services:\n"
    "    - module: calc\n";

/* Retry on another endpoint; eject after 3 failures, for 300 ms doubling up to 1 s, so
 * the restarted server is back in rotation well before the run ends. */
static const char *UPSTREAM_YAML =
    "      failover: { module: retry, retries: 2 }\n"
    "      timeout: { module: fixed, connect: 200ms, call: 2s }\n"
    "      health: { max_fails: 3, fail_window: 2s, ejection: 300ms, max_ejection: 1s }\n"
    "      pool_size: 2\n";

/* ---- a timeline of what happened, printed with the results ---------------- */

typedef struct timeline {
    int64_t t0;
    int n;
    char line[64][96];
} timeline;

static void tl_add(timeline *tl, const char *fmt, ...) PX_PRINTF(2, 3);
static void tl_add(timeline *tl, const char *fmt, ...)
{
    if (tl->n >= 64)
        return;
    int64_t ms = (px_mono_us() - tl->t0) / 1000;
    int k = snprintf(tl->line[tl->n], sizeof tl->line[0], "%6lld ms  ", (long long)ms);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl->line[tl->n] + k, sizeof tl->line[0] - (size_t)k, fmt, ap);
    va_end(ap);
    tl->n++;
}

static void tl_print(const timeline *tl, const char *title)
{
    fprintf(stderr, "---- %s: timeline ----\n", title);
    for (int i = 0; i < tl->n; i++)
        fprintf(stderr, "  %s\n", tl->line[i]);
}

/* ---- the cluster ------------------------------------------------------------ */

typedef struct cluster {
    px_proc srv[NSRV];
    char conf[256];
    px_config *cfg;
    px_client *cl;
    timeline tl;
    int ejected[NSRV]; /* last seen ejection flag per endpoint */
    int ejections[NSRV], readmissions[NSRV];
    int64_t kill_us, restarted_us, first_eject_us, readmit_us;
    int64_t longest_ejection_us; /* the victim's ejection lengths, as the client set them */
} cluster;

/* cmocka setup: three servers and a client; the state is the cluster. */
static int cluster_up(void **state)
{
    cluster *c = calloc(1, sizeof *c);
    *state = c;
    if (!c)
        return -1;
    int ports[NSRV];
    for (int i = 0; i < NSRV; i++) {
        char id[8];
        snprintf(id, sizeof id, "s%d", i);
        if (px_proc_start(&c->srv[i], id, SERVER_YAML) != 0)
            return -1;
        ports[i] = c->srv[i].port;
    }
    snprintf(c->conf, sizeof c->conf, "%s/client.yaml", c->srv[0].dir);
    if (px_write_client_conf(c->conf, ports, NSRV, UPSTREAM_YAML) != 0)
        return -1;
    px_err err;
    if (px_config_load(c->conf, &c->cfg, &err) != PX_OK ||
        px_client_new(c->cfg, "calc", &c->cl, &err) != PX_OK) {
        fprintf(stderr, "client: %s\n", err.msg);
        return -1;
    }
    c->tl.t0 = px_mono_us();
    return 0;
}

/* cmocka teardown: every server still running must stop cleanly (exit 0). */
static int cluster_down(void **state)
{
    cluster *c = *state;
    if (!c)
        return -1;
    px_client_free(c->cl);
    px_config_free(c->cfg);
    unlink(c->conf);
    int rc = 0;
    for (int i = 0; i < NSRV; i++)
        if (c->srv[i].pid > 0 && px_proc_stop(&c->srv[i]) != 0)
            rc = -1;
    free(c);
    return rc;
}

/* Samples every endpoint's ejection flag and logs the transitions. */
static void watch_health(cluster *c)
{
    int64_t now = px_mono_us();
    px_ep *victim = px_upstream_ep(c->cl->up, VICTIM);
    pthread_mutex_lock(&victim->lock);
    if (victim->pub.ejected && victim->ejection_us > c->longest_ejection_us)
        c->longest_ejection_us = victim->ejection_us;
    pthread_mutex_unlock(&victim->lock);
    for (int i = 0; i < NSRV; i++) {
        int out = px_endpoint_is_ejected(&px_upstream_ep(c->cl->up, (uint32_t)i)->pub);
        if (out == c->ejected[i])
            continue;
        c->ejected[i] = out;
        tl_add(&c->tl, "s%d %s", i, out ? "ejected" : "re-admitted");
        if (out) {
            c->ejections[i]++;
            if (i == VICTIM && !c->first_eject_us)
                c->first_eject_us = now;
        } else {
            c->readmissions[i]++;
            if (i == VICTIM && c->restarted_us && !c->readmit_us)
                c->readmit_us = now;
        }
    }
    /* Admitted all along since the restart finished also counts as re-admitted. */
    if (c->restarted_us && !c->readmit_us && !c->ejected[VICTIM] && c->first_eject_us)
        c->readmit_us = now;
}

typedef struct restarter {
    cluster *c;
    pthread_t th;
    int rc;
    int done; /* atomic */
} restarter;

static void *restart_thread(void *arg)
{
    restarter *r = arg;
    r->rc = px_proc_restart(&r->c->srv[VICTIM], SERVER_YAML);
    __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void pace_sleep(void)
{
    struct timespec ts = {0, 500 * 1000}; /* pacing the call rate, not waiting on a condition */
    nanosleep(&ts, NULL);
}

/* ---- one call's record ------------------------------------------------------ */

typedef struct call_rec {
    int fired;     /* atomic: completions seen */
    int idempotent;
    px_status st;
    int server;    /* index of the server that answered Whoami, -1 none */
    int64_t at_us; /* when it completed */
    char msg[120];
} call_rec;

static int server_index(const char *id)
{
    return id && id[0] == 's' && id[1] >= '0' && id[1] < '0' + NSRV && !id[2] ? id[1] - '0' : -1;
}

typedef struct results {
    int ok, failed, failed_idempotent, twice, indefinite, unknown_server;
    int per_server_before[NSRV], per_server_after[NSRV];
} results;

/* Counts outcomes; "after" = calls completed after the victim was re-admitted. */
static void tally(const cluster *c, const call_rec *r, int n, results *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < n; i++) {
        if (r[i].fired != 1) {
            out->twice += r[i].fired > 1;
            continue;
        }
        if (r[i].st <= PX_OK || r[i].st >= PX_STATUS_COUNT) {
            out->indefinite += r[i].st != PX_OK;
        }
        if (r[i].st != PX_OK) {
            if (out->failed < 5)
                fprintf(stderr, "  call %d failed at %lld ms: %s: %s\n", i,
                        (long long)((r[i].at_us - c->tl.t0) / 1000), px_status_name(r[i].st),
                        r[i].msg);
            out->failed++;
            out->failed_idempotent += r[i].idempotent;
            continue;
        }
        out->ok++;
        if (r[i].server < 0) {
            out->unknown_server++;
            continue;
        }
        if (r[i].at_us < c->kill_us)
            out->per_server_before[r[i].server]++;
        else if (c->readmit_us && r[i].at_us > c->readmit_us)
            out->per_server_after[r[i].server]++;
    }
}

static void print_results(const cluster *c, const results *res, int n, const char *title)
{
    tl_print(&c->tl, title);
    fprintf(stderr, "  %d calls: %d ok, %d failed (%d idempotent), %d completed twice, "
            "%d indefinite\n", n, res->ok, res->failed, res->failed_idempotent, res->twice,
            res->indefinite);
    fprintf(stderr, "  Whoami answers before the kill:      s0 %d, s1 %d, s2 %d\n",
            res->per_server_before[0], res->per_server_before[1], res->per_server_before[2]);
    fprintf(stderr, "  Whoami answers after re-admission:  s0 %d, s1 %d, s2 %d\n",
            res->per_server_after[0], res->per_server_after[1], res->per_server_after[2]);
    px_client_stats st;
    px_client_stats_get(c->cl, &st);
    fprintf(stderr, "  client: %llu started, %llu completed, %llu retries, %llu late\n",
            (unsigned long long)st.calls_started, (unsigned long long)st.calls_completed,
            (unsigned long long)st.retries, (unsigned long long)st.late_responses);
}

/* What both runs must show. */
static void check_results(const cluster *c, const results *res, int n)
{
    assert_int_equal(res->twice, 0);
    assert_int_equal(res->indefinite, 0);
    assert_int_equal(res->unknown_server, 0);
    assert_int_equal(res->ok + res->failed, n);
    assert_true(res->failed * 1000 <= n); /* at least 99.9% succeed */
    /* Only a call that was not marked idempotent may fail: the ones in flight on the
     * killed server (sent, and the server may have run them) are not repeated. */
    assert_int_equal(res->failed_idempotent, 0);
    px_client_stats st;
    px_client_stats_get(c->cl, &st);
    assert_int_equal(st.calls_started, (uint64_t)n);
    assert_int_equal(st.calls_completed, (uint64_t)n);
    /* Ejection took max_fails (3) failed attempts; each was retried or ended its call. */
    assert_true(st.retries + (uint64_t)res->failed >= 3);
    /* Everyone served before the kill. */
    for (int i = 0; i < NSRV; i++)
        assert_true(res->per_server_before[i] > 0);
    /* The victim was ejected while it was down (after the kill, before the restart,
     * which waits for a fifth of the calls: thousands of attempts, of which max_fails
     * eject), only the victim ever was... */
    assert_true(c->first_eject_us > c->kill_us);
    assert_true(c->first_eject_us < c->restarted_us);
    for (int i = 0; i < NSRV; i++)
        if (i != VICTIM)
            assert_int_equal(c->ejections[i], 0);
    /* ... was never put out for longer than max_ejection (1 s), however often it was
     * ejected again while down, so once back it was re-admitted ... */
    fprintf(stderr, "  s%d's longest ejection: %lld ms\n", VICTIM,
            (long long)(c->longest_ejection_us / 1000));
    assert_true(c->longest_ejection_us > 0);
    assert_true(c->longest_ejection_us <= c->cl->up->conf->health.max_ejection_us);
    assert_true(c->readmit_us > 0 && c->readmit_us >= c->restarted_us);
    /* ... and then took its share again (a third expected; at least a sixth). */
    int after = 0;
    for (int i = 0; i < NSRV; i++)
        after += res->per_server_after[i];
    assert_true(after > 300);
    assert_true(res->per_server_after[VICTIM] * 6 >= after);
}

/* ---- async: 20,000+ calls at a steady 4,000/s ------------------------------ */
/* Every other call is marked idempotent: those in flight on the killed server are
 * retried elsewhere, the others fail (at-most-once); new calls that meet the dead
 * server fail before sending and are retried either way. */

typedef struct async_ctx {
    call_rec *rec;
    int done; /* atomic */
} async_ctx;

typedef struct async_call {
    async_ctx *ctx;
    int i;
} async_call;

static void whoami_done(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    async_call *a = user;
    call_rec *r = &a->ctx->rec[a->i];
    if (__atomic_add_fetch(&r->fired, 1, __ATOMIC_ACQ_REL) != 1)
        return; /* a second completion: counted by tally() through `fired` */
    r->st = st;
    r->server = st == PX_OK && reply ? server_index(((const Calc__WhoamiReply *)reply)->id) : -1;
    snprintf(r->msg, sizeof r->msg, "%s", msg ? msg : "");
    r->at_us = px_mono_us();
    __atomic_add_fetch(&a->ctx->done, 1, __ATOMIC_RELEASE);
}

static void test_async_kill_and_restart(void **state)
{
    /* N calls at least; once the victim is re-admitted, AFTER more (so its share after
     * does not depend on how long the restart took), at most CAP. */
    enum { N = 20000, AFTER = 4000, CAP = 2 * N, DURATION_US = 5000000, KILL_AT = N / 5,
           RESTART_AT = 2 * N / 5 };
    cluster *c = *state;
    async_ctx ctx = {.rec = calloc(CAP, sizeof(call_rec))};
    async_call *calls = calloc(CAP, sizeof *calls);
    restarter rs = {.c = c};
    Calc__WhoamiRequest req = CALC__WHOAMI_REQUEST__INIT;
    int issued = 0, restarting = 0, target = CAP;
    int64_t t0 = px_mono_us(), end = t0 + 4 * DURATION_US;
    tl_add(&c->tl, "start: %d async calls over %d ms", N, DURATION_US / 1000);
    while (issued < target && px_mono_us() < end) {
        int64_t due = (px_mono_us() - t0) * N / DURATION_US;
        for (; issued < target && issued < due; issued++) {
            if (issued == KILL_AT) {
                px_proc_kill(&c->srv[VICTIM]);
                c->kill_us = px_mono_us();
                tl_add(&c->tl, "s%d killed (SIGKILL) after %d calls", VICTIM, issued);
            }
            if (issued == RESTART_AT) {
                tl_add(&c->tl, "s%d restarting on port %d", VICTIM, c->srv[VICTIM].port);
                assert_int_equal(pthread_create(&rs.th, NULL, restart_thread, &rs), 0);
                restarting = 1;
            }
            calls[issued] = (async_call){.ctx = &ctx, .i = issued};
            px_call_opts opts = {.idempotent = issued & 1};
            ctx.rec[issued].idempotent = opts.idempotent;
            px_err err;
            assert_int_equal(px_call_async(c->cl, "calc.Calculator/Whoami", &req.base,
                                           &calc__whoami_reply__descriptor, &opts, whoami_done,
                                           &calls[issued], &err), PX_OK);
        }
        if (restarting && !c->restarted_us && __atomic_load_n(&rs.done, __ATOMIC_ACQUIRE)) {
            c->restarted_us = px_mono_us();
            tl_add(&c->tl, "s%d accepts connections again (rc %d)", VICTIM, rs.rc);
        }
        watch_health(c);
        if (c->readmit_us && target == CAP) {
            target = issued + AFTER > N ? issued + AFTER : N;
            target = target < CAP ? target : CAP;
            tl_add(&c->tl, "s%d re-admitted after %d calls: %d in all", VICTIM, issued, target);
        }
        pace_sleep();
    }
    assert_int_equal(issued, target);
    tl_add(&c->tl, "all %d calls issued", issued);
    /* Bounded wait for the last completions, still watching health. */
    while (__atomic_load_n(&ctx.done, __ATOMIC_ACQUIRE) < issued && px_mono_us() < end) {
        watch_health(c);
        pace_sleep();
    }
    assert_true(restarting);
    assert_int_equal(pthread_join(rs.th, NULL), 0);
    assert_int_equal(rs.rc, 0);
    if (!c->restarted_us)
        c->restarted_us = px_mono_us();
    watch_health(c);
    tl_add(&c->tl, "%d of %d calls completed", __atomic_load_n(&ctx.done, __ATOMIC_ACQUIRE),
           issued);
    results res;
    tally(c, ctx.rec, issued, &res);
    print_results(c, &res, issued, "async");
    check_results(c, &res, issued);
    /* Freeing the client completes nothing more: every call had ended exactly once. */
    px_client_free(c->cl);
    c->cl = NULL;
    tally(c, ctx.rec, issued, &res);
    assert_int_equal(res.twice, 0);
    assert_int_equal(res.ok + res.failed, issued);
    free(calls);
    free(ctx.rec);
}

/* ---- sync: 3,000+ px_call from 4 threads at a steady 1,000/s ---------------- */

/* SYNC_N calls at least; once the victim is re-admitted, SYNC_AFTER more (so its share
 * after does not depend on how long the restart took); each thread at most SYNC_CAP. */
enum { SYNC_THREADS = 4, SYNC_N = 3000, SYNC_AFTER = 600, SYNC_DURATION_US = 3000000,
       SYNC_PER = SYNC_N / SYNC_THREADS, SYNC_CAP = 2 * SYNC_PER };

typedef struct sync_ctx {
    cluster *c;
    call_rec *rec; /* SYNC_CAP per thread */
    int64_t t0;
    int issued;  /* atomic: calls returned */
    int stop_at; /* atomic: the threads stop once this many have returned */
    int running; /* atomic: threads still calling */
} sync_ctx;

typedef struct sync_worker {
    sync_ctx *ctx;
    int k;
    pthread_t th;
} sync_worker;

static void *sync_thread(void *arg)
{
    sync_worker *w = arg;
    sync_ctx *ctx = w->ctx;
    const int per = SYNC_PER;
    Calc__WhoamiRequest req = CALC__WHOAMI_REQUEST__INIT;
    /* Whoami is read-only, and says so: a call written to a pooled connection whose
     * server has just died may be repeated elsewhere. */
    px_call_opts opts = {.idempotent = 1};
    for (int j = 0; j < SYNC_CAP; j++) {
        if (__atomic_load_n(&ctx->issued, __ATOMIC_ACQUIRE) >=
            __atomic_load_n(&ctx->stop_at, __ATOMIC_ACQUIRE))
            break;
        int64_t due = ctx->t0 + (int64_t)j * SYNC_DURATION_US / per;
        while (px_mono_us() < due)
            pace_sleep();
        call_rec *r = &ctx->rec[w->k * SYNC_CAP + j];
        r->idempotent = 1;
        ProtobufCMessage *rep = NULL;
        px_err err;
        px_err_clear(&err);
        px_status st = px_call(ctx->c->cl, "calc.Calculator/Whoami", &req.base,
                               &calc__whoami_reply__descriptor, &opts, &rep, &err);
        __atomic_add_fetch(&r->fired, 1, __ATOMIC_RELAXED);
        r->st = st;
        r->server = st == PX_OK && rep ? server_index(((Calc__WhoamiReply *)rep)->id) : -1;
        snprintf(r->msg, sizeof r->msg, "%.119s", err.msg);
        r->at_us = px_mono_us();
        px_msg_free(rep);
        __atomic_add_fetch(&ctx->issued, 1, __ATOMIC_RELEASE);
    }
    __atomic_sub_fetch(&ctx->running, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void test_sync_kill_and_restart(void **state)
{
    cluster *c = *state;
    sync_ctx ctx = {.c = c, .rec = calloc(SYNC_THREADS * SYNC_CAP, sizeof(call_rec)),
                    .t0 = px_mono_us(), .stop_at = SYNC_THREADS * SYNC_CAP,
                    .running = SYNC_THREADS};
    sync_worker w[SYNC_THREADS];
    tl_add(&c->tl, "start: %d blocking calls from %d threads over %d ms", SYNC_N, SYNC_THREADS,
           SYNC_DURATION_US / 1000);
    for (int k = 0; k < SYNC_THREADS; k++) {
        w[k] = (sync_worker){.ctx = &ctx, .k = k};
        assert_int_equal(pthread_create(&w[k].th, NULL, sync_thread, &w[k]), 0);
    }
    int64_t end = ctx.t0 + 4 * SYNC_DURATION_US;
    int killed = 0, restarted = 0, stop_set = 0;
    while (__atomic_load_n(&ctx.running, __ATOMIC_ACQUIRE) > 0 && px_mono_us() < end) {
        int done = __atomic_load_n(&ctx.issued, __ATOMIC_ACQUIRE);
        if (!killed && done >= SYNC_N / 5) {
            px_proc_kill(&c->srv[VICTIM]);
            c->kill_us = px_mono_us();
            killed = 1;
            tl_add(&c->tl, "s%d killed (SIGKILL) after %d calls", VICTIM, done);
        }
        if (killed && !restarted && done >= 2 * SYNC_N / 5) {
            tl_add(&c->tl, "s%d restarting on port %d", VICTIM, c->srv[VICTIM].port);
            assert_int_equal(px_proc_restart(&c->srv[VICTIM], SERVER_YAML), 0);
            c->restarted_us = px_mono_us();
            restarted = 1;
            tl_add(&c->tl, "s%d accepts connections again", VICTIM);
        }
        watch_health(c);
        if (c->readmit_us && !stop_set) {
            int stop_at = done + SYNC_AFTER > SYNC_N ? done + SYNC_AFTER : SYNC_N;
            __atomic_store_n(&ctx.stop_at, stop_at, __ATOMIC_RELEASE);
            stop_set = 1;
            tl_add(&c->tl, "s%d re-admitted after %d calls: %d in all", VICTIM, done, stop_at);
        }
        pace_sleep();
    }
    /* Past `end` (never re-admitted, say): stop them, and let the checks say why. */
    __atomic_store_n(&ctx.stop_at, 0, __ATOMIC_RELEASE);
    for (int k = 0; k < SYNC_THREADS; k++)
        assert_int_equal(pthread_join(w[k].th, NULL), 0);
    watch_health(c);
    int n = __atomic_load_n(&ctx.issued, __ATOMIC_ACQUIRE);
    tl_add(&c->tl, "all %d calls returned", n);
    assert_true(killed && restarted);
    results res;
    tally(c, ctx.rec, SYNC_THREADS * SYNC_CAP, &res);
    print_results(c, &res, n, "sync");
    check_results(c, &res, n);
    free(ctx.rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_async_kill_and_restart, cluster_up, cluster_down),
        cmocka_unit_test_setup_teardown(test_sync_kill_and_restart, cluster_up, cluster_down),
    };
    return cmocka_run_group_tests_name("chaos", tests, NULL, NULL);
}
