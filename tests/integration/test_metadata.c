/* Metadata end to end against real plexusd processes serving the fxmeta fixture
 * (tests/fixtures/fx_meta.c), one with handlers on its IO thread and one on workers:
 * request metadata reaches the handler and response metadata comes back through
 * px_call, px_call_async, px_call_wait and a generated stub, and again on a retry;
 * binary values; an error
 * carries the handler's metadata; both max_meta bounds; a malformed section from a
 * client (refused, not executed, the connection goes on) and from a server (the call
 * fails, the connection stays); the entry points of the old px_call_opts layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_frame.h"
#include "px_meta.h"
#include "px_proc.h"
#include "px_raw.h"
#include "px_time.h"

/* max_meta 1KiB on both sides: small enough to pass on purpose. */
#define SERVER_YAML(workers)                                                                     \
    "  io_threads: 1\n"                                                                          \
    "  codecs: [protobuf]\n"                                                                     \
    "  limits: { max_meta: 1KiB }\n"                                                             \
    "  services:\n"                                                                              \
    "    - module: fxmeta\n" workers
#define UPSTREAM_YAML                                                                            \
    "      timeout: { module: fixed, connect: 500ms, call: 5s }\n"                               \
    "      limits: { max_meta: 1KiB }\n"

enum { IO, WORKERS, N_SRV };

typedef struct fixture {
    px_proc srv[N_SRV];
    char conf[N_SRV][256];
    px_config *cfg[N_SRV];
    px_client *cl[N_SRV];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    *state = f;
    px_proc_die_with_test();
    if (px_proc_start(&f->srv[IO], "io", SERVER_YAML("")) != 0 ||
        px_proc_start(&f->srv[WORKERS], "wk", SERVER_YAML("      workers: 2\n")) != 0)
        return -1;
    for (int i = 0; i < N_SRV; i++) {
        snprintf(f->conf[i], sizeof f->conf[i], "%s/client.yaml", f->srv[i].dir);
        px_write_client_conf(f->conf[i], &f->srv[i].port, 1, UPSTREAM_YAML);
        px_err err;
        if (px_config_load(f->conf[i], &f->cfg[i], &err) != PX_OK ||
            px_client_new(f->cfg[i], "calc", &f->cl[i], &err) != PX_OK) {
            fprintf(stderr, "client: %s\n", err.msg);
            return -1;
        }
    }
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc = 0;
    for (int i = 0; i < N_SRV; i++) {
        px_client_free(f->cl[i]);
        px_config_free(f->cfg[i]);
        unlink(f->conf[i]);
        if (f->srv[i].pid && px_proc_stop(&f->srv[i]) != 0)
            rc = -1;
    }
    free(f);
    return rc;
}

/* What every test sends: text, a binary value with 0x00 and 0xff, a repeated key. */
static px_meta *request_meta(void)
{
    px_meta *m = px_meta_new();
    px_err err;
    assert_int_equal(px_meta_add_str(m, "user", "alice", &err), PX_OK);
    assert_int_equal(px_meta_add(m, "trace-bin", "\x00\xff\x01\xfe", 4, &err), PX_OK);
    assert_int_equal(px_meta_add_str(m, "user", "bob", &err), PX_OK);
    assert_int_equal(px_meta_add(m, "empty", "", 0, &err), PX_OK);
    return m;
}

/* Same entries, same order, same bytes. */
static void assert_meta_equal(const px_meta *got, const px_meta *want)
{
    assert_int_equal(px_meta_count(got), px_meta_count(want));
    for (size_t i = 0; i < px_meta_count(want); i++) {
        const char *k1, *k2;
        size_t kl1, kl2, l1, l2;
        const void *v1, *v2;
        assert_int_equal(px_meta_at(got, i, &k1, &kl1, &v1, &l1), 0);
        assert_int_equal(px_meta_at(want, i, &k2, &kl2, &v2, &l2), 0);
        assert_int_equal(kl1, kl2);
        assert_memory_equal(k1, k2, kl1);
        assert_int_equal(l1, l2);
        if (l1)
            assert_memory_equal(v1, v2, l1);
    }
}

static Calc__EchoMsg echo_request(void)
{
    Calc__EchoMsg req = CALC__ECHO_MSG__INIT;
    req.f_int32 = 7;
    return req;
}

/* An Echo through px_call (or px_call_wait) sending `sent`, its reply's metadata in got. */
static void echo(px_client *cl, int wait, const px_meta *sent, px_meta *got)
{
    px_call_opts o = {.meta = sent, .reply_meta = got};
    Calc__EchoMsg req = echo_request();
    ProtobufCMessage *rep = NULL;
    px_err err;
    px_status st = wait ? px_call_wait(cl, "calc.Calculator/Echo", &req.base,
                                       &calc__echo_msg__descriptor, &o, &rep, &err)
                        : px_call(cl, "calc.Calculator/Echo", &req.base,
                                  &calc__echo_msg__descriptor, &o, &rep, &err);
    assert_int_equal(st, PX_OK);
    assert_int_equal(((Calc__EchoMsg *)rep)->f_int32, 7);
    px_msg_free(rep);
}

static void test_blocking_call(void **state)
{
    fixture *f = *state;
    px_meta *sent = request_meta(), *got = px_meta_new();
    for (int i = 0; i < N_SRV; i++) {
        echo(f->cl[i], 0, sent, got);
        assert_meta_equal(got, sent);
        px_call_opts o = {.meta = sent, .reply_meta = got};
        ProtobufCMessage *rep = NULL;
        px_err err;
        /* The handler saw them, in order, with the binary bytes intact. */
        Calc__WhoamiRequest w = CALC__WHOAMI_REQUEST__INIT;
        assert_int_equal(px_call(f->cl[i], "calc.Calculator/Whoami", &w.base,
                                 &calc__whoami_reply__descriptor, &o, &rep, &err), PX_OK);
        assert_string_equal(((Calc__WhoamiReply *)rep)->id,
                            "user=alice;trace-bin=00ff01fe;user=bob;empty=");
        px_msg_free(rep);
        /* No metadata: none arrives, and reply_meta is cleared. */
        assert_int_equal(px_meta_count(got), 0);
        px_call_opts plain = {.reply_meta = got};
        assert_int_equal(px_call(f->cl[i], "calc.Calculator/Whoami", &w.base,
                                 &calc__whoami_reply__descriptor, &plain, &rep, &err), PX_OK);
        assert_string_equal(((Calc__WhoamiReply *)rep)->id, "");
        px_msg_free(rep);
    }
    px_meta_free(sent);
    px_meta_free(got);
}

typedef struct seen {
    int done;
    px_status st;
    px_meta *meta;
    int had_meta; /* px_call_reply_meta() was not NULL in the callback */
} seen;

static void take_reply_meta(seen *s, px_status st)
{
    const px_meta *rm = px_call_reply_meta();
    s->had_meta = rm != NULL;
    s->st = st;
    if (rm && s->meta)
        assert_int_equal(px_meta_assign(s->meta, rm->enc.data, rm->enc.len, rm->count), 0);
    __atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
}

static void async_done(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    take_reply_meta(user, st);
}

static void wait_done(seen *s)
{
    int64_t end = px_mono_us() + 10 * 1000000;
    while (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE) && px_mono_us() < end) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_true(__atomic_load_n(&s->done, __ATOMIC_ACQUIRE));
}

static void test_async_call(void **state)
{
    fixture *f = *state;
    px_meta *sent = request_meta();
    assert_null(px_call_reply_meta()); /* only inside a callback */
    for (int i = 0; i < N_SRV; i++) {
        seen s = {.meta = px_meta_new()};
        px_call_opts o = {.meta = sent};
        Calc__EchoMsg req = echo_request();
        px_err err;
        assert_int_equal(px_call_async(f->cl[i], "calc.Calculator/Echo", &req.base,
                                       &calc__echo_msg__descriptor, &o, async_done, &s, &err),
                         PX_OK);
        wait_done(&s);
        assert_int_equal(s.st, PX_OK);
        assert_true(s.had_meta);
        assert_meta_equal(s.meta, sent);
        px_meta_free(s.meta);
    }
    px_meta_free(sent);
}

static void test_wait_call(void **state)
{
    fixture *f = *state;
    px_meta *sent = request_meta(), *got = px_meta_new();
    for (int i = 0; i < N_SRV; i++) {
        echo(f->cl[i], 1, sent, got);
        assert_meta_equal(got, sent);
    }
    px_meta_free(sent);
    px_meta_free(got);
}

static void stub_closure(const Calc__EchoMsg *reply, void *data)
{
    take_reply_meta(data, reply ? PX_OK : px_stub_status(NULL));
}

static void test_generated_stub(void **state)
{
    fixture *f = *state;
    px_meta *sent = request_meta();
    for (int i = 0; i < N_SRV; i++) {
        ProtobufCService *svc = px_client_service(f->cl[i], &calc__calculator__descriptor);
        seen s = {.meta = px_meta_new()};
        px_call_opts o = {.meta = sent};
        px_stub_call_opts(&o);
        Calc__EchoMsg req = echo_request();
        calc__calculator__echo(svc, &req, stub_closure, &s);
        px_stub_call_opts(NULL);
        wait_done(&s);
        assert_int_equal(s.st, PX_OK);
        assert_meta_equal(s.meta, sent);
        px_meta_free(s.meta);
        /* Options cleared: the next stub call sends none. */
        seen none = {.meta = px_meta_new()};
        calc__calculator__echo(svc, &req, stub_closure, &none);
        wait_done(&none);
        assert_int_equal(none.st, PX_OK);
        assert_int_equal(px_meta_count(none.meta), 0);
        px_meta_free(none.meta);
    }
    px_meta_free(sent);
}

/* Retries send the same metadata: an upstream whose first endpoint refuses connections,
 * taken in turn, with retry failover; every call reaches the live server with it. */
static void test_retries_resend_metadata(void **state)
{
    fixture *f = *state;
    int ports[2] = {px_free_port(), f->srv[IO].port};
    char conf[300];
    snprintf(conf, sizeof conf, "%s/retry.yaml", f->srv[IO].dir);
    assert_int_equal(px_write_client_conf(conf, ports, 2,
                                          UPSTREAM_YAML
                                          "      balancer: round_robin\n"
                                          "      failover: { module: retry, retries: 2 }\n"
                                          "      health: { max_fails: 0 }\n"),
                     0);
    px_config *cfg = NULL;
    px_client *cl = NULL;
    px_err err;
    assert_int_equal(px_config_load(conf, &cfg, &err), PX_OK);
    assert_int_equal(px_client_new(cfg, "calc", &cl, &err), PX_OK);
    px_meta *sent = request_meta(), *got = px_meta_new();
    for (int k = 0; k < 4; k++) {
        echo(cl, k & 1, sent, got); /* px_call, px_call_wait */
        assert_meta_equal(got, sent);
    }
    px_client_stats st;
    px_client_stats_get(cl, &st);
    assert_true(st.retries >= 2); /* each client went to the dead endpoint at least once */
    px_meta_free(sent);
    px_meta_free(got);
    px_client_free(cl);
    px_config_free(cfg);
    unlink(conf);
}

/* Every byte value in a -bin value, both ways. */
static void test_binary_round_trip(void **state)
{
    fixture *f = *state;
    uint8_t all[256];
    for (int b = 0; b < 256; b++)
        all[b] = (uint8_t)(255 - b);
    px_meta *sent = px_meta_new(), *got = px_meta_new();
    px_err err;
    assert_int_equal(px_meta_add(sent, "all-bin", all, sizeof all, &err), PX_OK);
    for (int i = 0; i < N_SRV; i++) {
        echo(f->cl[i], i, sent, got); /* px_call, then px_call_wait */
        size_t len = 0;
        const void *v = px_meta_get(got, "all-bin", &len);
        assert_int_equal(len, sizeof all);
        assert_memory_equal(v, all, sizeof all);
    }
    px_meta_free(sent);
    px_meta_free(got);
}

/* A handler that sets metadata and then fails: the ERROR carries it. */
static void test_error_carries_metadata(void **state)
{
    fixture *f = *state;
    px_meta *sent = request_meta(), *got = px_meta_new();
    for (int i = 0; i < N_SRV; i++) {
        px_call_opts o = {.meta = sent, .reply_meta = got};
        Calc__DivRequest req = CALC__DIV_REQUEST__INIT;
        ProtobufCMessage *rep = NULL;
        px_err err;
        assert_int_equal(px_call(f->cl[i], "calc.Calculator/Div", &req.base,
                                 &calc__div_reply__descriptor, &o, &rep, &err),
                         PX_FAILED_PRECONDITION);
        assert_string_equal(err.msg, "fxmeta: Div fails, with metadata");
        assert_meta_equal(got, sent);
        px_meta_clear(got);
        assert_int_equal(px_call_wait(f->cl[i], "calc.Calculator/Div", &req.base,
                                      &calc__div_reply__descriptor, &o, &rep, &err),
                         PX_FAILED_PRECONDITION);
        assert_meta_equal(got, sent);
        seen s = {.meta = px_meta_new()};
        assert_int_equal(px_call_async(f->cl[i], "calc.Calculator/Div", &req.base,
                                       &calc__div_reply__descriptor, &o, async_done, &s, &err),
                         PX_OK);
        wait_done(&s);
        assert_int_equal(s.st, PX_FAILED_PRECONDITION);
        assert_meta_equal(s.meta, sent);
        px_meta_free(s.meta);
    }
    px_meta_free(sent);
    px_meta_free(got);
}

/* Request metadata past the upstream's max_meta: refused before anything is sent. */
static void test_request_metadata_over_max_meta(void **state)
{
    fixture *f = *state;
    px_meta *big = px_meta_new();
    px_err err;
    char v[1021];
    memset(v, 'v', sizeof v);
    assert_int_equal(px_meta_add(big, "k", v, sizeof v, &err), PX_OK); /* 1 + 1 + 2 + 1021 */
    px_client_stats before, after;
    px_client_stats_get(f->cl[IO], &before);
    px_call_opts o = {.meta = big};
    Calc__EchoMsg req = echo_request();
    ProtobufCMessage *rep = NULL;
    assert_int_equal(px_call(f->cl[IO], "calc.Calculator/Echo", &req.base,
                             &calc__echo_msg__descriptor, &o, &rep, &err), PX_RESOURCE_EXHAUSTED);
    assert_string_equal(err.msg, "calc.Calculator/Echo: request metadata of 1025 bytes exceeds "
                                 "max_meta 1024 of upstream calc (not sent)");
    seen s = {0};
    assert_int_equal(px_call_async(f->cl[IO], "calc.Calculator/Echo", &req.base,
                                   &calc__echo_msg__descriptor, &o, async_done, &s, &err),
                     PX_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(err.msg, "request metadata of 1025 bytes exceeds max_meta 1024"));
    assert_int_equal(px_call_wait(f->cl[IO], "calc.Calculator/Echo", &req.base,
                                  &calc__echo_msg__descriptor, &o, &rep, &err),
                     PX_RESOURCE_EXHAUSTED);
    px_client_stats_get(f->cl[IO], &after);
    assert_int_equal(after.calls_started, before.calls_started);
    /* One byte less goes through. */
    px_meta_clear(big);
    assert_int_equal(px_meta_add(big, "k", v, sizeof v - 1, &err), PX_OK);
    assert_int_equal(px_call(f->cl[IO], "calc.Calculator/Echo", &req.base,
                             &calc__echo_msg__descriptor, &o, &rep, &err), PX_OK);
    px_msg_free(rep);
    px_meta_free(big);
}

/* Response metadata past the server's max_meta: the call ends INTERNAL, without it. */
static void test_response_metadata_over_max_meta(void **state)
{
    fixture *f = *state;
    px_meta *got = px_meta_new();
    for (int i = 0; i < N_SRV; i++) {
        px_call_opts o = {.reply_meta = got};
        Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
        req.a = 1017; /* "big-bin": 1 + 7 + 2 + 1017 = 1027 bytes */
        ProtobufCMessage *rep = NULL;
        px_err err;
        assert_int_equal(px_call(f->cl[i], "calc.Calculator/Add", &req.base,
                                 &calc__add_reply__descriptor, &o, &rep, &err), PX_INTERNAL);
        assert_string_equal(err.msg, "calc.Calculator/Add: response metadata of 1027 bytes "
                                     "exceeds max_meta 1024");
        assert_int_equal(px_meta_count(got), 0);
        req.a = 1014; /* 1024 bytes: at the limit */
        assert_int_equal(px_call(f->cl[i], "calc.Calculator/Add", &req.base,
                                 &calc__add_reply__descriptor, &o, &rep, &err), PX_OK);
        assert_int_equal(((Calc__AddReply *)rep)->sum, 1014);
        px_msg_free(rep);
        size_t len = 0;
        assert_non_null(px_meta_get(got, "big-bin", &len));
        assert_int_equal(len, 1014);
    }
    px_meta_free(got);
}

/* The handler answers 50 ms later from a thread of its own, while another call's frame
 * arrives on the same connection: the request's metadata was kept with the call, not
 * read from a frame long gone. */
static void test_later_answer_keeps_request_metadata(void **state)
{
    fixture *f = *state;
    px_meta *sent = request_meta(), *other = px_meta_new();
    px_err err;
    assert_int_equal(px_meta_add_str(other, "other", "xxxxxxxxxxxxxxxxxxxxxxxx", &err), PX_OK);
    for (int i = 0; i < N_SRV; i++) {
        seen later = {.meta = px_meta_new()}, now = {.meta = px_meta_new()};
        px_call_opts o = {.meta = sent}, oo = {.meta = other};
        Calc__SleepRequest req = CALC__SLEEP_REQUEST__INIT;
        req.ms = 50;
        assert_int_equal(px_call_async(f->cl[i], "calc.Calculator/Sleep", &req.base,
                                       &calc__sleep_reply__descriptor, &o, async_done, &later,
                                       &err), PX_OK);
        Calc__EchoMsg e = echo_request();
        assert_int_equal(px_call_async(f->cl[i], "calc.Calculator/Echo", &e.base,
                                       &calc__echo_msg__descriptor, &oo, async_done, &now, &err),
                         PX_OK);
        wait_done(&now);
        wait_done(&later);
        assert_int_equal(later.st, PX_OK);
        assert_meta_equal(later.meta, sent);
        assert_int_equal(now.st, PX_OK);
        assert_meta_equal(now.meta, other);
        px_meta_free(later.meta);
        px_meta_free(now.meta);
    }
    px_meta_free(sent);
    px_meta_free(other);
}

/* A malformed section from a client: INVALID_ARGUMENT, not executed, for that call
 * only; the connection goes on serving. */
static void test_malformed_request_metadata(void **state)
{
    fixture *f = *state;
    static const struct {
        uint8_t meta[8];
        uint32_t len;
        const char *msg;
    } bad[] = {
        {{1, 'A', 0, 0}, 4, "malformed metadata at byte 1: key byte 0x41 is not one of a-z 0-9 - _ ."},
        {{0, 0, 0}, 3, "malformed metadata at byte 0: key_len is 0 (a key has 1 to 255 bytes)"},
        {{1, 'k', 0, 1, 0x0a}, 5,
         "malformed metadata at byte 4: value byte 0x0a of key 'k' is not printable ASCII"},
        {{1, 'k', 0, 9, 'v'}, 5,
         "malformed metadata at byte 2: value_len 9 of key 'k' runs past the end of the "
         "section (1 bytes left)"},
        {{1, 'k', 0}, 3, "malformed metadata at byte 2: value_len of key 'k' needs 2 bytes, 1 left"},
    };
    for (int i = 0; i < N_SRV; i++) {
        px_raw_reader r = px_raw_open(f->srv[i].port, "protobuf");
        assert_true(r.fd >= 0);
        for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
            uint64_t id = 100 + k;
            assert_int_equal(px_raw_send_add(&r, id, bad[k].meta, bad[k].len), 0);
            px_frame fr;
            assert_int_equal(px_raw_next(&r, &fr), 0);
            assert_int_equal(fr.type, PX_FRAME_ERROR);
            assert_int_equal(fr.id, id);
            assert_int_equal(fr.status, PX_INVALID_ARGUMENT);
            assert_int_equal(fr.flags & PX_FRAME_F_NOT_EXECUTED, PX_FRAME_F_NOT_EXECUTED);
            if (strstr(r.text, bad[k].msg) == NULL || strncmp(r.text, "calc.Calculator/Add: ", 21))
                fail_msg("got '%s', expected it to say '%s'", r.text, bad[k].msg);
            /* The same connection still serves, and the id is free again. */
            assert_int_equal(px_raw_add(&r, id), 0);
        }
        /* A well-formed section with a px- key: the wire takes it (the API would not). */
        const uint8_t ok[] = {4, 'p', 'x', '-', 'a', 0, 1, '1'};
        assert_int_equal(px_raw_send_add(&r, 7, ok, sizeof ok), 0);
        px_frame fr;
        assert_int_equal(px_raw_next(&r, &fr), 0);
        assert_int_equal(fr.type, PX_FRAME_RESPONSE);
        assert_int_equal(fr.id, 7);
        close(r.fd);
    }
}

/* ---- a server that sends malformed response metadata -------------------------------- */

typedef struct fake {
    int lfd, port;
    int conns; /* accepted */
    pthread_t th[4];
} fake;

/* One connection: HELLO echoed; Echo answered with a malformed section, anything else
 * with a good one and a WhoamiReply. */
static void *fake_conn(void *arg)
{
    px_raw_reader *r = arg;
    px_frame f;
    while (px_raw_next(r, &f) == 0) {
        if (f.type == PX_FRAME_HELLO) {
            px_frame h = {.type = PX_FRAME_HELLO, .body = (const uint8_t *)"protobuf", .body_len = 8};
            px_raw_send(r->fd, &h, 1);
            continue;
        }
        if (f.type != PX_FRAME_REQUEST)
            continue;
        int echo = f.method_len == 20 && memcmp(f.method, "calc.Calculator/Echo", 20) == 0;
        static const uint8_t bad[] = {2, 'o', 'k', 0, 2, 'h', 0x01};
        static const uint8_t good[] = {2, 'o', 'k', 0, 2, 'h', 'i'};
        Calc__WhoamiReply w = CALC__WHOAMI_REPLY__INIT;
        w.id = "fake";
        uint8_t body[64];
        px_frame a = {.type = PX_FRAME_RESPONSE, .id = f.id, .meta = echo ? bad : good,
                      .meta_len = 7, .body = body,
                      .body_len = echo ? 0 : (uint32_t)protobuf_c_message_pack(&w.base, body)};
        px_raw_send(r->fd, &a, 1);
    }
    close(r->fd);
    free(r);
    return NULL;
}

static void *fake_accept(void *arg)
{
    fake *fk = arg;
    for (int i = 0; i < 2; i++) {
        int fd = accept(fk->lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        px_raw_reader *r = calloc(1, sizeof *r);
        r->fd = fd;
        __atomic_add_fetch(&fk->conns, 1, __ATOMIC_RELAXED);
        pthread_create(&fk->th[1 + i], NULL, fake_conn, r);
    }
    return NULL;
}

static void test_malformed_response_metadata(void **state)
{
    fake fk = {.lfd = socket(AF_INET, SOCK_STREAM, 0)};
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fk.lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fk.lfd, 4), 0);
    getsockname(fk.lfd, (struct sockaddr *)&sa, &sl);
    fk.port = ntohs(sa.sin_port);
    pthread_create(&fk.th[0], NULL, fake_accept, &fk);

    char conf[] = "/tmp/px-meta-fake-XXXXXX";
    int cfd = mkstemp(conf);
    close(cfd);
    px_write_client_conf(conf, &fk.port, 1, UPSTREAM_YAML);
    px_config *cfg = NULL;
    px_client *cl = NULL;
    px_err err;
    assert_int_equal(px_config_load(conf, &cfg, &err), PX_OK);
    assert_int_equal(px_client_new(cfg, "calc", &cl, &err), PX_OK);
    px_meta *got = px_meta_new();
    px_call_opts o = {.reply_meta = got};
    Calc__EchoMsg e = echo_request();
    Calc__WhoamiRequest w = CALC__WHOAMI_REQUEST__INIT;
    char want[200];
    snprintf(want, sizeof want,
             "malformed response metadata from 127.0.0.1:%d at byte 6: value byte 0x01 of key "
             "'ok' is not printable ASCII", fk.port);
    for (int round = 0; round < 2; round++) {
        ProtobufCMessage *rep = NULL;
        /* The blocking client, then the async one (px_call_wait). */
        px_status st = round == 0 ? px_call(cl, "calc.Calculator/Echo", &e.base,
                                            &calc__echo_msg__descriptor, &o, &rep, &err)
                                  : px_call_wait(cl, "calc.Calculator/Echo", &e.base,
                                                 &calc__echo_msg__descriptor, &o, &rep, &err);
        assert_int_equal(st, PX_INTERNAL);
        if (strstr(err.msg, want) == NULL)
            fail_msg("got '%s', expected it to say '%s'", err.msg, want);
        assert_int_equal(px_meta_count(got), 0);
        /* The next call on the same connection is served, with its metadata. */
        st = round == 0 ? px_call(cl, "calc.Calculator/Whoami", &w.base,
                                  &calc__whoami_reply__descriptor, &o, &rep, &err)
                        : px_call_wait(cl, "calc.Calculator/Whoami", &w.base,
                                       &calc__whoami_reply__descriptor, &o, &rep, &err);
        assert_int_equal(st, PX_OK);
        assert_string_equal(((Calc__WhoamiReply *)rep)->id, "fake");
        px_msg_free(rep);
        assert_memory_equal(px_meta_get(got, "ok", NULL), "hi", 2);
    }
    /* One connection per client side: neither was closed over the bad section. */
    assert_int_equal(__atomic_load_n(&fk.conns, __ATOMIC_RELAXED), 2);
    px_meta_free(got);
    px_client_free(cl);
    px_config_free(cfg);
    unlink(conf);
    pthread_join(fk.th[0], NULL);
    for (int i = 1; i < 3; i++)
        pthread_join(fk.th[i], NULL);
    close(fk.lfd);
}

/* ---- the entry points of the old px_call_opts ---------------------------------------- */

/* px_call_opts before ABI 1.3, as a binary built then passes it. */
typedef struct old_opts {
    int64_t timeout_us;
    int idempotent;
    uint64_t hash_key;
    int has_hash_key;
} old_opts;

/* What such a binary calls: the old symbol names. */
px_status old_px_call(px_client *c, const char *method, const ProtobufCMessage *req,
                      const ProtobufCMessageDescriptor *reply_desc, const old_opts *opts,
                      ProtobufCMessage **reply, px_err *err) __asm__("px_call");
px_status old_px_call_wait(px_client *c, const char *method, const ProtobufCMessage *req,
                           const ProtobufCMessageDescriptor *reply_desc, const old_opts *opts,
                           ProtobufCMessage **reply, px_err *err) __asm__("px_call_wait");
px_status old_px_call_async(px_client *c, const char *method, const ProtobufCMessage *req,
                            const ProtobufCMessageDescriptor *reply_desc, const old_opts *opts,
                            px_done_fn done, void *user, px_err *err) __asm__("px_call_async");

static void test_old_opts_layout(void **state)
{
    fixture *f = *state;
    assert_int_equal(sizeof(old_opts), 32);
    /* Bytes past the old struct are garbage the library must not read as meta or
     * reply_meta (it would crash on these pointers). */
    struct {
        old_opts o;
        unsigned char after[64];
    } s;
    memset(&s, 0xa5, sizeof s);
    s.o = (old_opts){.timeout_us = 2000000};
    Calc__EchoMsg req = echo_request();
    ProtobufCMessage *rep = NULL;
    px_err err;
    assert_int_equal(old_px_call(f->cl[IO], "calc.Calculator/Echo", &req.base,
                                 &calc__echo_msg__descriptor, &s.o, &rep, &err), PX_OK);
    assert_int_equal(((Calc__EchoMsg *)rep)->f_int32, 7);
    px_msg_free(rep);
    assert_int_equal(old_px_call_wait(f->cl[IO], "calc.Calculator/Echo", &req.base,
                                      &calc__echo_msg__descriptor, &s.o, &rep, &err), PX_OK);
    px_msg_free(rep);
    seen sn = {.meta = px_meta_new()};
    assert_int_equal(old_px_call_async(f->cl[IO], "calc.Calculator/Echo", &req.base,
                                       &calc__echo_msg__descriptor, &s.o, async_done, &sn, &err),
                     PX_OK);
    wait_done(&sn);
    assert_int_equal(sn.st, PX_OK);
    assert_int_equal(px_meta_count(sn.meta), 0);
    px_meta_free(sn.meta);
    assert_int_equal(old_px_call(f->cl[IO], "calc.Calculator/Echo", &req.base,
                                 &calc__echo_msg__descriptor, NULL, &rep, &err), PX_OK);
    px_msg_free(rep);

    /* libplexus.so exports both generations. */
    char lib[512];
    snprintf(lib, sizeof lib, "%s/core/libplexus.so.1",
             getenv("PX_BINARY_DIR") ? getenv("PX_BINARY_DIR") : "build");
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        fail_msg("dlopen %s: %s", lib, dlerror());
    const char *names[] = {"px_call", "px_call_v2", "px_call_async", "px_call_async_v2",
                           "px_call_wait", "px_call_wait_v2", "px_call_reply_meta",
                           "px_stub_call_opts", "px_handler_meta", "px_handler_set_meta",
                           "px_meta_add"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!dlsym(h, names[i]))
            fail_msg("libplexus.so does not export %s", names[i]);
    dlclose(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocking_call),
        cmocka_unit_test(test_async_call),
        cmocka_unit_test(test_wait_call),
        cmocka_unit_test(test_generated_stub),
        cmocka_unit_test(test_retries_resend_metadata),
        cmocka_unit_test(test_binary_round_trip),
        cmocka_unit_test(test_error_carries_metadata),
        cmocka_unit_test(test_request_metadata_over_max_meta),
        cmocka_unit_test(test_response_metadata_over_max_meta),
        cmocka_unit_test(test_later_answer_keeps_request_metadata),
        cmocka_unit_test(test_malformed_request_metadata),
        cmocka_unit_test(test_malformed_response_metadata),
        cmocka_unit_test(test_old_opts_layout),
    };
    return cmocka_run_group_tests_name("metadata", tests, setup, teardown);
}
