/* The admin listener of a real plexusd (admin: {listen}, with the metrics filter on the
 * server), read by real clients: curl on every endpoint (status codes, bodies, content
 * types, 404, 405), /config with its secret redacted, `plexus stats` (and its refusal
 * of a port that is not an admin one), `promtool check metrics` on a scrape taken under
 * load, a real Prometheus server scraping plexusd every second until its query API
 * shows the exact number of calls made, and /readyz turning 503 while plexusd drains a
 * call in flight after SIGTERM. Malformed HTTP (garbage, a bad length, a huge header, a
 * request never finished) leaves the admin answering; a reload puts the new file on
 * /config. Bad admin: keys are refused at FILE:LINE:COL, an admin port in use stops
 * plexusd with a clear message. */
#define _GNU_SOURCE /* strcasestr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_proc.h"
#include "px_test_calls.h"
#include "px_time.h"

/* The env var an upstream's auth_token reads its token from: its NAME is the secret
 * /config must not show (the key is token_env). */
#define TOKEN_VAR "PX_ADMIN_TEST_SECRET_TOKEN_VAR"

typedef struct fixture {
    px_proc srv;
    int admin_port;
    char admin[64]; /* 127.0.0.1:PORT */
    char client_conf[256];
    px_config *cfg;
    px_client *cl;
    int calls; /* Add calls answered OK by srv: what plexus_server_calls_total must say */
} fixture;

static fixture F;

static const char *bin_dir(void)
{
    const char *b = getenv("PX_BINARY_DIR");
    return b ? b : "build";
}

/* ---- HTTP through curl -------------------------------------------------------------- */

/* curl's answer: the status, the headers checked, the body. */
typedef struct reply {
    int code;
    char type[128];
    char allow[64];
    char body[65536];
} reply;

/* curl -sS -i [extra...] http://ADMIN/path: the status, headers we check and the body.
 * 0, or -1 when curl failed. */
static int get_at(const char *addr, const char *path, reply *r, const char *extra)
{
    static char out[70000];
    char url[128], err[1024];
    snprintf(url, sizeof url, "http://%s%s", addr, path);
    char *argv[12] = {"/usr/bin/curl", "-sS", "-i", "--max-time", "20", "--noproxy", "*"};
    int n = 7;
    if (extra != NULL) {
        argv[n++] = "-X";
        argv[n++] = (char *)extra;
    }
    argv[n++] = url;
    argv[n] = NULL;
    memset(r, 0, sizeof *r);
    int rc = px_run(argv, out, sizeof out, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "curl %s: exit %d: %s\n", url, rc, err);
        return -1;
    }
    if (sscanf(out, "HTTP/1.%*d %d", &r->code) != 1)
        return -1;
    const char *ct = strcasestr(out, "\r\nContent-Type: ");
    if (ct != NULL)
        sscanf(ct + 16, "%127[^\r]", r->type);
    const char *al = strcasestr(out, "\r\nAllow: ");
    if (al != NULL)
        sscanf(al + 9, "%63[^\r]", r->allow);
    const char *body = strstr(out, "\r\n\r\n");
    if (body != NULL)
        snprintf(r->body, sizeof r->body, "%s", body + 4);
    return 0;
}

static int get(const char *path, reply *r, const char *extra)
{
    return get_at(F.admin, path, r, extra);
}

/* The value of the first line of text starting with series (name{labels}); -1 if none. */
static double series_value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

/* The admin listener starts after the RPC port px_proc_start waited for: wait for it
 * too (bounded). */
static int wait_admin(const char *addr)
{
    static reply r;
    int64_t until = px_mono_us() + 30 * 1000000LL;
    while (px_mono_us() < until) {
        if (get_at(addr, "/healthz", &r, NULL) == 0 && r.code == 200)
            return 0;
        usleep(20 * 1000);
    }
    fprintf(stderr, "admin listener %s did not answer within 30 s\n", addr);
    return -1;
}

static int setup(void **state)
{
    (void)state;
    px_proc_die_with_test();
    setenv(TOKEN_VAR, "unused", 1);
    F.admin_port = px_free_port();
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "  filters: [{module: metrics}]\n"
             "  shutdown_grace: 1h\n"
             "  services:\n"
             "    - module: calc\n"
             "      workers: 2\n"
             "      max_sleep: 1h\n"
             "admin:\n"
             "  listen: 127.0.0.1:%d\n"
             "client:\n"
             "  upstreams:\n"
             "    other:\n"
             "      endpoints: [127.0.0.1:1]\n"
             "      filters: [{module: auth_token, token_env: %s}]\n",
             F.admin_port, TOKEN_VAR);
    if (px_proc_start(&F.srv, "admin", yaml) != 0)
        return -1;
    snprintf(F.admin, sizeof F.admin, "127.0.0.1:%d", F.admin_port);
    if (wait_admin(F.admin) != 0)
        return -1;
    snprintf(F.client_conf, sizeof F.client_conf, "%s/client.yaml", F.srv.dir);
    px_err err = {0};
    if (px_write_client_conf(F.client_conf, &F.srv.port, 1, "") != 0 ||
        px_config_load(F.client_conf, &F.cfg, &err) != PX_OK ||
        px_client_new(F.cfg, "calc", &F.cl, &err) != PX_OK) {
        fprintf(stderr, "client: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    px_client_free(F.cl);
    px_config_free(F.cfg);
    if (F.srv.pid > 0)
        px_proc_kill(&F.srv);
    return 0;
}

#define ADD_OK "plexus_server_calls_total{service=\"calc.Calculator\",method=\"Add\",code=\"OK\"}"

static void add_calls(int n)
{
    for (int i = 0; i < n; i++) {
        int64_t sum = 0;
        px_err err = {0};
        assert_int_equal(px_test_add(F.cl, 0, i, 1, &sum, &err), PX_OK);
        assert_int_equal(sum, i + 1);
        F.calls++;
    }
}

/* ---- the endpoints ------------------------------------------------------------------ */

static void test_endpoints(void **state)
{
    (void)state;
    reply r;
    assert_int_equal(get("/healthz", &r, NULL), 0);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body, "ok\n");
    assert_int_equal(get("/readyz", &r, NULL), 0);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body, "ready\n");
    assert_int_equal(get("/metrics", &r, NULL), 0);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.type, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(r.body, "# TYPE plexus_build_info gauge\n"));
    char build[96];
    snprintf(build, sizeof build, "plexus_build_info{version=\"%s\",abi=\"%d.%d\"} 1\n",
             PLEXUS_VERSION, PX_ABI_MAJOR, PX_ABI_MINOR);
    assert_non_null(strstr(r.body, build));

    assert_int_equal(get("/nope", &r, NULL), 0);
    assert_int_equal(r.code, 404);
    assert_string_equal(r.body, "no such path: /nope (the admin listener serves /metrics, "
                                "/healthz, /readyz, /status, /config)\n");
    assert_int_equal(get("/metrics", &r, "POST"), 0);
    assert_int_equal(r.code, 405);
    assert_string_equal(r.allow, "GET, HEAD");
    assert_string_equal(r.body, "method POST not allowed: the admin listener answers GET only\n");
    assert_int_equal(get("/healthz", &r, "DELETE"), 0);
    assert_int_equal(r.code, 405);
}

static void test_config_redacted(void **state)
{
    (void)state;
    reply r;
    assert_int_equal(get("/config", &r, NULL), 0);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.type, "application/yaml; charset=utf-8");
    char listen[64];
    snprintf(listen, sizeof listen, "admin:\n  listen: 127.0.0.1:%d\n", F.admin_port);
    assert_non_null(strstr(r.body, listen));
    assert_non_null(strstr(r.body, "  - module: calc\n"));
    assert_non_null(strstr(r.body, "token_env: '<redacted>'\n"));
    assert_null(strstr(r.body, TOKEN_VAR));
}

static void test_calls_status_and_stats(void **state)
{
    (void)state;
    add_calls(50);
    reply r;
    assert_int_equal(get("/metrics", &r, NULL), 0);
    assert_true(series_value(r.body, ADD_OK) == (double)F.calls);

    assert_int_equal(get("/status", &r, NULL), 0);
    assert_int_equal(r.code, 200);
    assert_non_null(strstr(r.body, "Plexus status\n"));
    assert_non_null(strstr(r.body, "ready:    yes\n"));
    assert_non_null(strstr(r.body, "config:   "));
    assert_non_null(strstr(r.body, F.srv.conf));
    assert_non_null(strstr(r.body, "calc.Calculator/Add"));
    /* The server's table: SERVICE/METHOD, calls, no errors. */
    const char *row = strstr(r.body, "calc.Calculator/Add");
    int calls = -1, errors = -1;
    assert_int_equal(sscanf(row, "calc.Calculator/Add %d %d", &calls, &errors), 2);
    assert_int_equal(calls, F.calls);
    assert_int_equal(errors, 0);
    assert_non_null(strstr(r.body, "\nupstreams\n"));

    char out[8192], err[1024], bin[256];
    snprintf(bin, sizeof bin, "%s/bin/plexus", bin_dir());
    char *argv[] = {bin, "stats", "--interval", "200ms", F.admin, NULL};
    int rc = px_run(argv, out, sizeof out, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "plexus stats: %s\n", err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "server\n"));
    assert_non_null(strstr(out, "SERVICE/METHOD"));
    assert_non_null(strstr(out, "P99"));
    row = strstr(out, "calc.Calculator/Add");
    assert_non_null(row);
    double rate = -1;
    char p50[16] = "", p99[16] = "";
    assert_int_equal(sscanf(row, "calc.Calculator/Add %d %d %lf %15s %*s %15s", &calls,
                            &errors, &rate, p50, p99), 5);
    assert_int_equal(calls, F.calls);
    assert_int_equal(errors, 0);
    assert_true(rate == 0.0); /* no calls between its two reads */
    assert_true(strstr(p50, "us") || strstr(p50, "ms") || strstr(p50, "s"));

    /* The RPC port is not an admin port. */
    char rpc[64];
    snprintf(rpc, sizeof rpc, "127.0.0.1:%d", F.srv.port);
    char *argv2[] = {bin, "stats", "--interval", "0", rpc, NULL};
    assert_int_equal(px_run(argv2, out, sizeof out, err, sizeof err), 1);
    char want[128];
    snprintf(want, sizeof want, "plexus: stats: %s is not a Plexus admin listener", rpc);
    assert_non_null(strstr(err, want));
}

/* ---- promtool and Prometheus -------------------------------------------------------- */

typedef struct loader {
    pthread_t t;
    atomic_int stop;
    int done;
} loader;

static void *load_run(void *arg)
{
    loader *l = arg;
    while (!atomic_load(&l->stop)) {
        char why[256];
        if (px_test_async_adds(F.cl, 32, 7, 30000000, why, sizeof why) != 0) {
            fprintf(stderr, "load: %s\n", why);
            break;
        }
        l->done += 32;
    }
    return NULL;
}

static void test_promtool_under_load(void **state)
{
    (void)state;
    loader l = {0};
    assert_int_equal(pthread_create(&l.t, NULL, load_run, &l), 0);
    /* Scrapes while calls run: a text taken mid-update must still be well-formed. */
    char path[300];
    snprintf(path, sizeof path, "%s/scrape.txt", F.srv.dir);
    int ok = 1;
    for (int i = 0; i < 5 && ok; i++) {
        reply r;
        ok = get("/metrics", &r, NULL) == 0 && r.code == 200;
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(r.body, f);
        fclose(f);
        char cmd[400], out[8192] = "", err[8192] = "";
        snprintf(cmd, sizeof cmd, "/usr/bin/promtool check metrics < %s", path);
        char *argv[] = {"/bin/sh", "-c", cmd, NULL};
        int rc = px_run(argv, out, sizeof out, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "promtool: exit %d:\n%s%s\n--- the scrape:\n%s\n", rc, out, err,
                    r.body);
        ok = ok && rc == 0;
    }
    atomic_store(&l.stop, 1);
    pthread_join(l.t, NULL);
    F.calls += l.done;
    assert_true(ok);
    assert_true(l.done > 0);
}

static void test_prometheus_scrapes(void **state)
{
    (void)state;
    char dir[300], cfg[400], log[400], data[400];
    snprintf(dir, sizeof dir, "%s/prometheus", F.srv.dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(cfg, sizeof cfg, "%s/prometheus.yml", dir);
    snprintf(log, sizeof log, "%s/prometheus.log", dir);
    snprintf(data, sizeof data, "--storage.tsdb.path=%s/data", dir);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: plexusd\n"
            "    static_configs:\n      - targets: ['%s']\n",
            F.admin);
    fclose(f);
    int port = px_free_port();
    char listen[64], config_arg[420];
    snprintf(listen, sizeof listen, "--web.listen-address=127.0.0.1:%d", port);
    snprintf(config_arg, sizeof config_arg, "--config.file=%s", cfg);
    char *argv[] = {"/usr/bin/prometheus", config_arg, data, listen, NULL};
    pid_t pid = px_spawn(argv, log);
    assert_true(pid > 0);

    /* The calls counted so far, and some more while it scrapes. */
    add_calls(25);
    char url[200], out[16384], err[1024];
    snprintf(url, sizeof url,
             "http://127.0.0.1:%d/api/v1/query?query=plexus_server_calls_total%%7Bmethod%%3D%%22Add%%22%%7D",
             port);
    char want[64];
    snprintf(want, sizeof want, "\"%d\"]", F.calls);
    int seen = 0;
    int64_t until = px_mono_us() + 60 * 1000000LL;
    while (!seen && px_mono_us() < until) {
        char *cargv[] = {"/usr/bin/curl", "-sS", "--max-time", "5", "--noproxy", "*", url, NULL};
        if (px_run(cargv, out, sizeof out, err, sizeof err) == 0 &&
            strstr(out, "\"status\":\"success\"") && strstr(out, want))
            seen = 1;
        else
            usleep(200 * 1000);
    }
    if (!seen) {
        fprintf(stderr, "prometheus never showed %d calls; last answer: %s\n", F.calls, out);
        char cat[500];
        snprintf(cat, sizeof cat, "tail -20 %s >&2", log);
        (void)system(cat);
    }
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(seen);
}

/* ---- draining ------------------------------------------------------------------------ */

typedef struct sleeper {
    atomic_int done;
    px_status st;
} sleeper;

static void sleep_done(void *user, px_status st, const char *msg, const ProtobufCMessage *rep)
{
    (void)msg;
    (void)rep;
    sleeper *s = user;
    s->st = st;
    atomic_store(&s->done, 1);
}

/* SIGTERM with a call in flight: the call keeps plexusd draining (shutdown_grace 1h,
 * a 60 s sleep), so /readyz turns 503 "draining" while /healthz stays 200. The test
 * does not wait the minute out: plexusd is killed once that is seen. */
static void test_readyz_503_while_draining(void **state)
{
    (void)state;
    sleeper s = {0};
    Calc__SleepRequest req = CALC__SLEEP_REQUEST__INIT;
    req.ms = 60000;
    px_err err = {0};
    px_call_opts opts = {.timeout_us = 120 * 1000000LL};
    assert_int_equal(px_call_async(F.cl, "calc.Calculator/Sleep", &req.base,
                                   &calc__sleep_reply__descriptor, &opts, sleep_done, &s, &err),
                     PX_OK);
    /* In flight once the metrics filter counts it (bounded wait). */
    const char *inflight = "plexus_server_calls_in_flight{service=\"calc.Calculator\","
                           "method=\"Sleep\"}";
    reply r;
    int64_t until = px_mono_us() + 30 * 1000000LL;
    int in = 0;
    while (!in && px_mono_us() < until) {
        in = get("/metrics", &r, NULL) == 0 && series_value(r.body, inflight) == 1;
        if (!in)
            usleep(20 * 1000);
    }
    assert_true(in);
    assert_int_equal(kill(F.srv.pid, SIGTERM), 0);
    int draining = 0;
    until = px_mono_us() + 30 * 1000000LL;
    while (!draining && px_mono_us() < until) {
        draining = get("/readyz", &r, NULL) == 0 && r.code == 503;
        if (!draining)
            usleep(20 * 1000);
    }
    assert_true(draining);
    assert_string_equal(r.body, "not ready: draining\n");
    assert_int_equal(get("/healthz", &r, NULL), 0);
    assert_int_equal(r.code, 200);
    assert_int_equal(get("/status", &r, NULL), 0);
    assert_non_null(strstr(r.body, "ready:    no: draining\n"));
    assert_int_equal(atomic_load(&s.done), 0); /* the sleep is what it drains */
    px_proc_kill(&F.srv);
    F.srv.pid = 0;
    /* The client answers the call once its connection is gone (bounded wait). */
    until = px_mono_us() + 30 * 1000000LL;
    while (!atomic_load(&s.done) && px_mono_us() < until)
        usleep(20 * 1000);
    assert_true(atomic_load(&s.done));
    assert_int_not_equal(s.st, PX_OK);
}

/* Sends raw bytes to the admin port and reads what comes back until it closes (bounded by
 * the socket's receive timeout): the answer's first line into line. */
static void raw_exchange(const void *req, size_t len, char *line, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)F.admin_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    const char *p = req;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* it may answer and close before the whole request is sent */
        p += n;
        len -= (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    char buf[4096];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof buf - 1 && (n = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    close(fd);
    snprintf(line, cap, "%.*s", (int)strcspn(buf, "\r\n"), buf);
}

/* Malformed HTTP gets an answer (or a close) from libmicrohttpd, and the admin goes on. */
static void test_bad_http(void **state)
{
    (void)state;
    static char big[200000];
    int n = snprintf(big, sizeof big, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(big + n, 'a', sizeof big - (size_t)n - 8);
    memcpy(big + sizeof big - 8, "\r\n\r\n", 4);
    /* any200: a GET whose head is fine is answered before its (bad) body, never read. */
    const struct {
        const char *req;
        size_t len;
        int any200;
    } bad[] = {
        {"GARBAGE\r\n\r\n", 0, 0},
        {"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 0, 0},
        {"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, 1},
        {"GET /metrics HTTP/9.9\r\n\r\n", 0, 0},
        {"GET /\x01\xff HTTP/1.1\r\nHost: x\r\n\r\n", 0, 0},
        {"\0\0\0\0\r\n\r\n", 8, 0},
        {"GET /metrics HTTP/1.1\r\nHost: x\r\n", 0, 0}, /* never finished */
        {big, sizeof big - 4, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[256];
        raw_exchange(bad[i].req, bad[i].len ? bad[i].len : strlen(bad[i].req), line,
                     sizeof line);
        /* An HTTP error status, or no answer at all; a 200 only where said. */
        if (bad[i].any200 && strcmp(line, "HTTP/1.1 200 OK") == 0)
            line[0] = '\0';
        assert_true(line[0] == '\0' || strncmp(line, "HTTP/1.1 4", 10) == 0 ||
                    strncmp(line, "HTTP/1.1 5", 10) == 0 || strncmp(line, "HTTP/1.0 4", 10) == 0);
        reply r;
        assert_int_equal(get("/healthz", &r, NULL), 0);
        assert_int_equal(r.code, 200);
    }
}

/* A reload (SIGHUP) puts the file read again on /config; the admin keeps its port. */
static void test_reload_shows_new_config(void **state)
{
    (void)state;
    FILE *f = fopen(F.srv.conf, "r+");
    assert_non_null(f);
    static char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    char *w = strstr(text, "      workers: 2\n");
    assert_non_null(w);
    w[15] = '3';
    rewind(f);
    fwrite(text, 1, n, f);
    fclose(f);
    assert_int_equal(kill(F.srv.pid, SIGHUP), 0);
    reply r;
    int shown = 0;
    int64_t until = px_mono_us() + 30 * 1000000LL;
    while (!shown && px_mono_us() < until) {
        shown = get("/config", &r, NULL) == 0 && strstr(r.body, "    workers: 3\n") != NULL;
        if (!shown)
            usleep(20 * 1000);
    }
    if (!shown) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "tail -5 %s >&2", F.srv.log);
        (void)system(cmd);
        fprintf(stderr, "/config:\n%s\n", r.body);
    }
    assert_true(shown);
    assert_null(strstr(r.body, "workers: 2"));
    assert_null(strstr(r.body, TOKEN_VAR));
    assert_int_equal(get("/readyz", &r, NULL), 0);
    assert_int_equal(r.code, 200);
    add_calls(3); /* the new generation serves, and counts into the same series */
    assert_int_equal(get("/metrics", &r, NULL), 0);
    assert_true(series_value(r.body, ADD_OK) == (double)F.calls);
}

/* ---- bad admin: keys ------------------------------------------------------------------ */

/* plexusd -t on a config with admin_yaml: its exit status and stderr. */
static int check_conf(const char *admin_yaml, char *err, size_t cap)
{
    char path[300];
    snprintf(path, sizeof path, "%s/bad.yaml", F.srv.dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "server:\n  listen: 127.0.0.1:0\n  services:\n    - module: calc\n%s",
            admin_yaml);
    fclose(f);
    char bin[256], out[4096];
    snprintf(bin, sizeof bin, "%s/bin/plexusd", bin_dir());
    char *argv[] = {bin, "-t", "-c", path, NULL};
    return px_run(argv, out, sizeof out, err, cap);
}

static void test_bad_admin_config(void **state)
{
    (void)state;
    char err[2048], want[512];
    assert_int_equal(check_conf("admin:\n  listen: 999.1.1.1:9\n", err, sizeof err), 1);
    snprintf(want, sizeof want,
             "plexusd: %s/bad.yaml:6:11: admin.listen: '999.1.1.1:9': '999.1.1.1' is not a "
             "valid IPv4 address\n", F.srv.dir);
    assert_string_equal(err, want);
    assert_int_equal(check_conf("admin:\n  listen: 127.0.0.1:70000\n", err, sizeof err), 1);
    assert_non_null(strstr(err, "bad.yaml:6:11: admin.listen: '127.0.0.1:70000'"));
    assert_int_equal(check_conf("admin: {}\n", err, sizeof err), 1);
    assert_non_null(strstr(err, "bad.yaml:5:8: "));
    assert_non_null(strstr(err, "listen"));
    assert_int_equal(check_conf("admin:\n  listen: 127.0.0.1:0\n  port: 3\n", err, sizeof err),
                     1);
    assert_non_null(strstr(err, "bad.yaml:7:3: "));
    assert_non_null(strstr(err, "port"));
    assert_int_equal(check_conf("admin: 127.0.0.1:9\n", err, sizeof err), 1);
    assert_non_null(strstr(err, "bad.yaml:5:8: "));
    assert_int_equal(check_conf("admin:\n  listen: 127.0.0.1:0\n", err, sizeof err), 0);
}

/* An admin port another process holds: plexusd says so and exits. */
static void test_admin_port_in_use(void **state)
{
    (void)state;
    px_proc holder = {0};
    char yaml[256];
    int port = px_free_port();
    snprintf(yaml, sizeof yaml, "  services:\n    - module: calc\nadmin:\n  listen: 127.0.0.1:%d\n",
             port);
    assert_int_equal(px_proc_start(&holder, "holder", yaml), 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    assert_int_equal(wait_admin(addr), 0);
    char path[300], bin[256], out[4096], err[4096];
    snprintf(path, sizeof path, "%s/second.yaml", holder.dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "modules:\n  path: [%s]\nserver:\n  listen: 127.0.0.1:0\n%s",
            getenv("PX_MODULE_DIR"), yaml);
    fclose(f);
    snprintf(bin, sizeof bin, "%s/bin/plexusd", bin_dir());
    char *argv[] = {bin, "-c", path, NULL};
    assert_int_equal(px_run(argv, out, sizeof out, err, sizeof err), 1);
    char want[128];
    snprintf(want, sizeof want, "plexusd: admin.listen: cannot listen on '127.0.0.1:%d': ", port);
    if (strstr(err, want) == NULL)
        fprintf(stderr, "got: %s\n", err);
    assert_non_null(strstr(err, want));
    assert_int_equal(px_proc_stop(&holder), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_config_redacted),
        cmocka_unit_test(test_calls_status_and_stats),
        cmocka_unit_test(test_promtool_under_load),
        cmocka_unit_test(test_prometheus_scrapes),
        cmocka_unit_test(test_bad_http),
        cmocka_unit_test(test_reload_shows_new_config),
        cmocka_unit_test(test_bad_admin_config),
        cmocka_unit_test(test_admin_port_in_use),
        cmocka_unit_test(test_readyz_503_while_draining),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
