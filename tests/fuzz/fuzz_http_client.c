/* libFuzzer target: proto_http's client half reading what a server sends. The input's
 * first byte picks the piece size and how many calls were sent; the rest is the
 * server's bytes, handed to client_next in pieces as the clients do (what it leaves
 * unconsumed comes back with the next piece). Checks: READY first; answers name the
 * calls sent, oldest first; an ERROR never says OK; bodies and metadata stay within the
 * limits; a refusal (PX_CNEXT_ERROR) says why; nothing leaks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

static void fz_fail(const char *what)
{
    fprintf(stderr, "fuzz_http_client: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned step = data[0] % 29 + 1, calls = data[0] / 29 + 1;
    data++, size--;
    const px_plimits lim = {.max_body = 2048, .max_meta = 256, .max_inflight = 0};
    void *cs = NULL;
    px_buf out = {0}, in = {0};
    if (http_client_open(NULL, "json", &out, &cs) != 0)
        abort();
    px_cmsg m;
    size_t used;
    px_err err;
    if (http_client_next(cs, NULL, 0, &lim, &out, &m, &used, &err) != PX_CNEXT_MSG ||
        m.kind != PX_CMSG_READY || used != 0)
        fz_fail("no READY first");
    static const uint8_t meta[] = {1, 'k', 0, 1, 'v'};
    for (unsigned i = 0; i < calls; i++) {
        px_creq q = {.id = 100 + i, .timeout_us = 1500, .method = "a.B/C", .method_len = 5,
                     .meta = meta, .meta_len = sizeof meta};
        if (http_client_request(cs, &out, &q, (const uint8_t *)"{}", 2) != 0)
            abort();
    }
    uint64_t next = 100;
    int broken = 0;
    for (size_t off = 0; off < size && !broken;) {
        size_t n = size - off < step ? size - off : step;
        px_buf_append(&in, data + off, n);
        off += n;
        for (;;) {
            int r = http_client_next(cs, in.data, in.len, &lim, &out, &m, &used, &err);
            if (used > in.len)
                fz_fail("client_next used more than it was given");
            memmove(in.data, in.data + used, in.len - used);
            in.len -= used;
            if (r == PX_CNEXT_ERROR) {
                if (!err.msg[0])
                    fz_fail("a refusal without a reason");
                broken = 1;
                break;
            }
            if (r == PX_CNEXT_MORE)
                break;
            if (m.body_len > lim.max_body || m.meta_len > lim.max_meta)
                fz_fail("a message past the limits");
            if (m.kind == PX_CMSG_REPLY || m.kind == PX_CMSG_ERROR) {
                if (m.id != next++)
                    fz_fail("an answer to a call other than the oldest");
                if (m.kind == PX_CMSG_ERROR && m.status == PX_OK)
                    fz_fail("an ERROR that says OK");
            } else if (m.kind != PX_CMSG_CONN_ERROR && m.kind != PX_CMSG_GOAWAY) {
                fz_fail("an unexpected kind of message");
            }
            if (used == 0)
                fz_fail("a message that consumed no bytes");
        }
    }
    http_client_close(cs);
    px_buf_free(&in);
    px_buf_free(&out);
    return 0;
}
