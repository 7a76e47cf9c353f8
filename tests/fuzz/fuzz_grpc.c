/* libFuzzer target: proto_grpc's server half (modules/proto_grpc, compiled in) fed
 * HTTP/2 a client sends, after the connection preface, in fuzzer-chosen pieces. The
 * core is stood in for by the px_pconn_* below, as a fuzzer drives a parser in-process:
 * requests are answered at once or later (a reply, or an error with metadata), some
 * paused by px_pconn_more, some cancelled; the connection may be told to go away.
 * Checked: every request names a stream the protocol holds, once, with a method and a
 * codec; cancels name only calls in progress; what the module charged is all given back
 * at conn_close (ASan: no leak, no bad access). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_int.h"

extern const px_module plexus_module;

#define INFLIGHT 64

static struct {
    px_buf out;
    px_plimits lim;
    int64_t held;
    int failed, partial, more_every, calls;
    uint8_t mode;
    uint64_t pending[INFLIGHT];
    size_t n_pending;
} P;

static const int codec_protobuf = 1, codec_json = 2;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_grpc: %s\n", what);
    abort();
}

/* ---- the core, as the protocol sees it ------------------------------------------ */

px_buf *px_pconn_out(px_pconn *pc) { return &P.out; }
const char *px_pconn_peer(const px_pconn *pc) { return "127.0.0.1:1"; }
const px_plimits *px_pconn_limits(const px_pconn *pc) { return &P.lim; }
const char *px_pcodec_name(const px_pcodec *c)
{
    return (const void *)c == &codec_json ? "json" : "protobuf";
}
void px_pconn_ready(px_pconn *pc) {}
void px_pconn_charge(px_pconn *pc, int64_t bytes) { P.held += bytes; }
void px_pconn_partial(px_pconn *pc, int partial) { P.partial = partial; }
int px_pconn_more(px_pconn *pc) { return !P.failed && (P.more_every == 0 || ++P.calls % P.more_every); }

const px_pcodec *px_pconn_codec(px_pconn *pc, const char *name, size_t len, px_err *err)
{
    if (name && len == 8 && memcmp(name, "protobuf", 8) == 0)
        return (const px_pcodec *)&codec_protobuf;
    if (name && len == 4 && memcmp(name, "json", 4) == 0)
        return (const px_pcodec *)&codec_json;
    px_err_set(err, PX_UNIMPLEMENTED, "codec '%.*s' is not available", (int)(len > 64 ? 64 : len),
               name ? name : "");
    return NULL;
}

void px_pconn_fail(px_pconn *pc, px_status st, const char *fmt, ...) { P.failed = 1; }

static const px_protocol_ops *ops(void) { return plexus_module.ops; }

/* An answer to id: a reply echoing the body with response metadata, or an error. */
static void answer(void *cs, uint64_t id, const uint8_t *body, size_t len, int how)
{
    static const uint8_t meta[] = {3, 'k', '-', 'x', 0, 1, 'v', 5, 'b', '-', 'b', 'i', 'n', 0, 2, 0, 0xff};
    size_t ml = how & 2 ? sizeof meta : 0;
    if (how & 1) {
        ops()->reply_error(cs, &P.out, id, PX_INVALID_ARGUMENT, how & 4, "bad \xff\n% input", meta, ml);
        return;
    }
    size_t mark = ops()->reply_begin(cs, &P.out, id, meta, ml);
    if (mark == SIZE_MAX)
        return;
    px_buf_append(&P.out, body, len);
    if (how & 4) { /* the core cuts the body (it could not be made) and answers an error */
        P.out.len = mark;
        ops()->reply_error(cs, &P.out, id, PX_INTERNAL, 0, "cannot encode", NULL, 0);
        return;
    }
    ops()->reply_end(cs, &P.out, mark);
    if (how & 8) { /* over the memory budget: the core cuts what reply_end wrote */
        P.out.len = mark;
        ops()->reply_error(cs, &P.out, id, PX_RESOURCE_EXHAUSTED, 0, "over budget", NULL, 0);
    }
}

static void *CS;

void px_pconn_request(px_pconn *pc, const px_preq *r)
{
    if (r->id == 0 || !r->codec || !r->method || !memchr(r->method, '/', r->method_len))
        fail("a request without an id, a codec or a method");
    for (size_t i = 0; i < P.n_pending; i++)
        if (P.pending[i] == r->id)
            fail("a request reuses the id of a call in progress");
    if ((P.mode & 0x10) || P.n_pending == INFLIGHT) { /* answered before it returns */
        answer(CS, r->id, r->body, r->body_len, (int)(r->id >> 1) & 15);
        return;
    }
    P.pending[P.n_pending++] = r->id;
}

void px_pconn_cancel(px_pconn *pc, uint64_t id)
{
    for (size_t i = 0; i < P.n_pending; i++)
        if (P.pending[i] == id) {
            P.pending[i] = P.pending[--P.n_pending];
            return;
        }
    fail("a cancel of a call not in progress");
}

/* ---- the driver ---------------------------------------------------------------- */

static const uint64_t meta_limits[4] = {0, 64, 4096, 16384};
static const uint64_t body_limits[4] = {1024, 4096, 65536, 1u << 20};

/* Input: byte 0 the mode (bits 0-1 max_meta, 2-3 max_frame, 4 answer at once, 5
 * px_pconn_more says no now and then, 6 goaway half-way, 7 cut out between pieces),
 * byte 1 the piece size; the rest what the client sends after its preface. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    memset(&P, 0, sizeof P);
    P.mode = data[0];
    P.lim = (px_plimits){.max_meta = meta_limits[P.mode & 3],
                         .max_body = body_limits[(P.mode >> 2) & 3], .max_inflight = 16};
    P.more_every = P.mode & 0x20 ? 3 : 0;
    size_t piece = data[1] ? data[1] : 4096;
    px_buf in = {0};
    px_buf_append(&in, GR_PREFACE, GR_PREFACE_LEN);
    px_buf_append(&in, data + 2, size - 2);

    if (ops()->detect(in.data, in.len) != PX_DETECT_YES)
        fail("the preface is not detected");
    if (ops()->conn_open(NULL, (px_pconn *)&P, &CS) != 0)
        return 0;
    size_t start = 0, end = 0; /* in[start..end): offered; what it leaves comes again */
    int rounds = 0;
    while (start < in.len && !P.failed && rounds++ < 100000) {
        end = in.len - end < piece ? in.len : end + piece;
        size_t used = ops()->conn_recv(CS, in.data + start, end - start);
        if (used > end - start)
            fail("conn_recv consumed more than it was given");
        start += used;
        if (used == 0 && end == in.len && P.more_every == 0)
            break;
        /* calls in progress are answered between reads, oldest first */
        while (P.n_pending && (P.pending[0] & 1)) {
            uint64_t id = P.pending[0];
            P.pending[0] = P.pending[--P.n_pending];
            answer(CS, id, (const uint8_t *)"\x08\x01", 2, (int)(id >> 1) & 15);
        }
        if ((P.mode & 0x40) && start > in.len / 2)
            ops()->goaway(CS, &P.out, PX_OK, "shutting down");
        if (P.mode & 0x80)
            P.out.len = 0; /* written to the peer */
    }
    while (P.n_pending) { /* the rest, at the end */
        uint64_t id = P.pending[--P.n_pending];
        answer(CS, id, (const uint8_t *)"", 0, (int)(id >> 1) & 15);
    }
    if (P.failed)
        ops()->conn_fail(CS, &P.out, PX_INVALID_ARGUMENT, "the end");
    ops()->conn_close(CS);
    if (P.held != 0)
        fail("conn_close did not give back all it charged");
    ops()->goaway(NULL, &P.out, PX_RESOURCE_EXHAUSTED, "too many connections");
    px_buf_free(&P.out);
    px_buf_free(&in);
    return 0;
}
