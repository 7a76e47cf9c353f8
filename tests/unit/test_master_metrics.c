/* plexusd's master metrics (tools/plexusd/master_metrics.c) over real channels: each
 * "worker" here is a thread answering on its end of a socketpair with the workers' own
 * code (px_chan_serve: px_metrics_text of this process), so the sum over three is three
 * times this process's series; a worker that does not answer within the timeout is left
 * out, and its late answer to that request is dropped by the next one (its seq is old).
 * And what the admin's /readyz and /status hooks say of the master's state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel.h"
#include "master.h"
#include "master_int.h"
#include "plexus/px_metrics.h"

#define NW 4 /* the last one answers late */

static void *serve(void *arg)
{
    px_chan_serve(*(int *)arg);
    return NULL;
}

/* The value of the series `name` (the whole name with labels, up to the space). */
static double value_of(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, name, n) == 0 && l[n] == ' ')
            return strtod(l + n + 1, NULL);
    return -1;
}

/* plexus_build_info's series, labels and all, as this process renders it. */
static void build_info_series(char *out, size_t cap)
{
    size_t len;
    char *t = px_metrics_text(&len);
    assert_non_null(t);
    const char *l = strstr(t, "\nplexus_build_info{");
    assert_non_null(l);
    l++;
    size_t k = strcspn(l, " ");
    snprintf(out, cap, "%.*s", (int)k, l);
    free(t);
}

static void test_sum_timeout_and_late_answer(void **state)
{
    (void)state;
    char series[256];
    build_info_series(series, sizeof series);
    px_master m = {.restarts = 2, .reloads_ok = 1, .reloads_failed = 3};
    pthread_mutex_init(&m.mu, NULL);
    pxm_worker w[NW];
    int theirs[NW];
    pthread_t t[NW];
    for (int i = 0; i < NW; i++) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        w[i] = (pxm_worker){.pid = 1000 + i, .fd = sv[0], .slot = i, .ready = 1};
        theirs[i] = sv[1];
        if (i < NW - 1)
            assert_int_equal(pthread_create(&t[i], NULL, serve, &theirs[i]), 0);
    }
    m.w = w;
    m.nw = m.capw = NW;
    px_master_running = &m;

    /* Three answer; the fourth is silent and left out after 300 ms. */
    size_t len = 0;
    char *text = px_plexusd_master_metrics(300, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    assert_true(value_of(text, series) == 3);
    assert_true(value_of(text, "plexus_workers") == NW);
    assert_true(value_of(text, "plexus_worker_restarts_total") == 2);
    assert_true(value_of(text, "plexus_config_reloads_total{result=\"ok\"}") == 1);
    assert_true(value_of(text, "plexus_config_reloads_total{result=\"failed\"}") == 3);
    free(text);

    /* The fourth wakes up: it answers the request it missed, then the new one; the
     * first answer is dropped, the second counted. */
    assert_int_equal(pthread_create(&t[NW - 1], NULL, serve, &theirs[NW - 1]), 0);
    text = px_plexusd_master_metrics(10000, &len);
    assert_non_null(text);
    assert_true(value_of(text, series) == 4);
    free(text);

    /* A worker that is gone (its channel closed) is left out at once. */
    shutdown(theirs[0], SHUT_RDWR);
    pthread_join(t[0], NULL);
    text = px_plexusd_master_metrics(10000, &len);
    assert_non_null(text);
    assert_true(value_of(text, series) == 3);
    free(text);

    /* What /readyz and /status would show. */
    char why[64] = "", status[1024];
    assert_int_equal(px_plexusd_master_ready(why, sizeof why), 0);
    assert_string_equal(why, "starting");
    m.started = 1;
    assert_int_equal(px_plexusd_master_ready(why, sizeof why), 1);
    m.stopping = 1;
    assert_int_equal(px_plexusd_master_ready(why, sizeof why), 0);
    assert_string_equal(why, "draining");
    w[1].retiring = 1;
    w[2].ready = 0;
    px_plexusd_master_status(status, sizeof status);
    assert_string_equal(status, "worker 0 pid 1000 generation 0 serving\n"
                                "worker 1 pid 1001 generation 0 draining\n"
                                "worker 2 pid 1002 generation 0 starting\n"
                                "worker 3 pid 1003 generation 0 serving\n");

    px_master_running = NULL;
    for (int i = 0; i < NW; i++) {
        shutdown(w[i].fd, SHUT_RDWR);
        if (i)
            pthread_join(t[i], NULL);
        close(w[i].fd);
        close(theirs[i]);
        px_chan_rx_free(&w[i].rx);
    }
    pthread_mutex_destroy(&m.mu);
}

static void test_no_master(void **state)
{
    (void)state;
    size_t len = 0;
    char why[64], status[64] = "x";
    assert_null(px_plexusd_master_metrics(100, &len));
    assert_int_equal(px_plexusd_master_ready(why, sizeof why), 0);
    assert_string_equal(why, "starting");
    px_plexusd_master_status(status, sizeof status);
    assert_string_equal(status, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_timeout_and_late_answer),
        cmocka_unit_test(test_no_master),
    };
    return cmocka_run_group_tests_name("plexusd master metrics", tests, NULL, NULL);
}
