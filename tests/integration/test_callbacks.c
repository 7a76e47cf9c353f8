/* What a completion may count on: `done` (and a stub's closure) runs exactly once, on an
 * IO thread, never inside the px_call_async (or stub call) that made the call, even when
 * the call fails at once on the IO thread it was made on; and px_stub_status() tells
 * why a stub call failed, also when it never reached the network. No server is needed:
 * the upstream's naming module (tests/fixtures/fx_naming.c) lists no endpoint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_time.h"

typedef struct fx {
    char dir[64];
    px_config *cfg;
    px_client *cl;
} fx;

/* A client of upstream calc, whose naming module lists nothing (yaml: more keys). */
static int setup_with(void **state, const char *yaml)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/px_cb_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char conf[128];
    snprintf(conf, sizeof conf, "%s/client.yaml", f->dir);
    FILE *fp = fopen(conf, "w");
    assert_non_null(fp);
    fprintf(fp,
            "modules:\n  path: [%s]\nclient:\n  descriptors: [calc]\n  upstreams:\n    calc:\n"
            "      naming: {module: '%s/naming_fxdrive.so'}\n%s",
            getenv("PX_MODULE_DIR"), getenv("PX_FIXTURE_DIR"), yaml);
    fclose(fp);
    px_err err;
    if (px_config_load(conf, &f->cfg, &err) != PX_OK)
        fail_msg("%s", err.msg);
    if (px_client_new(f->cfg, "calc", &f->cl, &err) != PX_OK)
        fail_msg("%s", err.msg);
    unlink(conf);
    rmdir(f->dir);
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_with(state, "      limits: {max_frame: 1KiB}\n"); }

static int teardown(void **state)
{
    fx *f = *state;
    px_client_free(f->cl);
    px_config_free(f->cfg);
    free(f);
    return 0;
}

/* Waits, bounded (a hang fails; a slow machine does not), for *flag. */
static void wait_flag(const int *flag)
{
    int64_t end = px_mono_us() + 30 * 1000000LL;
    while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
        if (px_mono_us() > end)
            fail_msg("a callback never ran");
        usleep(1000);
    }
}

/* ---- px_call_async ----------------------------------------------------------------- */

typedef struct chain {
    px_client *cl;
    int inside;          /* the IO thread is inside the second px_call_async */
    int second_ran_inside; /* the second done ran while it was */
    px_status first_st, second_st, stub_st;
    char second_msg[300];
    int done;            /* atomic: the second done ran */
} chain;

static void second_done(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    chain *c = user;
    c->second_ran_inside = c->inside;
    c->second_st = st;
    const char *smsg = NULL;
    c->stub_st = px_stub_status(&smsg); /* set for every callback */
    snprintf(c->second_msg, sizeof c->second_msg, "%s", msg);
    __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
}

static void first_done(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    chain *c = user;
    c->first_st = st;
    /* On the IO thread: this call fails at once (no endpoint), and its done must still
     * wait until px_call_async has returned. */
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    px_err err;
    c->inside = 1;
    px_status r = px_call_async(c->cl, "calc.Calculator/Add", &req.base,
                                &calc__add_reply__descriptor, NULL, second_done, c, &err);
    c->inside = 0;
    assert_int_equal(r, PX_OK);
}

static void test_done_never_runs_inside_px_call_async(void **state)
{
    fx *f = *state;
    static chain c;
    memset(&c, 0, sizeof c);
    c.cl = f->cl;
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    px_err err;
    assert_int_equal(px_call_async(f->cl, "calc.Calculator/Add", &req.base,
                                   &calc__add_reply__descriptor, NULL, first_done, &c, &err),
                     PX_OK);
    wait_flag(&c.done);
    assert_int_equal(c.first_st, PX_UNAVAILABLE);
    assert_int_equal(c.second_ran_inside, 0);
    assert_int_equal(c.second_st, PX_UNAVAILABLE);
    assert_int_equal(c.stub_st, PX_UNAVAILABLE);
    assert_string_equal(c.second_msg,
                        "calc.Calculator/Add: no endpoint available in upstream calc");
    px_client_stats st;
    px_client_stats_get(f->cl, &st);
    assert_int_equal(st.calls_started, 2);
    assert_int_equal(st.calls_completed, 2);
}

/* ---- stubs --------------------------------------------------------------------------- */

typedef struct stubrun {
    ProtobufCService *svc;
    pthread_t caller;
    int inside;             /* the stub call in the closure is running */
    int ran_inside;         /* the inner closure ran while it was */
    int ran_on_caller;      /* a closure ran on the thread that made the call */
    px_status st[2];
    char msg[2][300];
    int got_reply[2];
    int n;                  /* closures run */
    int done;               /* atomic */
} stubrun;

static void stub_closure(const Calc__AddReply *reply, void *data)
{
    stubrun *s = data;
    int k = s->n++;
    if (pthread_equal(pthread_self(), s->caller))
        s->ran_on_caller = 1;
    const char *msg = NULL;
    s->st[k] = px_stub_status(&msg);
    snprintf(s->msg[k], sizeof s->msg[k], "%s", msg);
    s->got_reply[k] = reply != NULL;
    if (k == 0) {
        /* From the IO thread, a stub call that fails at once: its closure comes later. */
        Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
        s->inside = 1;
        calc__calculator__add(s->svc, &req, stub_closure, s);
        s->inside = 0;
        return;
    }
    s->ran_inside = s->inside;
    __atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
}

/* A stub call that cannot start (its request is over the upstream's max_frame): the
 * closure gets NULL on an IO thread, after the stub call returned, and px_stub_status
 * says RESOURCE_EXHAUSTED and why, not OK; then a stub call with no endpoint, made from
 * that closure, says UNAVAILABLE. */
static void test_stub_status_of_calls_that_never_left(void **state)
{
    fx *f = *state;
    static stubrun s;
    memset(&s, 0, sizeof s);
    s.svc = px_client_service(f->cl, &calc__calculator__descriptor);
    s.caller = pthread_self();
    char tag[2000];
    memset(tag, 'x', sizeof tag - 1);
    tag[sizeof tag - 1] = 0;
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.tag = tag;
    calc__calculator__add(s.svc, &req, stub_closure, &s);
    wait_flag(&s.done);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.ran_on_caller, 0);
    assert_int_equal(s.got_reply[0], 0);
    assert_int_equal(s.st[0], PX_RESOURCE_EXHAUSTED);
    if (!strstr(s.msg[0], "calc.Calculator/Add: request of ") ||
        !strstr(s.msg[0], "bytes exceeds max_frame 1024"))
        fail_msg("unexpected message: %s", s.msg[0]);
    assert_int_equal(s.ran_inside, 0);
    assert_int_equal(s.got_reply[1], 0);
    assert_int_equal(s.st[1], PX_UNAVAILABLE);
    assert_string_equal(s.msg[1], "calc.Calculator/Add: no endpoint available in upstream calc");
    /* Outside a callback there is nothing to report. */
    const char *msg = NULL;
    assert_int_equal(px_stub_status(&msg), PX_OK);
    assert_string_equal(msg, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_done_never_runs_inside_px_call_async, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stub_status_of_calls_that_never_left, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("callbacks", tests, NULL, NULL);
}
