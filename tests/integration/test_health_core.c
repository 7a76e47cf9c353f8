/* Endpoint health is the core's: with a failover module that reports nothing (the
 * fixture failover_silent: it only retries failures that never left the client), a
 * killed server is still ejected after max_fails attempts, through the async client and
 * through the blocking client, and then gets no attempt at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_client_int.h"
#include "px_cluster.h"

#define NSRV 3
#define VICTIM 1
#define MAX_FAILS 3

static const char *UPSTREAM_YAML =
    "      balancer: { module: random, seed: 11 }\n"
    "      failover: silent\n"
    "      timeout: { module: fixed, connect: 500ms, call: 3s }\n"
    "      health: { max_fails: 3, fail_window: 30s, ejection: 30s, max_ejection: 30s }\n";

typedef px_status (*call_fn)(px_client *, const char *, const ProtobufCMessage *,
                             const ProtobufCMessageDescriptor *, const px_call_opts *,
                             ProtobufCMessage **, px_err *);

/* One Whoami through fn; returns its status. */
static px_status whoami(px_client *cl, call_fn fn)
{
    Calc__WhoamiRequest req = CALC__WHOAMI_REQUEST__INIT;
    ProtobufCMessage *rep = NULL;
    px_err err;
    px_status st = fn(cl, "calc.Calculator/Whoami", &req.base, &calc__whoami_reply__descriptor,
                      NULL, &rep, &err);
    px_msg_free(rep);
    return st;
}

static uint64_t retries(px_client *cl)
{
    px_client_stats st;
    px_client_stats_get(cl, &st);
    return st.retries;
}

static int victim_out(px_client *cl)
{
    return px_endpoint_is_ejected(&px_upstream_ep(cl->up, VICTIM)->pub);
}

/* The victim is dead: calls go on until it is ejected, having cost at most a few
 * attempts on it (each a connect refused, retried elsewhere, or a call that was on its
 * way); then 60 calls all succeed without one more attempt on it. */
static void dead_server_is_ejected(px_client *cl, call_fn fn, const char *how)
{
    uint64_t r0 = retries(cl);
    int calls = 0, failed = 0;
    while (!victim_out(cl) && calls < 200) {
        failed += whoami(cl, fn) != PX_OK;
        calls++;
    }
    uint64_t spent = retries(cl) - r0 + (uint64_t)failed;
    fprintf(stderr, "  %s: ejected after %d calls, %llu attempts on the dead server\n", how,
            calls, (unsigned long long)spent);
    assert_true(victim_out(cl));
    assert_true(spent >= MAX_FAILS && spent <= MAX_FAILS + 2);
    uint64_t r1 = retries(cl);
    for (int i = 0; i < 60; i++)
        assert_int_equal(whoami(cl, fn), PX_OK);
    assert_int_equal(retries(cl), r1); /* no attempt went to the ejected server */
    assert_true(victim_out(cl));
}

static void test_silent_failover_still_ejects(void **state)
{
    px_cluster *c = calloc(1, sizeof *c);
    assert_non_null(c);
    *state = c;
    px_cluster_spec spec = {.n = NSRV, .upstream_yaml = UPSTREAM_YAML, .calls = 1};
    assert_int_equal(px_cluster_up(c, &spec), 0);
    /* A second client over the same config: its own upstream, so its own health. */
    px_client *sync_cl;
    px_err err;
    assert_int_equal(px_client_new(c->cfg, "calc", &sync_cl, &err), PX_OK);
    for (int i = 0; i < 9; i++) { /* every server answers, on connections now pooled */
        assert_int_equal(whoami(c->cl, px_call_wait), PX_OK);
        assert_int_equal(whoami(sync_cl, px_call), PX_OK);
    }
    px_proc_kill(&c->srv[VICTIM]);
    dead_server_is_ejected(c->cl, px_call_wait, "async client (px_call_async, waited for)");
    dead_server_is_ejected(sync_cl, px_call, "blocking client (px_call)");
    px_client_free(sync_cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_silent_failover_still_ejects, px_cluster_teardown),
    };
    return cmocka_run_group_tests_name("health_core", tests, NULL, NULL);
}
