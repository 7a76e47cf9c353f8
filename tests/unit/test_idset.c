/* The server's in-flight id set: add/has/del, duplicates, deletion keeps runs reachable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "px_idset.h"

static void test_add_has_del(void **state)
{
    px_idset s = {0};
    assert_int_equal(px_idset_add(&s, 7), 1);
    assert_int_equal(px_idset_add(&s, 7), 0); /* a reused id is reported */
    assert_true(px_idset_has(&s, 7));
    px_idset_del(&s, 7);
    assert_false(px_idset_has(&s, 7));
    assert_int_equal(px_idset_add(&s, 7), 1);
    assert_int_equal(s.count, 1);
    px_idset_free(&s);
}

static void test_random_against_a_model(void **state)
{
    enum { N = 4096, OPS = 200000 };
    static uint8_t in[N];
    px_idset s = {0};
    srand(12345);
    for (int i = 0; i < OPS; i++) {
        uint64_t id = (uint64_t)(rand() % N) + 1;
        if (rand() % 2) {
            assert_int_equal(px_idset_add(&s, id << 20 | 5), in[id - 1] ? 0 : 1);
            in[id - 1] = 1;
        } else {
            px_idset_del(&s, id << 20 | 5);
            in[id - 1] = 0;
        }
    }
    uint32_t count = 0;
    for (uint64_t id = 1; id <= N; id++) {
        assert_int_equal(px_idset_has(&s, id << 20 | 5), in[id - 1]);
        count += in[id - 1];
    }
    assert_int_equal(s.count, count);
    px_idset_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_has_del),
        cmocka_unit_test(test_random_against_a_model),
    };
    return cmocka_run_group_tests_name("idset", tests, NULL, NULL);
}
