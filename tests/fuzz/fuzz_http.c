/* libFuzzer target: proto_http's server half reading requests (modules/proto_http). The
 * input is the bytes a client sends, fed in pieces whose sizes the first byte picks
 * (so that every parser callback is split somewhere), with unconsumed bytes handed back
 * as the core does. The core's side (px_pconn_*) is played here: requests are checked
 * (nonzero unique ids, a method, a body within max_frame, metadata within max_meta) and
 * answered out of order, by reply or error, past max_inflight refused at once, as the
 * core refuses them; some answers are then taken back and replaced by an error, as the
 * core does with a reply past the memory budget. Invariants: every call is answered
 * exactly once, in request order; every byte the module charged is given back by
 * conn_close; nothing leaks. */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

extern const px_module plexus_module;

#define FZ_INFLIGHT 4
#define FZ_MAX_PENDING 64

static struct {
    px_buf out;
    px_plimits lim;
    int64_t charged;
    int failed;
    uint64_t pending[FZ_MAX_PENDING];
    size_t n_pending;
    uint64_t last_sent;  /* the last id seen in out, in order */
    size_t requests, answers_seen;
    size_t out_checked;  /* bytes of out already scanned */
} fz;

static const char *fz_codec_names[] = {"json", "protobuf"};

static void fz_fail(const char *what)
{
    fprintf(stderr, "fuzz_http: %s\n", what);
    abort();
}

/* ---- the core's side ---- */
px_buf *px_pconn_out(px_pconn *pc) { return &fz.out; }
const char *px_pconn_peer(const px_pconn *pc) { return "127.0.0.1:1"; }
const px_plimits *px_pconn_limits(const px_pconn *pc) { return &fz.lim; }
const char *px_pcodec_name(const px_pcodec *c) { return *(const char *const *)c; }
void px_pconn_ready(px_pconn *pc) {}
void px_pconn_cancel(px_pconn *pc, uint64_t id) {}
int px_pconn_more(px_pconn *pc) { return !fz.failed; }
void px_pconn_partial(px_pconn *pc, int partial) {}
void px_pconn_charge(px_pconn *pc, int64_t bytes)
{
    fz.charged += bytes;
    if (fz.charged < 0)
        fz_fail("more bytes given back than charged");
}

const px_pcodec *px_pconn_codec(px_pconn *pc, const char *name, size_t len, px_err *err)
{
    for (size_t i = 0; i < 2; i++)
        if (name && strlen(fz_codec_names[i]) == len && memcmp(fz_codec_names[i], name, len) == 0)
            return (const px_pcodec *)&fz_codec_names[i];
    px_err_set(err, PX_UNIMPLEMENTED, "codec '%.*s' is not available", (int)len, name ? name : "");
    return NULL;
}

void px_pconn_fail(px_pconn *pc, px_status st, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (st == PX_OK || !*msg)
        fz_fail("px_pconn_fail without a status or a message");
    fz.failed = 1;
}

static const px_protocol_ops *fz_ops(void) { return plexus_module.ops; }

/* Every answer names its call in response metadata: the header line
 * "px-meta-fz-id: N", which no text from the input can forge (the module turns CR and
 * LF of what it quotes into spaces). */
#define FZ_MARK "\r\npx-meta-fz-id: "

/* ok: a reply, else an error; cut: then the core takes that answer back (out back to
 * where it began: a reply past the memory budget) and answers with an error instead. */
static void fz_answer(void *cs, uint64_t id, int ok, int cut)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%llu", (unsigned long long)id);
    uint8_t meta[40] = {5, 'f', 'z', '-', 'i', 'd', 0, (uint8_t)n};
    memcpy(meta + 8, num, (size_t)n);
    size_t from = fz.out.len;
    if (ok) {
        size_t mark = fz_ops()->reply_begin(cs, &fz.out, id, meta, 8 + (size_t)n);
        if (mark == SIZE_MAX)
            abort();
        px_buf_append(&fz.out, "{}", 2);
        fz_ops()->reply_end(cs, &fz.out, mark);
    } else if (fz_ops()->reply_error(cs, &fz.out, id, PX_NOT_FOUND, 0, "not found", meta,
                                     8 + (size_t)n) != 0) {
        abort();
    }
    if (cut) {
        fz.out.len = from;
        if (fz.out_checked > from)
            fz.out_checked = from;
        if (fz_ops()->reply_error(cs, &fz.out, id, PX_RESOURCE_EXHAUSTED, 0, "dropped", meta,
                                  8 + (size_t)n) != 0)
            abort();
    }
}

void px_pconn_request(px_pconn *pc, const px_preq *r)
{
    if (r->id == 0 || r->method_len == 0 || !r->codec || r->body_len > fz.lim.max_body ||
        r->meta_len > fz.lim.max_meta || (r->meta_len && !r->meta))
        fz_fail("a request the module should not have passed on");
    fz.requests++;
    for (size_t i = 0; i < fz.n_pending; i++)
        if (fz.pending[i] == r->id)
            fz_fail("an id reused while in flight");
    if (fz.n_pending >= FZ_INFLIGHT) { /* the core refuses past max_inflight at once */
        fz_answer(*(void **)pc, r->id, 0, 0);
        return;
    }
    fz.pending[fz.n_pending++] = r->id;
}

/* ---- the checks ---- */

/* The ids in out since the last look must rise. */
static void fz_check_order(void)
{
    if (fz.out.len == fz.out_checked)
        return; /* nothing new (and out may have no storage yet) */
    const char *p = (const char *)fz.out.data + fz.out_checked;
    const char *end = (const char *)fz.out.data + fz.out.len;
    for (; p && p < end; p++) {
        p = memmem(p, (size_t)(end - p), FZ_MARK, strlen(FZ_MARK));
        if (!p)
            break;
        uint64_t id = strtoull(p + strlen(FZ_MARK), NULL, 10);
        if (id <= fz.last_sent)
            fz_fail("answers left out of request order");
        fz.last_sent = id;
        fz.answers_seen++;
    }
    fz.out_checked = fz.out.len;
}

/* Answers what is pending, newest first (out of order on purpose). */
static void fz_answer_pending(void *cs, unsigned pick)
{
    while (fz.n_pending) {
        uint64_t id = fz.pending[--fz.n_pending];
        fz_answer(cs, id, (pick >> (id % 8)) & 1, (pick >> ((id + 3) % 8)) & (id % 3 == 0));
    }
    fz_check_order();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    memset(&fz, 0, sizeof fz);
    fz.lim = (px_plimits){.max_body = 1024, .max_meta = 256, .max_inflight = FZ_INFLIGHT};
    unsigned step = data[0] % 61 + 1, pick = data[0];
    data++, size--;
    void *cs = NULL;
    /* The fake px_pconn is &cs: px_pconn_request finds the state there to answer. */
    if (fz_ops()->conn_open(NULL, (px_pconn *)&cs, &cs) != 0)
        abort();
    px_buf in = {0}; /* what the module left unconsumed, then what came next */
    for (size_t off = 0; off < size && !fz.failed;) {
        size_t n = size - off < step ? size - off : step;
        px_buf_append(&in, data + off, n);
        off += n;
        size_t used = fz_ops()->conn_recv(cs, in.data, in.len);
        if (used > in.len)
            fz_fail("conn_recv consumed more than it was given");
        memmove(in.data, in.data + used, in.len - used);
        in.len -= used;
        fz_answer_pending(cs, pick);
        if (fz.out.len > (1u << 20)) { /* bounded: a long input makes many answers */
            fz.out.len = 0;
            fz.out_checked = 0;
        }
    }
    fz_answer_pending(cs, pick);
    if (fz.failed)
        fz_ops()->conn_fail(cs, &fz.out, PX_INVALID_ARGUMENT, "the end");
    fz_check_order();
    if (fz.answers_seen != fz.requests)
        fz_fail("a call answered not exactly once");
    fz_ops()->conn_close(cs);
    if (fz.charged != 0)
        fz_fail("bytes charged and not given back by conn_close");
    px_buf_free(&in);
    px_buf_free(&fz.out);
    return 0;
}
