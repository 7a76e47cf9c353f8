/* The server's in-flight limit, announced in its HELLO answer (docs/PROTOCOL.md §4) and
 * kept by the async client: calls beyond it wait on their connection, first come first
 * served, their deadline running, instead of being refused; a call given up on keeps
 * its place until its late answer comes; a server that announces nothing (one built
 * before the announcement) gets every call at once, as it always did. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_frame.h"
#include "px_proc.h"
#include "px_raw.h"
#include "px_time.h"

static px_proc srv; /* plexusd: max_inflight_per_conn 16, Sleep on 16 workers */

static int setup(void **state)
{
    px_proc_die_with_test();
    return px_proc_start(&srv, "cap",
                         "  limits: { max_inflight_per_conn: 16 }\n"
                         "  services:\n    - module: calc\n      workers: 16\n");
}

static int teardown(void **state) { return px_proc_stop(&srv) == 0 ? 0 : -1; }

/* ---- async calls and their outcomes ------------------------------------------ */

typedef struct outcome {
    int done; /* atomic */
    px_status st;
    int64_t sum;
    char msg[400];
} outcome;

static void on_done(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    outcome *o = user;
    o->st = st;
    if (reply && reply->descriptor == &calc__add_reply__descriptor)
        o->sum = ((const Calc__AddReply *)reply)->sum;
    snprintf(o->msg, sizeof o->msg, "%s", msg);
    __atomic_store_n(&o->done, 1, __ATOMIC_RELEASE);
}

static void start_add(px_client *cl, outcome *o, int64_t timeout_us)
{
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.a = 20;
    req.b = 22;
    px_call_opts opts = {.timeout_us = timeout_us};
    px_err err;
    assert_int_equal(px_call_async(cl, "calc.Calculator/Add", &req.base,
                                   &calc__add_reply__descriptor, &opts, on_done, o, &err),
                     PX_OK);
}

static void start_sleep(px_client *cl, outcome *o, uint32_t ms, int64_t timeout_us)
{
    Calc__SleepRequest req = CALC__SLEEP_REQUEST__INIT;
    req.ms = ms;
    px_call_opts opts = {.timeout_us = timeout_us};
    px_err err;
    assert_int_equal(px_call_async(cl, "calc.Calculator/Sleep", &req.base,
                                   &calc__sleep_reply__descriptor, &opts, on_done, o, &err),
                     PX_OK);
}

/* Waits (bounded: a hang fails, a slow machine does not) until o has completed. */
static void wait_done(outcome *o, int n)
{
    int64_t end = px_mono_us() + 120 * 1000000LL;
    for (int i = 0; i < n; i++)
        while (!__atomic_load_n(&o[i].done, __ATOMIC_ACQUIRE)) {
            if (px_mono_us() > end)
                fail_msg("call %d of %d never completed", i, n);
            usleep(1000);
        }
}

static px_client *client_for(const int *ports, int n, const char *yaml, px_config **cfg)
{
    char conf[256];
    snprintf(conf, sizeof conf, "%s/client-%d.yaml", srv.dir, ports[0]);
    assert_int_equal(px_write_client_conf(conf, ports, n, yaml), 0);
    px_err err;
    px_client *cl;
    if (px_config_load(conf, cfg, &err) != PX_OK)
        fail_msg("%s", err.msg);
    if (px_client_new(*cfg, "calc", &cl, &err) != PX_OK)
        fail_msg("%s", err.msg);
    unlink(conf);
    return cl;
}

static void client_done(px_client *cl, px_config *cfg)
{
    px_client_free(cl);
    px_config_free(cfg);
}

/* ---- against plexusd ---------------------------------------------------------- */

static void test_server_announces_its_limit(void **state)
{
    px_raw_reader r = {.fd = px_raw_connect(srv.port)};
    assert_true(r.fd >= 0);
    assert_int_equal(px_raw_hello(r.fd, "protobuf"), 0);
    px_frame f;
    assert_int_equal(px_raw_next(&r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_HELLO);
    assert_int_equal(f.deadline_ms, 16); /* the field carries max_inflight in a HELLO */
    assert_int_equal(f.id, 0);
    assert_int_equal(f.flags, 0);
    assert_int_equal(f.status, 0);
    assert_int_equal(f.meta_len, 0);
    assert_string_equal(r.text, "protobuf");
    close(r.fd);
}

/* 200 calls at once on one connection of a server that takes 16: none is refused (a
 * refusal, RESOURCE_EXHAUSTED and not executed, would be retried transparently and
 * counted in retries), so the server never had a 17th in flight. */
static void test_calls_wait_for_a_place(void **state)
{
    px_config *cfg;
    px_client *cl = client_for(&srv.port, 1,
                               "      connections_per_endpoint: 1\n"
                               "      timeout: { module: fixed, call: 60s }\n",
                               &cfg);
    enum { N = 200 };
    static outcome o[N];
    memset(o, 0, sizeof o);
    for (int i = 0; i < N; i++)
        start_sleep(cl, &o[i], 5, 0);
    wait_done(o, N);
    for (int i = 0; i < N; i++)
        if (o[i].st != PX_OK)
            fail_msg("call %d: %s: %s", i, px_status_name(o[i].st), o[i].msg);
    px_client_stats st;
    px_client_stats_get(cl, &st);
    assert_int_equal(st.retries, 0);
    assert_int_equal(st.calls_completed, N);
    client_done(cl, cfg);
}

/* A call waiting for a place whose deadline passes ends DEADLINE_EXCEEDED, unsent, and
 * leaves the queue: the call after it gets the next free place. */
static void test_waiting_call_times_out(void **state)
{
    px_config *cfg;
    px_client *cl = client_for(&srv.port, 1,
                               "      connections_per_endpoint: 1\n"
                               "      timeout: { module: fixed, call: 60s }\n",
                               &cfg);
    static outcome sleeps[16], quick, after;
    memset(sleeps, 0, sizeof sleeps);
    memset(&quick, 0, sizeof quick);
    memset(&after, 0, sizeof after);
    start_add(cl, &after, 0); /* the connection opens and learns the limit first */
    wait_done(&after, 1);
    memset(&after, 0, sizeof after);
    for (int i = 0; i < 16; i++)
        start_sleep(cl, &sleeps[i], 3000, 0); /* the server's 16 places, for 3 s */
    start_add(cl, &quick, 100 * 1000);
    wait_done(&quick, 1);
    assert_int_equal(quick.st, PX_DEADLINE_EXCEEDED);
    if (!strstr(quick.msg, "calc.Calculator/Add: deadline exceeded before it was sent: the "
                           "connection to 127.0.0.1:"))
        fail_msg("unexpected message: %s", quick.msg);
    assert_non_null(strstr(quick.msg, "had 16 calls in flight, the most its server takes"));
    start_add(cl, &after, 0);
    wait_done(sleeps, 16);
    wait_done(&after, 1);
    for (int i = 0; i < 16; i++)
        assert_int_equal(sleeps[i].st, PX_OK);
    assert_int_equal(after.st, PX_OK);
    assert_int_equal(after.sum, 42);
    px_client_stats st;
    px_client_stats_get(cl, &st);
    assert_int_equal(st.retries, 0);
    client_done(cl, cfg);
}

/* Past limits.max_queued_per_conn a call is not made: RESOURCE_EXHAUSTED, saying why. */
static void test_queue_bound(void **state)
{
    px_config *cfg;
    px_client *cl = client_for(&srv.port, 1,
                               "      connections_per_endpoint: 1\n"
                               "      timeout: { module: fixed, call: 60s }\n"
                               "      limits: { max_queued_per_conn: 2 }\n",
                               &cfg);
    static outcome sleeps[16], waiting[2], over;
    memset(sleeps, 0, sizeof sleeps);
    memset(waiting, 0, sizeof waiting);
    memset(&over, 0, sizeof over);
    /* The first goes with the HELLO, two wait for its answer: let the answer come
     * (the first call's reply proves it did) before filling the places. */
    start_sleep(cl, &sleeps[0], 0, 0);
    wait_done(&sleeps[0], 1);
    for (int i = 0; i < 16; i++) {
        memset(&sleeps[i], 0, sizeof sleeps[i]);
        start_sleep(cl, &sleeps[i], 2000, 0);
    }
    start_add(cl, &waiting[0], 0);
    start_add(cl, &waiting[1], 0);
    start_add(cl, &over, 0);
    wait_done(&over, 1);
    assert_int_equal(over.st, PX_RESOURCE_EXHAUSTED);
    if (!strstr(over.msg, "calc.Calculator/Add: not sent: 2 calls already wait for a place on "
                          "the connection to 127.0.0.1:") ||
        !strstr(over.msg, "(its server takes 16 calls at once), the most "
                          "limits.max_queued_per_conn of upstream calc allows"))
        fail_msg("unexpected message: %s", over.msg);
    wait_done(sleeps, 16);
    wait_done(waiting, 2);
    for (int i = 0; i < 2; i++)
        assert_int_equal(waiting[i].sum, 42);
    client_done(cl, cfg);
}

/* ---- against a hand-written native server ------------------------------------ */

/* One connection at a time: answers HELLO announcing `announce` (0: the older HELLO
 * answer, nothing announced); answers Add at once, except that with `hold` it answers
 * nothing until `hold` requests are unanswered; holds Sleep until the client cancels
 * it, then answers it late, once the client has been quiet for a poll round. Records
 * the most requests it ever had unanswered. */
typedef struct rawsrv {
    int lfd, port;
    uint32_t announce;
    int hold;
    int stop;    /* atomic */
    int max_out; /* atomic */
    int cancels; /* atomic */
    pthread_t thread;
} rawsrv;

typedef struct pending {
    uint64_t id;
    int sleep, cancelled;
} pending;

static void raw_answer(int fd, const pending *p)
{
    px_buf out = {0};
    Calc__AddReply add = CALC__ADD_REPLY__INIT;
    Calc__SleepReply slp = CALC__SLEEP_REPLY__INIT;
    add.sum = 42;
    const ProtobufCMessage *m = p->sleep ? &slp.base : &add.base;
    uint8_t body[64];
    size_t n = protobuf_c_message_pack(m, body);
    px_frame f = {.type = PX_FRAME_RESPONSE, .id = p->id, .body = body, .body_len = (uint32_t)n};
    px_frame_append(&out, &f);
    assert_int_equal(write(fd, out.data, out.len), (ssize_t)out.len);
    px_buf_free(&out);
}

static void *rawsrv_main(void *arg)
{
    rawsrv *s = arg;
    int fd = -1;
    px_buf in = {0};
    pending pend[512];
    int n = 0;
    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
        struct pollfd p = {.fd = fd >= 0 ? fd : s->lfd, .events = POLLIN};
        int ready = poll(&p, 1, 50);
        if (ready == 0 && fd >= 0) { /* quiet: the late answers to cancelled calls */
            for (int i = 0; i < n;)
                if (pend[i].cancelled) {
                    raw_answer(fd, &pend[i]);
                    pend[i] = pend[--n];
                } else {
                    i++;
                }
        }
        if (ready <= 0)
            continue;
        if (fd < 0) {
            fd = accept(s->lfd, NULL, NULL);
            continue;
        }
        px_buf_reserve(&in, 65536);
        ssize_t r = read(fd, in.data + in.len, in.cap - in.len);
        if (r <= 0) {
            close(fd);
            fd = -1;
            in.len = 0;
            n = 0;
            continue;
        }
        in.len += (size_t)r;
        px_frame f;
        size_t used;
        px_err err;
        while (px_frame_parse(in.data, in.len, 1024, 1 << 20, &f, &used, &err) == PX_PARSE_OK) {
            if (f.type == PX_FRAME_HELLO) {
                px_buf out = {0};
                px_frame h = {.type = PX_FRAME_HELLO, .deadline_ms = s->announce,
                              .body = f.body, .body_len = f.body_len};
                px_frame_append(&out, &h);
                assert_int_equal(write(fd, out.data, out.len), (ssize_t)out.len);
                px_buf_free(&out);
            } else if (f.type == PX_FRAME_REQUEST && n < 512) {
                pend[n++] = (pending){.id = f.id,
                                      .sleep = f.method_len == 21}; /* calc.Calculator/Sleep */
                if (n > __atomic_load_n(&s->max_out, __ATOMIC_RELAXED))
                    __atomic_store_n(&s->max_out, n, __ATOMIC_RELEASE);
            } else if (f.type == PX_FRAME_CANCEL) {
                for (int i = 0; i < n; i++)
                    if (pend[i].id == f.id && !pend[i].cancelled) {
                        pend[i].cancelled = 1;
                        __atomic_add_fetch(&s->cancels, 1, __ATOMIC_RELEASE);
                    }
            }
            memmove(in.data, in.data + used, in.len - used);
            in.len -= used;
        }
        if (n >= s->hold)
            s->hold = 0; /* held long enough: from now on Adds are answered at once */
        for (int i = 0; i < n && s->hold == 0;)
            if (!pend[i].sleep) {
                raw_answer(fd, &pend[i]);
                pend[i] = pend[--n];
            } else {
                i++;
            }
    }
    if (fd >= 0)
        close(fd);
    px_buf_free(&in);
    return NULL;
}

static void rawsrv_start(rawsrv *s, uint32_t announce, int hold)
{
    memset(s, 0, sizeof *s);
    s->announce = announce;
    s->hold = hold;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof sa;
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(s->lfd, 16), 0);
    getsockname(s->lfd, (struct sockaddr *)&sa, &l);
    s->port = ntohs(sa.sin_port);
    pthread_create(&s->thread, NULL, rawsrv_main, s);
}

static void rawsrv_stop(rawsrv *s)
{
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
    pthread_join(s->thread, NULL);
    close(s->lfd);
}

/* A server that announces nothing gets all 40 calls at once: it answers none before it
 * has all 40, so a client that held any back would wait for ever (its calls would end
 * DEADLINE_EXCEEDED). */
static void test_old_server_gets_every_call(void **state)
{
    rawsrv s;
    rawsrv_start(&s, 0, 40);
    px_config *cfg;
    px_client *cl = client_for(&s.port, 1,
                               "      connections_per_endpoint: 1\n"
                               "      timeout: { module: fixed, call: 60s }\n",
                               &cfg);
    static outcome o[40];
    memset(o, 0, sizeof o);
    for (int i = 0; i < 40; i++)
        start_add(cl, &o[i], 0);
    wait_done(o, 40);
    for (int i = 0; i < 40; i++) {
        if (o[i].st != PX_OK)
            fail_msg("call %d: %s: %s", i, px_status_name(o[i].st), o[i].msg);
        assert_int_equal(o[i].sum, 42);
    }
    assert_int_equal(__atomic_load_n(&s.max_out, __ATOMIC_ACQUIRE), 40);
    client_done(cl, cfg);
    rawsrv_stop(&s);
}

/* A server that takes 4: four Sleeps it never answers fill its places; they time out and
 * are cancelled, but native answers a cancelled call anyway, so their places stay taken
 * until those late answers come: the 20 Adds behind them never make 5 unanswered. */
static void test_cancelled_calls_keep_their_place(void **state)
{
    rawsrv s;
    rawsrv_start(&s, 4, 0);
    px_config *cfg;
    px_client *cl = client_for(&s.port, 1,
                               "      connections_per_endpoint: 1\n"
                               "      timeout: { module: fixed, call: 60s }\n",
                               &cfg);
    static outcome sleeps[4], adds[20];
    memset(sleeps, 0, sizeof sleeps);
    memset(adds, 0, sizeof adds);
    for (int i = 0; i < 4; i++)
        start_sleep(cl, &sleeps[i], 0, 200 * 1000);
    for (int i = 0; i < 20; i++)
        start_add(cl, &adds[i], 0);
    wait_done(sleeps, 4);
    wait_done(adds, 20);
    for (int i = 0; i < 4; i++)
        assert_int_equal(sleeps[i].st, PX_DEADLINE_EXCEEDED);
    for (int i = 0; i < 20; i++) {
        if (adds[i].st != PX_OK)
            fail_msg("add %d: %s: %s", i, px_status_name(adds[i].st), adds[i].msg);
        assert_int_equal(adds[i].sum, 42);
    }
    assert_int_equal(__atomic_load_n(&s.cancels, __ATOMIC_ACQUIRE), 4);
    int max_out = __atomic_load_n(&s.max_out, __ATOMIC_ACQUIRE);
    if (max_out > 4)
        fail_msg("the server had %d requests unanswered; it announced 4", max_out);
    px_client_stats st;
    px_client_stats_get(cl, &st);
    assert_int_equal(st.late_responses, 4);
    client_done(cl, cfg);
    rawsrv_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_announces_its_limit),
        cmocka_unit_test(test_calls_wait_for_a_place),
        cmocka_unit_test(test_waiting_call_times_out),
        cmocka_unit_test(test_queue_bound),
        cmocka_unit_test(test_old_server_gets_every_call),
        cmocka_unit_test(test_cancelled_calls_keep_their_place),
    };
    return cmocka_run_group_tests_name("inflight_cap", tests, setup, teardown);
}
