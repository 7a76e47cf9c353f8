/* The server's memory budget rules (core/px_server_mem.c), on a connection and loop
 * built by hand: when reading pauses, which requests are refused, what a decode may
 * take, which replies are dropped, and the share below which a client is ordinary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "px_server_int.h"

#define MIB (1024 * 1024)

typedef struct fixture {
    px_server srv;
    px_server_conf conf;
    px_sloop sl;
    px_sconn sc;
} fixture;

/* conn_mib / server_mib budgets, max_connections conns; the loop holds `others` bytes
 * besides this connection's `held`. */
static void setup_budget(fixture *f, int conn_mib, int server_mib, uint32_t conns)
{
    memset(f, 0, sizeof *f);
    f->conf.id = "t";
    f->conf.limits.max_conn_memory = (uint64_t)conn_mib * MIB;
    f->conf.limits.max_server_memory = (uint64_t)server_mib * MIB;
    f->conf.limits.max_connections = conns;
    f->conf.limits.max_decode_expansion = 8;
    f->srv.sc = &f->conf;
    px__server_mem_init(&f->srv);
    assert_int_equal(px_loop_init(&f->sl.loop, 0), 0);
    f->sl.srv = &f->srv;
    px__sloop_mem_start(&f->sl);
    f->sc.sl = &f->sl;
    f->sc.conn.loop = &f->sl.loop;
    f->sc.conn.mem = &f->sl.mem;
}

static void teardown_budget(fixture *f)
{
    px__sconn_unpause(&f->sc);
    px__sloop_mem_stop(&f->sl);
    px_loop_destroy(&f->sl.loop);
}

/* The connection holds `held` bytes and the server `total` in all (held included). */
static void hold(fixture *f, int64_t held, int64_t total)
{
    px_conn_charge(&f->sc.conn, held - f->sc.conn.held);
    px_mem_add(&f->sl.mem, (total - held) - (f->sl.mem.held - f->sc.conn.held));
    assert_int_equal(px_mem_total(&f->sl.mem), total);
}

static void test_reading_pauses(void **state)
{
    fixture f;
    /* 16 MiB per connection, 64 MiB in all, 10,000 connections: the ordinary share is
     * 64 MiB / 4 / 10,000 = 1,677 bytes, raised to the 16 KiB floor. */
    setup_budget(&f, 16, 64, 10000);
    hold(&f, 1 * MIB, 1 * MIB);
    assert_true(px__sconn_may_read(&f.sc.conn));
    hold(&f, 16 * MIB, 16 * MIB); /* at max_conn_memory: not read */
    assert_false(px__sconn_may_read(&f.sc.conn));
    assert_int_equal(f.sl.n_paused, 1);
    hold(&f, 15 * MIB, 15 * MIB);
    assert_true(px__sconn_may_read(&f.sc.conn));
    assert_int_equal(f.sl.n_paused, 0);
    /* Past three quarters of the server's budget, a connection holding more than the
     * ordinary share is not read ... */
    hold(&f, 32 * 1024, 48 * MIB);
    assert_false(px__sconn_may_read(&f.sc.conn));
    hold(&f, 32 * 1024, 48 * MIB - 1);
    assert_true(px__sconn_may_read(&f.sc.conn));
    /* ... and one holding less is, even past the whole budget. */
    hold(&f, 8 * 1024, 80 * MIB);
    assert_true(px__sconn_may_read(&f.sc.conn));
    teardown_budget(&f);
}

static void test_requests_refused_at_the_budget(void **state)
{
    fixture f;
    setup_budget(&f, 16, 64, 10000);
    hold(&f, 32 * 1024, 64 * MIB - 1);
    assert_false(px__server_over_budget(&f.sc));
    hold(&f, 32 * 1024, 64 * MIB);
    assert_true(px__server_over_budget(&f.sc));
    hold(&f, 8 * 1024, 70 * MIB); /* an ordinary client is served */
    assert_false(px__server_over_budget(&f.sc));
    teardown_budget(&f);
}

static void test_decode_budget(void **state)
{
    fixture f;
    setup_budget(&f, 16, 64, 10000);
    int limit = -1;
    /* 8 x the body + 64 KiB while the server has room. */
    hold(&f, 0, 0);
    assert_int_equal(px__decode_budget(&f.sc, 1000, &limit), 8000 + 64 * 1024);
    assert_int_equal(limit, PX_BUDGET_EXPANSION);
    /* What the server has left, when that is less. */
    hold(&f, 1 * MIB, 63 * MIB);
    assert_int_equal(px__decode_budget(&f.sc, 1 * MIB, &limit), 1 * MIB);
    assert_int_equal(limit, PX_BUDGET_SERVER);
    hold(&f, 1 * MIB, 65 * MIB);
    assert_int_equal(px__decode_budget(&f.sc, 1 * MIB, &limit), 0);
    /* An ordinary client may still fill its share, past the budget. */
    hold(&f, 4 * 1024, 65 * MIB);
    assert_int_equal(px__decode_budget(&f.sc, 10, &limit), 12 * 1024);
    char why[300];
    px__budget_why(&f.sc, PX_BUDGET_EXPANSION, 1000, why, sizeof why);
    assert_string_equal(why, "its 1000 bytes decode to more than 8 times their size + 64KiB "
                             "(server.limits.max_decode_expansion 8)");
    px__budget_why(&f.sc, PX_BUDGET_SERVER, 1000, why, sizeof why);
    assert_string_equal(why, "server t is out of its memory budget "
                             "(server.limits.max_server_memory 67108864 bytes); the request "
                             "was not executed");
    teardown_budget(&f);
}

static void test_replies_dropped_past_the_hard_limits(void **state)
{
    fixture f;
    setup_budget(&f, 1, 64, 10000);
    hold(&f, 1 * MIB, 1 * MIB);
    assert_null(px__reply_over_budget(&f.sc, 1 * MIB)); /* exactly twice max_conn_memory */
    const char *why = px__reply_over_budget(&f.sc, 1 * MIB + 1);
    assert_non_null(why);
    assert_string_equal(why, "the connection already holds 1048576 bytes of replies and calls "
                             "its client has not taken (limit: twice "
                             "server.limits.max_conn_memory 1048576)");
    /* Past the server's budget, only a connection beyond the ordinary share loses it. */
    hold(&f, 1024, 64 * MIB);
    assert_null(px__reply_over_budget(&f.sc, 100));
    assert_non_null(px__reply_over_budget(&f.sc, 64 * 1024));
    teardown_budget(&f);
}

static void test_ordinary_share(void **state)
{
    fixture f;
    /* 1 GiB over 100 connections: 2.7 MiB each, capped at max_conn_memory / 16. */
    setup_budget(&f, 16, 1024, 100);
    hold(&f, 1 * MIB - 1, 1024 * MIB);
    assert_false(px__server_over_budget(&f.sc));
    hold(&f, 1 * MIB, 1024 * MIB);
    assert_true(px__server_over_budget(&f.sc));
    teardown_budget(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reading_pauses),
        cmocka_unit_test(test_requests_refused_at_the_budget),
        cmocka_unit_test(test_decode_budget),
        cmocka_unit_test(test_replies_dropped_past_the_hard_limits),
        cmocka_unit_test(test_ordinary_share),
    };
    return cmocka_run_group_tests_name("server memory budget", tests, NULL, NULL);
}
