/* A network partition, not a dead or frozen process: inside a network namespace of its
 * own, three plexusd servers on 127.0.0.2-4 take a steady hedged load; iptables then
 * drops every packet to and from one server for 5 s, and the partition heals. Every call
 * ends exactly once and none waits through the partition for the cut-off server, at
 * least 99.9% succeed, the cut-off server is ejected and gets no new attempts, and after
 * the heal it is re-admitted and answers calls again. Skipped (exit 77) only where network namespaces are unavailable
 * or iptables is not installed. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "plexus/plexus.h"
#include "px_client_int.h"
#include "px_cluster.h"
#include "px_time.h"

#define NSRV 3
#define VICTIM 1
#define SKIP 77 /* ctest: SKIP_RETURN_CODE */

static const char *const HOSTS[NSRV] = {"127.0.0.2", "127.0.0.3", "127.0.0.4"};

enum {
    RATE = 1000,        /* calls per second, steady */
    WARM_MS = 1000,     /* before the partition */
    CUT_MS = 5000,      /* partitioned */
    HEALED_MS = 6000,   /* after the heal */
    DEADLINE_MS = 1000, /* the upstream's call timeout */
    SLACK_MS = 1000,    /* calls ending this long after their deadline are reported */
    DRAIN_MS = 10000    /* the bound on waiting for the last calls: far more than their
                         * deadline, far less than TCP's minutes on a silent socket */
};

/* A swallowed attempt is rescued by its backup after 20 ms, long before the deadline;
 * ejection after 3 failures for 300 ms doubling up to 1 s; probes every 500 ms. */
static const char *UPSTREAM_YAML =
    "      balancer: random\n"
    "      failover: { module: hedge, hedge_after: 20ms }\n"
    "      timeout: { module: fixed, connect: 200ms, call: 1s }\n"
    "      health: { max_fails: 3, fail_window: 2s, ejection: 300ms, max_ejection: 1s }\n";

static char iptables_bin[64];

/* ---- the namespace and iptables ------------------------------------------------ */

static int find_iptables(void)
{
    static const char *const dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(iptables_bin, sizeof iptables_bin, "%s/iptables", dirs[i]);
        if (access(iptables_bin, X_OK) == 0)
            return 0;
    }
    return -1;
}

static int loopback_up(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    int rc = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 ? 0 : -1;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (rc == 0)
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Moves this process (before any thread or child exists) into a new network namespace
 * with its loopback up: the servers, the client and the iptables rules live and die
 * with it. Returns 0, SKIP with the reason printed, or -1. */
static int enter_netns(void)
{
    if (find_iptables() != 0) {
        printf("SKIP: iptables is not installed (apt-get install iptables)\n");
        return SKIP;
    }
    if (unshare(CLONE_NEWNET) != 0) {
        int e = errno;
        if (e == EPERM || e == ENOSYS || e == EINVAL) {
            printf("SKIP: network namespaces are unavailable here: unshare(CLONE_NEWNET): %s\n",
                   strerror(e));
            return SKIP;
        }
        fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(e));
        return -1;
    }
    if (loopback_up() != 0) {
        fprintf(stderr, "cannot bring lo up in the new namespace: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

/* iptables OP (-A or -D) the rules that drop host's packets both ways. On lo every
 * packet passes INPUT on its way in, so dropping there is silent for both ends; a DROP
 * in OUTPUT would fail the sender's own sends with EPERM, which is not a partition. */
static int iptables_drop(const char *op, const char *host)
{
    static const char *const dir[] = {"-s", "-d"};
    for (int i = 0; i < 2; i++) {
        char *argv[] = {iptables_bin, "-w", "5", (char *)op, "INPUT", (char *)dir[i],
                        (char *)host, "-j", "DROP", NULL};
        char out[512], err[512];
        int rc = px_run(argv, out, sizeof out, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "iptables %s INPUT %s %s -j DROP: exit %d: %s%s\n", op, dir[i], host,
                    rc, out, err);
            return -1;
        }
    }
    return 0;
}

static void iptables_flush(void)
{
    char *argv[] = {iptables_bin, "-w", "5", "-F", "INPUT", NULL};
    char out[256], err[256];
    px_run(argv, out, sizeof out, err, sizeof err);
}

/* ---- the cluster ------------------------------------------------------------ */

typedef struct cluster {
    px_cluster px; /* first: the servers, client, watch and load */
    int64_t drop_us, heal_us;
    int eject_issued;        /* calls issued when its ejection was seen, 0 not yet */
    int quiet_cursor;        /* calls before it that have all completed */
    uint32_t quiet_inflight; /* the most seen in flight to the victim once they all have */
    int quiet_samples;
} cluster;

static int cluster_up(void **state)
{
    px_proc_die_with_test();
    cluster *c = calloc(1, sizeof *c);
    *state = c;
    px_cluster_spec spec = {.n = NSRV, .upstream_yaml = UPSTREAM_YAML,
                            .calls = RATE * (WARM_MS + CUT_MS + HEALED_MS) / 1000};
    for (int i = 0; i < NSRV; i++)
        spec.host[i] = HOSTS[i];
    return c ? px_cluster_up(&c->px, &spec) : -1;
}

/* Heals first, whatever failed, then stops everything. */
static int cluster_down(void **state)
{
    cluster *c = *state;
    iptables_flush();
    int rc = c ? px_cluster_down(&c->px) : 0;
    free(c);
    return rc;
}

/* Between calls: health, and once every call issued before the victim's ejection was
 * seen has completed (a call's attempts end with it), whether anything is in flight to
 * it: only an attempt made after the ejection could be. */
static void tick(void *arg)
{
    cluster *c = arg;
    const px_load *l = &c->px.load;
    px_watch_poll(&c->px.w);
    /* eject_us: since the cut (the watch's mark) */
    if (!c->eject_issued && c->px.w.eject_us[VICTIM] && c->drop_us && !c->heal_us)
        c->eject_issued = l->issued;
    while (c->quiet_cursor < c->eject_issued &&
           __atomic_load_n(&l->rec[c->quiet_cursor].fired, __ATOMIC_ACQUIRE))
        c->quiet_cursor++;
    if (c->eject_issued && c->quiet_cursor == c->eject_issued && !c->heal_us) {
        uint32_t n = px_endpoint_inflight(&px_upstream_ep(c->px.cl->up, VICTIM)->pub);
        if (n > c->quiet_inflight)
            c->quiet_inflight = n;
        c->quiet_samples++;
    }
}

/* Calls started while the victim was cut off that it answered: each would have waited
 * through the partition, as nothing it sends gets through before the heal. */
static int answered_through_cut(const px_load *l, int64_t drop_us, int64_t heal_us)
{
    int n = 0;
    for (int i = 0; i < l->issued; i++) {
        const px_load_rec *r = &l->rec[i];
        if (__atomic_load_n(&r->fired, __ATOMIC_ACQUIRE) == 1 && r->st == PX_OK &&
            r->server == VICTIM && r->start_us >= drop_us && r->start_us < heal_us)
            n++;
    }
    return n;
}

static int late_calls(const px_load *l)
{
    int late = 0;
    for (int i = 0; i < l->issued; i++) {
        const px_load_rec *r = &l->rec[i];
        if (__atomic_load_n(&r->fired, __ATOMIC_ACQUIRE) &&
            r->end_us - r->start_us > (DEADLINE_MS + SLACK_MS) * 1000LL)
            late++;
    }
    return late;
}

static void test_partition_heals(void **state)
{
    cluster *c = *state;
    px_load *l = &c->px.load;
    px_watch_note(&c->px.w, "start: %d calls/s, servers on %s, %s, %s", RATE, HOSTS[0], HOSTS[1],
                  HOSTS[2]);
    assert_int_equal(px_load_run(l, RATE * WARM_MS / 1000, WARM_MS * 1000LL, tick, c), 0);
    int warm_end = l->issued;
    assert_int_equal(px_watch_wait_admitted(&c->px.w, 3000000), 0);
    px_watch_mark(&c->px.w);
    assert_int_equal(iptables_drop("-A", HOSTS[VICTIM]), 0);
    c->drop_us = px_mono_us();
    px_watch_note(&c->px.w, "s%d cut off: its packets dropped both ways", VICTIM);
    assert_int_equal(px_load_run(l, RATE * CUT_MS / 1000, CUT_MS * 1000LL, tick, c), 0);
    int ejections_cut = c->px.w.ejections[VICTIM];
    int64_t eject_us = c->px.w.eject_us[VICTIM];
    px_watch_mark(&c->px.w);
    assert_int_equal(iptables_drop("-D", HOSTS[VICTIM]), 0);
    c->heal_us = px_mono_us();
    px_watch_note(&c->px.w, "s%d healed", VICTIM);
    int cut_end = l->issued;
    assert_int_equal(px_load_run(l, RATE * HEALED_MS / 1000, HEALED_MS * 1000LL, tick, c), 0);
    int drained = px_load_drain(l, DRAIN_MS * 1000LL, tick, c);
    px_watch_note(&c->px.w, "%d of %d calls completed", __atomic_load_n(&l->done, __ATOMIC_ACQUIRE),
                  l->issued);

    px_load_sum warm, cut, healed, all;
    px_load_sum_up(l, 0, warm_end, &warm);
    px_load_sum_up(l, warm_end, cut_end, &cut);
    px_load_sum_up(l, cut_end, l->issued, &healed);
    px_load_sum_up(l, 0, l->issued, &all);
    int64_t readmit_us = c->px.w.readmit_us[VICTIM];
    int64_t answer_us = px_load_first_answer(l, VICTIM, c->heal_us);
    int late = late_calls(l), through = answered_through_cut(l, c->drop_us, c->heal_us);
    px_client_stats st;
    px_client_stats_get(c->px.cl, &st);
    px_watch_print(&c->px.w, "partition");
    px_load_sum_print(l, 0, warm_end, &warm, "before the cut");
    px_load_sum_print(l, warm_end, cut_end, &cut, "while cut off");
    px_load_sum_print(l, cut_end, l->issued, &healed, "after the heal");
    fprintf(stderr, "  s%d: ejected %lld ms after the cut (%d ejection(s) while cut off); "
                    "at most %u attempts in flight to it over %d samples from the end of the "
                    "%d calls issued before that to the heal; re-admitted %lld ms and first "
                    "answer %lld ms after the heal\n",
            VICTIM, ejections_cut ? (long long)((eject_us - c->drop_us) / 1000) : -1LL,
            ejections_cut, c->quiet_inflight, c->quiet_samples, c->eject_issued,
            readmit_us ? (long long)((readmit_us - c->heal_us) / 1000) : -1LL,
            answer_us ? (long long)((answer_us - c->heal_us) / 1000) : -1LL);
    fprintf(stderr, "  client: %llu hedges, %llu retries, %llu late replies; %d calls ended "
                    "more than %d ms after they started; %d calls started while it was cut "
                    "off answered by it\n",
            (unsigned long long)st.hedges, (unsigned long long)st.retries,
            (unsigned long long)st.late_responses, late, DEADLINE_MS + SLACK_MS, through);

    /* Every call ended exactly once (a bounded wait: a call waiting on the silent socket
     * would take minutes), none waited through the partition for the cut-off server,
     * 99.9% succeeded. How soon after its deadline a call ended is the machine's
     * business: only reported. */
    assert_int_equal(drained, 0);
    assert_int_equal(all.twice, 0);
    assert_int_equal(all.never, 0);
    assert_int_equal(through, 0);
    assert_true(all.failed * 1000 <= all.calls);
    for (int i = 0; i < NSRV; i++)
        assert_true(warm.per_server[i] > 0);
    /* Ejected while cut off (expected: about hedge_after after the cut), then sent
     * nothing. */
    assert_true(ejections_cut >= 1);
    assert_true(c->quiet_samples > 0);
    assert_int_equal(c->quiet_inflight, 0);
    /* Re-admitted after the heal, and answering calls again. */
    assert_true(readmit_us > 0);
    assert_true(answer_us > 0);
    /* Freeing the client completes nothing more. */
    px_client_free(c->px.cl);
    c->px.cl = NULL;
    px_load_sum_up(l, 0, l->issued, &all);
    assert_int_equal(all.twice, 0);
}

int main(void)
{
    int rc = enter_netns();
    if (rc != 0)
        return rc == SKIP ? SKIP : 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_partition_heals, cluster_up, cluster_down),
    };
    return cmocka_run_group_tests_name("partition", tests, NULL, NULL);
}
