/* Deadlines with real plexusd processes: DEADLINE_EXCEEDED never before the deadline
 * and before the server's answer (which then comes back late and is dropped; async and
 * sync clients), deadlines from the per_method and adaptive modules, and a chain
 * A -> B -> C (and A -> B1 -> B2 -> C) where C is slow: A gives up once, never early,
 * and every relay on the way gives up too. No check bounds how late a call may end:
 * the machine may be slow; what ends a call is told by its status and the late reply. */
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
#include "px_test_module.h"
#include "px_time.h"

#define SEC 1000000LL
#define MS 1000LL

/* Budgets the client's per_method timeout gives (see write_client_conf). */
#define SLEEP_BUDGET_US (150 * MS)
#define FORWARD_BUDGET_US (300 * MS)

typedef struct fixture {
    char dir[64];
    px_proc c, b1, b2; /* calc (slow by request); relay b1 -> b2; relay b2 -> c */
    char conf[128];
    px_config *cfg;
    px_client *direct, *to_b1, *to_b2, *adaptive;
    void *relay_so;
    const ProtobufCServiceDescriptor *relay;
} fixture;

/* ---- setup ---------------------------------------------------------------- */

static const char *moddir(void)
{
    const char *d = getenv("PX_MODULE_DIR");
    return d ? d : "build/modules";
}

/* A relay's own client config: one upstream "next" with a generous timeout, so only
 * the deadline inherited from the relay's caller can cut its calls short. */
static int write_relay_client(const char *path, int port)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "modules:\n  path: [%s]\nclient:\n  upstreams:\n    next:\n"
            "      endpoints: [127.0.0.1:%d]\n"
            "      timeout: { module: fixed, call: 30s }\n",
            moddir(), port);
    return fclose(f);
}

static int start_relay(fixture *f, px_proc *p, const char *id, int next_port)
{
    char client[128], yaml[512];
    snprintf(client, sizeof client, "%s/%s-client.yaml", f->dir, id);
    if (write_relay_client(client, next_port) != 0)
        return -1;
    snprintf(yaml, sizeof yaml,
             "  codecs: [protobuf]\n"
             "  services:\n"
             "    - module: relay\n"
             "      workers: 4\n"
             "      client_config: %s\n",
             client);
    return px_proc_start(p, id, yaml);
}

/* The test's own client (A): deadlines from per_method, and one adaptive upstream. */
static int write_client_conf(fixture *f)
{
    snprintf(f->conf, sizeof f->conf, "%s/a-client.yaml", f->dir);
    FILE *fp = fopen(f->conf, "w");
    if (!fp)
        return -1;
    fprintf(fp, "modules:\n  path: [%s]\nclient:\n  io_threads: 2\n  upstreams:\n", moddir());
    fprintf(fp,
            "    direct:\n      endpoints: [127.0.0.1:%d]\n"
            "      timeout: { module: per_method, methods: \"calc.Calculator/Sleep=150ms\","
            " default: 2s }\n"
            "      pool_size: 1\n",
            f->c.port);
    const px_proc *relays[] = {&f->b1, &f->b2};
    for (int i = 0; i < 2; i++)
        fprintf(fp,
                "    %s:\n      endpoints: [127.0.0.1:%d]\n"
                "      timeout: { module: per_method, methods: \"relay.Relay/Forward=300ms\","
                " default: 2s }\n",
                relays[i]->id, relays[i]->port);
    fprintf(fp,
            "    adaptive:\n      endpoints: [127.0.0.1:%d]\n"
            "      timeout: { module: adaptive, k: 3, floor: 50ms, ceiling: 2s, min_samples: 20,"
            " initial: 1s }\n",
            f->c.port);
    return fclose(fp);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    *state = f;
    snprintf(f->dir, sizeof f->dir, "/tmp/pxtest-dl-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    if (px_proc_start(&f->c, "c", "  codecs: [protobuf]\n  services:\n    - module: calc\n"
                                   "      workers: 16\n") != 0 ||
        start_relay(f, &f->b2, "b2", f->c.port) != 0 ||
        start_relay(f, &f->b1, "b1", f->b2.port) != 0 || write_client_conf(f) != 0)
        return -1;
    px_err err;
    if (px_config_load(f->conf, &f->cfg, &err) != PX_OK ||
        px_client_new(f->cfg, "direct", &f->direct, &err) != PX_OK ||
        px_client_new(f->cfg, "b1", &f->to_b1, &err) != PX_OK ||
        px_client_new(f->cfg, "b2", &f->to_b2, &err) != PX_OK ||
        px_client_new(f->cfg, "adaptive", &f->adaptive, &err) != PX_OK) {
        fprintf(stderr, "client: %s\n", err.msg);
        return -1;
    }
    /* The relay's .proto descriptors, for building its messages by reflection. */
    const px_module *m = px_test_load_module("service_relay.so", &f->relay_so);
    if (!m)
        return -1;
    f->relay = ((const px_service_ops *)m->ops)->descriptor;
    return 0;
}

static void remove_file(const char *dir, const char *name)
{
    char path[192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (!f)
        return -1;
    px_client_free(f->adaptive);
    px_client_free(f->to_b2);
    px_client_free(f->to_b1);
    px_client_free(f->direct);
    px_config_free(f->cfg);
    int rc = 0;
    px_proc *procs[] = {&f->b1, &f->b2, &f->c};
    for (int i = 0; i < 3; i++)
        if (procs[i]->pid > 0 && px_proc_stop(procs[i]) != 0)
            rc = -1;
    remove_file(f->dir, "a-client.yaml");
    remove_file(f->dir, "b1-client.yaml");
    remove_file(f->dir, "b2-client.yaml");
    rmdir(f->dir);
    (void)f->relay_so; /* stays loaded: descriptors may be referenced until exit */
    free(f);
    return rc;
}

/* ---- helpers ---------------------------------------------------------------- */

typedef struct once {
    int calls; /* atomic */
    px_status st;
    char msg[256];
    int64_t at_us;
} once;

static void once_done(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    once *o = user;
    o->st = st;
    snprintf(o->msg, sizeof o->msg, "%s", msg);
    o->at_us = px_mono_us();
    __atomic_add_fetch(&o->calls, 1, __ATOMIC_RELEASE);
}

/* A poll with a bound, for a counter another thread raises. */
static int wait_count(int *n, int want, int64_t max_us)
{
    int64_t end = px_mono_us() + max_us;
    while (__atomic_load_n(n, __ATOMIC_ACQUIRE) < want && px_mono_us() < end) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return __atomic_load_n(n, __ATOMIC_ACQUIRE) >= want;
}

/* Waits (bounded) until the client has dropped `want` late replies since `base`. */
static uint64_t wait_late(px_client *cl, uint64_t base, uint64_t want, int64_t max_us)
{
    int64_t end = px_mono_us() + max_us;
    px_client_stats s;
    for (;;) {
        px_client_stats_get(cl, &s);
        if (s.late_responses - base >= want || px_mono_us() >= end)
            return s.late_responses - base;
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static uint64_t late_now(px_client *cl)
{
    px_client_stats s;
    px_client_stats_get(cl, &s);
    return s.late_responses;
}

/* Never before the deadline. (How soon after it is the machine's business; that the
 * call did not wait for the server is shown by its status and by the late reply.) */
static void assert_not_early(int64_t elapsed_us, int64_t budget_us)
{
    if (elapsed_us < budget_us) {
        print_error("DEADLINE_EXCEEDED after %lld us for a budget of %lld us\n",
                    (long long)elapsed_us, (long long)budget_us);
        fail();
    }
}

/* Relay messages by reflection over the descriptors service_relay.so carries. */
static const ProtobufCMethodDescriptor *relay_method(fixture *f, const char *name)
{
    const ProtobufCMethodDescriptor *m = protobuf_c_service_descriptor_get_method_by_name(f->relay, name);
    assert_non_null(m);
    return m;
}

static ProtobufCMessage *msg_new(const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *m = calloc(1, d->sizeof_message);
    protobuf_c_message_init(d, m);
    return m;
}

static const ProtobufCFieldDescriptor *field(const ProtobufCMessage *m, const char *name,
                                             ProtobufCType type)
{
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
    assert_non_null(fd);
    assert_int_equal(fd->type, type);
    return fd;
}

static void set_u32(ProtobufCMessage *m, const char *name, uint32_t v)
{
    *(uint32_t *)((char *)m + field(m, name, PROTOBUF_C_TYPE_UINT32)->offset) = v;
}

static uint64_t get_uint(const ProtobufCMessage *m, const char *name, ProtobufCType type)
{
    const char *at = (const char *)m + field(m, name, type)->offset;
    return type == PROTOBUF_C_TYPE_UINT64 ? *(const uint64_t *)at : *(const uint32_t *)at;
}

static const char *get_str(const ProtobufCMessage *m, const char *name)
{
    return *(char *const *)((const char *)m + field(m, name, PROTOBUF_C_TYPE_STRING)->offset);
}

typedef struct report {
    uint64_t forwards;
    char status[32];
    uint32_t budget_ms, inner_ms;
    char message[256];
} report;

/* relay.Relay/Report of one relay, through the blocking client. */
static void get_report(fixture *f, px_client *cl, report *r)
{
    const ProtobufCMethodDescriptor *m = relay_method(f, "Report");
    ProtobufCMessage *req = msg_new(m->input), *rep = NULL;
    px_err err;
    assert_int_equal(px_call(cl, "relay.Relay/Report", req, m->output, NULL, &rep, &err), PX_OK);
    r->forwards = get_uint(rep, "forwards", PROTOBUF_C_TYPE_UINT64);
    snprintf(r->status, sizeof r->status, "%s", get_str(rep, "last_status"));
    r->budget_ms = (uint32_t)get_uint(rep, "last_budget_ms", PROTOBUF_C_TYPE_UINT32);
    r->inner_ms = (uint32_t)get_uint(rep, "last_inner_ms", PROTOBUF_C_TYPE_UINT32);
    snprintf(r->message, sizeof r->message, "%s", get_str(rep, "last_message"));
    px_msg_free(rep);
    free(req);
}

/* Polls (bounded) until the relay has finished `want` Forwards in all. */
static void wait_report(fixture *f, px_client *cl, uint64_t want, report *r)
{
    int64_t end = px_mono_us() + 10 * SEC;
    do {
        get_report(f, cl, r);
        if (r->forwards >= want)
            return;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    } while (px_mono_us() < end);
    print_error("relay finished %llu Forwards, expected %llu\n", (unsigned long long)r->forwards,
                (unsigned long long)want);
    fail();
}

/* ---- single hop: async and sync --------------------------------------------- */

static void test_async_never_early_and_late_reply_dropped(void **state)
{
    fixture *f = *state;
    enum { N = 40 };
    /* Static: should an assertion fail, calls still in flight complete into it, not into
     * a stack frame that is gone. */
    static once o[N];
    int64_t t0[N], budget[N];
    memset(o, 0, sizeof o);
    /* The connection first: a call that waits for the server to answer its opening
     * ends "before it was sent" (a loaded machine may take longer than 26 ms). */
    Calc__AddRequest add = CALC__ADD_REQUEST__INIT;
    ProtobufCMessage *rep = NULL;
    px_err err;
    assert_int_equal(px_call_wait(f->direct, "calc.Calculator/Add", &add.base,
                                  &calc__add_reply__descriptor, NULL, &rep, &err), PX_OK);
    px_msg_free(rep);
    Calc__SleepRequest s = CALC__SLEEP_REQUEST__INIT;
    s.ms = 400;
    uint64_t late0 = late_now(f->direct);
    for (int i = 0; i < N; i++) {
        /* Even calls: per_method's 150 ms for Sleep; odd ones: a per-call 20..250 ms. */
        px_call_opts opts = {.timeout_us = i & 1 ? (20 + 6 * i) * MS : 0};
        budget[i] = i & 1 ? opts.timeout_us : SLEEP_BUDGET_US;
        t0[i] = px_mono_us();
        assert_int_equal(px_call_async(f->direct, "calc.Calculator/Sleep", &s.base,
                                       &calc__sleep_reply__descriptor, &opts, once_done, &o[i],
                                       &err), PX_OK);
    }
    int by_server = 0;
    for (int i = 0; i < N; i++) {
        assert_true(wait_count(&o[i].calls, 1, 10 * SEC));
        assert_int_equal(o[i].st, PX_DEADLINE_EXCEEDED);
        /* 24 of the 40 wait for one of the 16 workers, and the server answers those at
         * their deadline, which starts when it reads the request: the client's own timer
         * nearly always ends the call first, but on a slow machine the server's answer
         * may arrive first. Either way, never early. */
        if (strstr(o[i].msg, "the deadline expired while the call waited for a worker"))
            by_server++;
        else if (!strstr(o[i].msg, "calc.Calculator/Sleep: deadline exceeded waiting for "
                                   "127.0.0.1:"))
            fail_msg("call %d: %s", i, o[i].msg);
        assert_not_early(o[i].at_us - t0[i], budget[i]);
    }
    /* Every other answer still comes back (ran, or refused as expired in the server's
     * queue) after its call ended: each is dropped and counted, none delivered. Had a
     * call waited for its Sleep, it would have ended OK, and its answer would not be
     * late. */
    assert_int_equal(wait_late(f->direct, late0, N - by_server, 10 * SEC), N - by_server);
    for (int i = 0; i < N; i++)
        assert_int_equal(o[i].calls, 1);
}

static void test_sync_never_early_and_late_reply_dropped(void **state)
{
    fixture *f = *state;
    enum { N = 10 };
    Calc__SleepRequest s = CALC__SLEEP_REQUEST__INIT;
    s.ms = 400;
    uint64_t late0 = late_now(f->direct);
    for (int i = 0; i < N; i++) {
        px_call_opts opts = {.timeout_us = i & 1 ? (30 + 20 * i) * MS : 0};
        int64_t budget = i & 1 ? opts.timeout_us : SLEEP_BUDGET_US;
        ProtobufCMessage *rep = NULL;
        px_err err;
        int64_t t0 = px_mono_us();
        assert_int_equal(px_call(f->direct, "calc.Calculator/Sleep", &s.base,
                                 &calc__sleep_reply__descriptor, &opts, &rep, &err),
                         PX_DEADLINE_EXCEEDED);
        assert_not_early(px_mono_us() - t0, budget);
        assert_null(rep);
        if (!strstr(err.msg, "deadline exceeded waiting for 127.0.0.1:"))
            fail_msg("call %d: %s", i, err.msg);
    }
    /* pool_size 1: every late reply lands on the one connection. A last call that is
     * answered after all of them (it starts after them, and sleeps as long) reads and
     * drops each before its own reply. */
    px_call_opts slow = {.timeout_us = 5 * SEC};
    ProtobufCMessage *rep = NULL;
    px_err err;
    assert_int_equal(px_call(f->direct, "calc.Calculator/Sleep", &s.base,
                             &calc__sleep_reply__descriptor, &slow, &rep, &err), PX_OK);
    assert_int_equal(((Calc__SleepReply *)rep)->slept_ms, 400);
    px_msg_free(rep);
    assert_int_equal(late_now(f->direct) - late0, N);
}

/* The adaptive module: `initial` until min_samples calls, then k x p99 (here the floor).
 * That the 1 s initial budget is gone is shown without a clock: a Sleep of 400 ms
 * ends DEADLINE_EXCEEDED, and its answer comes back after the call ended. */
static void test_adaptive_deadline_end_to_end(void **state)
{
    fixture *f = *state;
    Calc__SleepRequest s = CALC__SLEEP_REQUEST__INIT;
    s.ms = 200;
    ProtobufCMessage *rep = NULL;
    px_err err;
    /* initial: 1s, so 200 ms fits. */
    assert_int_equal(px_call(f->adaptive, "calc.Calculator/Sleep", &s.base,
                             &calc__sleep_reply__descriptor, NULL, &rep, &err), PX_OK);
    px_msg_free(rep);
    /* 150 fast calls: the one slow sample is under 1%, the p99 is an Add's (well under a
     * millisecond), so the deadline drops to the floor. */
    Calc__AddRequest a = CALC__ADD_REQUEST__INIT;
    for (int i = 0; i < 150; i++) {
        assert_int_equal(px_call(f->adaptive, "calc.Calculator/Add", &a.base,
                                 &calc__add_reply__descriptor, NULL, &rep, &err), PX_OK);
        px_msg_free(rep);
    }
    uint64_t late0 = late_now(f->adaptive);
    s.ms = 400;
    int64_t t0 = px_mono_us();
    once o = {0};
    assert_int_equal(px_call_async(f->adaptive, "calc.Calculator/Sleep", &s.base,
                                   &calc__sleep_reply__descriptor, NULL, once_done, &o, &err),
                     PX_OK);
    assert_true(wait_count(&o.calls, 1, 10 * SEC));
    /* Under the 1 s initial budget this Sleep would end OK: the budget is under 400 ms. */
    assert_int_equal(o.st, PX_DEADLINE_EXCEEDED);
    assert_non_null(strstr(o.msg, "deadline exceeded waiting for 127.0.0.1:"));
    assert_not_early(o.at_us - t0, 50 * MS); /* the floor */
    /* The client's own deadline ended it: the server's answer came back after. */
    assert_int_equal(wait_late(f->adaptive, late0, 1, 10 * SEC), 1);
    assert_int_equal(o.calls, 1);
}

/* ---- the chain ----------------------------------------------------------------- */

/* Checks what a relay saw: its budget came from A's deadline (at most A's 300 ms, not
 * the relay's own 30 s), and its own inner call ended with DEADLINE_EXCEEDED, never
 * before that deadline. That it did not wait for C's 1.5 s sleep is the status: C's
 * Sleep answers OK, which would have come back up the chain. That the budget was not
 * cut short on the way is A's side: a relay giving up early would have ended A's call
 * before A's deadline (checked by assert_not_early, and by the late reply in async). */
static void assert_relay_gave_up(const report *r, const char *who)
{
    fprintf(stderr, "  %s: inner call %s after %u ms (budget %u ms): %s\n", who, r->status,
            r->inner_ms, r->budget_ms, r->message);
    assert_string_equal(r->status, "DEADLINE_EXCEEDED");
    assert_true(r->budget_ms > 0 && r->budget_ms <= FORWARD_BUDGET_US / MS);
    assert_true(r->inner_ms + 1 >= r->budget_ms); /* not before its inherited deadline */
}

static void chain(fixture *f, unsigned hops, int sync)
{
    px_client *entry = hops ? f->to_b1 : f->to_b2;
    report before2, before1;
    get_report(f, f->to_b2, &before2);
    get_report(f, f->to_b1, &before1);
    uint64_t late0 = late_now(entry);
    const ProtobufCMethodDescriptor *m = relay_method(f, "Forward");
    ProtobufCMessage *req = msg_new(m->input);
    set_u32(req, "hops", hops);
    set_u32(req, "sleep_ms", 1500);
    px_err err;
    int64_t t0 = px_mono_us();
    if (sync) {
        ProtobufCMessage *rep = NULL;
        assert_int_equal(px_call(entry, "relay.Relay/Forward", req, m->output, NULL, &rep, &err),
                         PX_DEADLINE_EXCEEDED);
        assert_not_early(px_mono_us() - t0, FORWARD_BUDGET_US);
        assert_null(rep);
    } else {
        once o = {0};
        assert_int_equal(px_call_async(entry, "relay.Relay/Forward", req, m->output, NULL,
                                       once_done, &o, &err), PX_OK);
        assert_true(wait_count(&o.calls, 1, 10 * SEC));
        assert_int_equal(o.st, PX_DEADLINE_EXCEEDED);
        assert_not_early(o.at_us - t0, FORWARD_BUDGET_US);
        /* B's own DEADLINE_EXCEEDED reaches A just after A gave up: dropped as late,
         * and A's callback does not run again. */
        assert_int_equal(wait_late(entry, late0, 1, 10 * SEC), 1);
        assert_int_equal(o.calls, 1);
    }
    free(req);
    fprintf(stderr, "chain of %u relays, %s client:\n", hops + 1, sync ? "sync" : "async");
    report r2;
    wait_report(f, f->to_b2, before2.forwards + 1, &r2);
    assert_relay_gave_up(&r2, "b2 (calls C)");
    assert_non_null(strstr(r2.message, "deadline exceeded waiting for 127.0.0.1:"));
    if (hops) {
        report r1;
        wait_report(f, f->to_b1, before1.forwards + 1, &r1);
        assert_relay_gave_up(&r1, "b1 (calls b2)");
    } else {
        report r1;
        get_report(f, f->to_b1, &r1);
        assert_int_equal(r1.forwards, before1.forwards); /* b1 was not on this path */
    }
}

static void test_chain_async(void **state)
{
    chain(*state, 0, 0); /* A -> b2 -> C */
    chain(*state, 1, 0); /* A -> b1 -> b2 -> C */
}

static void test_chain_sync(void **state)
{
    chain(*state, 0, 1);
    chain(*state, 1, 1);
}

/* A fast chain still works end to end, so the failures above are the deadline's doing. */
static void test_chain_fast_path(void **state)
{
    fixture *f = *state;
    const ProtobufCMethodDescriptor *m = relay_method(f, "Forward");
    ProtobufCMessage *req = msg_new(m->input), *rep = NULL;
    set_u32(req, "hops", 1);
    set_u32(req, "sleep_ms", 20);
    px_err err;
    assert_int_equal(px_call(f->to_b1, "relay.Relay/Forward", req, m->output, NULL, &rep, &err),
                     PX_OK);
    assert_int_equal(get_uint(rep, "slept_ms", PROTOBUF_C_TYPE_UINT32), 20);
    assert_string_equal(get_str(rep, "path"), "b1>b2>sleep");
    px_msg_free(rep);
    free(req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_async_never_early_and_late_reply_dropped),
        cmocka_unit_test(test_sync_never_early_and_late_reply_dropped),
        cmocka_unit_test(test_adaptive_deadline_end_to_end),
        cmocka_unit_test(test_chain_fast_path),
        cmocka_unit_test(test_chain_async),
        cmocka_unit_test(test_chain_sync),
    };
    return cmocka_run_group_tests_name("deadlines", tests, setup, teardown);
}
