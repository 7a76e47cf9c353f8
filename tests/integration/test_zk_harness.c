/* The ZooKeeper test harness (tests/support/px_zk.c) against the real server: it starts
 * and serves, a client (the C library) writes a node, the server stops (no longer
 * serving, the client sees the connection go) and restarts on the same port and data
 * dir: the node is still there and the client's session reconnects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zookeeper/zookeeper.h>

#include "px_zk.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int zk_state; /* the last session state the watcher saw */

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)path;
    (void)ctx;
    if (type == ZOO_SESSION_EVENT) {
        pthread_mutex_lock(&mu);
        zk_state = state;
        pthread_mutex_unlock(&mu);
    }
}

/* Waits (bounded: 30 s) until the session state is `want`. */
static int wait_state(int want)
{
    for (int i = 0; i < 3000; i++) {
        pthread_mutex_lock(&mu);
        int s = zk_state;
        pthread_mutex_unlock(&mu);
        if (s == want)
            return 1;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static void test_start_stop_restart(void **state)
{
    (void)state;
    if (!px_zk_available())
        skip();
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    px_zk z;
    assert_int_equal(px_zk_start(&z), 0);
    assert_true(px_zk_serving(&z));
    int port = z.port;

    zhandle_t *zh = zookeeper_init(z.connect, watcher, 4000, NULL, NULL, 0);
    assert_non_null(zh);
    assert_true(wait_state(ZOO_CONNECTED_STATE));
    assert_int_equal(zoo_create(zh, "/harness", "one", 3, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0),
                     ZOK);

    assert_int_equal(px_zk_stop(&z), 0);
    assert_int_equal(z.pid, 0);
    assert_false(px_zk_serving(&z));
    assert_true(wait_state(ZOO_CONNECTING_STATE));

    assert_int_equal(px_zk_restart(&z), 0);
    assert_int_equal(z.port, port);
    assert_true(px_zk_serving(&z));
    /* The session outlived the short outage: the server kept it (data dir). */
    assert_true(wait_state(ZOO_CONNECTED_STATE));
    char buf[16];
    int len = sizeof buf;
    assert_int_equal(zoo_get(zh, "/harness", 0, buf, &len, NULL), ZOK);
    assert_int_equal(len, 3);
    assert_memory_equal(buf, "one", 3);
    zookeeper_close(zh);

    /* A crash (SIGKILL) and a restart serve the same data too. */
    px_zk_kill(&z);
    assert_false(px_zk_serving(&z));
    assert_int_equal(px_zk_restart(&z), 0);
    pthread_mutex_lock(&mu);
    zk_state = 0;
    pthread_mutex_unlock(&mu);
    zh = zookeeper_init(z.connect, watcher, 4000, NULL, NULL, 0);
    assert_non_null(zh);
    assert_true(wait_state(ZOO_CONNECTED_STATE));
    len = sizeof buf;
    assert_int_equal(zoo_get(zh, "/harness", 0, buf, &len, NULL), ZOK);
    assert_int_equal(len, 3);
    zookeeper_close(zh);
    px_zk_destroy(&z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_stop_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
