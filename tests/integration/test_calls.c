/* End to end against real plexusd processes on 127.0.0.1: sync, async and stub
 * calls, 10,000 calls in flight on one connection, every error status, late replies
 * dropped, and a server that shrugs off garbage on one connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <signal.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_frame.h"
#include "px_proc.h"
#include "px_raw.h"
#include "px_time.h"

typedef struct fixture {
    px_proc srv;
    char conf[256];
    px_config *cfg;
    px_client *cl;
} fixture;

static const char *SERVER_YAML =
    "  io_threads: 2\n"
    "  codecs: [protobuf, json]\n"
    "  limits: { max_inflight_per_conn: 20000 }\n"
    "  services:\n"
    "    - module: calc\n"
    "      workers: 4\n";

/* A poll with a bound, for conditions another thread makes true. */
static int wait_until(volatile int *flag, int want, int64_t max_us)
{
    int64_t end = px_mono_us() + max_us;
    while (__atomic_load_n(flag, __ATOMIC_ACQUIRE) < want && px_mono_us() < end) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return __atomic_load_n(flag, __ATOMIC_ACQUIRE) >= want;
}

/* Until the client has counted `want` late replies or the clock passes end. Polls with
 * a pause: a busy loop starved the client's IO thread under valgrind, whose scheduler
 * runs one thread at a time. */
static void wait_late(px_client *cl, uint64_t want, int64_t end, px_client_stats *now)
{
    for (;;) {
        px_client_stats_get(cl, now);
        if (now->late_responses >= want || px_mono_us() >= end)
            return;
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    *state = f;
    if (px_proc_start(&f->srv, "it1", SERVER_YAML) != 0)
        return -1;
    snprintf(f->conf, sizeof f->conf, "%s/client.yaml", f->srv.dir);
    px_write_client_conf(f->conf, &f->srv.port, 1,
                         "      timeout: { module: fixed, connect: 500ms, call: 2s }\n");
    px_err err;
    if (px_config_load(f->conf, &f->cfg, &err) != PX_OK ||
        px_client_new(f->cfg, "calc", &f->cl, &err) != PX_OK) {
        fprintf(stderr, "client: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (!f)
        return -1;
    px_client_free(f->cl);
    px_config_free(f->cfg);
    unlink(f->conf);
    int rc = px_proc_stop(&f->srv); /* graceful: must exit 0 */
    free(f);
    return rc == 0 ? 0 : -1;
}

static void test_sync_and_wait(void **state)
{
    fixture *f = *state;
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.a = 2;
    req.b = 3;
    ProtobufCMessage *rep = NULL;
    px_err err;
    assert_int_equal(px_call(f->cl, "calc.Calculator/Add", &req.base, &calc__add_reply__descriptor,
                             NULL, &rep, &err), PX_OK);
    assert_int_equal(((Calc__AddReply *)rep)->sum, 5);
    px_msg_free(rep);
    req.a = INT32_MAX;
    req.b = INT32_MAX;
    assert_int_equal(px_call_wait(f->cl, "calc.Calculator/Add", &req.base,
                                  &calc__add_reply__descriptor, NULL, &rep, &err), PX_OK);
    assert_true(((Calc__AddReply *)rep)->sum == 2LL * INT32_MAX);
    px_msg_free(rep);
    Calc__WhoamiRequest w = CALC__WHOAMI_REQUEST__INIT;
    assert_int_equal(px_call(f->cl, "calc.Calculator/Whoami", &w.base,
                             &calc__whoami_reply__descriptor, NULL, &rep, &err), PX_OK);
    assert_string_equal(((Calc__WhoamiReply *)rep)->id, "it1");
    px_msg_free(rep);
}

typedef struct tally {
    int done, ok, wrong;
} tally;

typedef struct expect {
    tally *t;
    int64_t want;
} expect;

static void add_done_check(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    expect *e = user;
    int right = st == PX_OK && reply && ((const Calc__AddReply *)reply)->sum == e->want;
    __atomic_add_fetch(right ? &e->t->ok : &e->t->wrong, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&e->t->done, 1, __ATOMIC_RELEASE);
}

static void test_ten_thousand_in_flight_on_one_connection(void **state)
{
    fixture *f = *state;
    enum { N = 10000 };
    tally t = {0};
    expect *ex = calloc(N, sizeof *ex);
    px_client_stats before;
    px_client_stats_get(f->cl, &before);
    /* A generous deadline: on a loaded 2-core machine the tail of 10,000 queued calls
     * can take seconds, and this test is about matching replies, not speed. */
    px_call_opts opts = {.timeout_us = 60 * 1000000LL};
    for (int i = 0; i < N; i++) {
        Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
        req.a = i;
        req.b = 7 * i;
        ex[i] = (expect){&t, 8LL * i};
        px_err err;
        assert_int_equal(px_call_async(f->cl, "calc.Calculator/Add", &req.base,
                                       &calc__add_reply__descriptor, &opts, add_done_check,
                                       &ex[i], &err), PX_OK);
    }
    assert_true(wait_until(&t.done, N, 60 * 1000000));
    assert_int_equal(t.ok, N);
    assert_int_equal(t.wrong, 0);
    px_client_stats after;
    px_client_stats_get(f->cl, &after);
    assert_int_equal(after.calls_completed - before.calls_completed, N);
    free(ex);
}

static px_status call_err(fixture *f, const char *method, const ProtobufCMessage *req,
                          const ProtobufCMessageDescriptor *out, px_err *err)
{
    ProtobufCMessage *rep = NULL;
    px_status st = px_call(f->cl, method, req, out, NULL, &rep, err);
    px_msg_free(rep);
    return st;
}

static void test_unimplemented(void **state)
{
    fixture *f = *state;
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    px_err err;
    assert_int_equal(call_err(f, "calc.Calculator/Mul", &req.base, &calc__add_reply__descriptor, &err),
                     PX_UNIMPLEMENTED);
    assert_string_equal(err.msg, "unknown method 'Mul' in service 'calc.Calculator'");
    assert_int_equal(call_err(f, "calc.Abacus/Add", &req.base, &calc__add_reply__descriptor, &err),
                     PX_UNIMPLEMENTED);
    assert_string_equal(err.msg, "unknown service 'calc.Abacus'");
    /* The same through the async client. */
    ProtobufCMessage *rep = NULL;
    assert_int_equal(px_call_wait(f->cl, "calc.Abacus/Add", &req.base, &calc__add_reply__descriptor,
                                  NULL, &rep, &err), PX_UNIMPLEMENTED);
    assert_null(rep);
}

static void test_invalid_argument(void **state)
{
    fixture *f = *state;
    Calc__DivRequest d = CALC__DIV_REQUEST__INIT;
    d.a = 7;
    d.b = 0;
    px_err err;
    assert_int_equal(call_err(f, "calc.Calculator/Div", &d.base, &calc__div_reply__descriptor, &err),
                     PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "division by zero");
    /* A body that does not decode as the method's input: a SleepRequest's field 1 as a
     * string where AddRequest has an int32 is caught by protobuf-c's wire-type check. */
    Calc__WhoamiReply bad = CALC__WHOAMI_REPLY__INIT;
    bad.id = "not an int";
    assert_int_equal(call_err(f, "calc.Calculator/Add", &bad.base, &calc__add_reply__descriptor, &err),
                     PX_INVALID_ARGUMENT);
    assert_non_null(strstr(err.msg, "cannot decode calc.AddRequest with codec protobuf"));
}

typedef struct once {
    int calls;
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

static void test_deadline_exceeded_and_late_reply_dropped(void **state)
{
    fixture *f = *state;
    Calc__SleepRequest s = CALC__SLEEP_REQUEST__INIT;
    s.ms = 300;
    px_call_opts opts = {.timeout_us = 100 * 1000};
    px_client_stats before;
    px_client_stats_get(f->cl, &before);
    once o = {0};
    px_err err;
    int64_t t0 = px_mono_us();
    assert_int_equal(px_call_async(f->cl, "calc.Calculator/Sleep", &s.base,
                                   &calc__sleep_reply__descriptor, &opts, once_done, &o, &err), PX_OK);
    assert_true(wait_until(&o.calls, 1, 10 * 1000000));
    assert_int_equal(o.st, PX_DEADLINE_EXCEEDED);
    assert_true(o.at_us - t0 >= 100 * 1000); /* never before the deadline */
    assert_non_null(strstr(o.msg, "deadline exceeded"));
    /* The reply arrives ~200 ms later: it must be counted as late and dropped. */
    int64_t end = px_mono_us() + 10 * 1000000;
    px_client_stats after;
    wait_late(f->cl, before.late_responses + 1, end, &after);
    assert_int_equal(after.late_responses, before.late_responses + 1);
    assert_int_equal(o.calls, 1); /* the callback ran exactly once */

    /* The blocking client: the same status; its connection stays usable. */
    ProtobufCMessage *rep = NULL;
    t0 = px_mono_us();
    assert_int_equal(px_call(f->cl, "calc.Calculator/Sleep", &s.base,
                             &calc__sleep_reply__descriptor, &opts, &rep, &err), PX_DEADLINE_EXCEEDED);
    assert_true(px_mono_us() - t0 >= 100 * 1000);
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.a = 1;
    req.b = 1;
    assert_int_equal(px_call(f->cl, "calc.Calculator/Add", &req.base, &calc__add_reply__descriptor,
                             NULL, &rep, &err), PX_OK);
    assert_int_equal(((Calc__AddReply *)rep)->sum, 2);
    px_msg_free(rep);
}

static void add_closure(const Calc__AddReply *reply, void *data)
{
    tally *t = data;
    const char *msg = NULL;
    px_status st = px_stub_status(&msg);
    int right = reply && st == PX_OK && reply->sum == 42;
    __atomic_add_fetch(right ? &t->ok : &t->wrong, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&t->done, 1, __ATOMIC_RELEASE);
}

static void div_closure(const Calc__DivReply *reply, void *data)
{
    tally *t = data;
    const char *msg = NULL;
    px_status st = px_stub_status(&msg);
    int right = !reply && st == PX_INVALID_ARGUMENT && strcmp(msg, "division by zero") == 0;
    __atomic_add_fetch(right ? &t->ok : &t->wrong, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&t->done, 1, __ATOMIC_RELEASE);
}

static void test_generated_stub(void **state)
{
    fixture *f = *state;
    ProtobufCService *svc = px_client_service(f->cl, &calc__calculator__descriptor);
    assert_non_null(svc);
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.a = 40;
    req.b = 2;
    tally t = {0};
    calc__calculator__add(svc, &req, add_closure, &t);
    Calc__DivRequest d = CALC__DIV_REQUEST__INIT;
    d.a = 1;
    calc__calculator__div(svc, &d, div_closure, &t); /* b = 0: the closure gets NULL + status */
    assert_true(wait_until(&t.done, 2, 10 * 1000000));
    assert_int_equal(t.ok, 2);
    assert_int_equal(t.wrong, 0);
}

static int raw_connect(int port)
{
    int fd = px_raw_connect(port);
    assert_true(fd >= 0);
    return fd;
}

/* Reads until the peer closes; returns the bytes. */
static size_t read_all(int fd, uint8_t *buf, size_t cap)
{
    size_t len = 0;
    ssize_t n;
    while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
        len += (size_t)n;
    return len;
}

static void test_garbage_on_one_connection(void **state)
{
    fixture *f = *state;
    int fd = raw_connect(f->srv.port);
    const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    assert_int_equal(write(fd, junk, sizeof junk - 1), (ssize_t)(sizeof junk - 1));
    uint8_t buf[1024];
    size_t n = read_all(fd, buf, sizeof buf); /* an ERROR frame, then the server hangs up */
    close(fd);
    px_frame fr;
    size_t used;
    px_err err;
    assert_int_equal(px_frame_parse(buf, n, 0, sizeof buf, &fr, &used, &err), PX_PARSE_OK);
    assert_int_equal(fr.type, PX_FRAME_ERROR);
    assert_int_equal(fr.id, 0);
    assert_int_equal(fr.status, PX_INVALID_ARGUMENT);
    char msg[256];
    snprintf(msg, sizeof msg, "%.*s", (int)fr.body_len, (const char *)fr.body);
    assert_string_equal(msg, "protocol error: bad frame magic 0x4745 (expected 0x5058)");
    /* Everyone else is still served. */
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.a = 20;
    req.b = 22;
    ProtobufCMessage *rep = NULL;
    assert_int_equal(px_call(f->cl, "calc.Calculator/Add", &req.base, &calc__add_reply__descriptor,
                             NULL, &rep, &err), PX_OK);
    assert_int_equal(((Calc__AddReply *)rep)->sum, 42);
    px_msg_free(rep);
}

static void test_codec_refused(void **state)
{
    fixture *f = *state;
    int fd = raw_connect(f->srv.port);
    px_buf b = {0};
    px_frame h = {.type = PX_FRAME_HELLO, .body = (const uint8_t *)"xml", .body_len = 3};
    px_frame_append(&b, &h);
    assert_int_equal(write(fd, b.data, b.len), (ssize_t)b.len);
    px_buf_free(&b);
    uint8_t buf[1024];
    size_t n = read_all(fd, buf, sizeof buf);
    close(fd);
    px_frame fr;
    size_t used;
    px_err err;
    assert_int_equal(px_frame_parse(buf, n, 0, sizeof buf, &fr, &used, &err), PX_PARSE_OK);
    assert_int_equal(fr.type, PX_FRAME_ERROR);
    assert_int_equal(fr.status, PX_UNIMPLEMENTED);
    char msg[256];
    snprintf(msg, sizeof msg, "%.*s", (int)fr.body_len, (const char *)fr.body);
    assert_string_equal(msg, "codec 'xml' is not available on server it1 (it has: protobuf, json)");
}

static void test_unavailable(void **state)
{
    char path[] = "/tmp/pxtest-unavail-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    int port = px_free_port(); /* nothing listens there */
    px_write_client_conf(path, &port, 1, "      timeout: { module: fixed, connect: 200ms, call: 1s }\n");
    px_config *cfg;
    px_client *cl;
    px_err err;
    assert_int_equal(px_config_load(path, &cfg, &err), PX_OK);
    assert_int_equal(px_client_new(cfg, "calc", &cl, &err), PX_OK);
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    ProtobufCMessage *rep = NULL;
    assert_int_equal(px_call(cl, "calc.Calculator/Add", &req.base, &calc__add_reply__descriptor,
                             NULL, &rep, &err), PX_UNAVAILABLE);
    assert_non_null(strstr(err.msg, "Connection refused"));
    once o = {0};
    assert_int_equal(px_call_async(cl, "calc.Calculator/Add", &req.base,
                                   &calc__add_reply__descriptor, NULL, once_done, &o, &err), PX_OK);
    assert_true(wait_until(&o.calls, 1, 10 * 1000000));
    assert_int_equal(o.st, PX_UNAVAILABLE);
    assert_non_null(strstr(o.msg, "Connection refused"));
    px_client_free(cl);
    px_config_free(cfg);
    unlink(path);
}

static void test_many_deadlines_each_reported_once(void **state)
{
    fixture *f = *state;
    enum { N = 200 };
    once *o = calloc(N, sizeof *o);
    Calc__SleepRequest s = CALC__SLEEP_REQUEST__INIT;
    s.ms = 200;
    px_call_opts opts = {.timeout_us = 50 * 1000};
    px_client_stats before;
    px_client_stats_get(f->cl, &before);
    px_err err;
    int64_t t0 = px_mono_us();
    for (int i = 0; i < N; i++)
        assert_int_equal(px_call_async(f->cl, "calc.Calculator/Sleep", &s.base,
                                       &calc__sleep_reply__descriptor, &opts, once_done, &o[i], &err),
                         PX_OK);
    int by_client = 0;
    for (int i = 0; i < N; i++) {
        assert_true(wait_until(&o[i].calls, 1, 10 * 1000000));
        assert_int_equal(o[i].st, PX_DEADLINE_EXCEEDED);
        assert_true(o[i].at_us - t0 >= 50 * 1000);
        /* Normally the client's timer ends the call; on a starved machine the server's
         * own refusal of a call that expired in its queue may arrive first. */
        if (strstr(o[i].msg, "deadline exceeded waiting for"))
            by_client++;
        else
            assert_non_null(strstr(o[i].msg, "the deadline expired while the call waited"));
    }
    assert_true(by_client > 0);
    /* The server's answer to each call the client gave up on still comes back (4 ran,
     * the rest it refused as expired in its queue) and is dropped as late. */
    int64_t end = px_mono_us() + 20 * 1000000;
    px_client_stats after;
    wait_late(f->cl, before.late_responses + by_client, end, &after);
    assert_int_equal(after.late_responses, before.late_responses + by_client);
    for (int i = 0; i < N; i++)
        assert_int_equal(o[i].calls, 1);
    free(o);
}

/* Sends raw frames on a fresh connection; returns the first frame the server answers. */
static void raw_exchange(fixture *f, const px_frame *frames, int n, px_frame *first, char *msg,
                         size_t msg_cap, uint8_t *buf, size_t cap)
{
    int fd = raw_connect(f->srv.port);
    px_buf b = {0};
    for (int i = 0; i < n; i++)
        px_frame_append(&b, &frames[i]);
    assert_int_equal(write(fd, b.data, b.len), (ssize_t)b.len);
    px_buf_free(&b);
    size_t len = read_all(fd, buf, cap); /* the server hangs up after a protocol error */
    close(fd);
    size_t used;
    px_err err;
    assert_int_equal(px_frame_parse(buf, len, 0, cap, first, &used, &err), PX_PARSE_OK);
    snprintf(msg, msg_cap, "%.*s", (int)first->body_len, (const char *)first->body);
}

static void test_protocol_errors_close_only_that_connection(void **state)
{
    fixture *f = *state;
    uint8_t buf[2048];
    char msg[256];
    px_frame got;
    const px_frame req = {.type = PX_FRAME_REQUEST, .id = 1,
                          .method = (const uint8_t *)"calc.Calculator/Add", .method_len = 19};
    px_frame no_hello[] = {req};
    raw_exchange(f, no_hello, 1, &got, msg, sizeof msg, buf, sizeof buf);
    assert_int_equal(got.type, PX_FRAME_ERROR);
    assert_int_equal(got.id, 0);
    assert_int_equal(got.status, PX_FAILED_PRECONDITION);
    assert_string_equal(msg, "protocol error: REQUEST before HELLO: open the connection with a "
                             "HELLO naming a codec");

    px_frame hello = {.type = PX_FRAME_HELLO, .body = (const uint8_t *)"protobuf", .body_len = 8};
    px_frame id0 = req;
    id0.id = 0;
    px_frame zero[] = {hello, id0};
    raw_exchange(f, zero, 2, &got, msg, sizeof msg, buf, sizeof buf);
    assert_int_equal(got.type, PX_FRAME_HELLO); /* the codec is accepted first */
    size_t used;
    px_err err;
    size_t first = PX_FRAME_HEADER_SIZE + got.body_len;
    assert_int_equal(px_frame_parse(buf + first, sizeof buf - first, 0, sizeof buf, &got, &used,
                                    &err), PX_PARSE_OK);
    assert_int_equal(got.type, PX_FRAME_ERROR);
    assert_int_equal(got.status, PX_INVALID_ARGUMENT);
    snprintf(msg, sizeof msg, "%.*s", (int)got.body_len, (const char *)got.body);
    assert_string_equal(msg, "protocol error: request id 0 is reserved");

    px_frame resp = {.type = PX_FRAME_RESPONSE, .id = 5};
    px_frame wrong_way[] = {hello, resp};
    raw_exchange(f, wrong_way, 2, &got, msg, sizeof msg, buf, sizeof buf);
    first = PX_FRAME_HEADER_SIZE + got.body_len;
    assert_int_equal(px_frame_parse(buf + first, sizeof buf - first, 0, sizeof buf, &got, &used,
                                    &err), PX_PARSE_OK);
    snprintf(msg, sizeof msg, "%.*s", (int)got.body_len, (const char *)got.body);
    assert_string_equal(msg, "protocol error: unexpected RESPONSE frame from a client");

    /* The established client never noticed. */
    Calc__AddRequest a = CALC__ADD_REQUEST__INIT;
    a.a = 1;
    a.b = 2;
    ProtobufCMessage *rep = NULL;
    assert_int_equal(px_call_wait(f->cl, "calc.Calculator/Add", &a.base,
                                  &calc__add_reply__descriptor, NULL, &rep, &err), PX_OK);
    assert_int_equal(((Calc__AddReply *)rep)->sum, 3);
    px_msg_free(rep);
}

static void test_sigterm_finishes_calls_in_flight(void **state)
{
    px_proc srv;
    assert_int_equal(px_proc_start(&srv, "drain",
                                   "  services:\n    - module: calc\n      workers: 2\n"), 0);
    char conf[256];
    snprintf(conf, sizeof conf, "%s/client.yaml", srv.dir);
    px_write_client_conf(conf, &srv.port, 1, "      timeout: { module: fixed, call: 5s }\n");
    px_config *cfg;
    px_client *cl;
    px_err err;
    assert_int_equal(px_config_load(conf, &cfg, &err), PX_OK);
    assert_int_equal(px_client_new(cfg, "calc", &cl, &err), PX_OK);
    once slow = {0}, quick = {0};
    Calc__SleepRequest s = CALC__SLEEP_REQUEST__INIT;
    s.ms = 300;
    Calc__AddRequest a = CALC__ADD_REQUEST__INIT;
    assert_int_equal(px_call_async(cl, "calc.Calculator/Sleep", &s.base,
                                   &calc__sleep_reply__descriptor, NULL, once_done, &slow, &err), PX_OK);
    assert_int_equal(px_call_async(cl, "calc.Calculator/Add", &a.base, &calc__add_reply__descriptor,
                                   NULL, once_done, &quick, &err), PX_OK);
    /* Same connection, read in order: once Add is answered the Sleep is in the server. */
    assert_true(wait_until(&quick.calls, 1, 10 * 1000000));
    assert_int_equal(quick.st, PX_OK);
    assert_int_equal(__atomic_load_n(&slow.calls, __ATOMIC_ACQUIRE), 0);
    kill(srv.pid, SIGTERM);
    assert_true(wait_until(&slow.calls, 1, 10 * 1000000));
    assert_int_equal(slow.st, PX_OK); /* finished, not cut off */
    unlink(conf);
    assert_int_equal(px_proc_stop(&srv), 0);
    /* Afterwards nobody listens: the next call is UNAVAILABLE. */
    ProtobufCMessage *rep = NULL;
    assert_int_equal(px_call(cl, "calc.Calculator/Add", &a.base, &calc__add_reply__descriptor, NULL,
                             &rep, &err), PX_UNAVAILABLE);
    px_client_free(cl);
    px_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_and_wait),
        cmocka_unit_test(test_ten_thousand_in_flight_on_one_connection),
        cmocka_unit_test(test_unimplemented),
        cmocka_unit_test(test_invalid_argument),
        cmocka_unit_test(test_deadline_exceeded_and_late_reply_dropped),
        cmocka_unit_test(test_generated_stub),
        cmocka_unit_test(test_garbage_on_one_connection),
        cmocka_unit_test(test_codec_refused),
        cmocka_unit_test(test_unavailable),
        cmocka_unit_test(test_many_deadlines_each_reported_once),
        cmocka_unit_test(test_protocol_errors_close_only_that_connection),
        cmocka_unit_test(test_sigterm_finishes_calls_in_flight),
    };
    return cmocka_run_group_tests_name("calls", tests, setup, teardown);
}
