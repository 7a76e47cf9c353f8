/* proto_http's detect, through the module as built (proto_http.so): every method it
 * serves or answers 405, at every length (MORE while a prefix, YES with the space); NO
 * for HTTP/2's preface, native's magic, other methods, lowercase and missing spaces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <string.h>

#include "px_test_module.h"

static const px_protocol_ops *ops;
static void *handle;

static int setup(void **state)
{
    (void)state;
    const px_module *m = px_test_load_module("proto_http.so", &handle);
    if (!m || m->kind != PX_MOD_PROTOCOL)
        return -1;
    ops = m->ops;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dlclose(handle);
    return 0;
}

static px_detect detect(const char *s, size_t n) { return ops->detect((const uint8_t *)s, n); }

static void test_methods(void **state)
{
    (void)state;
    static const char *methods[] = {"GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        char line[32];
        size_t m = strlen(methods[i]);
        memcpy(line, methods[i], m);
        memcpy(line + m, " /x HTTP/1.1\r\n", 15);
        for (size_t n = 1; n <= m; n++)
            assert_int_equal(detect(line, n), PX_DETECT_MORE);
        assert_int_equal(detect(line, m + 1), PX_DETECT_YES);
        assert_int_equal(detect(line, strlen(line)), PX_DETECT_YES);
        line[m] = 'X'; /* "GETX": no */
        assert_int_equal(detect(line, m + 1), PX_DETECT_NO);
    }
}

static void test_others_say_no(void **state)
{
    (void)state;
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    for (size_t n = 1; n <= sizeof preface - 1; n++) /* P could be POST/PUT/PATCH... */
        assert_int_equal(detect(preface, n), n == 1 ? PX_DETECT_MORE : PX_DETECT_NO);
    assert_int_equal(detect("PX\x01\x01", 4), PX_DETECT_NO); /* native's HELLO */
    assert_int_equal(detect("PX", 2), PX_DETECT_NO);
    assert_int_equal(detect("get / HTTP/1.1", 14), PX_DETECT_NO);
    assert_int_equal(detect("CONNECT x:1 HTTP/1.1", 20), PX_DETECT_NO);
    assert_int_equal(detect("TRACE / HTTP/1.1", 16), PX_DETECT_NO);
    assert_int_equal(detect(" GET /", 6), PX_DETECT_NO);
    assert_int_equal(detect("\x16\x03\x01", 3), PX_DETECT_NO); /* a TLS ClientHello */
    assert_int_equal(detect("FX1 REQ", 7), PX_DETECT_NO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_others_say_no),
    };
    return cmocka_run_group_tests_name("proto_http_detect", tests, setup, teardown);
}
