/* Timer lists: fire in expiry order, exactly once, never early; cancel is final; more
 * distinct durations than lists fall back to libev timers; the loop ends empty. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "px_timerq.h"

typedef struct probe {
    px_tnode node;
    int fired;
    int order;
    ev_tstamp armed_at, due;
} probe;

static int next_order;
static struct ev_loop *loop;

static void on_fire(px_tnode *n)
{
    probe *p = (probe *)n;
    p->fired++;
    p->order = ++next_order;
    assert_true(ev_now(loop) >= p->due); /* never before its time */
}

static void test_order_cancel_and_fallback(void **state)
{
    loop = ev_loop_new(EVFLAG_AUTO);
    px_timerq q;
    px_tq_init(&q, loop);
    enum { N = 40 };
    probe p[N];
    memset(p, 0, sizeof p);
    next_order = 0;
    /* Twelve distinct durations: eight get lists, four fall back to libev's heap. */
    for (int i = 0; i < N; i++) {
        ev_tstamp dur = 0.001 * (1 + i % 12);
        p[i].due = ev_now(loop) + dur;
        px_tq_arm(&q, &p[i].node, dur, on_fire);
        assert_true(px_tq_armed(&p[i].node));
    }
    for (int i = 0; i < N; i += 5)
        px_tq_cancel(&p[i].node); /* cancelled: never fires */
    px_tq_cancel(&p[0].node);     /* idempotent */
    ev_run(loop, 0);              /* returns when no timer is left */
    for (int i = 0; i < N; i++) {
        assert_int_equal(p[i].fired, i % 5 == 0 ? 0 : 1);
        assert_false(px_tq_armed(&p[i].node));
    }
    /* Within one listed duration, earlier arms fire first (the heap fallback makes no
     * promise between equal expiries). */
    for (int i = 0; i + 12 < N; i++)
        if (i % 12 < PX_TQ_LISTS && i % 5 && (i + 12) % 5)
            assert_true(p[i].order < p[i + 12].order);
    px_tq_destroy(&q);
    ev_loop_destroy(loop);
}

static probe chained[3];
static px_timerq *chain_q;

static void rearm_next(px_tnode *n)
{
    probe *p = (probe *)n;
    p->fired++;
    if (p + 1 < chained + 3) { /* arming from inside a callback, same duration */
        p[1].due = ev_now(loop) + 0.002;
        px_tq_arm(chain_q, &p[1].node, 0.002, rearm_next);
    }
}

static void test_arm_from_callback(void **state)
{
    loop = ev_loop_new(EVFLAG_AUTO);
    px_timerq q;
    chain_q = &q;
    px_tq_init(&q, loop);
    px_tq_arm(&q, &chained[0].node, 0.002, rearm_next);
    ev_run(loop, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(chained[i].fired, 1);
    px_tq_destroy(&q);
    ev_loop_destroy(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_cancel_and_fallback),
        cmocka_unit_test(test_arm_from_callback),
    };
    return cmocka_run_group_tests_name("timerq", tests, NULL, NULL);
}
