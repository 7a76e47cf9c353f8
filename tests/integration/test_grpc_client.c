/* proto_grpc's client half through real processes: upstreams with `protocol: grpc`
 * call a python3-grpcio server (tests/interop/grpc_calc_server.py, a gRPC server
 * Plexus did not write) and plexusd's own proto_grpc: blocking, waited and async
 * calls, errors with their statuses and messages, deadlines, metadata both ways, the
 * json codec, `plexus call` by YAML; when the python server dies its endpoint is
 * ejected and calls go to plexusd, and the health probe (PING over HTTP/2) re-admits it
 * once it is back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_proc.h"

static const char *CALC_YAML = "  codecs: [protobuf, json]\n"
                               "  protocols: [native, grpc]\n"
                               "  services:\n"
                               "    - module: calc\n"
                               "      workers: 4\n";

#define UPSTREAM "      protocol: grpc\n" \
                 "      timeout: { module: fixed, connect: 1s, call: 10s }\n"

static struct {
    px_proc calc;
    pid_t py;
    int py_port;
    char dir[64];
} F;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* port 0: any free one (F.py_port then says which). */
static int start_python(int port)
{
    const char *src = getenv("PX_SOURCE_DIR");
    char script[512], portf[128];
    if (!src)
        return -1;
    snprintf(script, sizeof script, "%s/tests/interop/grpc_calc_server.py", src);
    snprintf(portf, sizeof portf, "%s/port", F.dir);
    unlink(portf);
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    char log[300];
    snprintf(log, sizeof log, "%s/python-server.log", F.dir);
    char *argv[] = {"/usr/bin/python3", script, F.dir, ps, NULL};
    F.py = px_spawn(argv, log);
    if (F.py > 0 && px_wait_port_file(portf, F.py, &F.py_port) == 0)
        return 0;
    fprintf(stderr, "the python gRPC server did not start (its output: %s)\n", log);
    return -1;
}

static void stop_python(void)
{
    if (F.py > 0) {
        kill(F.py, SIGTERM);
        waitpid(F.py, NULL, 0);
        F.py = 0;
    }
}

static int setup(void **state)
{
    (void)state;
    px_proc_die_with_test();
    snprintf(F.dir, sizeof F.dir, "/tmp/pxgrpcc-XXXXXX");
    if (!mkdtemp(F.dir) || px_proc_start(&F.calc, "g1", CALC_YAML) != 0)
        return -1;
    return start_python(0);
}

static int teardown(void **state)
{
    (void)state;
    stop_python();
    int rc = px_proc_stop(&F.calc);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", F.dir);
    return system(cmd) == 0 && rc == 0 ? 0 : -1;
}

static px_client *client(px_config **cfg, const int *ports, int n, const char *extra)
{
    char path[128], up[512];
    snprintf(path, sizeof path, "%s/client.yaml", F.dir);
    snprintf(up, sizeof up, UPSTREAM "%s", extra ? extra : "");
    assert_int_equal(px_write_client_conf(path, ports, n, up), 0);
    px_err err;
    px_client *c = NULL;
    if (px_config_load(path, cfg, &err) != PX_OK || px_client_new(*cfg, "calc", &c, &err) != PX_OK)
        fail_msg("client: %s", err.msg);
    return c;
}

static void done_client(px_client *c, px_config *cfg)
{
    px_client_free(c);
    px_config_free(cfg);
}

/* Add, Div by zero, Echo with metadata, Sleep past its deadline: blocking (wait 0) or
 * through the async client (wait 1). */
static void calls(int port, int wait, int python)
{
    px_config *cfg;
    px_client *c = client(&cfg, &port, 1, NULL);
    px_err err;
    ProtobufCMessage *rep = NULL;
    px_status (*call)(px_client *, const char *, const ProtobufCMessage *,
                      const ProtobufCMessageDescriptor *, const px_call_opts *,
                      ProtobufCMessage **, px_err *) = wait ? px_call_wait : px_call;

    Calc__AddRequest add = CALC__ADD_REQUEST__INIT;
    add.a = 2000000000, add.b = 2000000000;
    assert_int_equal(call(c, "calc.Calculator/Add", &add.base, &calc__add_reply__descriptor, NULL,
                          &rep, &err), PX_OK);
    assert_int_equal(((Calc__AddReply *)rep)->sum, 4000000000LL);
    px_msg_free(rep);

    px_meta *md = px_meta_new(), *back = px_meta_new();
    assert_int_equal(px_meta_add_str(md, "tenant", "acme", &err), PX_OK);
    assert_int_equal(px_meta_add(md, "blob-bin", "\x00\x01\xff", 3, &err), PX_OK);
    px_call_opts o = {.meta = md, .reply_meta = back};
    Calc__DivRequest div = CALC__DIV_REQUEST__INIT;
    div.a = 1;
    assert_int_equal(call(c, "calc.Calculator/Div", &div.base, &calc__div_reply__descriptor, &o,
                          &rep, &err), PX_INVALID_ARGUMENT);
    assert_non_null(strstr(err.msg, "division by zero"));
    if (python) { /* the python server sends the request's metadata as trailing metadata */
        size_t n;
        assert_non_null(px_meta_get(back, "tenant", &n));
        assert_int_equal(n, 4);
    }

    Calc__EchoMsg e = CALC__ECHO_MSG__INIT;
    e.f_string = "h\xc3\xa9llo";
    e.f_int64 = -5;
    assert_int_equal(call(c, "calc.Calculator/Echo", &e.base, &calc__echo_msg__descriptor, &o,
                          &rep, &err), PX_OK);
    assert_string_equal(((Calc__EchoMsg *)rep)->f_string, "h\xc3\xa9llo");
    assert_int_equal(((Calc__EchoMsg *)rep)->f_int64, -5);
    px_msg_free(rep);
    size_t n;
    const void *v = px_meta_get(back, "blob-bin", &n);
    assert_non_null(v);
    assert_int_equal(n, 3);
    assert_memory_equal(v, "\x00\x01\xff", 3);
    v = px_meta_get(back, "tenant", &n);
    assert_non_null(v);
    assert_memory_equal(v, "acme", 4);

    Calc__SleepRequest sl = CALC__SLEEP_REQUEST__INIT;
    sl.ms = 3000;
    px_call_opts t = {.timeout_us = 200000};
    assert_int_equal(call(c, "calc.Calculator/Sleep", &sl.base, &calc__sleep_reply__descriptor,
                          &t, &rep, &err), PX_DEADLINE_EXCEEDED);

    Calc__WhoamiRequest who = CALC__WHOAMI_REQUEST__INIT;
    assert_int_equal(call(c, "calc.Calculator/Whoami", &who.base,
                          &calc__whoami_reply__descriptor, NULL, &rep, &err), PX_OK);
    assert_string_equal(((Calc__WhoamiReply *)rep)->id, python ? "python-grpcio" : "g1");
    px_msg_free(rep);
    px_meta_free(md);
    px_meta_free(back);
    done_client(c, cfg);
}

static void test_calls_to_python_grpcio(void **state)
{
    (void)state;
    calls(F.py_port, 0, 1);
    calls(F.py_port, 1, 1);
}

static void test_calls_to_plexusd_grpc(void **state)
{
    (void)state;
    calls(F.calc.port, 0, 0);
    calls(F.calc.port, 1, 0);
}

/* ---- async: many at once ------------------------------------------------------------ */

#define ASYNC_CALLS 500

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, ok;
} A = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

static void on_add(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    pthread_mutex_lock(&A.mu);
    if (st == PX_OK && ((const Calc__AddReply *)reply)->sum == 2 * (int64_t)(intptr_t)user)
        A.ok++;
    else
        fprintf(stderr, "async call %ld: %s %s\n", (long)(intptr_t)user, px_status_name(st), msg);
    A.done++;
    pthread_cond_signal(&A.cv);
    pthread_mutex_unlock(&A.mu);
}

static void async_many(int port)
{
    px_config *cfg;
    px_client *c = client(&cfg, &port, 1, NULL);
    A.done = A.ok = 0;
    for (intptr_t i = 0; i < ASYNC_CALLS; i++) {
        Calc__AddRequest add = CALC__ADD_REQUEST__INIT;
        add.a = (int32_t)i, add.b = (int32_t)i;
        px_err err;
        assert_int_equal(px_call_async(c, "calc.Calculator/Add", &add.base,
                                       &calc__add_reply__descriptor, NULL, on_add, (void *)i, &err),
                         PX_OK);
    }
    pthread_mutex_lock(&A.mu);
    while (A.done < ASYNC_CALLS)
        pthread_cond_wait(&A.cv, &A.mu); /* each call completes exactly once (10 s each) */
    pthread_mutex_unlock(&A.mu);
    assert_int_equal(A.ok, ASYNC_CALLS);
    done_client(c, cfg);
}

static void test_async_calls(void **state)
{
    (void)state;
    async_many(F.py_port);
    async_many(F.calc.port);
}

/* The json codec: application/grpc+json, which plexusd's proto_grpc serves. */
static void test_json_codec_to_plexusd(void **state)
{
    (void)state;
    px_config *cfg;
    px_client *c = client(&cfg, &F.calc.port, 1, "      codec: json\n");
    Calc__AddRequest add = CALC__ADD_REQUEST__INIT;
    add.a = 20, add.b = 22;
    ProtobufCMessage *rep = NULL;
    px_err err;
    assert_int_equal(px_call(c, "calc.Calculator/Add", &add.base, &calc__add_reply__descriptor,
                             NULL, &rep, &err), PX_OK);
    assert_int_equal(((Calc__AddReply *)rep)->sum, 42);
    px_msg_free(rep);
    done_client(c, cfg);
}

/* plexus call targets the python server by YAML. */
static void test_cli_by_yaml(void **state)
{
    (void)state;
    char path[128], bin[512], out[4096], err[4096];
    snprintf(path, sizeof path, "%s/cli.yaml", F.dir);
    assert_int_equal(px_write_client_conf(path, &F.py_port, 1, UPSTREAM), 0);
    snprintf(bin, sizeof bin, "%s/bin/plexus", getenv("PX_BINARY_DIR"));
    char *argv[] = {bin, "call", "-c", path, "-H", "tenant=acme", "calc.Calculator/Echo",
                    "{\"fInt32\":7}", NULL};
    assert_int_equal(px_run(argv, out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "{\"fInt32\":7}"));
    assert_non_null(strstr(err, "tenant: acme")); /* response metadata: on stderr */
    char *argv2[] = {bin, "call", "-c", path, "calc.Calculator/Div", "{\"a\":1,\"b\":0}", NULL};
    assert_int_equal(px_run(argv2, out, sizeof out, err, sizeof err), 1);
    assert_non_null(strstr(err, "INVALID_ARGUMENT: division by zero"));
}

static const char *whoami(px_client *c)
{
    static char id[64];
    Calc__WhoamiRequest who = CALC__WHOAMI_REQUEST__INIT;
    ProtobufCMessage *rep = NULL;
    px_err err;
    if (px_call_wait(c, "calc.Calculator/Whoami", &who.base, &calc__whoami_reply__descriptor,
                     NULL, &rep, &err) != PX_OK)
        fail_msg("whoami: %s", err.msg);
    snprintf(id, sizeof id, "%s", ((Calc__WhoamiReply *)rep)->id);
    px_msg_free(rep);
    return id;
}

/* The python server dies: its endpoint is ejected and every call goes to plexusd; it
 * comes back on its port: the health probe (a new HTTP/2 connection, its SETTINGS as
 * READY, PING, the PING's ACK as PONG) re-admits it and it is called again. */
static void test_ejection_and_probe(void **state)
{
    (void)state;
    int ports[2] = {F.py_port, F.calc.port};
    px_config *cfg;
    px_client *c = client(&cfg, ports, 2, "      balancer: round_robin\n"
                                           "      failover: { module: retry, retries: 2 }\n"
                                           "      health: { max_fails: 1, ejection: 100ms, "
                                           "max_ejection: 400ms, probe_interval: 50ms, "
                                           "probe_timeout: 2s }\n");
    int seen = 0;
    for (int i = 0; i < 20; i++)
        seen += strcmp(whoami(c), "python-grpcio") == 0;
    assert_true(seen > 0); /* both endpoints serve */
    stop_python();
    for (int i = 0; i < 20; i++)
        assert_string_equal(whoami(c), "g1");
    assert_int_equal(start_python(ports[0]), 0);
    seen = 0;
    for (int i = 0; i < 1000 && !seen; i++) { /* bounded: some 10 s */
        seen = strcmp(whoami(c), "python-grpcio") == 0;
        sleep_ms(10);
    }
    assert_true(seen);
    done_client(c, cfg);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls_to_python_grpcio),
        cmocka_unit_test(test_calls_to_plexusd_grpc),
        cmocka_unit_test(test_async_calls),
        cmocka_unit_test(test_json_codec_to_plexusd),
        cmocka_unit_test(test_cli_by_yaml),
        cmocka_unit_test(test_ejection_and_probe),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
