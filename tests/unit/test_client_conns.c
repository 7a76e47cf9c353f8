/* Unit test of how the async client spreads attempts over an endpoint's connections
 * (px__cconn_slot): open every slot first, then the connection with the fewest
 * attempts in flight, ties in rotation. Timings of the effect are in PERFORMANCE.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "px_client_int.h"

#define PER 4

typedef struct fx {
    px_cloop lp;
    px_cconn conn[2 * PER];
    px_cconn *slots[2 * PER]; /* two endpoints x PER connections */
    px_ep ep[2];
} fx;

static fx *fx_new(void)
{
    static fx f;
    memset(&f, 0, sizeof f);
    f.lp.conns = f.slots;
    f.ep[0].pub.index = 0;
    f.ep[1].pub.index = 1;
    return &f;
}

static void open_all(fx *f, const uint32_t *atts)
{
    for (int i = 0; i < 2 * PER; i++) {
        f->slots[i] = &f->conn[i];
        f->conn[i].n_atts = atts ? atts[i] : 0;
    }
}

static void test_empty_slots_are_filled_first(void **state)
{
    (void)state;
    fx *f = fx_new();
    f->slots[0] = &f->conn[0]; /* slot 0 open, 1..3 empty */
    for (int k = 0; k < 8; k++) {
        size_t s = px__cconn_slot(&f->lp, &f->ep[0], PER);
        assert_true(s >= 1 && s < PER); /* never the open one while others are missing */
    }
    /* The other endpoint's slots start at PER. */
    size_t s = px__cconn_slot(&f->lp, &f->ep[1], PER);
    assert_true(s >= PER && s < 2 * PER);
}

static void test_fewest_in_flight_wins(void **state)
{
    (void)state;
    fx *f = fx_new();
    const uint32_t atts[2 * PER] = {16, 16, 5, 16, 0, 0, 0, 0};
    open_all(f, atts);
    for (int k = 0; k < 11; k++) { /* every call until slot 2 catches up goes there */
        size_t s = px__cconn_slot(&f->lp, &f->ep[0], PER);
        assert_int_equal(s, 2);
        f->conn[s].n_atts++;
    }
    /* All at 16: ties rotate over all four. */
    int seen[PER] = {0};
    for (int k = 0; k < PER; k++)
        seen[px__cconn_slot(&f->lp, &f->ep[0], PER)]++;
    for (int k = 0; k < PER; k++)
        assert_int_equal(seen[k], 1);
}

/* Attempts waiting on a connection (its server's limit reached) count as its load:
 * the next goes to another connection of the endpoint that has room. */
static void test_waiting_attempts_count(void **state)
{
    (void)state;
    fx *f = fx_new();
    const uint32_t atts[2 * PER] = {16, 16, 16, 16, 0, 0, 0, 0};
    open_all(f, atts);
    f->conn[0].n_queued = 3;
    f->conn[1].n_queued = 1;
    f->conn[3].n_queued = 2;
    for (int k = 0; k < 4; k++)
        assert_int_equal(px__cconn_slot(&f->lp, &f->ep[0], PER), 2);
    f->conn[2].n_queued = 1; /* now 1 and 2 tie: rotation */
    int seen[PER] = {0};
    for (int k = 0; k < 8; k++)
        seen[px__cconn_slot(&f->lp, &f->ep[0], PER)]++;
    assert_int_equal(seen[0] + seen[3], 0);
    assert_true(seen[1] > 0 && seen[2] > 0);
}

static void test_single_connection(void **state)
{
    (void)state;
    fx *f = fx_new();
    open_all(f, NULL);
    assert_int_equal(px__cconn_slot(&f->lp, &f->ep[0], 1), 0);
    assert_int_equal(px__cconn_slot(&f->lp, &f->ep[1], 1), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_slots_are_filled_first),
        cmocka_unit_test(test_fewest_in_flight_wins),
        cmocka_unit_test(test_waiting_attempts_count),
        cmocka_unit_test(test_single_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
