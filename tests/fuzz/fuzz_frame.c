/* libFuzzer target: the connection reader (px_conn over a socketpair, with the native
 * protocol's reading loop) fed a byte
 * stream split at fuzzer-chosen points, checked against one parse of the whole stream;
 * as a client connection, and as a server one that pauses reading (a memory budget) and
 * has calls in progress when the stream ends. Every frame is also read as a client
 * reads a server's frame (px_nc_classify and the messages made of it). */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "px_conn.h"
#include "px_frame.h"
#include "px_loop.h"
#include "px_native_client.h"

/*
 * Input layout: byte 0 picks max_meta (bits 0-1) and the mode (bits 2-3: a client
 * connection; a server one whose may_read pauses it every few frames, resumed on the
 * next loop iteration; the same with calls in progress that end an iteration later),
 * byte 1 picks max_frame, bytes 2..9 seed the split points and the pauses; the rest is
 * the stream a client sends. The stream is parsed once
 * whole with px_frame_parse (the reference), then written in chunks to a real
 * px_conn, which reads through the loop's shared scratch buffer and keeps only the
 * tail of an incomplete frame, as every server connection does. Both must see the
 * same frames, and a stream that cannot be parsed must end in the same ERROR.
 */
#define PREFIX 10
#define MAX_FRAMES 4096 /* 32-byte frames: more than a 128 KiB input can hold */

static const uint64_t meta_limits[4] = {0, 8, 256, 16384};
static const uint64_t body_limits[4] = {0, 64, 4096, 1u << 20};

typedef struct ref_frame {
    px_frame f;
    size_t off, used; /* where in the stream */
} ref_frame;

static px_loop loop;
static px_conn conn;
static ref_frame ref[MAX_FRAMES];
static size_t n_ref, n_seen;
static const uint8_t *stream;
static int closed;
static px_err close_why;
static int mode_pause, mode_busy;
static unsigned pause_every, since_resume; /* may_read says no after pause_every frames */
static int busy_calls;                      /* REQUESTs "in progress" this iteration */

static void fail(const char *what, size_t i)
{
    fprintf(stderr, "fuzz_frame: %s (frame %zu)\n", what, i);
    abort();
}

/* The client's reading of f: the kind its type says, a status a client knows (never OK
 * for an ERROR), the frame's own bytes, and messages that agree with the status. */
static void check_client_view(const px_frame *f, size_t i)
{
    px_cmsg m;
    px_cmsg_kind k = px_nc_classify(f, &m);
    if (k != m.kind || m.id != f->id || m.type != f->type || m.body != f->body ||
        m.body_len != f->body_len || m.meta != f->meta || m.meta_len != f->meta_len)
        fail("px_nc_classify does not carry the frame's own fields", i);
    px_cmsg_kind want = f->type == PX_FRAME_RESPONSE ? PX_CMSG_REPLY
                      : f->type == PX_FRAME_ERROR  ? (f->id ? PX_CMSG_ERROR : PX_CMSG_CONN_ERROR)
                      : f->type == PX_FRAME_GOAWAY ? PX_CMSG_GOAWAY
                      : f->type == PX_FRAME_HELLO  ? PX_CMSG_READY
                      : f->type == PX_FRAME_PONG   ? PX_CMSG_PONG
                                                   : PX_CMSG_UNEXPECTED;
    if (k != want)
        fail("px_nc_classify gave the wrong kind", i);
    int failing = k == PX_CMSG_ERROR || k == PX_CMSG_CONN_ERROR ||
                  (k == PX_CMSG_GOAWAY && f->status != 0);
    if (failing && (m.status <= PX_OK || m.status >= PX_STATUS_COUNT))
        fail("a failing frame classified with a status a client does not know", i);
    if (failing && f->status > 0 && f->status < PX_STATUS_COUNT && m.status != f->status)
        fail("a known status was not kept", i);
    if (!failing && m.status != PX_OK)
        fail("a frame that fails nothing carries a status", i);
    if (m.not_executed != ((k == PX_CMSG_ERROR && (f->flags & PX_FRAME_F_NOT_EXECUTED)) ||
                           (k == PX_CMSG_GOAWAY && f->status != 0)))
        fail("not_executed differs from the flag (or the refusal)", i);
    px_err e;
    px_err_clear(&e);
    px_status st = px_cmsg_err(&m, "fuzz", &e);
    if ((failing || k == PX_CMSG_UNEXPECTED) != (st != PX_OK) || (st != PX_OK && e.status != st))
        fail("px_cmsg_err disagrees with the kind", i);
    if (k == PX_CMSG_READY) {
        int same = f->body_len == 8 && memcmp(f->body, "protobuf", 8) == 0;
        if ((px_cmsg_ready_check(&m, "protobuf", "fuzz", &e) == PX_OK) != same)
            fail("px_cmsg_ready_check accepted another codec, or refused its own", i);
    }
}

static void on_frame(px_conn *c, const px_frame *f)
{
    if (n_seen >= n_ref)
        fail("the connection dispatched a frame the whole-stream parse did not see", n_seen);
    const ref_frame *r = &ref[n_seen];
    const px_frame *w = &r->f;
    if (f->type != w->type || f->flags != w->flags || f->status != w->status || f->id != w->id ||
        f->deadline_ms != w->deadline_ms || f->method_len != w->method_len ||
        f->meta_len != w->meta_len || f->body_len != w->body_len)
        fail("a header field differs from the whole-stream parse", n_seen);
    if (memcmp(f->method, w->method, f->method_len) != 0 ||
        memcmp(f->meta, w->meta, f->meta_len) != 0 || memcmp(f->body, w->body, f->body_len) != 0)
        fail("method, metadata or body bytes differ from the whole-stream parse", n_seen);
    check_client_view(f, n_seen);
    n_seen++;
    since_resume++;
    if (mode_busy && f->type == PX_FRAME_REQUEST)
        busy_calls++;
}

static int may_read(px_conn *c) { return since_resume < pause_every; }
static int busy(px_conn *c) { return busy_calls > 0; }

static void on_close(px_conn *c, const px_err *why)
{
    closed = 1;
    close_why = *why;
}

static void on_free(px_conn *c) {}

/* The native protocol's reading loop (px_native_conn_recv), on a px_conn alone: frames
 * in order, a pause between two when the budget says so, an ERROR id 0 at a bad one. */
static size_t on_bytes(px_conn *c, const uint8_t *buf, size_t len)
{
    size_t off = 0;
    for (;;) {
        px_frame f;
        size_t used = 0;
        px_err err;
        px_parse_result r = px_frame_parse(buf + off, len - off, c->max_meta, c->max_body, &f,
                                           &used, &err);
        if (r == PX_PARSE_NEED_MORE)
            break;
        if (r == PX_PARSE_ERROR) {
            px_err final;
            px_err_set(&final, err.status, "protocol error: %s", err.msg);
            px_conn_finish(c, &final);
            return len;
        }
        on_frame(c, &f);
        off += used;
        if (off >= len || !px_conn_may_read(c))
            break;
    }
    return off;
}

static size_t msg_size(px_conn *c, const uint8_t *buf, size_t len)
{
    return px_frame_total(buf, len);
}

static void write_final(px_conn *c, const px_err *e)
{
    px_frame_append_error(&c->out, 0, e->status, e->msg);
}

static const px_conn_ops client_ops = {.on_bytes = on_bytes, .msg_size = msg_size,
                                       .write_final = write_final, .on_close = on_close,
                                       .on_free = on_free};
static const px_conn_ops server_ops = {.on_bytes = on_bytes, .msg_size = msg_size,
                                       .write_final = write_final, .on_close = on_close,
                                       .on_free = on_free, .busy = busy, .may_read = may_read};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    signal(SIGPIPE, SIG_IGN); /* writes after the connection hung up on an error */
    if (px_loop_init(&loop, 0) != 0)
        abort();
    return 0;
}

/* Parses the whole stream; returns the result that stopped it, with err set. */
static px_parse_result parse_whole(const uint8_t *s, size_t len, uint64_t max_meta,
                                   uint64_t max_body, px_err *err)
{
    size_t off = 0;
    n_ref = 0;
    for (;;) {
        px_frame f;
        size_t used = 0;
        px_parse_result r = px_frame_parse(s + off, len - off, max_meta, max_body, &f, &used, err);
        if (r != PX_PARSE_OK)
            return r;
        if (used < PX_FRAME_HEADER_SIZE || used > len - off)
            fail("px_frame_parse reported an impossible frame size", n_ref);
        if (n_ref == MAX_FRAMES)
            fail("more frames than the harness records: run with -max_len=131072 or less", n_ref);
        ref[n_ref++] = (ref_frame){.f = f, .off = off, .used = used};
        off += used;
    }
}

/* Every parsed frame, encoded again, is the bytes it came from (the reserved
 * header bytes 22..23 are ignored by the parser and written as zero). */
static void check_reencode(void)
{
    for (size_t i = 0; i < n_ref; i++) {
        px_buf b = {0};
        if (px_frame_append(&b, &ref[i].f) != 0)
            fail("px_frame_append ran out of memory", i);
        const uint8_t *src = stream + ref[i].off;
        if (b.len != ref[i].used || memcmp(b.data, src, 22) != 0 ||
            memcmp(b.data + 24, src + 24, b.len - 24) != 0)
            fail("a parsed frame does not encode back to its bytes", i);
        px_buf_free(&b);
    }
}

static void run_loop(void)
{
    /* Two iterations: reads and dispatch, then the flush of anything queued. */
    ev_run(loop.ev, EVRUN_NOWAIT);
    ev_run(loop.ev, EVRUN_NOWAIT);
    if (!mode_pause)
        return;
    /* The calls of this iteration end, and the budget has room again. */
    px_conn *c = &conn;
    if (busy_calls) {
        busy_calls = 0;
        px_conn_idle(c);
    }
    if (c->paused) {
        since_resume = 0;
        px_conn_resume(c);
    }
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < PREFIX)
        return 0;
    uint64_t max_meta = meta_limits[data[0] & 3];
    uint64_t max_body = body_limits[data[1] & 3];
    uint64_t seed = 0;
    memcpy(&seed, data + 2, 8);
    seed |= 1;
    stream = data + PREFIX;
    size_t len = size - PREFIX;

    px_err want;
    px_err_clear(&want);
    px_parse_result end = parse_whole(stream, len, max_meta, max_body, &want);
    check_reencode();

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        abort();
    int big = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    int mode = (data[0] >> 2) & 3;
    mode_pause = mode >= 2;
    mode_busy = mode == 3;
    pause_every = mode_pause ? 1 + (unsigned)(seed >> 8) % 5 : UINT32_MAX;
    since_resume = 0;
    busy_calls = 0;
    px_conn_init(&conn, &loop, sv[0], mode_pause ? &server_ops : &client_ops, max_meta, max_body,
                 0, "fuzz");
    px_conn_ref(&conn); /* keep it readable after the close, to check it */
    n_seen = 0;
    closed = 0;

    size_t off = 0;
    while (off < len && !closed && !conn.finishing) {
        size_t chunk = 1 + next_rand(&seed) % (len - off < 97 ? len - off : 97);
        if (next_rand(&seed) % 8 == 0)
            chunk = len - off; /* sometimes everything left at once */
        if (write(sv[1], stream + off, chunk) != (ssize_t)chunk)
            break; /* the connection has closed its end after an error */
        off += chunk;
        run_loop();
    }
    shutdown(sv[1], SHUT_WR);
    /* A pausing connection dispatches a few frames per iteration of what it holds. */
    for (size_t i = 0; i < 4 + (mode_pause ? n_ref + 4 : 0) && !closed; i++)
        run_loop();
    if (!closed)
        fail("the connection did not close after the peer's EOF", n_seen);

    if (end == PX_PARSE_ERROR) {
        if (n_seen != n_ref)
            fail("the connection dispatched fewer frames before the error", n_seen);
        /* It told the peer why, in one ERROR frame for the connection (id 0). */
        uint8_t out[1024];
        ssize_t n = read(sv[1], out, sizeof out);
        px_frame ef;
        size_t used;
        px_err perr;
        char expect[600];
        snprintf(expect, sizeof expect, "protocol error: %s", want.msg);
        if (n <= 0 || px_frame_parse(out, (size_t)n, 0, sizeof out, &ef, &used, &perr) != PX_PARSE_OK ||
            ef.type != PX_FRAME_ERROR || ef.id != 0 || ef.status != want.status ||
            ef.body_len != strlen(expect) || memcmp(ef.body, expect, ef.body_len) != 0)
            fail("the ERROR frame sent to the peer does not carry the parse error", n_seen);
        if (close_why.status != want.status || strcmp(close_why.msg, expect) != 0)
            fail("the close reason is not the parse error", n_seen);
    } else {
        if (n_seen != n_ref)
            fail("the connection dispatched a different number of frames", n_seen);
        if (close_why.status != PX_UNAVAILABLE || strcmp(close_why.msg, "fuzz closed the connection") != 0)
            fail("an orderly EOF did not close with 'fuzz closed the connection'", n_seen);
    }
    px_conn_unref(&conn);
    close(sv[1]);
    return 0;
}
