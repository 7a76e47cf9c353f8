/* plexus-rpc-pending -c CLIENT.yaml: does a client loop slow down when it carries 100k
 * pending calls with timers? A fast Add stream is measured alone, then again beside N
 * Sleep calls that the server (plexus-rpc-hold) never answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <plexus/plexus.h>
#include <valgrind/callgrind.h> /* no-ops unless run under callgrind */
#include "bench_hist.h"
#include "calc.pb-c.h"
#include "rpc_peer.h"

typedef struct px__phase {
    px_client *cl;
    const ProtobufCMessage *req;
    px_hist hist;       /* written by the one IO thread only */
    int64_t t_measure;  /* completions before this are warm-up */
    int stop;           /* atomic */
    int active;         /* atomic: fast calls in flight */
    uint64_t errors;    /* atomic */
} px__phase;

typedef struct px__slot {
    px__phase *ph;
    int64_t t_ns;
} px__slot;

static uint64_t px__pending_ended[PX_STATUS_COUNT]; /* atomic, by status */

static void px__fast_done(void *user, px_status st, const char *msg, const ProtobufCMessage *r);

static void px__fast_send(px__slot *s)
{
    px__phase *ph = s->ph;
    px_err err;
    s->t_ns = px_peer_now_ns();
    if (__atomic_load_n(&ph->stop, __ATOMIC_RELAXED) ||
        px_call_async(ph->cl, "calc.Calculator/Add", ph->req, &calc__add_reply__descriptor, NULL,
                      px__fast_done, s, &err) != PX_OK)
        __atomic_sub_fetch(&ph->active, 1, __ATOMIC_RELEASE);
}

static void px__fast_done(void *user, px_status st, const char *msg, const ProtobufCMessage *r)
{
    px__slot *s = user;
    px__phase *ph = s->ph;
    int64_t now = px_peer_now_ns();
    if (st != PX_OK)
        __atomic_add_fetch(&ph->errors, 1, __ATOMIC_RELAXED);
    else if (now >= ph->t_measure && !__atomic_load_n(&ph->stop, __ATOMIC_RELAXED))
        px_hist_add(&ph->hist, (uint64_t)(now - s->t_ns));
    px__fast_send(s);
}

static void px__pending_done(void *user, px_status st, const char *msg, const ProtobufCMessage *r)
{
    __atomic_add_fetch(&px__pending_ended[(unsigned)st < PX_STATUS_COUNT ? st : PX_UNKNOWN], 1,
                       __ATOMIC_RELAXED);
}

/* A closed loop of `inflight` Add calls for warmup + seconds; fills ph->hist. Under
 * callgrind the measured window is dumped as its own profile, named `name`. */
static void px__run_phase(px__phase *ph, const char *name, int inflight, double warmup,
                          double seconds, double *cpu_s, double *measured_s)
{
    px_hist_reset(&ph->hist);
    ph->errors = 0;
    px__slot *slots = calloc((size_t)inflight, sizeof *slots);
    if (slots == NULL) {
        fprintf(stderr, "plexus-rpc-pending: out of memory\n");
        exit(1);
    }
    int64_t t0 = px_peer_now_ns();
    ph->t_measure = t0 + (int64_t)(warmup * 1e9);
    ph->stop = 0;
    ph->active = inflight;
    for (int i = 0; i < inflight; i++) {
        slots[i].ph = ph;
        px__fast_send(&slots[i]);
    }
    usleep((useconds_t)(warmup * 1e6));
    CALLGRIND_ZERO_STATS;
    double cpu0 = px_peer_cpu_s();
    int64_t m0 = px_peer_now_ns();
    usleep((useconds_t)(seconds * 1e6));
    __atomic_store_n(&ph->stop, 1, __ATOMIC_RELAXED);
    CALLGRIND_DUMP_STATS_AT(name);
    *measured_s = (double)(px_peer_now_ns() - m0) / 1e9;
    *cpu_s = px_peer_cpu_s() - cpu0;
    while (__atomic_load_n(&ph->active, __ATOMIC_ACQUIRE) > 0)
        usleep(1000);
    free(slots);
}

static void px__print_phase(const char *name, const px__phase *ph, double cpu_s, double secs,
                            int last)
{
    const px_hist *h = &ph->hist;
    printf("\"%s\":{\"calls\":%llu,\"calls_per_s\":%.1f,\"p50_us\":%.3f,\"p99_us\":%.3f,"
           "\"p99_9_us\":%.3f,\"max_us\":%.3f,\"client_cpu_us_per_call\":%.4f,\"errors\":%llu}%s",
           name, (unsigned long long)h->n, secs > 0 ? (double)h->n / secs : 0,
           (double)px_hist_quantile(h, 0.5) / 1e3, (double)px_hist_quantile(h, 0.99) / 1e3,
           (double)px_hist_quantile(h, 0.999) / 1e3, (double)h->max / 1e3,
           h->n ? cpu_s * 1e6 / (double)h->n : 0, (unsigned long long)ph->errors, last ? "" : ",");
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    long pending = 100000, inflight = 1;
    double seconds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-c") == 0)
            file = argv[i + 1];
        else if (strcmp(argv[i], "--pending") == 0)
            pending = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--inflight") == 0)
            inflight = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--duration") == 0)
            seconds = strtod(argv[i + 1], NULL);
        else
            file = NULL, i = argc;
    }
    if (file == NULL || argc % 2 == 0 || pending < 1 || pending > 10000000 || inflight < 1 ||
        inflight > 4096 || seconds <= 0) {
        fprintf(stderr, "usage: plexus-rpc-pending -c CLIENT.yaml [--pending N (1..1e7)] "
                        "[--inflight D (1..4096)] [--duration S]\n"
                        "  the upstream's server must be plexus-rpc-hold\n");
        return 2;
    }
    px_config *cfg = NULL;
    px_client *cl = NULL;
    px_err err;
    px_err_clear(&err);
    if (px_config_load(file, &cfg, &err) != PX_OK || px_client_new(cfg, NULL, &cl, &err) != PX_OK) {
        fprintf(stderr, "plexus-rpc-pending: %s\n", err.msg);
        px_config_free(cfg);
        return 1;
    }
    Calc__AddRequest add = CALC__ADD_REQUEST__INIT;
    add.a = 1;
    add.b = 2;
    add.tag = "0123456789abcdef";
    Calc__SleepRequest sleep_req = CALC__SLEEP_REQUEST__INIT;
    sleep_req.ms = 60000;
    px__phase ph = {.cl = cl, .req = &add.base};
    double cpu_a, secs_a, cpu_b, secs_b;
    px__run_phase(&ph, "without", (int)inflight, 0.5, seconds, &cpu_a, &secs_a);
    px__phase without = ph;

    /* N calls whose deadline (10 min) never comes during the run: each holds a context
     * and an armed timer on the client loop. */
    px_call_opts long_wait = {.timeout_us = 600LL * 1000000};
    int64_t p0 = px_peer_now_ns();
    for (long i = 0; i < pending; i++)
        if (px_call_async(cl, "calc.Calculator/Sleep", &sleep_req.base,
                          &calc__sleep_reply__descriptor, &long_wait, px__pending_done, NULL,
                          &err) != PX_OK) {
            fprintf(stderr, "plexus-rpc-pending: pending call %ld refused: %s\n", i, err.msg);
            return 1;
        }
    int64_t p1 = px_peer_now_ns();
    /* The loop runs posted calls in order: once this call returns, all N are armed. */
    ProtobufCMessage *reply = NULL;
    if (px_call_wait(cl, "calc.Calculator/Add", &add.base, &calc__add_reply__descriptor, NULL,
                     &reply, &err) != PX_OK) {
        fprintf(stderr, "plexus-rpc-pending: %s\n", err.msg);
        return 1;
    }
    px_msg_free(reply);
    int64_t p2 = px_peer_now_ns();
    px__run_phase(&ph, "with", (int)inflight, 0.5, seconds, &cpu_b, &secs_b);
    uint64_t ended_early = 0;
    for (int i = 0; i < PX_STATUS_COUNT; i++)
        ended_early += __atomic_load_n(&px__pending_ended[i], __ATOMIC_RELAXED);
    px_client_free(cl); /* ends the pending calls with CANCELLED */
    px_config_free(cfg);
    printf("{\"pending\":%ld,\"inflight\":%ld,\"post_s\":%.4f,\"armed_s\":%.4f,"
           "\"pending_ended_before_free\":%llu,\"pending_cancelled_at_free\":%llu,",
           pending, inflight, (double)(p1 - p0) / 1e9, (double)(p2 - p0) / 1e9,
           (unsigned long long)ended_early,
           (unsigned long long)px__pending_ended[PX_CANCELLED]);
    px__print_phase("without", &without, cpu_a, secs_a, 0);
    px__print_phase("with", &ph, cpu_b, secs_b, 1);
    printf("}\n");
    return without.hist.n > 0 && ph.hist.n > 0 && ended_early == 0 ? 0 : 1;
}
