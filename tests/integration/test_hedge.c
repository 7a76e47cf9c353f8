/* Hedged (backup) requests, through both clients: one endpoint swallows requests (or
 * answers late), the other answers. Every call succeeds through its hedge, each
 * swallowed request is cancelled, and a late answer never reaches another call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_frame.h"
#include "px_proc.h"
#include "px_time.h"

/* A server that accepts the HELLO (announcing no limit, as a server before the
 * announcement did) and then answers nothing: counts REQUESTs and CANCELs. */
typedef struct blackhole {
    int lfd, port;
    int stop;      /* atomic */
    int requests;  /* atomic */
    int cancels;   /* atomic, only CANCELs naming a request it saw */
    uint64_t ids[256];
    pthread_t thread;
} blackhole;

static void *blackhole_main(void *arg)
{
    blackhole *b = arg;
    int fds[16];
    px_buf in[16];
    int n = 0;
    memset(in, 0, sizeof in);
    while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE)) {
        struct pollfd p[17];
        p[0] = (struct pollfd){.fd = b->lfd, .events = POLLIN};
        for (int i = 0; i < n; i++)
            p[i + 1] = (struct pollfd){.fd = fds[i], .events = POLLIN};
        if (poll(p, (nfds_t)n + 1, 20) <= 0)
            continue;
        int polled = n; /* a connection accepted now has no poll result yet */
        if ((p[0].revents & POLLIN) && n < 16)
            fds[n++] = accept(b->lfd, NULL, NULL);
        for (int i = 0; i < polled; i++) {
            if (!(p[i + 1].revents & POLLIN) || fds[i] < 0)
                continue;
            px_buf_reserve(&in[i], 4096);
            ssize_t r = read(fds[i], in[i].data + in[i].len, in[i].cap - in[i].len);
            if (r <= 0) {
                close(fds[i]);
                fds[i] = -1;
                continue;
            }
            in[i].len += (size_t)r;
            px_frame f;
            size_t used;
            px_err err;
            while (px_frame_parse(in[i].data, in[i].len, 1024, 1 << 20, &f, &used, &err) ==
                   PX_PARSE_OK) {
                if (f.type == PX_FRAME_HELLO) {
                    px_buf out = {0};
                    px_frame h = {.type = PX_FRAME_HELLO, .body = f.body, .body_len = f.body_len};
                    px_frame_append(&out, &h);
                    assert_int_equal(write(fds[i], out.data, out.len), (ssize_t)out.len);
                    px_buf_free(&out);
                } else if (f.type == PX_FRAME_REQUEST) {
                    int k = __atomic_load_n(&b->requests, __ATOMIC_RELAXED);
                    if (k < 256)
                        b->ids[k] = f.id;
                    __atomic_store_n(&b->requests, k + 1, __ATOMIC_RELEASE);
                } else if (f.type == PX_FRAME_CANCEL) {
                    int k = __atomic_load_n(&b->requests, __ATOMIC_ACQUIRE);
                    for (int j = 0; j < k && j < 256; j++)
                        if (b->ids[j] == f.id)
                            __atomic_add_fetch(&b->cancels, 1, __ATOMIC_RELEASE);
                }
                memmove(in[i].data, in[i].data + used, in[i].len - used);
                in[i].len -= used;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
        px_buf_free(&in[i]);
    }
    return NULL;
}

static void blackhole_start(blackhole *b)
{
    memset(b, 0, sizeof *b);
    b->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof sa;
    assert_int_equal(bind(b->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(b->lfd, 16), 0);
    getsockname(b->lfd, (struct sockaddr *)&sa, &l);
    b->port = ntohs(sa.sin_port);
    pthread_create(&b->thread, NULL, blackhole_main, b);
}

static void blackhole_stop(blackhole *b)
{
    __atomic_store_n(&b->stop, 1, __ATOMIC_RELEASE);
    pthread_join(b->thread, NULL);
    close(b->lfd);
}

/* px_call and px_call_wait (the async client, waited for) take the same arguments. */
typedef px_status (*call_fn)(px_client *, const char *, const ProtobufCMessage *,
                             const ProtobufCMessageDescriptor *, const px_call_opts *,
                             ProtobufCMessage **, px_err *);

static int64_t add(px_client *cl, call_fn call, int64_t a, int64_t b)
{
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.a = a;
    req.b = b;
    ProtobufCMessage *rep = NULL;
    px_err err;
    assert_int_equal(call(cl, "calc.Calculator/Add", &req.base, &calc__add_reply__descriptor,
                          NULL, &rep, &err), PX_OK);
    int64_t sum = ((Calc__AddReply *)rep)->sum;
    px_msg_free(rep);
    return sum;
}

/* n calls through `call`, over the black hole and a calc server, picked by `balancer`
 * (a YAML value): each succeeds through its hedge, and every request the black hole
 * swallowed was hedged once and cancelled once. Returns how many it swallowed. */
static int hedge_over_black_hole(call_fn call, const char *balancer, int n)
{
    blackhole b;
    blackhole_start(&b);
    px_proc srv;
    assert_int_equal(px_proc_start(&srv, "fast", "  services:\n    - module: calc\n"), 0);
    char conf[256], yaml[512];
    snprintf(conf, sizeof conf, "%s/client.yaml", srv.dir);
    snprintf(yaml, sizeof yaml,
             "      balancer: %s\n"
             "      failover: { module: hedge, hedge_after: 30ms }\n"
             "      timeout: { module: fixed, call: 5s }\n"
             "      health: { max_fails: 0 }\n",
             balancer);
    int ports[2] = {b.port, srv.port};
    px_write_client_conf(conf, ports, 2, yaml);
    px_config *cfg;
    px_client *cl;
    px_err err;
    assert_int_equal(px_config_load(conf, &cfg, &err), PX_OK);
    assert_int_equal(px_client_new(cfg, "calc", &cl, &err), PX_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(add(cl, call, i, 1), i + 1);
    px_client_stats st;
    px_client_stats_get(cl, &st);
    int swallowed = __atomic_load_n(&b.requests, __ATOMIC_ACQUIRE);
    assert_int_equal(st.hedges, (uint64_t)swallowed);
    assert_int_equal(st.retries, 0);
    /* Every swallowed request is cancelled once its hedge has answered. */
    int64_t end = px_mono_us() + 10 * 1000000;
    while (__atomic_load_n(&b.cancels, __ATOMIC_ACQUIRE) < swallowed && px_mono_us() < end)
        usleep(1000);
    assert_int_equal(__atomic_load_n(&b.cancels, __ATOMIC_ACQUIRE), swallowed);
    assert_int_equal(st.calls_completed, (uint64_t)n);
    px_client_free(cl);
    px_config_free(cfg);
    unlink(conf);
    assert_int_equal(px_proc_stop(&srv), 0);
    blackhole_stop(&b);
    return swallowed;
}

static void test_hedge_wins_and_loser_is_cancelled(void **state)
{
    /* With seed 7 some first attempts go to the black hole. */
    assert_true(hedge_over_black_hole(px_call_wait, "{ module: random, seed: 7 }", 30) >= 1);
}

/* The blocking client the same way, px_call after px_call on pooled connections. */
static void test_blocking_hedge_wins_and_loser_is_cancelled(void **state)
{
    /* round_robin: every other call starts on the black hole. */
    assert_int_equal(hedge_over_black_hole(px_call, "round_robin", 10), 5);
}

/* px_call hedges a slow server: its reply comes from the fast one while the slow one
 * cannot answer at all (stopped by SIGSTOP), so the call did not wait for it, however
 * slow the machine. The losing connection goes back to the pool (pool_size 1: it is
 * the slow endpoint's only one) with the request unanswered; after SIGCONT the slow
 * server answers (it takes 1 s a call, so calls that start on it are hedged too), and
 * the calls after it, some of which start on that very connection, each get their own
 * sum while a stale answer is dropped as late. */
static void test_blocking_hedge_late_answer_reaches_no_one(void **state)
{
    px_proc slow, fast;
    assert_int_equal(px_proc_start(&slow, "slow",
                                   "  services:\n    - module: calc\n      workers: 4\n"
                                   "      delay: 1s\n"),
                     0);
    assert_int_equal(px_proc_start(&fast, "fast", "  services:\n    - module: calc\n"), 0);
    char conf[256];
    snprintf(conf, sizeof conf, "%s/client.yaml", fast.dir);
    int ports[2] = {slow.port, fast.port};
    px_write_client_conf(conf, ports, 2,
                         "      balancer: round_robin\n"
                         "      failover: { module: hedge, hedge_after: 50ms }\n"
                         "      timeout: { module: fixed, call: 5s }\n"
                         "      health: { max_fails: 0 }\n"
                         "      pool_size: 1\n");
    px_config *cfg;
    px_client *cl;
    px_err err;
    assert_int_equal(px_config_load(conf, &cfg, &err), PX_OK);
    assert_int_equal(px_client_new(cfg, "calc", &cl, &err), PX_OK);
    /* round_robin starts with the slow one; connecting and HELLO wait for no answer,
     * so its request is sent (into the socket) while it is stopped. */
    assert_int_equal(kill(slow.pid, SIGSTOP), 0);
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.a = 1;
    req.b = 1;
    ProtobufCMessage *rep = NULL;
    px_status st = px_call(cl, "calc.Calculator/Add", &req.base, &calc__add_reply__descriptor,
                           NULL, &rep, &err);
    assert_int_equal(kill(slow.pid, SIGCONT), 0); /* before any assertion can end the test */
    if (st != PX_OK)
        fail_msg("the hedged px_call with the slow server stopped: %s: %s", px_status_name(st),
                 err.msg);
    assert_int_equal(((Calc__AddReply *)rep)->sum, 2);
    px_msg_free(rep);
    px_client_stats stats;
    px_client_stats_get(cl, &stats);
    assert_int_equal(stats.hedges, 1);
    assert_int_equal(stats.retries, 0);
    /* Calls until a stale answer has been read (bounded: it comes once the slow server
     * has slept; a call starting on its connection reads it before its own). */
    int64_t end = px_mono_us() + 20 * 1000000;
    int calls = 0;
    do {
        calls++;
        assert_int_equal(add(cl, px_call, 100 * calls, calls), 101 * calls);
        px_client_stats_get(cl, &stats);
    } while (stats.late_responses == 0 && px_mono_us() < end);
    if (stats.late_responses == 0)
        fail_msg("no stale answer was read in %d calls", calls);
    assert_true(stats.hedges >= 2); /* calls that started on the slow one */
    px_client_free(cl);
    px_config_free(cfg);
    unlink(conf);
    assert_int_equal(px_proc_stop(&fast), 0);
    assert_int_equal(px_proc_stop(&slow), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hedge_wins_and_loser_is_cancelled),
        cmocka_unit_test(test_blocking_hedge_wins_and_loser_is_cancelled),
        cmocka_unit_test(test_blocking_hedge_late_answer_reaches_no_one),
    };
    px_proc_die_with_test(); /* a server left stopped by a failed test goes too */
    return cmocka_run_group_tests_name("hedge", tests, NULL, NULL);
}
