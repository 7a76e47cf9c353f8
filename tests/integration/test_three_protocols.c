/* One port, three protocols at the same time: plexusd with protocols [native, grpc,
 * http] serves a python3-grpcio client (Debian's), curl (HTTP/1.1 + JSON, one kept-alive
 * connection) and the native async client together. The native client has calls in
 * flight the whole time the other two run: it starts before it lets them begin and stops
 * only after both have exited. Every call of every client must succeed with the right
 * answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plexus/plexus.h"
#include "px_proc.h"
#include "px_test_calls.h"
#include "px_time.h"

enum { GRPC_CALLS = 300, HTTP_CALLS = 300, NATIVE_BATCH = 50 };

/* The whole file (at most cap - 1 bytes), NUL-terminated. */
static const char *slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = 0;
    return buf;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void test_native_grpc_and_curl_on_one_port(void **state)
{
    (void)state;
    px_proc_die_with_test();
    px_proc srv;
    assert_int_equal(px_proc_start(&srv, "three", "  codecs: [protobuf, json]\n"
                                                  "  protocols: [native, grpc, http]\n"
                                                  "  services:\n"
                                                  "    - module: calc\n"
                                                  "      workers: 2\n"),
                     0);
    char conf[256], go[256], grpc_out[256], http_out[256], addr[64], n[16];
    snprintf(conf, sizeof conf, "%s/client.yaml", srv.dir);
    snprintf(go, sizeof go, "%s/go", srv.dir);
    snprintf(grpc_out, sizeof grpc_out, "%s/grpc.out", srv.dir);
    snprintf(http_out, sizeof http_out, "%s/http.out", srv.dir);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", srv.port);
    snprintf(n, sizeof n, "%d", GRPC_CALLS);
    assert_int_equal(px_write_client_conf(conf, &srv.port, 1,
                                          "      timeout: { module: fixed, call: 10s }\n"),
                     0);
    px_config *cfg;
    px_client *cl;
    px_err err;
    assert_int_equal(px_config_load(conf, &cfg, &err), PX_OK);
    assert_int_equal(px_client_new(cfg, "calc", &cl, &err), PX_OK);

    /* python3-grpcio: waits for the go file, then GRPC_CALLS Adds on one channel. */
    char script[512];
    snprintf(script, sizeof script, "%s/tests/interop/grpc_adds.py", getenv("PX_SOURCE_DIR"));
    char *py[] = {"/usr/bin/python3", script, addr, n, srv.dir, NULL};
    pid_t grpc_pid = px_spawn(py, grpc_out);
    /* curl: the same, HTTP_CALLS POSTs to one URL list over one kept-alive connection. */
    char url[128], cmd[1024];
    snprintf(url, sizeof url, "http://%s/calc.Calculator/Add", addr);
    snprintf(cmd, sizeof cmd,
             "for i in $(seq 3000); do [ -e '%s' ] && break; sleep 0.01; done; "
             "exec curl -sS -f --max-time 60 -H 'Content-Type: application/json' "
             "-d '{\"a\":2,\"b\":3}' -w '\\nconnects=%%{num_connects}\\n' "
             "$(for i in $(seq %d); do printf '%%s ' '%s'; done)",
             go, HTTP_CALLS, url);
    char *sh[] = {"/bin/sh", "-c", cmd, NULL};
    pid_t http_pid = px_spawn(sh, http_out);
    assert_true(grpc_pid > 0 && http_pid > 0);

    /* Native calls in flight from before "go" until both others have exited. */
    char why[256];
    int batches = 0, grpc_status = -1, http_status = -1;
    int64_t give_up = px_mono_us() + 120 * 1000000LL; /* a hang fails, never a slow run */
    while ((grpc_status < 0 || http_status < 0) && px_mono_us() < give_up) {
        if (px_test_async_adds(cl, NATIVE_BATCH, 7, 30 * 1000000LL, why, sizeof why) != 0)
            fail_msg("native batch %d: %s", batches, why);
        if (batches++ == 0)
            close(open(go, O_WRONLY | O_CREAT, 0600));
        int st;
        if (grpc_status < 0 && waitpid(grpc_pid, &st, WNOHANG) == grpc_pid)
            grpc_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
        if (http_status < 0 && waitpid(http_pid, &st, WNOHANG) == http_pid)
            http_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    }
    if (grpc_status < 0 || http_status < 0) {
        kill(grpc_pid, SIGKILL);
        kill(http_pid, SIGKILL);
        fail_msg("the gRPC or curl client did not finish in 120 s");
    }
    /* One more batch after both exited: native calls spanned their whole run. */
    if (px_test_async_adds(cl, NATIVE_BATCH, 7, 30 * 1000000LL, why, sizeof why) != 0)
        fail_msg("native batch after the others: %s", why);
    batches++;

    static char text[64 * 1024];
    slurp(grpc_out, text, sizeof text);
    char want[32];
    snprintf(want, sizeof want, "grpc ok %d", GRPC_CALLS);
    if (grpc_status != 0 || !strstr(text, want))
        fail_msg("python3-grpcio client (exit %d): %s", grpc_status, text);
    slurp(http_out, text, sizeof text);
    if (http_status != 0 || count_of(text, "{\"sum\":\"5\"}") != HTTP_CALLS ||
        !strstr(text, "connects=1\n"))
        fail_msg("curl (exit %d): %.400s", http_status, text);
    printf("one port: %d gRPC calls, %d HTTP calls on one connection, %d native calls "
           "around them, all answered right\n", GRPC_CALLS, HTTP_CALLS, batches * NATIVE_BATCH);

    px_client_free(cl);
    px_config_free(cfg);
    unlink(conf);
    unlink(go);
    unlink(grpc_out);
    unlink(http_out);
    char pb2[256];
    snprintf(pb2, sizeof pb2, "%s/calc_pb2.py", srv.dir);
    unlink(pb2);
    assert_int_equal(px_proc_stop(&srv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_native_grpc_and_curl_on_one_port),
    };
    return cmocka_run_group_tests_name("three protocols", tests, NULL, NULL);
}
