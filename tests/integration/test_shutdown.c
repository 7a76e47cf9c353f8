/* Graceful shutdown of a real plexusd (docs/PROTOCOL.md §10): SIGTERM under load loses
 * no call, not even a non-idempotent one, because the server says GOAWAY first and
 * refuses what it will not run as "not executed"; and shutdown_grace bounds the exit:
 * when it runs out every call still without an answer gets one and the process exits,
 * leaving behind a handler that does not return. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_proc.h"
#include "px_raw.h"
#include "px_rss.h"
#include "px_time.h"

#define NSRV 3
#define VICTIM 1

static const char *SERVER_YAML = "  services:\n    - module: calc\n      workers: 2\n";

/* Retry on another endpoint; the calls are not marked idempotent, so only an attempt
 * that never ran may be repeated. */
static const char *UPSTREAM_YAML =
    "      failover: { module: retry, retries: 2 }\n"
    "      timeout: { module: fixed, connect: 200ms, call: 2s }\n"
    "      pool_size: 2\n";

typedef struct load {
    px_proc srv[NSRV];
    char conf[256];
    px_config *cfg;
    px_client *cl;
} load;

static int load_up(void **state)
{
    load *l = calloc(1, sizeof *l);
    *state = l;
    int ports[NSRV];
    for (int i = 0; i < NSRV; i++) {
        char id[8];
        snprintf(id, sizeof id, "s%d", i);
        if (px_proc_start(&l->srv[i], id, SERVER_YAML) != 0)
            return -1;
        ports[i] = l->srv[i].port;
    }
    snprintf(l->conf, sizeof l->conf, "%s/client.yaml", l->srv[0].dir);
    px_err err;
    if (px_write_client_conf(l->conf, ports, NSRV, UPSTREAM_YAML) != 0 ||
        px_config_load(l->conf, &l->cfg, &err) != PX_OK ||
        px_client_new(l->cfg, "calc", &l->cl, &err) != PX_OK)
        return -1;
    return 0;
}

static int load_down(void **state)
{
    load *l = *state;
    px_client_free(l->cl);
    px_config_free(l->cfg);
    unlink(l->conf);
    int rc = 0;
    for (int i = 0; i < NSRV; i++)
        if (l->srv[i].pid > 0 && px_proc_stop(&l->srv[i]) != 0)
            rc = -1;
    free(l);
    return rc;
}

/* ---- async: a steady stream of calls, one server stopped in the middle ------ */

typedef struct rec {
    int fired; /* atomic */
    px_status st;
    char msg[160];
} rec;

typedef struct async_call {
    rec *r;
    int *done; /* atomic */
} async_call;

static void done_cb(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    async_call *a = user;
    if (__atomic_add_fetch(&a->r->fired, 1, __ATOMIC_ACQ_REL) == 1) {
        a->r->st = st;
        snprintf(a->r->msg, sizeof a->r->msg, "%s", msg ? msg : "");
    }
    __atomic_add_fetch(a->done, 1, __ATOMIC_RELEASE);
}

static int count_failed(const rec *r, int n, int *twice)
{
    int failed = 0;
    *twice = 0;
    for (int i = 0; i < n; i++) {
        *twice += r[i].fired > 1;
        if (r[i].st != PX_OK) {
            if (failed < 5)
                fprintf(stderr, "  call %d: %s: %s\n", i, px_status_name(r[i].st), r[i].msg);
            failed++;
        }
    }
    return failed;
}

static void test_sigterm_under_load_async(void **state)
{
    enum { N = 6000, DURATION_US = 3000000, STOP_AT = N / 3 };
    load *l = *state;
    rec *r = calloc(N, sizeof *r);
    async_call *calls = calloc(N, sizeof *calls);
    int done = 0, issued = 0;
    /* Sleep 2 ms: calls are in flight on the victim when it is told to stop. */
    Calc__SleepRequest req = CALC__SLEEP_REQUEST__INIT;
    req.ms = 2;
    int64_t t0 = px_mono_us();
    while (issued < N && px_mono_us() - t0 < 4 * (int64_t)DURATION_US) {
        int64_t due = (px_mono_us() - t0) * N / DURATION_US;
        for (; issued < N && issued < due; issued++) {
            if (issued == STOP_AT)
                kill(l->srv[VICTIM].pid, SIGTERM); /* it drains while the load goes on */
            calls[issued] = (async_call){.r = &r[issued], .done = &done};
            px_err err;
            if (px_call_async(l->cl, "calc.Calculator/Sleep", &req.base,
                              &calc__sleep_reply__descriptor, NULL, done_cb, &calls[issued],
                              &err) != PX_OK)
                fail_msg("px_call_async: %s", err.msg);
        }
        px_sleep_ms(1);
    }
    for (int i = 0; i < 1000 && __atomic_load_n(&done, __ATOMIC_ACQUIRE) < N; i++)
        px_sleep_ms(10);
    int twice, failed = count_failed(r, N, &twice);
    px_client_stats st;
    px_client_stats_get(l->cl, &st);
    int64_t stop_t0 = px_mono_us();
    int rc = px_proc_stop(&l->srv[VICTIM]);
    fprintf(stderr, "SIGTERM under load (async): %d calls, %d failed, %d completed twice, "
            "%llu retries; the stopped server exited %d (waited %lld ms more)\n",
            N, failed, twice, (unsigned long long)st.retries, rc,
            (long long)((px_mono_us() - stop_t0) / 1000));
    assert_int_equal(__atomic_load_n(&done, __ATOMIC_ACQUIRE), N);
    assert_int_equal(twice, 0);
    assert_int_equal(failed, 0);
    assert_int_equal(rc, 0);
    free(r);
    free(calls);
}

/* ---- blocking: threads calling px_call, one server stopped ------------------ */

typedef struct sync_worker {
    px_client *cl;
    pthread_t th;
    int calls, failed;
    char first_failure[200];
} sync_worker;

static int stop_sync;  /* atomic */
static int sync_calls; /* atomic: px_calls returned, all threads */

/* Bounded: until the threads' px_calls have returned `want` in all. */
static void wait_sync_calls(int want, const char *when)
{
    for (int i = 0; i < 3000 && __atomic_load_n(&sync_calls, __ATOMIC_ACQUIRE) < want; i++)
        px_sleep_ms(10);
    int got = __atomic_load_n(&sync_calls, __ATOMIC_ACQUIRE);
    if (got < want)
        fail_msg("%d calls returned %s, in 30 s; expected %d", got, when, want);
}

static void *sync_main(void *arg)
{
    sync_worker *w = arg;
    Calc__SleepRequest req = CALC__SLEEP_REQUEST__INIT;
    req.ms = 2;
    while (!__atomic_load_n(&stop_sync, __ATOMIC_ACQUIRE) && w->calls < 20000) {
        ProtobufCMessage *reply = NULL;
        px_err err;
        px_status st = px_call(w->cl, "calc.Calculator/Sleep", &req.base,
                               &calc__sleep_reply__descriptor, NULL, &reply, &err);
        w->calls++;
        __atomic_add_fetch(&sync_calls, 1, __ATOMIC_RELEASE);
        if (st != PX_OK && w->failed++ == 0)
            snprintf(w->first_failure, sizeof w->first_failure, "%s: %.150s",
                     px_status_name(st), err.msg);
        px_msg_free(reply);
    }
    return NULL;
}

static void test_sigterm_under_load_blocking(void **state)
{
    enum { THREADS = 4 };
    load *l = *state;
    /* The previous test stopped the victim: start it again, and use a client of its own
     * (the first one has ejected the victim). */
    assert_int_equal(px_proc_restart(&l->srv[VICTIM], SERVER_YAML), 0);
    px_client *cl;
    px_err err;
    assert_int_equal(px_client_new(l->cfg, "calc", &cl, &err), PX_OK);
    sync_worker w[THREADS];
    __atomic_store_n(&stop_sync, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&sync_calls, 0, __ATOMIC_RELEASE);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (sync_worker){.cl = cl};
        pthread_create(&w[i].th, NULL, sync_main, &w[i]);
    }
    /* Under load all along, counted rather than timed: calls before the SIGTERM, while
     * the server shuts down (px_proc_stop waits for its exit), and after it is gone. */
    px_sleep_ms(700);
    wait_sync_calls(100, "before the SIGTERM");
    int rc = px_proc_stop(&l->srv[VICTIM]);
    wait_sync_calls(__atomic_load_n(&sync_calls, __ATOMIC_ACQUIRE) + 100,
                    "after the stopped server exited");
    __atomic_store_n(&stop_sync, 1, __ATOMIC_RELEASE);
    int calls = 0, failed = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(w[i].th, NULL);
        calls += w[i].calls;
        failed += w[i].failed;
        if (w[i].failed)
            fprintf(stderr, "  thread %d: first failure: %s\n", i, w[i].first_failure);
    }
    px_client_stats st;
    px_client_stats_get(cl, &st);
    px_client_free(cl);
    fprintf(stderr, "SIGTERM under load (blocking, %d threads): %d calls, %d failed, %llu "
            "retries; the stopped server exited %d\n", THREADS, calls, failed,
            (unsigned long long)st.retries, rc);
    assert_int_equal(failed, 0);
    assert_int_equal(rc, 0);
}

/* ---- the grace bounds the exit ---------------------------------------------- */

static px_frame sleep_frame(uint64_t id, uint32_t ms, px_buf *body)
{
    Calc__SleepRequest s = CALC__SLEEP_REQUEST__INIT;
    s.ms = ms;
    body->len = 0;
    px_buf_reserve(body, 16);
    body->len = protobuf_c_message_pack(&s.base, body->data);
    return (px_frame){.type = PX_FRAME_REQUEST, .id = id,
                      .method = (const uint8_t *)"calc.Calculator/Sleep", .method_len = 21,
                      .body = body->data, .body_len = (uint32_t)body->len};
}

static void test_grace_bounds_the_exit(void **state)
{
    /* One worker, held by a 1 h handler; a second call queued behind it. */
    px_proc srv;
    assert_int_equal(px_proc_start(&srv, "grace",
                                   "  shutdown_grace: 1s\n"
                                   "  services:\n    - module: calc\n      workers: 1\n"
                                   "      max_sleep: 1h\n"),
                     0);
    px_raw_reader r = px_raw_open(srv.port, "protobuf");
    assert_true(r.fd >= 0);
    px_buf b1 = {0}, b2 = {0};
    px_frame q[3] = {sleep_frame(1, 3600 * 1000, &b1), sleep_frame(2, 10, &b2),
                     {.type = PX_FRAME_PING, .id = 9}};
    assert_int_equal(px_raw_send(r.fd, q, 3), 0);
    /* The PONG says the server has read (and handed on) both requests before it. */
    px_frame f;
    assert_int_equal(px_raw_next(&r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_PONG);
    assert_int_equal(f.id, 9);
    int64_t t0 = px_mono_us();
    kill(srv.pid, SIGTERM);
    /* GOAWAY at once, before any answer: no new calls on this connection. */
    assert_int_equal(px_raw_next(&r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_GOAWAY);
    assert_int_equal(f.status, PX_OK);
    assert_string_equal(r.text, "server shutting down");
    /* A request after the GOAWAY (as if sent before it arrived) is refused, not run. */
    px_buf b3 = {0};
    px_frame late = sleep_frame(3, 10, &b3);
    assert_int_equal(px_raw_send(r.fd, &late, 1), 0);
    assert_int_equal(px_raw_next(&r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_ERROR);
    assert_int_equal(f.id, 3);
    assert_int_equal(f.status, PX_UNAVAILABLE);
    assert_int_equal(f.flags, PX_FRAME_F_NOT_EXECUTED);
    assert_string_equal(r.text, "server grace is shutting down: the request was not executed");
    px_buf_free(&b3);
    /* At the end of the grace: the queued call was never run and says so; the running
     * one is answered too, its outcome unknown. */
    int seen = 0;
    for (int k = 0; k < 2; k++) {
        assert_int_equal(px_raw_next(&r, &f), 0);
        assert_int_equal(f.type, PX_FRAME_ERROR);
        assert_int_equal(f.status, PX_UNAVAILABLE);
        if (f.id == 2) {
            assert_int_equal(f.flags, PX_FRAME_F_NOT_EXECUTED);
            assert_string_equal(r.text,
                                "calc.Calculator/Sleep: server grace is shutting down and its "
                                "shutdown_grace (1000ms) ran out; the call was still waiting "
                                "for a worker and was not executed");
        } else {
            assert_int_equal(f.id, 1);
            assert_int_equal(f.flags, 0);
            assert_string_equal(r.text,
                                "calc.Calculator/Sleep: server grace is shutting down and its "
                                "shutdown_grace (1000ms) ran out before its handler finished; "
                                "whether it took effect is unknown");
        }
        seen |= 1 << f.id;
    }
    assert_int_equal(seen, 6);
    assert_true(px_raw_closed(&r));
    /* And the process exits, cleanly, while the 1 h handler still sleeps: it did not
     * wait for it (px_proc_stop waits about 30 s, ctest gives the test 300 s). */
    int rc = px_proc_stop(&srv); /* SIGTERM again changes nothing: it waits for the exit */
    int64_t exit_ms = (px_mono_us() - t0) / 1000;
    fprintf(stderr, "grace 1 s, a 1 h handler: answers at the end of the grace, exit after "
            "%lld ms\n", (long long)exit_ms);
    assert_int_equal(rc, 0);
    close(r.fd);
    px_buf_free(&b1);
    px_buf_free(&b2);
}

int main(void)
{
    const struct CMUnitTest load_tests[] = {
        cmocka_unit_test(test_sigterm_under_load_async),
        cmocka_unit_test(test_sigterm_under_load_blocking),
    };
    const struct CMUnitTest grace_tests[] = {
        cmocka_unit_test(test_grace_bounds_the_exit),
    };
    int rc = cmocka_run_group_tests_name("shutdown under load", load_tests, load_up, load_down);
    return rc | cmocka_run_group_tests_name("shutdown grace", grace_tests, NULL, NULL);
}
