/* libFuzzer target: proto_grpc's client half (modules/proto_grpc, compiled in) reading
 * what a server sends: the input is the server's bytes, handed to client_next in
 * fuzzer-chosen pieces after five calls went out (ids 1..5), with a cancel and a ping
 * half-way. Checked: every message is one a client may get (READY first and once;
 * REPLY and ERROR only for a call in progress, once, ERROR never OK, bodies and metadata
 * within the upstream's limits), client_next never consumes more than it was given nor
 * returns a message for no bytes; all is freed at client_close (ASan: no leak). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_int.h"

extern const px_module plexus_module;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_grpc_client: %s\n", what);
    abort();
}

/* The server half's core calls: never made here (compiled in with the module). */
px_buf *px_pconn_out(px_pconn *pc) { abort(); }
const char *px_pconn_peer(const px_pconn *pc) { abort(); }
const px_plimits *px_pconn_limits(const px_pconn *pc) { abort(); }
const char *px_pcodec_name(const px_pcodec *c) { abort(); }
void px_pconn_ready(px_pconn *pc) { abort(); }
void px_pconn_charge(px_pconn *pc, int64_t bytes) { abort(); }
void px_pconn_partial(px_pconn *pc, int partial) { abort(); }
int px_pconn_more(px_pconn *pc) { abort(); }
const px_pcodec *px_pconn_codec(px_pconn *pc, const char *n, size_t l, px_err *e) { abort(); }
void px_pconn_fail(px_pconn *pc, px_status st, const char *fmt, ...) { abort(); }
void px_pconn_request(px_pconn *pc, const px_preq *r) { abort(); }
void px_pconn_cancel(px_pconn *pc, uint64_t id) { abort(); }

#define CALLS 5

/* Input: byte 0 the piece size, byte 1 the limits; the rest what the server sends. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const px_protocol_ops *ops = plexus_module.ops;
    size_t piece = data[0] ? data[0] : 4096;
    px_plimits lim = {.max_body = data[1] & 1 ? 64 : 1u << 20, .max_meta = data[1] & 2 ? 16 : 4096};
    data += 2, size -= 2;
    px_buf out = {0};
    void *cs;
    if (ops->client_open(NULL, data[-1] & 4 ? "json" : "protobuf", &out, &cs) != 0)
        return 0;
    static const uint8_t meta[] = {6, 't', 'e', 'n', 'a', 'n', 't', 0, 4, 'a', 'c', 'm', 'e',
                                   5, 'k', '-', 'b', 'i', 'n', 0, 2, 0, 0xff};
    int open[CALLS + 1] = {0};
    for (int i = 1; i <= CALLS; i++) {
        px_creq r = {.id = (uint64_t)i, .timeout_us = i * 1000000LL, .method = "calc.Calculator/Add",
                     .method_len = 19, .meta = i & 1 ? meta : NULL, .meta_len = i & 1 ? sizeof meta : 0};
        if (ops->client_request(cs, &out, &r, (const uint8_t *)"\x08\x01\x10\x02", 4) == 0)
            open[i] = 1;
    }
    size_t start = 0, end = 0;
    int ready = 0, rounds = 0, empty = 0;
    while (start < size && rounds++ < 100000) {
        end = size - end < piece ? size : end + piece;
        px_cmsg m;
        size_t used = 0;
        px_err err;
        int r = ops->client_next(cs, data + start, end - start, &lim, &out, &m, &used, &err);
        if (used > end - start)
            fail("client_next consumed more than it was given");
        start += used;
        if (r == PX_CNEXT_ERROR)
            break;
        if (r == PX_CNEXT_MORE) {
            if (end == size)
                break;
            continue;
        }
        if (used == 0 && ++empty > 1)
            fail("messages that consumed no bytes");
        switch (m.kind) {
        case PX_CMSG_READY:
            if (ready++)
                fail("a second READY");
            break;
        case PX_CMSG_REPLY:
        case PX_CMSG_ERROR:
            if (m.id == 0 || m.id > CALLS || !open[m.id])
                fail("an answer to no call in progress");
            open[m.id] = 0;
            if (m.kind == PX_CMSG_ERROR && m.status == PX_OK)
                fail("an ERROR with status OK");
            if (m.kind == PX_CMSG_REPLY && m.body_len > lim.max_body)
                fail("a reply past max_frame");
            if (m.meta_len > lim.max_meta)
                fail("response metadata past max_meta");
            break;
        case PX_CMSG_GOAWAY:
        case PX_CMSG_CONN_ERROR:
        case PX_CMSG_PONG:
            break;
        default:
            fail("a message a client cannot get");
        }
        if (start > size / 2 && open[2]) { /* the caller gives up on call 2 */
            open[2] = 0;
            ops->client_cancel(cs, &out, 2);
            ops->client_ping(cs, &out, 77);
        }
        out.len = 0; /* written to the server */
    }
    ops->client_close(cs);
    px_buf_free(&out);
    return 0;
}
