/* Metadata: the public px_meta list and the wire codec of a frame's metadata section
 * (docs/PROTOCOL.md §2.3): every bound, every refused byte, truncation at every offset,
 * repeated keys, order, the client's max_meta bound, and a filter's view of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plexus/px_meta.h"
#include "px_client_int.h"
#include "px_fchain.h"
#include "px_frame.h"
#include "px_frame.h"
#include "px_meta.h"

/* The wire check of m's own encoding: it must accept it with m's count. */
static void assert_wire_ok(const px_meta *m)
{
    size_t count = 99, at = 0;
    char what[200];
    assert_int_equal(px_meta_wire_check(m->enc.data, m->enc.len, &count, &at, what, sizeof what), 0);
    assert_int_equal(count, px_meta_count(m));
}

/* The wire check of p[0..len) refuses at byte want_at, with want in its message. */
static void assert_wire_bad(const uint8_t *p, size_t len, size_t want_at, const char *want)
{
    size_t count = 0, at = 0;
    char what[200] = "";
    assert_int_equal(px_meta_wire_check(p, len, &count, &at, what, sizeof what), -1);
    if (at != want_at)
        fail_msg("refused at byte %zu, expected %zu (%s)", at, want_at, what);
    if (strstr(what, want) == NULL)
        fail_msg("'%s' does not say '%s'", what, want);
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = 0;
    return s;
}

static void test_key_lengths(void **state)
{
    px_meta *m = px_meta_new();
    px_err err;
    assert_int_equal(px_meta_add_str(m, "k", "v", &err), PX_OK);
    char *k255 = repeat('a', 255), *k256 = repeat('a', 256);
    assert_int_equal(px_meta_add_str(m, k255, "v", &err), PX_OK);
    assert_int_equal(px_meta_add_str(m, k256, "v", &err), PX_INVALID_ARGUMENT);
    assert_non_null(strstr(err.msg, "has 256 bytes (at most 255)"));
    assert_int_equal(px_meta_add_str(m, "", "v", &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "metadata key is empty");
    assert_int_equal(px_meta_add_str(m, NULL, "v", &err), PX_INVALID_ARGUMENT);
    assert_int_equal(px_meta_count(m), 2);
    assert_wire_ok(m);
    /* 1 + 1 + 2 + 1, then 1 + 255 + 2 + 1 */
    assert_int_equal(m->enc.len, 5 + 259);
    assert_int_equal(m->enc.data[5], 255);
    size_t len = 0;
    assert_memory_equal(px_meta_get(m, k255, &len), "v", 1);
    assert_int_equal(len, 1);
    free(k255);
    free(k256);
    /* On the wire a key_len of 0 is refused where it stands. */
    const uint8_t zero[] = {1, 'a', 0, 0, 0, 0, 0};
    assert_wire_bad(zero, sizeof zero, 4, "key_len is 0");
    px_meta_free(m);
}

static void test_value_lengths(void **state)
{
    px_meta *m = px_meta_new();
    px_err err;
    char *big = repeat('x', 65535), *bigger = repeat('x', 65536);
    assert_int_equal(px_meta_add(m, "empty", NULL, 0, &err), PX_OK);
    assert_int_equal(px_meta_add(m, "big", big, 65535, &err), PX_OK);
    assert_int_equal(px_meta_add(m, "bigger", bigger, 65536, &err), PX_INVALID_ARGUMENT);
    assert_non_null(strstr(err.msg, "has 65536 bytes (at most 65535)"));
    assert_int_equal(px_meta_count(m), 2);
    assert_wire_ok(m);
    size_t len = 7;
    const void *v = px_meta_get(m, "empty", &len);
    assert_non_null(v); /* present, and empty: not the NULL of an absent key */
    assert_int_equal(len, 0);
    v = px_meta_get(m, "big", &len);
    assert_int_equal(len, 65535);
    assert_memory_equal(v, big, 65535);
    assert_null(px_meta_get(m, "absent", &len));
    /* value_len is big-endian: 0xff 0xff */
    assert_int_equal(m->enc.data[1 + 5 + 2 + 1 + 3], 0xff);
    assert_int_equal(m->enc.data[1 + 5 + 2 + 1 + 3 + 1], 0xff);
    free(big);
    free(bigger);
    px_meta_free(m);
}

static void test_every_key_byte(void **state)
{
    for (int c = 1; c < 256; c++) {
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                 c == '.';
        char key[4] = {'a', (char)c, 'b', 0};
        px_meta *m = px_meta_new();
        px_err err;
        px_status st = px_meta_add_str(m, key, "v", &err);
        if (ok) {
            assert_int_equal(st, PX_OK);
            assert_wire_ok(m);
        } else {
            assert_int_equal(st, PX_INVALID_ARGUMENT);
            assert_non_null(strstr(err.msg, "byte 1"));
            assert_non_null(strstr(err.msg, "is not one of a-z 0-9 - _ ."));
            const uint8_t wire[] = {3, 'a', (uint8_t)c, 'b', 0, 1, 'v'};
            assert_wire_bad(wire, sizeof wire, 2, "is not one of a-z 0-9 - _ .");
        }
        px_meta_free(m);
    }
    /* A NUL inside a key on the wire (the API cannot express one). */
    const uint8_t nul[] = {2, 'a', 0, 0, 0};
    assert_wire_bad(nul, sizeof nul, 2, "key byte 0x00");
}

static void test_every_value_byte(void **state)
{
    for (int c = 0; c < 256; c++) {
        uint8_t v[3] = {'x', (uint8_t)c, 'y'};
        int text = c >= 0x20 && c <= 0x7e;
        px_meta *m = px_meta_new();
        px_err err;
        /* Any byte in the value of a -bin key. */
        assert_int_equal(px_meta_add(m, "blob-bin", v, 3, &err), PX_OK);
        px_status st = px_meta_add(m, "note", v, 3, &err);
        if (text) {
            assert_int_equal(st, PX_OK);
            assert_wire_ok(m);
        } else {
            assert_int_equal(st, PX_INVALID_ARGUMENT);
            assert_non_null(strstr(err.msg, "byte 1"));
            assert_non_null(strstr(err.msg, "binary values need a key ending in -bin"));
            assert_wire_ok(m);
            const uint8_t wire[] = {4, 'n', 'o', 't', 'e', 0, 3, 'x', (uint8_t)c, 'y'};
            assert_wire_bad(wire, sizeof wire, 8, "of key 'note' is not printable ASCII");
        }
        px_meta_free(m);
    }
    /* "-bin" must end the key: "bin" alone or "x-bin-y" are text keys. */
    px_meta *m = px_meta_new();
    px_err err;
    assert_int_equal(px_meta_add(m, "bin", "\x01", 1, &err), PX_INVALID_ARGUMENT);
    assert_int_equal(px_meta_add(m, "x-bin-y", "\x01", 1, &err), PX_INVALID_ARGUMENT);
    assert_int_equal(px_meta_add(m, "-bin", "\x00\xff", 2, &err), PX_OK);
    px_meta_free(m);
}

static void test_reserved_prefixes(void **state)
{
    px_meta *m = px_meta_new();
    px_err err;
    const char *reserved[] = {"px-trace", "px-", "grpc-timeout", "grpc-"};
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++) {
        assert_int_equal(px_meta_add_str(m, reserved[i], "1", &err), PX_INVALID_ARGUMENT);
        assert_non_null(strstr(err.msg, "is reserved"));
    }
    /* Only the prefix is reserved. */
    assert_int_equal(px_meta_add_str(m, "px", "1", &err), PX_OK);
    assert_int_equal(px_meta_add_str(m, "pxfoo", "1", &err), PX_OK);
    assert_int_equal(px_meta_add_str(m, "grpc", "1", &err), PX_OK);
    assert_int_equal(px_meta_add_str(m, "x-px-y", "1", &err), PX_OK);
    /* The wire takes them: the framework may send px- keys itself. */
    const uint8_t wire[] = {3, 'p', 'x', '-', 0, 1, '1'};
    size_t count = 0, at = 0;
    char what[200];
    assert_int_equal(px_meta_wire_check(wire, sizeof wire, &count, &at, what, sizeof what), 0);
    assert_int_equal(count, 1);
    px_meta_free(m);
}

/* A valid section of a few entries of different shapes. */
static px_meta *sample(void)
{
    px_meta *m = px_meta_new();
    px_err err;
    assert_int_equal(px_meta_add_str(m, "a", "", &err), PX_OK);
    assert_int_equal(px_meta_add_str(m, "trace.id", "4bf92f3577b34da6", &err), PX_OK);
    assert_int_equal(px_meta_add(m, "raw-bin", "\x00\xff\x0a", 3, &err), PX_OK);
    assert_int_equal(px_meta_add_str(m, "x", "1", &err), PX_OK);
    return m;
}

static void test_truncation_at_every_offset(void **state)
{
    px_meta *m = sample();
    const uint8_t *p = m->enc.data;
    size_t len = m->enc.len;
    for (size_t n = 0; n < len; n++) {
        /* Where the wire check must stop: the entry n cuts, and the field of it. */
        size_t s = 0, k = 0;
        for (;;) {
            size_t next = s + 1 + p[s] + 2 + ((size_t)p[s + 1 + p[s]] << 8 | p[s + 2 + p[s]]);
            if (next > n)
                break;
            s = next;
            k++;
        }
        size_t count = 0, at = 0;
        char what[200] = "";
        int r = px_meta_wire_check(p, n, &count, &at, what, sizeof what);
        if (n == s) { /* an entry boundary: a shorter, valid section */
            assert_int_equal(r, 0);
            assert_int_equal(count, k);
            continue;
        }
        assert_int_equal(r, -1);
        size_t voff = s + 1 + p[s];
        if (n < voff) {
            assert_int_equal(at, s);
            assert_non_null(strstr(what, "runs past the end"));
        } else if (n < voff + 2) {
            assert_int_equal(at, voff);
            assert_non_null(strstr(what, "needs 2 bytes"));
        } else {
            assert_int_equal(at, voff);
            assert_non_null(strstr(what, "runs past the end"));
        }
    }
    px_meta_free(m);
}

static void test_repeated_keys_and_order(void **state)
{
    px_meta *m = px_meta_new();
    px_err err;
    const char *keys[] = {"b", "a", "b", "c", "b"};
    const char *vals[] = {"1", "2", "3", "4", "5"};
    for (int i = 0; i < 5; i++)
        assert_int_equal(px_meta_add_str(m, keys[i], vals[i], &err), PX_OK);
    assert_int_equal(px_meta_count(m), 5);
    size_t len;
    assert_memory_equal(px_meta_get(m, "b", &len), "1", 1); /* the first */
    assert_memory_equal(px_meta_get(m, "c", NULL), "4", 1);
    /* In order, forwards, then backwards and at random (the cursor restarts). */
    size_t order[] = {0, 1, 2, 3, 4, 4, 2, 0, 3, 1};
    for (size_t j = 0; j < sizeof order / sizeof *order; j++) {
        size_t i = order[j];
        const char *k;
        size_t klen, vlen;
        const void *v;
        assert_int_equal(px_meta_at(m, i, &k, &klen, &v, &vlen), 0);
        assert_int_equal(klen, 1);
        assert_memory_equal(k, keys[i], 1);
        assert_int_equal(vlen, 1);
        assert_memory_equal(v, vals[i], 1);
    }
    assert_int_equal(px_meta_at(m, 5, NULL, NULL, NULL, NULL), -1);
    assert_int_equal(px_meta_at(NULL, 0, NULL, NULL, NULL, NULL), -1);
    assert_int_equal(px_meta_count(NULL), 0);
    assert_null(px_meta_get(NULL, "b", NULL));
    /* A view over the same bytes reads the same; a copy too. */
    px_meta view, copy = {0};
    px_meta_view(&view, m->enc.data, m->enc.len, m->count);
    assert_int_equal(px_meta_assign(&copy, m->enc.data, m->enc.len, m->count), 0);
    const char *k;
    assert_int_equal(px_meta_at(&view, 3, &k, NULL, NULL, NULL), 0);
    assert_memory_equal(k, "c", 1);
    assert_memory_equal(px_meta_get(&copy, "a", NULL), "2", 1);
    assert_int_equal(copy.enc.len, m->enc.len);
    px_buf_free(&copy.enc);
    /* Cleared, it is empty and takes new entries. */
    px_meta_clear(m);
    assert_int_equal(px_meta_count(m), 0);
    assert_null(px_meta_get(m, "b", NULL));
    assert_int_equal(px_meta_add_str(m, "z", "9", &err), PX_OK);
    assert_int_equal(px_meta_at(m, 0, &k, NULL, NULL, NULL), 0);
    assert_memory_equal(k, "z", 1);
    px_meta_free(m);
    px_meta_free(NULL);
}

/* A client's request metadata may not pass its upstream's max_meta: refused before
 * anything is sent, naming both sizes. */
static void test_max_meta_bound(void **state)
{
    px_upstream_conf uc = {.name = "calc"};
    uc.limits.max_meta = 20;
    px_upstream up = {.conf = &uc};
    px_meta *m = px_meta_new();
    px_err err;
    assert_int_equal(px_meta_add_str(m, "key", "0123456789abcd", &err), PX_OK); /* 3+3+14 = 20 */
    const uint8_t *p = NULL;
    size_t len = 0;
    assert_int_equal(px__call_meta(&up, "calc.Calculator/Echo", m, &p, &len, &err), PX_OK);
    assert_int_equal(len, 20);
    assert_ptr_equal(p, m->enc.data);
    assert_int_equal(px_meta_add(m, "k", NULL, 0, &err), PX_OK); /* 24 bytes */
    assert_int_equal(px__call_meta(&up, "calc.Calculator/Echo", m, &p, &len, &err),
                     PX_RESOURCE_EXHAUSTED);
    assert_string_equal(err.msg, "calc.Calculator/Echo: request metadata of 24 bytes exceeds "
                                 "max_meta 20 of upstream calc (not sent)");
    /* An empty list is no metadata at all. */
    px_meta_clear(m);
    assert_int_equal(px__call_meta(&up, "calc.Calculator/Echo", m, &p, &len, &err), PX_OK);
    assert_null(p);
    assert_int_equal(len, 0);
    px_meta_free(m);
}

/* No list grows past the largest max_meta any peer accepts. */
static void test_list_bound(void **state)
{
    px_meta *m = px_meta_new();
    px_err err;
    char *v = repeat('v', 65535);
    size_t n = 0;
    px_status st;
    while ((st = px_meta_add(m, "k", v, 65535, &err)) == PX_OK)
        n++;
    assert_int_equal(st, PX_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(err.msg, "past 16777216"));
    assert_int_equal(n, (16u << 20) / (65535 + 4));
    assert_true(m->enc.len <= (16u << 20));
    free(v);
    px_meta_free(m);
}

/* A malformed reply's metadata, as the clients report it. */
static void test_reply_meta_check(void **state)
{
    const uint8_t bad[] = {1, 'A', 0, 0};
    size_t n = 0;
    px_err err;
    assert_int_equal(px__reply_meta_check(bad, sizeof bad, "127.0.0.1:1", &n, NULL, &err),
                     PX_INTERNAL);
    assert_string_equal(err.msg, "malformed response metadata from 127.0.0.1:1 at byte 1: key "
                                 "byte 0x41 is not one of a-z 0-9 - _ .");
    const uint8_t good[] = {1, 'a', 0, 1, 'z'};
    px_meta *copy = px_meta_new();
    assert_int_equal(px__reply_meta_check(good, sizeof good, "127.0.0.1:1", &n, copy, &err),
                     PX_OK);
    assert_int_equal(n, 1);
    assert_memory_equal(px_meta_get(copy, "a", NULL), "z", 1);
    px_meta_free(copy);
}

/* The worked example of docs/PROTOCOL.md §2.3, byte for byte. */
static void test_protocol_example(void **state)
{
    static const uint8_t want_meta[] = {
        0x06, 0x74, 0x65, 0x6e, 0x61, 0x6e, 0x74, 0x00, 0x04, 0x62, 0x6c, 0x75, 0x65, 0x09,
        0x74, 0x72, 0x61, 0x63, 0x65, 0x2d, 0x62, 0x69, 0x6e, 0x00, 0x02, 0x00, 0xff};
    static const char want_frame[] =
        "50580102000000000000000000000002000003e8001300000000001b0000000463616c632e43616c63"
        "756c61746f722f4164640674656e616e740004626c75650974726163652d62696e000200ff08021003";
    px_meta *m = px_meta_new();
    px_err err;
    assert_int_equal(px_meta_add_str(m, "tenant", "blue", &err), PX_OK);
    assert_int_equal(px_meta_add(m, "trace-bin", "\x00\xff", 2, &err), PX_OK);
    assert_int_equal(m->enc.len, sizeof want_meta);
    assert_memory_equal(m->enc.data, want_meta, sizeof want_meta);
    px_frame f = {.type = PX_FRAME_REQUEST, .id = 2, .deadline_ms = 1000,
                  .method = (const uint8_t *)"calc.Calculator/Add", .method_len = 19,
                  .meta = m->enc.data, .meta_len = (uint32_t)m->enc.len,
                  .body = (const uint8_t *)"\x08\x02\x10\x03", .body_len = 4};
    px_buf b = {0};
    assert_int_equal(px_frame_append(&b, &f), 0);
    char hex[2 * 82 + 1];
    assert_int_equal(b.len, 82);
    for (size_t i = 0; i < b.len; i++)
        snprintf(hex + 2 * i, 3, "%02x", b.data[i]);
    assert_string_equal(hex, want_frame);
    px_buf_free(&b);
    px_meta_free(m);
}

/* A filter's view of metadata (px_filter.h): the request's, what it adds for the answer,
 * and in on_done the answer's; nothing can be added once the call is done. */
static px_status mf_add_in_done;
static size_t mf_reply_count;

static px_filter_verdict mf_request(void *state, px_fcall *call)
{
    size_t len = 0;
    const void *tenant = px_meta_get(px_fcall_meta(call), "tenant", &len);
    px_err err;
    if (!tenant || px_fcall_add_meta(call, "tenant-seen", tenant, len, &err) != PX_OK ||
        px_fcall_add_meta(call, "px-x", "1", 1, &err) != PX_INVALID_ARGUMENT)
        px_fcall_reject(call, PX_INTERNAL, "unexpected");
    return PX_FILTER_CONTINUE;
}

static void mf_done(void *state, px_fcall *call)
{
    px_err err;
    mf_reply_count = px_meta_count(px_fcall_reply_meta(call));
    mf_add_in_done = px_fcall_add_meta(call, "late", "1", 1, &err);
}

static void test_filter_meta(void **state)
{
    static const px_filter_ops ops = {.sides = PX_FILTER_SERVER, .on_request = mf_request,
                                      .on_done = mf_done};
    px_fchain chain = {.e = {{.ops = &ops, .name = "mf"}}, .n = 1};
    int64_t deadline = INT64_MAX;
    px_meta *req = px_meta_new(), *answer = NULL;
    px_err err;
    assert_int_equal(px_meta_add_str(req, "tenant", "acme", &err), PX_OK);
    _Alignas(px_fcall) unsigned char room[px_fcall_size(1)]; /* with its one filter's slot */
    px_fcall *fcp = (px_fcall *)room;
#define fc (*fcp)
    px_fcall_begin(&fc, &chain, PX_FILTER_SERVER);
    fc.method = "calc.Calculator/Add";
    fc.deadline_us = &deadline;
    fc.meta = req;
    fc.add_meta = &answer;
    assert_int_equal(px_fchain_request(&fc), PX_FILTER_CONTINUE);
    assert_int_equal(fc.status, PX_OK);
    assert_non_null(answer); /* made on first use */
    assert_memory_equal(px_meta_get(answer, "tenant-seen", NULL), "acme", 4);
    assert_int_equal(px_meta_count(answer), 1);
    fc.add_meta = NULL; /* the answer went out */
    fc.reply_meta = answer;
    px_fchain_done(&fc, PX_OK, "");
    assert_int_equal(mf_reply_count, 1);
    assert_int_equal(mf_add_in_done, PX_FAILED_PRECONDITION);
    /* A call without metadata: empty lists, never NULL. */
    px_fcall_begin(&fc, &chain, PX_FILTER_SERVER);
    assert_non_null(px_fcall_meta(&fc));
    assert_int_equal(px_meta_count(px_fcall_meta(&fc)), 0);
    assert_int_equal(px_meta_count(px_fcall_reply_meta(&fc)), 0);
    px_meta_free(req);
    px_meta_free(answer);
#undef fc
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_lengths),
        cmocka_unit_test(test_value_lengths),
        cmocka_unit_test(test_every_key_byte),
        cmocka_unit_test(test_every_value_byte),
        cmocka_unit_test(test_reserved_prefixes),
        cmocka_unit_test(test_truncation_at_every_offset),
        cmocka_unit_test(test_repeated_keys_and_order),
        cmocka_unit_test(test_max_meta_bound),
        cmocka_unit_test(test_list_bound),
        cmocka_unit_test(test_reply_meta_check),
        cmocka_unit_test(test_protocol_example),
        cmocka_unit_test(test_filter_meta),
    };
    return cmocka_run_group_tests_name("meta", tests, NULL, NULL);
}
