/* proto_http's answers. HTTP/1.1 answers pipelined requests in the order they came
 * (RFC 9112 §9.3.2), while the core answers calls as they finish: each request holds a
 * slot, in arrival order, and an answer that finishes before those ahead of it waits in
 * its slot (charged to the connection) until they have gone out. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

void http_charge(http_conn *s, int64_t delta)
{
    s->charged += delta;
    px_pconn_charge(s->pc, delta);
}

static http_slot *http_slot_at(http_conn *s, size_t k) { return &s->slots[(s->head_i + k) % s->cap]; }

/* The slot of call id; NULL when none waits for it. */
static http_slot *http_slot_find(http_conn *s, uint64_t id)
{
    if (s->count == 0)
        return NULL;
    uint64_t first = http_slot_at(s, 0)->id;
    if (id < first || id - first >= s->count)
        return NULL;
    return http_slot_at(s, (size_t)(id - first));
}

http_slot *http_slot_new(http_conn *s, int close, int minor, const char *ctype)
{
    if (s->count == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4;
        http_slot *n = malloc(cap * sizeof *n);
        if (!n)
            return NULL;
        for (size_t k = 0; k < s->count; k++)
            n[k] = *http_slot_at(s, k);
        free(s->slots);
        http_charge(s, (int64_t)((cap - s->cap) * sizeof *n));
        s->slots = n;
        s->cap = cap;
        s->head_i = 0;
    }
    http_slot *slot = http_slot_at(s, s->count++);
    *slot = (http_slot){.id = ++s->next_id, .close = close, .minor = minor, .ctype = ctype};
    return slot;
}

/* Sends the answers at the front that are done, in order. */
static void http_flush(http_conn *s, px_buf *out)
{
    while (s->count && http_slot_at(s, 0)->done) {
        http_slot *slot = http_slot_at(s, 0);
        if (px_buf_append(out, slot->bytes.data, slot->bytes.len) != 0) {
            px_pconn_fail(s->pc, PX_RESOURCE_EXHAUSTED, "http: out of memory sending an answer");
            s->failed = 1;
            return;
        }
        http_charge(s, -(int64_t)slot->bytes.cap);
        px_buf_free(&slot->bytes);
        s->head_i = (s->head_i + 1) % s->cap;
        s->count--;
    }
}

/*
 * The core may take back an answer just written: a reply that would take the
 * connection past its memory budget is cut from out (back to where the answer began)
 * and the call answered with an error instead, right away. Once an answer has left its
 * slot, that error would find none, and the answers flushed after it would be cut too.
 * So the op that sends one keeps its id, where it began and a copy of what followed it,
 * until the next op: if that is the error for the same id with out cut back, the error
 * goes out in its place and what followed is written again.
 */
void http_kept_drop(http_conn *s)
{
    if (!s->kept_valid)
        return;
    http_charge(s, -(int64_t)s->kept.cap);
    px_buf_free(&s->kept);
    s->kept_valid = 0;
}

/* Call id's answer went out at out[mark..after), then what it unblocked up to out->len. */
static void http_kept_set(http_conn *s, uint64_t id, const char *conn, const px_buf *out,
                          size_t mark, size_t after)
{
    http_kept_drop(s);
    if (out->len > after && px_buf_append(&s->kept, out->data + after, out->len - after) != 0)
        return; /* out of memory: the rare cut would go unrepaired, as before */
    http_charge(s, (int64_t)s->kept.cap);
    s->kept_valid = 1;
    s->kept_id = id;
    s->kept_conn = conn;
    s->kept_mark = mark;
}

/* The slot's answer, made in slot->bytes, is complete: out now or later. */
static void http_slot_done(http_conn *s, http_slot *slot, px_buf *out)
{
    slot->done = 1;
    http_charge(s, (int64_t)slot->bytes.cap);
    http_flush(s, out);
}

void http_slots_free(http_conn *s)
{
    http_kept_drop(s);
    for (size_t k = 0; k < s->count; k++) {
        http_slot *slot = http_slot_at(s, k);
        if (slot->done)
            http_charge(s, -(int64_t)slot->bytes.cap);
        px_buf_free(&slot->bytes);
    }
    http_charge(s, -(int64_t)(s->cap * sizeof *s->slots));
    free(s->slots);
    s->slots = NULL;
    s->cap = s->count = s->head_i = 0;
}

/* Connection header of an answer: close, or keep-alive said out loud to HTTP/1.0. */
static const char *http_conn_header(int close, int minor)
{
    if (close)
        return "Connection: close\r\n";
    return minor == 0 ? "Connection: keep-alive\r\n" : "";
}

/* A whole error answer: JSON body {"status":..., "message":...} and the headers. */
static int http_write_error(px_buf *b, int code, px_status st, const char *msg, int not_executed,
                            const char *allow, const uint8_t *meta, size_t meta_len,
                            const char *conn)
{
    px_buf body = {0};
    int rc = -1;
    if (http_appendf(&body, "{\"status\":\"%s\",\"message\":\"", px_status_name(st)) != 0 ||
        http_json_escape(&body, msg) != 0 || px_buf_append(&body, "\"}\n", 3) != 0)
        goto out;
    if (http_appendf(b, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\npx-status: %s\r\n"
                     "px-message: ", code, http_reason(code), px_status_name(st)) != 0 ||
        http_header_text(b, msg, 1024) != 0 || px_buf_append(b, "\r\n", 2) != 0)
        goto out;
    if (not_executed && http_appendf(b, "px-not-executed: 1\r\n") != 0)
        goto out;
    if (allow && http_appendf(b, "Allow: %s\r\n", allow) != 0)
        goto out;
    if (http_meta_headers(b, meta, meta_len) != 0 ||
        http_appendf(b, "%sContent-Length: %zu\r\n\r\n", conn, body.len) != 0 ||
        px_buf_append(b, body.data, body.len) != 0)
        goto out;
    rc = 0;
out:
    px_buf_free(&body);
    return rc;
}

int http_answer_own(http_conn *s, http_slot *slot, int code, px_status st, const char *msg,
                    const char *allow)
{
    http_kept_drop(s);
    const char *conn = http_conn_header(slot->close || s->closing, slot->minor);
    if (http_write_error(&slot->bytes, code, st, msg, 0, allow, NULL, 0, conn) != 0) {
        px_buf_free(&slot->bytes);
        return -1;
    }
    if (slot->head_only) { /* RFC 9110 9.3.2: no content, though Content-Length says it */
        const uint8_t *end = memmem(slot->bytes.data, slot->bytes.len, "\r\n\r\n", 4);
        slot->bytes.len = (size_t)(end + 4 - slot->bytes.data);
    }
    http_slot_done(s, slot, px_pconn_out(s->pc));
    return 0;
}

size_t http_reply_begin(void *cs, px_buf *out, uint64_t id, const uint8_t *meta, size_t meta_len)
{
    http_conn *s = cs;
    size_t mark = out->len;
    const http_slot *slot = http_slot_find(s, id);
    http_kept_drop(s);
    s->rb_hdr = 0;
    s->rb_id = id;
    if (!slot)
        return mark; /* not ours (cannot happen): reply_end drops it */
    if (http_appendf(out, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\npx-status: OK\r\n%s",
                     slot->ctype, http_conn_header(slot->close || s->closing, slot->minor)) != 0 ||
        http_meta_headers(out, meta, meta_len) != 0) {
        out->len = mark;
        return SIZE_MAX;
    }
    s->rb_hdr = out->len - mark;
    return mark;
}

size_t http_reply_end(void *cs, px_buf *out, size_t mark)
{
    http_conn *s = cs;
    size_t body = out->len - mark - s->rb_hdr;
    if (s->rb_hdr == 0) { /* no slot: nothing goes out */
        out->len = mark;
        return 0;
    }
    /* The length is known only now: it goes between the headers and the body. */
    char cl[48];
    int n = snprintf(cl, sizeof cl, "Content-Length: %zu\r\n\r\n", body);
    if (px_buf_reserve(out, (size_t)n) != 0) {
        out->len = mark; /* the client waits in vain: end the connection instead */
        px_pconn_fail(s->pc, PX_RESOURCE_EXHAUSTED, "http: out of memory framing an answer");
        s->failed = 1;
        return 0;
    }
    uint8_t *at = out->data + mark + s->rb_hdr;
    memmove(at + n, at, body);
    memcpy(at, cl, (size_t)n);
    out->len += (size_t)n;
    /* The answer is out[mark..]: it stays there only when nothing is ahead of it. */
    http_slot *slot = http_slot_find(s, s->rb_id);
    if (slot == http_slot_at(s, 0)) {
        size_t after = out->len;
        const char *conn = http_conn_header(slot->close || s->closing, slot->minor);
        s->head_i = (s->head_i + 1) % s->cap;
        s->count--;
        http_flush(s, out);
        http_kept_set(s, s->rb_id, conn, out, mark, after);
        return body;
    }
    if (px_buf_append(&slot->bytes, out->data + mark, out->len - mark) != 0) {
        out->len = mark;
        px_pconn_fail(s->pc, PX_RESOURCE_EXHAUSTED, "http: out of memory holding an answer");
        s->failed = 1;
        return 0;
    }
    out->len = mark;
    http_slot_done(s, slot, out);
    return body;
}

int http_reply_error(void *cs, px_buf *out, uint64_t id, px_status st, int not_executed,
                     const char *msg, const uint8_t *meta, size_t meta_len)
{
    http_conn *s = cs;
    http_slot *slot = http_slot_find(s, id);
    if (!slot) {
        /* The answer sent for id cut back by the core (above): this error replaces it. */
        int cut = s->kept_valid && s->kept_id == id && out->len == s->kept_mark;
        int rc = 0;
        if (cut && (http_write_error(out, http_code_of(st), st, msg, not_executed, NULL, meta,
                                     meta_len, s->kept_conn) != 0 ||
                    px_buf_append(out, s->kept.data, s->kept.len) != 0))
            rc = -1;
        http_kept_drop(s);
        return rc;
    }
    http_kept_drop(s);
    if (slot->done) { /* a held answer the core took back: the error goes instead */
        http_charge(s, -(int64_t)slot->bytes.cap);
        slot->bytes.len = 0;
        slot->done = 0;
    }
    const char *conn = http_conn_header(slot->close || s->closing, slot->minor);
    if (http_write_error(&slot->bytes, http_code_of(st), st, msg, not_executed, NULL, meta,
                         meta_len, conn) != 0) {
        px_buf_free(&slot->bytes);
        return -1;
    }
    int head = slot == http_slot_at(s, 0);
    size_t mark = out->len, after = mark + slot->bytes.len;
    http_slot_done(s, slot, out);
    if (head)
        http_kept_set(s, id, conn, out, mark, after);
    return 0;
}

/* HTTP/1.1 has no message for "no new requests": answers from now on say
 * Connection: close. A refused connection (cs NULL) gets a 503 before it closes. */
void http_goaway(void *cs, px_buf *out, px_status st, const char *why)
{
    http_conn *s = cs;
    if (s) {
        s->closing = 1;
        return;
    }
    http_write_error(out, 503, st, why, 1, NULL, NULL, 0, "Connection: close\r\n");
}

/* The last words before the connection closes on an error: the answer to the request
 * that could not be read (its code set by the reader), or the core's reason (a
 * read_timeout: 408). Nothing for an ordinary close. */
void http_conn_fail(void *cs, px_buf *out, px_status st, const char *msg)
{
    http_conn *s = cs;
    http_kept_drop(s);
    if (s->quiet_close)
        return;
    http_flush(s, out);
    int code = s->fail_code;
    if (!code)
        code = st == PX_DEADLINE_EXCEEDED ? 408 : http_code_of(st);
    if (s->count == 0) /* an answer now would be taken for that of a request ahead */
        http_write_error(out, code, st, msg, 1, NULL, NULL, 0, "Connection: close\r\n");
}
