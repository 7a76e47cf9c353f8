/* Filters through real processes: a plexusd whose server chain holds a call (a filter
 * that resumes from its own thread), logs it (access_log), requires a metadata key and
 * adds response metadata; clients whose upstream chains add that key, require one, or
 * cap the deadline. Checked: order in and out, a rejection ends the call before later
 * filters and the handler (and a client rejection before anything is sent), metadata
 * added by filters on both sides arrives, on_done sees the outcome, through px_call,
 * px_call_async, px_call_wait and a generated stub. */
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
#include "px_proc.h"
#include "px_time.h"

typedef struct fixture {
    char dir[64];
    char trace[128], log[160];
    px_proc srv;
} fixture;

static fixture F;

static int setup(void **state)
{
    (void)state;
    px_proc_die_with_test();
    snprintf(F.dir, sizeof F.dir, "/tmp/pxfilter-XXXXXX");
    if (!mkdtemp(F.dir))
        return -1;
    snprintf(F.trace, sizeof F.trace, "%s/trace", F.dir);
    snprintf(F.log, sizeof F.log, "%s/access.log", F.dir);
    char yaml[2048];
    /* In: pend (held 20 ms, resumed from a thread), access_log, need (x-need required),
     * tag (adds fx-seen: srv to the answer); out: the reverse. */
    snprintf(yaml, sizeof yaml,
             "  filters:\n"
             "    - {module: fx, mode: pending, delay: 20ms, name: pend, trace: %s}\n"
             "    - {module: access_log, path: %s}\n"
             "    - {module: fx, mode: require, tag: x-need, name: need, trace: %s}\n"
             "    - {module: fx, mode: tag, tag: fx-seen, value: srv, name: tag, trace: %s}\n"
             "  services:\n"
             "    - module: fxmeta\n"
             "      workers: 2\n",
             F.trace, F.log, F.trace, F.trace);
    return px_proc_start(&F.srv, "fs", yaml);
}

static int teardown(void **state)
{
    (void)state;
    int rc = px_proc_stop(&F.srv);
    unlink(F.trace);
    unlink(F.log);
    rmdir(F.dir);
    return rc;
}

/* A client of the server with upstream_yaml (its filters). */
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

static char *slurp(const char *path)
{
    static char buf[16384];
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

/* The server's on_done lines arrive as each call's record is released: wait for n. */
static const char *trace_lines(int n)
{
    int64_t end = px_mono_us() + 5 * 1000000;
    for (;;) {
        const char *t = slurp(F.trace);
        int lines = 0;
        for (const char *p = t; *p; p++)
            lines += *p == '\n';
        if (lines >= n || px_mono_us() > end)
            return t;
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void reset_trace(void)
{
    unlink(F.trace);
}

static px_status whoami(px_client *c, int wait, px_meta *reply_meta, char *id, size_t cap,
                        px_err *err)
{
    Calc__WhoamiRequest w = CALC__WHOAMI_REQUEST__INIT;
    px_call_opts o = {.reply_meta = reply_meta};
    ProtobufCMessage *rep = NULL;
    px_status st = wait ? px_call_wait(c, "calc.Calculator/Whoami", &w.base,
                                       &calc__whoami_reply__descriptor, &o, &rep, err)
                        : px_call(c, "calc.Calculator/Whoami", &w.base,
                                  &calc__whoami_reply__descriptor, &o, &rep, err);
    if (st == PX_OK) {
        snprintf(id, cap, "%s", ((Calc__WhoamiReply *)rep)->id);
        px_msg_free(rep);
    }
    return st;
}

/* A client filter adds x-need; the server's chain lets it through, in order, holds it
 * 20 ms, and its tag filter's response metadata comes back. */
static void test_through_both_chains(void **state)
{
    (void)state;
    px_config *cfg;
    px_client *c = client(&cfg, "      filters: [{module: fx, mode: tag, tag: x-need, value: yes}]\n");
    for (int wait = 0; wait < 2; wait++) {
        reset_trace();
        px_meta *rm = px_meta_new();
        char id[256];
        px_err err;
        int64_t t0 = px_mono_us();
        assert_int_equal(whoami(c, wait, rm, id, sizeof id, &err), PX_OK);
        assert_true(px_mono_us() - t0 >= 20000); /* the pending filter held it */
        assert_string_equal(id, "x-need=yes"); /* the handler saw the client filter's key */
        size_t n = 0;
        const char *seen = px_meta_get(rm, "fx-seen", &n);
        assert_non_null(seen);
        assert_int_equal(n, 3);
        assert_memory_equal(seen, "srv", 3);
        /* Out in reverse; each saw OK and the answer's metadata. */
        const char *t = trace_lines(3);
        size_t b1, b2, b3;
        char s1[8], s2[8], s3[8];
        assert_int_equal(sscanf(t, "tag OK %zu %7s\nneed OK %zu %7s\npend OK %zu %7s\n", &b1, s1,
                                &b2, s2, &b3, s3), 6);
        assert_true(b1 > 0 && b1 == b2 && b2 == b3);
        assert_string_equal(s1, "srv");
        px_meta_free(rm);
    }
    px_client_free(c);
    px_config_free(cfg);
}

/* Without x-need the server's need filter rejects: tag and the handler never see the
 * call; pend and need see the outcome, need first; the access log records it. */
static void test_server_rejects(void **state)
{
    (void)state;
    px_config *cfg;
    px_client *c = client(&cfg, "");
    reset_trace();
    char id[256];
    px_err err;
    assert_int_equal(whoami(c, 0, NULL, id, sizeof id, &err), PX_PERMISSION_DENIED);
    assert_string_equal(err.msg, "fx: no x-need");
    const char *t = trace_lines(2);
    assert_string_equal(t, "need PERMISSION_DENIED 0 -\npend PERMISSION_DENIED 0 -\n");
    const char *log = slurp(F.log);
    assert_non_null(strstr(log, " calc.Calculator/Whoami PERMISSION_DENIED "));
    assert_non_null(strstr(log, "\"fx: no x-need\"\n"));
    px_client_free(c);
    px_config_free(cfg);
}

/* A client filter that rejects: nothing is sent (the server's chain never runs), and
 * the client's own on_done sees the outcome; through the async client too. */
typedef struct seen {
    int done;
    px_status st;
    char msg[256];
} seen;

static void on_done(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    (void)reply;
    seen *s = user;
    s->st = st;
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    __atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
}

static void wait_seen(seen *s)
{
    int64_t end = px_mono_us() + 10 * 1000000;
    while (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE) && px_mono_us() < end) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_true(__atomic_load_n(&s->done, __ATOMIC_ACQUIRE));
}

static void test_client_rejects_before_sending(void **state)
{
    (void)state;
    char ctrace[160], yaml[512];
    snprintf(ctrace, sizeof ctrace, "%s/client-trace", F.dir);
    snprintf(yaml, sizeof yaml,
             "      filters: [{module: fx, mode: require, tag: x-token, name: cli, trace: %s}]\n",
             ctrace);
    px_config *cfg;
    px_client *c = client(&cfg, yaml);
    size_t log_before = strlen(slurp(F.log));
    char id[256];
    px_err err;
    assert_int_equal(whoami(c, 0, NULL, id, sizeof id, &err), PX_PERMISSION_DENIED);
    assert_string_equal(err.msg, "fx: no x-token");
    Calc__WhoamiRequest w = CALC__WHOAMI_REQUEST__INIT;
    seen s = {0};
    assert_int_equal(px_call_async(c, "calc.Calculator/Whoami", &w.base,
                                   &calc__whoami_reply__descriptor, NULL, on_done, &s, &err),
                     PX_OK);
    wait_seen(&s);
    assert_int_equal(s.st, PX_PERMISSION_DENIED);
    assert_string_equal(s.msg, "fx: no x-token");
    /* With the key, it goes through (and the server wants x-need: PERMISSION_DENIED
     * from the server this time, with the server's message). */
    px_meta *m = px_meta_new();
    assert_int_equal(px_meta_add_str(m, "x-token", "t", &err), PX_OK);
    px_call_opts o = {.meta = m};
    ProtobufCMessage *rep = NULL;
    assert_int_equal(px_call(c, "calc.Calculator/Whoami", &w.base,
                             &calc__whoami_reply__descriptor, &o, &rep, &err),
                     PX_PERMISSION_DENIED);
    assert_string_equal(err.msg, "fx: no x-need");
    assert_string_equal(slurp(ctrace), "cli PERMISSION_DENIED 0 -\ncli PERMISSION_DENIED 0 -\n"
                                       "cli PERMISSION_DENIED 0 -\n");
    /* The server's access log grew by the third call only. */
    int64_t end = px_mono_us() + 5 * 1000000;
    const char *log;
    while (strlen(log = slurp(F.log)) == log_before && px_mono_us() < end) {
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    const char *added = log + log_before;
    assert_non_null(strstr(added, "PERMISSION_DENIED"));
    assert_null(strchr(strchr(added, '\n') + 1, '\n'));
    px_meta_free(m);
    unlink(ctrace);
    px_client_free(c);
    px_config_free(cfg);
}

/* deadline_floor's cap on an upstream bounds a call the server holds longer. */
static void test_client_cap(void **state)
{
    (void)state;
    px_config *cfg;
    px_client *c = client(&cfg, "      filters:\n"
                                "        - {module: fx, mode: tag, tag: x-need, value: yes}\n"
                                "        - {module: deadline_floor, cap: 5ms, min_remaining: 0}\n");
    char id[256];
    px_err err;
    /* Without the cap the call would be answered: the server holds it 20 ms of the
     * default 1 s budget. */
    assert_int_equal(whoami(c, 0, NULL, id, sizeof id, &err), PX_DEADLINE_EXCEEDED);
    seen s = {0};
    Calc__WhoamiRequest w = CALC__WHOAMI_REQUEST__INIT;
    assert_int_equal(px_call_async(c, "calc.Calculator/Whoami", &w.base,
                                   &calc__whoami_reply__descriptor, NULL, on_done, &s, &err),
                     PX_OK);
    wait_seen(&s);
    assert_int_equal(s.st, PX_DEADLINE_EXCEEDED);
    px_client_free(c);
    px_config_free(cfg);
}

/* A client filter must decide at once: PENDING ends the call, naming the filter. */
static void test_client_pending_refused(void **state)
{
    (void)state;
    px_config *cfg;
    px_client *c = client(&cfg, "      filters: [{module: fx, mode: pending, value: never}]\n");
    char id[256];
    px_err err;
    assert_int_equal(whoami(c, 0, NULL, id, sizeof id, &err), PX_INTERNAL);
    assert_string_equal(err.msg, "calc.Calculator/Whoami: filter 'fx' of upstream calc returned "
                                 "PENDING: a client-side filter must decide in on_request");
    px_client_free(c);
    px_config_free(cfg);
}

/* A generated stub goes through the upstream's chain like any async call. */
static char stub_id[256];
static int stub_done;
static void stub_closure(const Calc__WhoamiReply *r, void *data)
{
    (void)data;
    snprintf(stub_id, sizeof stub_id, "%s", r ? r->id : "(failed)");
    __atomic_store_n(&stub_done, 1, __ATOMIC_RELEASE);
}

static void test_stub(void **state)
{
    (void)state;
    px_config *cfg;
    px_client *c = client(&cfg, "      filters: [{module: fx, mode: tag, tag: x-need, value: stub}]\n");
    ProtobufCService *svc = px_client_service(c, &calc__calculator__descriptor);
    Calc__WhoamiRequest w = CALC__WHOAMI_REQUEST__INIT;
    calc__calculator__whoami(svc, &w, stub_closure, NULL);
    int64_t end = px_mono_us() + 10 * 1000000;
    while (!__atomic_load_n(&stub_done, __ATOMIC_ACQUIRE) && px_mono_us() < end) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_string_equal(stub_id, "x-need=stub");
    px_client_free(c);
    px_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_through_both_chains),
        cmocka_unit_test(test_server_rejects),
        cmocka_unit_test(test_client_rejects_before_sending),
        cmocka_unit_test(test_client_cap),
        cmocka_unit_test(test_client_pending_refused),
        cmocka_unit_test(test_stub),
    };
    return cmocka_run_group_tests_name("filters", tests, setup, teardown);
}
