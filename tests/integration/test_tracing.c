/* W3C Trace Context through real plexusd processes: this test's client calls relay A
 * (native), which forwards to relay B (over gRPC; its handler on a worker pool), which
 * forwards to C (calc, over HTTP/1.1 + JSON; A's and C's handlers run on the IO
 * thread). Every server writes its own access log, and B's client (the relay's
 * upstream) one too. One call is one trace in the three logs, each hop's parent the
 * span of the hop before; a traceparent the caller sends is continued, a malformed
 * one starts a new trace; with the relays' blocking client and with their
 * asynchronous one. Then one hop each from Debian's python3-grpcio (gRPC: the
 * traceparent an HTTP/2 header) and from curl (HTTP/1.1: a plain `traceparent`
 * header) to C. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plexus/plexus.h"
#include "px_proc.h"
#include "px_test_module.h"
#include "px_time.h"

#define TP_TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define TP_PARENT "00f067aa0ba902b7"
#define TP "00-" TP_TRACE "-" TP_PARENT "-01"

typedef struct fixture {
    char dir[64];
    char src[512];
    px_proc a, b, c;
    char a_log[128], b_log[128], c_log[128], b_client_log[128];
    px_config *cfg;
    px_client *to_a;
    void *relay_so;
    const ProtobufCServiceDescriptor *relay;
} fixture;

static fixture F;

/* ---- setup ------------------------------------------------------------------------ */

/* A relay server (native and gRPC) whose upstream "calc" goes to the next hop over the
 * protocol `via` says (upstream YAML lines), with an access log of its own when
 * client_log is set. */
static int start_relay(px_proc *p, const char *id, int next_port, const char *log,
                       const char *client_log, const char *workers, const char *via)
{
    char client[128], up[256], yaml[1024];
    snprintf(up, sizeof up, "      timeout: { module: fixed, call: 20s }\n%s", via);
    snprintf(client, sizeof client, "%s/%s-client.yaml", F.dir, id);
    if (client_log)
        snprintf(up + strlen(up), sizeof up - strlen(up),
                 "      filters: [{module: access_log, path: %s}]\n", client_log);
    if (px_write_client_conf(client, &next_port, 1, up) != 0)
        return -1;
    snprintf(yaml, sizeof yaml,
             "  codecs: [protobuf]\n"
             "  protocols: [native, grpc]\n"
             "  filters: [{module: access_log, path: %s}]\n"
             "  services:\n"
             "    - module: relay\n"
             "%s"
             "      client_config: %s\n"
             "      upstream: calc\n",
             log, workers, client);
    return px_proc_start(p, id, yaml);
}

static int setup(void **state)
{
    (void)state;
    snprintf(F.dir, sizeof F.dir, "/tmp/pxtest-trace-XXXXXX");
    if (!mkdtemp(F.dir))
        return -1;
    const char *src = getenv("PX_SOURCE_DIR");
    snprintf(F.src, sizeof F.src, "%s", src ? src : ".");
    snprintf(F.a_log, sizeof F.a_log, "%s/a.log", F.dir);
    snprintf(F.b_log, sizeof F.b_log, "%s/b.log", F.dir);
    snprintf(F.c_log, sizeof F.c_log, "%s/c.log", F.dir);
    snprintf(F.b_client_log, sizeof F.b_client_log, "%s/b-client.log", F.dir);
    char c_yaml[512];
    snprintf(c_yaml, sizeof c_yaml,
             "  codecs: [protobuf, json]\n"
             "  protocols: [native, grpc, http]\n"
             "  filters: [{module: access_log, path: %s}]\n"
             "  services:\n"
             "    - module: calc\n",
             F.c_log);
    px_proc_die_with_test();
    if (px_proc_start(&F.c, "c", c_yaml) != 0 ||
        start_relay(&F.b, "b", F.c.port, F.b_log, F.b_client_log, "      workers: 2\n",
                    "      protocol: http\n      codec: json\n") != 0 ||
        start_relay(&F.a, "a", F.b.port, F.a_log, NULL, "", "      protocol: grpc\n") != 0)
        return -1;
    char conf[128];
    snprintf(conf, sizeof conf, "%s/client.yaml", F.dir);
    px_err err;
    if (px_write_client_conf(conf, &F.a.port, 1, "      timeout: { module: fixed, call: 20s }\n") !=
            0 ||
        px_config_load(conf, &F.cfg, &err) != PX_OK ||
        px_client_new(F.cfg, "calc", &F.to_a, &err) != PX_OK) {
        fprintf(stderr, "client: %s\n", err.msg);
        return -1;
    }
    const px_module *m = px_test_load_module("service_relay.so", &F.relay_so);
    if (!m)
        return -1;
    F.relay = ((const px_service_ops *)m->ops)->descriptor;
    return 0;
}

static void remove_file(const char *name)
{
    char path[192];
    snprintf(path, sizeof path, "%s/%s", F.dir, name);
    unlink(path);
}

static int teardown(void **state)
{
    (void)state;
    px_client_free(F.to_a);
    px_config_free(F.cfg);
    int rc = 0;
    px_proc *procs[] = {&F.a, &F.b, &F.c};
    for (int i = 0; i < 3; i++)
        if (procs[i]->pid > 0 && px_proc_stop(procs[i]) != 0)
            rc = -1;
    const char *files[] = {"a.log", "b.log", "c.log", "b-client.log", "a-client.yaml",
                           "b-client.yaml", "client.yaml", "calc.out", "curl.out", "grpc.out"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        remove_file(files[i]);
    rmdir(F.dir);
    return rc;
}

/* ---- access log lines --------------------------------------------------------------- */

typedef struct ids {
    char trace[33], span[17], parent[17]; /* "-": none */
} ids;

/* The whole file (static buffer; "" when missing). */
static const char *slurp(const char *path)
{
    static char buf[1 << 16];
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int count_lines(const char *path)
{
    int n = 0;
    for (const char *p = slurp(path); (p = strchr(p, '\n')); p++)
        n++;
    return n;
}

/* Waits (bounded: the line is written as the answer goes out) until path has n lines. */
static void wait_lines(const char *path, int n)
{
    int64_t end = px_mono_us() + 10 * 1000000LL;
    while (count_lines(path) < n && px_mono_us() < end) {
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (count_lines(path) < n)
        fail_msg("%s has %d lines, expected %d:\n%s", path, count_lines(path), n, slurp(path));
}

static void field(const char *line, const char *name, char *out, size_t len)
{
    const char *p = strstr(line, name);
    if (!p)
        fail_msg("no %s in: %s", name, line);
    p += strlen(name);
    size_t n = strcspn(p, " \n");
    if (!(n == len || (n == 1 && p[0] == '-')))
        fail_msg("%s of %zu characters in: %s", name, n, line);
    memcpy(out, p, n);
    out[n] = '\0';
}

/* The ids of line n (from 1) of path, which is a call of method, side "server"/"client". */
static ids line_ids(const char *path, int n, const char *side, const char *method)
{
    const char *p = slurp(path);
    for (int i = 1; i < n && p; i++)
        if ((p = strchr(p, '\n')))
            p++;
    if (!p || !*p)
        fail_msg("%s has no line %d:\n%s", path, n, slurp(path));
    char line[2048];
    size_t len = strcspn(p, "\n");
    snprintf(line, sizeof line, "%.*s", (int)len, p);
    char want[160];
    snprintf(want, sizeof want, " %s ", side);
    if (!strstr(line, want) || !strstr(line, method) || !strstr(line, " OK "))
        fail_msg("%s line %d is not an OK %s call of %s: %s", path, n, side, method, line);
    ids r;
    field(line, " trace=", r.trace, 32);
    field(line, " span=", r.span, 16);
    field(line, " parent=", r.parent, 16);
    if (strcmp(r.trace, "-") == 0 || strcmp(r.span, "-") == 0)
        fail_msg("no trace or span in %s: %s", path, line);
    return r;
}

/* ---- calls ------------------------------------------------------------------------ */

/* relay.Relay/Forward(hops = 1) to A: A -> B -> C (calc.Calculator/Sleep 0 ms); async:
 * each relay forwards with px_call_async and answers from its completion. */
static void forward_with(const char *traceparent, int async)
{
    const ProtobufCMethodDescriptor *m =
        protobuf_c_service_descriptor_get_method_by_name(F.relay, "Forward");
    assert_non_null(m);
    ProtobufCMessage *req = calloc(1, m->input->sizeof_message), *rep = NULL;
    protobuf_c_message_init(m->input, req);
    const ProtobufCFieldDescriptor *hops =
        protobuf_c_message_descriptor_get_field_by_name(m->input, "hops");
    *(uint32_t *)((char *)req + hops->offset) = 1;
    const ProtobufCFieldDescriptor *as =
        protobuf_c_message_descriptor_get_field_by_name(m->input, "async");
    *(protobuf_c_boolean *)((char *)req + as->offset) = async;
    px_meta *meta = px_meta_new();
    px_call_opts opts = {.meta = meta};
    if (traceparent)
        assert_int_equal(px_meta_add_str(meta, "traceparent", traceparent, NULL), PX_OK);
    px_err err;
    px_status st = px_call(F.to_a, "relay.Relay/Forward", req, m->output, &opts, &rep, &err);
    if (st != PX_OK)
        fail_msg("Forward: %s", err.msg);
    const ProtobufCFieldDescriptor *path =
        protobuf_c_message_descriptor_get_field_by_name(m->output, "path");
    assert_string_equal(*(char **)((char *)rep + path->offset), "a>b>sleep");
    px_msg_free(rep);
    px_meta_free(meta);
    free(req);
}

static void forward(const char *traceparent) { forward_with(traceparent, 0); }

/* The three servers' lines of the n-th Forward (and B's client line), checked to be one
 * trace with each hop's parent the span before; A's ids returned. */
static ids check_chain(int n)
{
    wait_lines(F.a_log, n);
    wait_lines(F.b_log, n);
    wait_lines(F.b_client_log, n);
    wait_lines(F.c_log, n);
    ids a = line_ids(F.a_log, n, "server", "relay.Relay/Forward");
    ids b = line_ids(F.b_log, n, "server", "relay.Relay/Forward");
    ids bc = line_ids(F.b_client_log, n, "client", "calc.Calculator/Sleep");
    ids c = line_ids(F.c_log, n, "server", "calc.Calculator/Sleep");
    assert_string_equal(b.trace, a.trace);
    assert_string_equal(c.trace, a.trace);
    assert_string_equal(b.parent, a.span);
    assert_string_equal(c.parent, b.span);
    assert_string_not_equal(a.span, b.span);
    assert_string_not_equal(b.span, c.span);
    /* B's client call is made from B's handler: its span is that handler's. */
    assert_string_equal(bc.trace, b.trace);
    assert_string_equal(bc.span, b.span);
    assert_string_equal(bc.parent, "-");
    return a;
}

static void test_one_trace_over_three_hops(void **state)
{
    (void)state;
    forward(NULL);
    ids a = check_chain(1);
    /* The test's call sent no traceparent: the trace began at A. */
    assert_string_equal(a.parent, "-");
    /* The next call is another trace. */
    forward(NULL);
    ids a2 = check_chain(2);
    assert_string_not_equal(a2.trace, a.trace);
}

static void test_caller_traceparent_is_continued(void **state)
{
    (void)state;
    int n = count_lines(F.a_log) + 1;
    forward(TP);
    ids a = check_chain(n);
    assert_string_equal(a.trace, TP_TRACE);
    assert_string_equal(a.parent, TP_PARENT);
}

static void test_malformed_traceparent_starts_a_trace(void **state)
{
    (void)state;
    /* Uppercase hex: the specification's lowercase only. */
    const char *bad[] = {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
                         "00-" TP_TRACE "-0000000000000000-01", "zz", "ff-" TP_TRACE "-"
                                                                       TP_PARENT "-01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int n = count_lines(F.a_log) + 1;
        forward(bad[i]);
        ids a = check_chain(n);
        assert_string_not_equal(a.trace, TP_TRACE);
        assert_string_not_equal(a.trace, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_string_equal(a.parent, "-");
    }
}

/* The relays' calls made with the asynchronous client carry the trace the same way. */
static void test_async_client_calls(void **state)
{
    (void)state;
    int n = count_lines(F.a_log) + 1;
    forward_with(NULL, 1);
    ids a = check_chain(n);
    assert_string_equal(a.parent, "-");
    forward_with(TP, 1);
    a = check_chain(n + 1);
    assert_string_equal(a.trace, TP_TRACE);
    assert_string_equal(a.parent, TP_PARENT);
}

/* The last line of C's log: a call of method with the caller's trace and parent. */
static void check_c_continued(int n, const char *method)
{
    wait_lines(F.c_log, n);
    ids c = line_ids(F.c_log, n, "server", method);
    assert_string_equal(c.trace, TP_TRACE);
    assert_string_equal(c.parent, TP_PARENT);
}

/* A gRPC client's traceparent header is the metadata entry: C's log continues it. */
static void test_grpc_traceparent(void **state)
{
    (void)state;
    int n = count_lines(F.c_log) + 1;
    char port[16], code[1024], out[160];
    snprintf(port, sizeof port, "%d", F.c.port);
    /* AddRequest{} and AddReply as raw bytes: no generated classes needed. */
    snprintf(code, sizeof code,
             "import grpc, sys\n"
             "ch = grpc.insecure_channel('127.0.0.1:' + sys.argv[1])\n"
             "add = ch.unary_unary('/calc.Calculator/Add', request_serializer=lambda b: b,\n"
             "                     response_deserializer=lambda b: b)\n"
             "add(b'', metadata=[('traceparent', '%s')], timeout=20)\n"
             "print('ok')\n",
             TP);
    snprintf(out, sizeof out, "%s/grpc.out", F.dir);
    char *argv[] = {"/usr/bin/python3", "-c", code, port, NULL};
    pid_t pid = px_spawn(argv, out);
    assert_true(pid > 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("python3 grpc client failed:\n%s", slurp(out));
    check_c_continued(n, "calc.Calculator/Add");
}

/* HTTP/1.1: the plain `traceparent` header, as tracers send it. */
static void test_http_traceparent(void **state)
{
    (void)state;
    int n = count_lines(F.c_log) + 1;
    char url[128], out[4096], err[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/calc.Calculator/Add", F.c.port);
    char *argv[] = {"/usr/bin/curl", "-sS", "--max-time", "20", "-H",
                    "Content-Type: application/json", "-H", "traceparent: " TP, "-d",
                    "{\"a\":1,\"b\":2}", url, NULL};
    int rc = px_run(argv, out, sizeof out, err, sizeof err);
    if (rc != 0)
        fail_msg("curl exited %d: %s %s", rc, out, err);
    assert_non_null(strstr(out, "3"));
    check_c_continued(n, "calc.Calculator/Add");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_trace_over_three_hops),
        cmocka_unit_test(test_caller_traceparent_is_continued),
        cmocka_unit_test(test_malformed_traceparent_starts_a_trace),
        cmocka_unit_test(test_async_client_calls),
        cmocka_unit_test(test_grpc_traceparent),
        cmocka_unit_test(test_http_traceparent),
    };
    return cmocka_run_group_tests_name("tracing", tests, setup, teardown);
}
