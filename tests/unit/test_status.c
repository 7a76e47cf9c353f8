/* px_status: names, messages and parsing generated from the X-macro; px_err_set. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "plexus/px_status.h"

static void test_codes_match_grpc(void **state)
{
    assert_int_equal(PX_OK, 0);
    assert_int_equal(PX_CANCELLED, 1);
    assert_int_equal(PX_DEADLINE_EXCEEDED, 4);
    assert_int_equal(PX_RESOURCE_EXHAUSTED, 8);
    assert_int_equal(PX_UNIMPLEMENTED, 12);
    assert_int_equal(PX_INTERNAL, 13);
    assert_int_equal(PX_UNAVAILABLE, 14);
    assert_int_equal(PX_UNAUTHENTICATED, 16);
    assert_int_equal(PX_STATUS_COUNT, 17);
}

static void test_names(void **state)
{
    assert_string_equal(px_status_name(PX_OK), "OK");
    assert_string_equal(px_status_name(PX_DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
    assert_string_equal(px_status_name(PX_INVALID_ARGUMENT), "INVALID_ARGUMENT");
    assert_string_equal(px_status_name(PX_UNAUTHENTICATED), "UNAUTHENTICATED");
    assert_string_equal(px_status_name((px_status)PX_STATUS_COUNT), "UNKNOWN_STATUS");
    assert_string_equal(px_status_name((px_status)-1), "UNKNOWN_STATUS");
    assert_string_equal(px_status_name((px_status)1000), "UNKNOWN_STATUS");
}

static void test_messages(void **state)
{
    assert_string_equal(px_status_message(PX_OK), "ok");
    assert_string_equal(px_status_message(PX_UNAVAILABLE), "the service is unavailable");
    assert_string_equal(px_status_message(PX_DEADLINE_EXCEEDED),
                        "deadline exceeded before the call completed");
    assert_string_equal(px_status_message(PX_UNIMPLEMENTED), "not implemented by the server");
    assert_string_equal(px_status_message((px_status)99), "unknown status code");
    /* Every code in the map has a non-empty name and message. */
    for (int i = 0; i < PX_STATUS_COUNT; i++) {
        assert_true(strlen(px_status_name((px_status)i)) > 0);
        assert_true(strlen(px_status_message((px_status)i)) > 0);
        assert_string_not_equal(px_status_name((px_status)i), "UNKNOWN_STATUS");
    }
}

static void test_from_name(void **state)
{
    int roundtrips = 0;
    for (int i = 0; i < PX_STATUS_COUNT; i++) {
        px_status out = PX_STATUS_COUNT;
        assert_int_equal(px_status_from_name(px_status_name((px_status)i), &out), 0);
        assert_int_equal(out, i);
        roundtrips++;
    }
    assert_int_equal(roundtrips, 17);

    px_status out = PX_INTERNAL;
    assert_int_equal(px_status_from_name("UNAVAILABLE", &out), 0);
    assert_int_equal(out, PX_UNAVAILABLE);
    /* Unknown, wrong case, prefix, the out-of-range name and NULL: -1, out untouched. */
    out = PX_INTERNAL;
    assert_int_equal(px_status_from_name("NOPE", &out), -1);
    assert_int_equal(px_status_from_name("unavailable", &out), -1);
    assert_int_equal(px_status_from_name("UNAVAIL", &out), -1);
    assert_int_equal(px_status_from_name("UNKNOWN_STATUS", &out), -1);
    assert_int_equal(px_status_from_name("", &out), -1);
    assert_int_equal(px_status_from_name(NULL, &out), -1);
    assert_int_equal(out, PX_INTERNAL);
}

static px_status fail_with(px_err *err, const char *what, int where)
{
    return px_err_set(err, PX_INVALID_ARGUMENT, "%s at byte %d", what, where);
}

static void test_err_set(void **state)
{
    px_err err;
    px_err_clear(&err);
    assert_int_equal(err.status, PX_OK);
    assert_string_equal(err.msg, "");

    assert_int_equal(fail_with(&err, "bad varint", 17), PX_INVALID_ARGUMENT);
    assert_int_equal(err.status, PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "bad varint at byte 17");

    /* No err to fill: the status still comes back. */
    assert_int_equal(fail_with(NULL, "ignored", 1), PX_INVALID_ARGUMENT);
    px_err_clear(NULL);

    /* A NULL format means the status's default message. */
    assert_int_equal(px_err_set(&err, PX_UNAVAILABLE, NULL), PX_UNAVAILABLE);
    assert_string_equal(err.msg, "the service is unavailable");

    px_err_clear(&err);
    assert_int_equal(err.status, PX_OK);
    assert_string_equal(err.msg, "");
}

static void test_err_set_truncates(void **state)
{
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    px_err err;
    memset(&err, 0x55, sizeof err);
    px_err_set(&err, PX_INTERNAL, "%s", big);
    assert_int_equal(err.status, PX_INTERNAL);
    assert_int_equal(strlen(err.msg), sizeof err.msg - 1);
    assert_int_equal(err.msg[0], 'x');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_match_grpc), cmocka_unit_test(test_names),
        cmocka_unit_test(test_messages),         cmocka_unit_test(test_from_name),
        cmocka_unit_test(test_err_set),          cmocka_unit_test(test_err_set_truncates),
    };
    return cmocka_run_group_tests_name("px_status", tests, NULL, NULL);
}
