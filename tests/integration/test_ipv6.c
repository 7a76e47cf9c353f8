/* IPv6 end to end: plexusd listening on [::1], called by the async client, the
 * blocking client (px_call), `plexus call` and the health probes; peers are named
 * [::1]:port in logs and errors. Skipped only when this machine cannot bind ::1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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

typedef struct fixture {
    int no_v6;        /* ::1 cannot be bound here: every test skips */
    px_proc srv;      /* plexusd on [::1] */
    char dir[64];     /* the client configs */
    char conf[128];   /* upstream calc -> [::1]:srv.port */
    char dead[128];   /* upstream calc -> [::1]:a port nobody listens on */
    int dead_port;
    char plexus[512]; /* $PX_BINARY_DIR/bin/plexus */
    px_config *cfg;
    px_client *cl;
} fixture;

static const char *SERVER_YAML = "  codecs: [protobuf, json]\n"
                                 "  services:\n"
                                 "    - module: calc\n";

#define TIMEOUT_YAML "      timeout: { module: fixed, connect: 500ms, call: 2s }\n"
/* One failed call ejects the endpoint; then only a probe (every 20ms) re-admits it. */
static const char *UPSTREAM_YAML =
    TIMEOUT_YAML
    "      health: { max_fails: 1, max_ejected_percent: 100, ejection: 50ms,"
    " max_ejection: 200ms, probe_interval: 20ms, probe_timeout: 500ms }\n";

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int client_confs(fixture *f)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/pxv6-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->conf, sizeof f->conf, "%s/client.yaml", f->dir);
    snprintf(f->dead, sizeof f->dead, "%s/dead.yaml", f->dir);
    f->dead_port = px_free_port_on("::1");
    if (f->dead_port < 0 ||
        px_write_client_conf_on(f->conf, "::1", &f->srv.port, 1, UPSTREAM_YAML) != 0 ||
        px_write_client_conf_on(f->dead, "::1", &f->dead_port, 1, TIMEOUT_YAML) != 0)
        return -1;
    return 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    const char *bin = getenv("PX_BINARY_DIR");
    *state = f;
    if (f == NULL || bin == NULL) {
        fprintf(stderr, "PX_BINARY_DIR is not set: run through ctest\n");
        return -1;
    }
    snprintf(f->plexus, sizeof f->plexus, "%s/bin/plexus", bin);
    if (!px_have_ipv6_loopback()) {
        f->no_v6 = 1;
        return 0;
    }
    /* debug: the server logs every connection that ends, by its peer's name. */
    setenv("PLEXUS_LOG", "debug", 1);
    int rc = px_proc_start_on(&f->srv, "::1", "v6", SERVER_YAML);
    unsetenv("PLEXUS_LOG");
    px_err err = {0};
    if (rc != 0 || client_confs(f) != 0 || px_config_load(f->conf, &f->cfg, &err) != PX_OK ||
        px_client_new(f->cfg, "calc", &f->cl, &err) != PX_OK) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f == NULL)
        return -1;
    px_client_free(f->cl);
    px_config_free(f->cfg);
    int rc = f->no_v6 ? 0 : px_proc_stop(&f->srv);
    unlink(f->conf);
    unlink(f->dead);
    rmdir(f->dir);
    free(f);
    return rc == 0 ? 0 : -1;
}

static fixture *need_v6(void **state)
{
    fixture *f = *state;
    if (f->no_v6) {
        print_message("::1 cannot be bound on this machine (no IPv6 loopback): skipped\n");
        skip();
    }
    return f;
}

static int64_t add(fixture *f, int sync, px_err *err)
{
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.a = 2;
    req.b = 3;
    ProtobufCMessage *rep = NULL;
    px_status st = (sync ? px_call : px_call_wait)(f->cl, "calc.Calculator/Add", &req.base,
                                                    &calc__add_reply__descriptor, NULL, &rep, err);
    int64_t sum = st == PX_OK ? ((Calc__AddReply *)rep)->sum : -1;
    px_msg_free(rep);
    return sum;
}

typedef struct outcome {
    int done;
    px_status st;
    char id[32];
} outcome;

static void whoami_done(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    outcome *o = user;
    o->st = st;
    if (reply)
        snprintf(o->id, sizeof o->id, "%s", ((const Calc__WhoamiReply *)reply)->id);
    __atomic_store_n(&o->done, 1, __ATOMIC_RELEASE);
}

static void test_clients_call_over_ipv6(void **state)
{
    fixture *f = need_v6(state);
    px_err err = {0};
    assert_int_equal(add(f, 1, &err), 5); /* the blocking pool */
    assert_int_equal(add(f, 0, &err), 5); /* the async client, waited for */
    outcome o = {0};
    Calc__WhoamiRequest w = CALC__WHOAMI_REQUEST__INIT;
    assert_int_equal(px_call_async(f->cl, "calc.Calculator/Whoami", &w.base,
                                   &calc__whoami_reply__descriptor, NULL, whoami_done, &o, &err),
                     PX_OK);
    for (int i = 0; i < 500 && !__atomic_load_n(&o.done, __ATOMIC_ACQUIRE); i++)
        pause_ms(10);
    assert_true(__atomic_load_n(&o.done, __ATOMIC_ACQUIRE));
    assert_int_equal(o.st, PX_OK);
    assert_string_equal(o.id, "v6");
}

static void plexus_call(fixture *f, const char *conf, const char *mode, int *rc, char *out,
                        char *err, size_t cap)
{
    char *argv[] = {f->plexus, "call", "-c", (char *)conf, "calc.Calculator/Add",
                    "{\"a\":2,\"b\":3}", NULL, NULL};
    if (mode) { /* the option goes before the method */
        memmove(&argv[5], &argv[4], 3 * sizeof argv[0]);
        argv[4] = (char *)mode;
    }
    *rc = px_run(argv, out, cap, err, cap);
}

static void test_plexus_call_over_ipv6(void **state)
{
    fixture *f = need_v6(state);
    char out[4096], err[4096], where[64];
    int rc;
    const char *modes[] = {NULL, "--async"};
    for (int i = 0; i < 2; i++) {
        plexus_call(f, f->conf, modes[i], &rc, out, err, sizeof out);
        assert_string_equal(err, "");
        assert_int_equal(rc, 0);
        assert_string_equal(out, "{\"sum\":\"5\"}\n");
    }
    /* Nobody on the port: the error names it as [::1]:port, both ways. */
    px_host_port(where, sizeof where, "::1", f->dead_port);
    for (int i = 0; i < 2; i++) {
        plexus_call(f, f->dead, modes[i], &rc, out, err, sizeof out);
        assert_int_equal(rc, 1);
        if (strncmp(err, "UNAVAILABLE: ", 13) != 0 || strstr(err, where) == NULL)
            fail_msg("expected UNAVAILABLE naming %s, got: %s", where, err);
    }
}

/* The server's debug log names its IPv6 peers "[::1]:port". */
static void test_server_names_ipv6_peers(void **state)
{
    fixture *f = need_v6(state);
    char line[512];
    int found = 0;
    /* `plexus call` above exited: its connection's end is logged shortly after. */
    for (int i = 0; i < 200 && !found; i++) {
        FILE *log = fopen(f->srv.log, "r");
        while (log && !found && fgets(line, sizeof line, log))
            found = strstr(line, "connection from [::1]:") != NULL;
        if (log)
            fclose(log);
        if (!found)
            pause_ms(10);
    }
    if (!found)
        fail_msg("no 'connection from [::1]:' line in %s", f->srv.log);
}

/* A failed call ejects the endpoint; once the server is back, a probe over ::1
 * (connect, HELLO, PING, PONG) is the only thing that can re-admit it. */
static void test_probe_readmits_over_ipv6(void **state)
{
    fixture *f = need_v6(state);
    px_ep *ep = px_upstream_ep(f->cl->up, 0);
    assert_int_equal(px_proc_stop(&f->srv), 0);
    px_err err = {0};
    assert_int_equal(add(f, 1, &err), -1);
    assert_int_equal(err.status, PX_UNAVAILABLE);
    char where[64];
    px_host_port(where, sizeof where, "::1", f->srv.port);
    if (strstr(err.msg, where) == NULL)
        fail_msg("expected the error to name %s: %s", where, err.msg);
    assert_true(px_endpoint_is_ejected(&ep->pub));
    pause_ms(100); /* probes run and fail: the server is down */
    assert_true(px_endpoint_is_ejected(&ep->pub));

    assert_int_equal(px_proc_restart(&f->srv, SERVER_YAML), 0);
    for (int i = 0; i < 500 && px_endpoint_is_ejected(&ep->pub); i++)
        pause_ms(10);
    assert_false(px_endpoint_is_ejected(&ep->pub));
    assert_int_equal(add(f, 0, &err), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clients_call_over_ipv6),
        cmocka_unit_test(test_plexus_call_over_ipv6),
        cmocka_unit_test(test_server_names_ipv6_peers),
        cmocka_unit_test(test_probe_readmits_over_ipv6),
    };
    return cmocka_run_group_tests_name("IPv6 end to end", tests, setup, teardown);
}
