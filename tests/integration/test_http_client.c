/* proto_http's client half: Plexus clients whose upstream says `protocol: http` call a
 * real plexusd serving `protocols: [http]` (calc): blocking (px_call), async waited
 * (px_call_wait) and many async calls at once; JSON and protobuf bodies; metadata both
 * ways (a -bin value with every kind of byte); error statuses and messages from the
 * handler and the core; the deadline, which reaches the server (its deadline_floor
 * filter refuses a call with too little left) and ends a call the server holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_proc.h"
#include "px_test_calls.h"

#define ASYNC_CALLS 300

static const char *SERVER_YAML = "  codecs: [json, protobuf]\n"
                                 "  protocols: [http]\n"
                                 "  filters: [{module: deadline_floor, min_remaining: 200ms}]\n"
                                 "  services:\n"
                                 "    - module: calc\n"
                                 "      workers: 4\n";

#define TIMEOUTS "      timeout: { module: fixed, connect: 1s, call: 5s }\n"

typedef struct fixture {
    px_proc srv;
    char dir[64];
} fixture;

static fixture F;

static int setup(void **state)
{
    (void)state;
    px_proc_die_with_test();
    snprintf(F.dir, sizeof F.dir, "/tmp/pxhttpc-XXXXXX");
    if (!mkdtemp(F.dir))
        return -1;
    return px_proc_start(&F.srv, "hs", SERVER_YAML);
}

static int teardown(void **state)
{
    (void)state;
    int rc = px_proc_stop(&F.srv);
    rmdir(F.dir);
    return rc == 0 ? 0 : -1;
}

static px_client *client(px_config **cfg, const char *upstream_yaml)
{
    char path[128];
    snprintf(path, sizeof path, "%s/client.yaml", F.dir);
    assert_int_equal(px_write_client_conf(path, &F.srv.port, 1, upstream_yaml), 0);
    px_err err;
    px_client *c = NULL;
    if (px_config_load(path, cfg, &err) != PX_OK || px_client_new(*cfg, "calc", &c, &err) != PX_OK)
        fail_msg("client: %s", err.msg);
    unlink(path);
    return c;
}

static void test_calls_both_codecs(void **state)
{
    (void)state;
    static const char *codecs[] = {"json", "protobuf"};
    for (int k = 0; k < 2; k++) {
        char yaml[256];
        snprintf(yaml, sizeof yaml, TIMEOUTS "      protocol: http\n      codec: %s\n", codecs[k]);
        px_config *cfg;
        px_client *c = client(&cfg, yaml);
        px_err err;
        for (int wait = 0; wait < 2; wait++) {
            for (int i = 0; i < 20; i++) {
                int64_t sum = 0;
                if (px_test_add(c, wait, i, 1000, &sum, &err) != PX_OK)
                    fail_msg("%s, %s: %s", codecs[k], wait ? "waited" : "blocking", err.msg);
                assert_int_equal(sum, i + 1000);
            }
        }
        Calc__WhoamiRequest w = CALC__WHOAMI_REQUEST__INIT;
        ProtobufCMessage *rep = NULL;
        assert_int_equal(px_call(c, "calc.Calculator/Whoami", &w.base,
                                 &calc__whoami_reply__descriptor, NULL, &rep, &err), PX_OK);
        assert_string_equal(((Calc__WhoamiReply *)rep)->id, "hs");
        px_msg_free(rep);
        px_client_free(c);
        px_config_free(cfg);
    }
}

/* Many calls at once: one in flight per connection, the rest queued, all answered. */
static void test_async_many(void **state)
{
    (void)state;
    px_config *cfg;
    px_client *c = client(&cfg, TIMEOUTS "      protocol: http\n      codec: json\n"
                                         "      connections_per_endpoint: 4\n");
    char why[256];
    if (px_test_async_adds(c, ASYNC_CALLS, 7, 20000000, why, sizeof why) != 0)
        fail_msg("%s", why);
    px_client_free(c);
    px_config_free(cfg);
}

static void test_metadata_both_ways(void **state)
{
    (void)state;
    px_config *cfg;
    px_client *c = client(&cfg, TIMEOUTS "      protocol: http\n      codec: protobuf\n");
    px_err err;
    px_meta *m = px_meta_new();
    static const char bin[] = {0, '\r', '\n', ':', (char)0xff, ' '};
    assert_int_equal(px_meta_add_str(m, "user", "alice smith", &err), PX_OK);
    assert_int_equal(px_meta_add(m, "trace-bin", bin, sizeof bin, &err), PX_OK);
    assert_int_equal(px_meta_add_str(m, "user", "bob", &err), PX_OK);
    for (int wait = 0; wait < 2; wait++) {
        px_meta *rm = px_meta_new();
        px_call_opts o = {.meta = m, .reply_meta = rm};
        if (px_test_echo(c, wait, "hello http", &o, &err) != PX_OK)
            fail_msg("Echo through http: %s", err.msg);
        assert_int_equal(px_meta_count(rm), 3);
        const char *k;
        size_t kl, n;
        const void *v;
        assert_int_equal(px_meta_at(rm, 0, &k, &kl, &v, &n), 0);
        assert_int_equal(n, 11);
        assert_memory_equal(v, "alice smith", 11);
        assert_int_equal(px_meta_at(rm, 1, &k, &kl, &v, &n), 0);
        assert_int_equal(n, sizeof bin);
        assert_memory_equal(v, bin, sizeof bin);
        assert_int_equal(px_meta_at(rm, 2, &k, &kl, &v, &n), 0);
        assert_memory_equal(v, "bob", 3);
        px_meta_free(rm);
    }
    px_meta_free(m);
    px_client_free(c);
    px_config_free(cfg);
}

static void test_errors(void **state)
{
    (void)state;
    px_config *cfg;
    px_client *c = client(&cfg, TIMEOUTS "      protocol: http\n      codec: json\n");
    px_err err;
    for (int wait = 0; wait < 2; wait++) {
        Calc__DivRequest d = CALC__DIV_REQUEST__INIT;
        d.a = 1;
        ProtobufCMessage *rep = NULL;
        px_status st = wait ? px_call_wait(c, "calc.Calculator/Div", &d.base,
                                           &calc__div_reply__descriptor, NULL, &rep, &err)
                            : px_call(c, "calc.Calculator/Div", &d.base,
                                      &calc__div_reply__descriptor, NULL, &rep, &err);
        assert_int_equal(st, PX_INVALID_ARGUMENT);
        assert_non_null(strstr(err.msg, "division by zero"));
        st = px_call(c, "calc.Nope/Add", &d.base, &calc__div_reply__descriptor, NULL, &rep, &err);
        assert_int_equal(st, PX_UNIMPLEMENTED);
        assert_non_null(strstr(err.msg, "unknown service 'calc.Nope'"));
    }
    /* The connection stays good after errors. */
    int64_t sum = 0;
    assert_int_equal(px_test_add(c, 0, 2, 3, &sum, &err), PX_OK);
    assert_int_equal(sum, 5);
    px_client_free(c);
    px_config_free(cfg);
    /* A codec HTTP has no type for: the server's 415 becomes UNIMPLEMENTED. */
    c = client(&cfg, TIMEOUTS "      protocol: http\n      codec: binary\n");
    assert_int_equal(px_test_add(c, 0, 2, 3, &sum, &err), PX_UNIMPLEMENTED);
    assert_non_null(strstr(err.msg, "Content-Type 'application/octet-stream' is not one this "
                                    "server reads"));
    px_client_free(c);
    px_config_free(cfg);
}

/* The call's deadline goes to the server as px-timeout-ms: with 150 ms the server's
 * deadline_floor (200 ms) refuses it, with 5 s it runs; a Sleep past the deadline ends
 * at the client. */
static void test_deadlines(void **state)
{
    (void)state;
    px_config *cfg;
    px_client *c = client(&cfg, "      timeout: { module: fixed, connect: 1s, call: 150ms }\n"
                                "      protocol: http\n      codec: json\n");
    px_err err;
    int64_t sum = 0;
    assert_int_equal(px_test_add(c, 0, 1, 1, &sum, &err), PX_DEADLINE_EXCEEDED);
    assert_non_null(strstr(err.msg, "under the 200000us this server needs"));
    px_client_free(c);
    px_config_free(cfg);
    c = client(&cfg, "      timeout: { module: fixed, connect: 1s, call: 300ms }\n"
                     "      protocol: http\n      codec: json\n");
    assert_int_equal(px_test_add(c, 1, 1, 1, &sum, &err), PX_OK);
    Calc__SleepRequest s = CALC__SLEEP_REQUEST__INIT;
    s.ms = 2000;
    ProtobufCMessage *rep = NULL;
    assert_int_equal(px_call(c, "calc.Calculator/Sleep", &s.base, &calc__sleep_reply__descriptor,
                             NULL, &rep, &err), PX_DEADLINE_EXCEEDED);
    px_client_free(c);
    px_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls_both_codecs),
        cmocka_unit_test(test_async_many),
        cmocka_unit_test(test_metadata_both_ways),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_deadlines),
    };
    return cmocka_run_group_tests_name("http_client", tests, setup, teardown);
}
