/* Context manager: ids are unique, lookups O(1), stale ids of reused slots miss. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "px_ctx.h"

static void test_put_find_del(void **state)
{
    px_ctx_table t = {0};
    int a, b;
    uint64_t ia = px_ctx_put(&t, &a), ib = px_ctx_put(&t, &b);
    assert_true(ia != 0 && ib != 0 && ia != ib);
    assert_ptr_equal(px_ctx_find(&t, ia), &a);
    assert_ptr_equal(px_ctx_find(&t, ib), &b);
    assert_int_equal(t.count, 2);
    px_ctx_del(&t, ia);
    assert_null(px_ctx_find(&t, ia));
    assert_ptr_equal(px_ctx_find(&t, ib), &b);
    assert_null(px_ctx_find(&t, 0));
    assert_null(px_ctx_find(&t, 0xffffffffull));
    px_ctx_free(&t);
}

static void test_stale_id_of_reused_slot_misses(void **state)
{
    px_ctx_table t = {0};
    int a, b;
    uint64_t ia = px_ctx_put(&t, &a);
    px_ctx_del(&t, ia);
    uint64_t ib = px_ctx_put(&t, &b); /* same slot, next generation */
    assert_int_equal((uint32_t)ia, (uint32_t)ib);
    assert_true(ia != ib);
    assert_null(px_ctx_find(&t, ia)); /* a late reply to the first call is dropped */
    assert_ptr_equal(px_ctx_find(&t, ib), &b);
    px_ctx_free(&t);
}

static void test_hundred_thousand_in_flight(void **state)
{
    enum { N = 100000 };
    px_ctx_table t = {0};
    uint64_t *ids = malloc(N * sizeof *ids);
    for (uintptr_t i = 0; i < N; i++)
        ids[i] = px_ctx_put(&t, (void *)(i + 1));
    assert_int_equal(t.count, N);
    for (uintptr_t i = 0; i < N; i++)
        assert_ptr_equal(px_ctx_find(&t, ids[i]), (void *)(i + 1));
    uint32_t seen = 0;
    for (uint32_t i = 0; i < t.cap; i++)
        seen += px_ctx_slot(&t, i) != NULL;
    assert_int_equal(seen, N);
    for (uintptr_t i = 0; i < N; i += 2)
        px_ctx_del(&t, ids[i]);
    for (uintptr_t i = 0; i < N; i++)
        assert_ptr_equal(px_ctx_find(&t, ids[i]), i % 2 ? (void *)(i + 1) : NULL);
    assert_int_equal(t.count, N / 2);
    free(ids);
    px_ctx_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_find_del),
        cmocka_unit_test(test_stale_id_of_reused_slot_misses),
        cmocka_unit_test(test_hundred_thousand_in_flight),
    };
    return cmocka_run_group_tests_name("ctx", tests, NULL, NULL);
}
