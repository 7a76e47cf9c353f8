/* plexus bench: the load itself: closed loop (C x D calls kept in flight) or open loop
 * (calls at a fixed rate, latency from each call's intended send time). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_rpc.h"

#define PX__TICK_NS 250000000LL /* progress line and wake-up period */

typedef struct px__bench px__bench;

/* One call in flight: the slots are made once, so a call costs the tool no malloc
 * (unless the request is a template: its decoded message is the call's own). */
typedef struct px__slot {
    px__bench *b;
    int64_t t_ns;            /* send time (closed loop) or intended send time (open loop) */
    struct px__slot *next;   /* free list (open loop) */
    char *text;              /* template: this call's expansion */
    ProtobufCMessage *req;   /* template: this call's request, freed when the call ends */
} px__slot;

struct px__bench {
    const px_bench_args *a;
    px_bench_result *r;
    px_client *cl;
    const ProtobufCMessage *req;
    const ProtobufCMessageDescriptor *reply_desc;
    const px_cli_request *q;  /* the method, and the JSON codec a template is decoded with */
    const px_bench_tpl *tpl;  /* n_fields 0: req is sent on every call */
    uint64_t seq;             /* atomic: template calls made ({{seq}}) */
    char *texts;              /* the slots' expansion buffers, one block */
    px_call_opts opts;
    px__slot *slots;
    size_t n_slots;
    int64_t t_measure, t_end; /* window of completions that count; fixed before any call */
    int stop;                 /* atomic: closed loop sends no more */
    uint64_t issued;          /* atomic: calls started (for --calls) */
    uint64_t completed;       /* atomic: calls ended, any status, any phase */
    int64_t active;           /* atomic: slots with a call in flight */
    px_hist *hists;           /* one per IO thread, claimed on its first completion */
    int n_hists;
    int hists_claimed;        /* atomic */
    px_hist shared_hist;      /* when more threads complete calls than expected (locked) */
    pthread_mutex_t lock;     /* free list, first error messages, shared_hist */
    px__slot *free_slots;
};

static __thread px_hist *px__my_hist;

static int64_t px__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void px__sleep_until(int64_t t_ns)
{
    struct timespec ts = {.tv_sec = t_ns / 1000000000LL, .tv_nsec = t_ns % 1000000000LL};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
        ;
}

static double px__cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void px__add_latency(px__bench *b, uint64_t ns)
{
    if (px__my_hist == NULL) {
        int i = __atomic_fetch_add(&b->hists_claimed, 1, __ATOMIC_RELAXED);
        if (i >= b->n_hists) {
            pthread_mutex_lock(&b->lock);
            px_hist_add(&b->shared_hist, ns);
            pthread_mutex_unlock(&b->lock);
            return;
        }
        px__my_hist = &b->hists[i];
    }
    px_hist_add(px__my_hist, ns);
}

/* Books one ended call: latency if it ended OK inside the window, else its status. */
static void px__record(px__bench *b, const px__slot *s, px_status st, const char *msg,
                       int64_t now)
{
    __atomic_add_fetch(&b->completed, 1, __ATOMIC_RELAXED);
    if (now < b->t_measure) {
        if (st != PX_OK)
            __atomic_add_fetch(&b->r->warmup_errors, 1, __ATOMIC_RELAXED);
        return;
    }
    if (now >= b->t_end)
        return;
    if (st == PX_OK) {
        px__add_latency(b, (uint64_t)(now - s->t_ns));
        return;
    }
    unsigned k = (unsigned)st < PX_STATUS_COUNT ? (unsigned)st : PX_UNKNOWN;
    if (__atomic_fetch_add(&b->r->errors[k], 1, __ATOMIC_RELAXED) == 0) {
        pthread_mutex_lock(&b->lock);
        /* The report keeps the first 199 bytes of it. */
        snprintf(b->r->first_error[k], sizeof b->r->first_error[k], "%.199s",
                 msg && *msg ? msg : px_status_message(st));
        pthread_mutex_unlock(&b->lock);
    }
}

static void px__done(void *user, px_status st, const char *msg, const ProtobufCMessage *reply);

static void px__slot_req_free(px__slot *s)
{
    if (s->req != NULL)
        protobuf_c_message_free_unpacked(s->req, NULL);
    s->req = NULL;
}

/* The template's next request into s->req; PX_OK, or the status with err set. Kept
 * until the call ends: a client filter's on_done may still read the request. */
static px_status px__build(px__bench *b, px__slot *s, px_err *err)
{
    uint64_t seq = __atomic_fetch_add(&b->seq, 1, __ATOMIC_RELAXED);
    size_t len = px_bench_tpl_expand(b->tpl, seq, s->text);
    const px_cli_codec *json = &b->q->json;
    px_err why;
    px_err_clear(&why);
    if (json->ops->decode(json->state, b->q->md->input, (const uint8_t *)s->text, len, &s->req,
                          &why) == PX_OK)
        return PX_OK;
    s->req = NULL;
    return px_err_set(err, PX_INVALID_ARGUMENT, "request template: call %llu: bad JSON for %s: "
                      "%s (the request: %.60s)", (unsigned long long)seq,
                      b->q->md->input->name, why.msg, s->text);
}

/* Starts a call on slot s, stamped t_ns; 0, or -1 when px_call_async refused it
 * (the refusal is booked as an ended call). */
static int px__send(px__bench *b, px__slot *s, int64_t t_ns)
{
    s->t_ns = t_ns;
    px_err err;
    px_err_clear(&err);
    px_status st = PX_OK;
    if (b->tpl->n_fields > 0)
        st = px__build(b, s, &err);
    if (st == PX_OK)
        st = px_call_async(b->cl, b->a->method, s->req ? s->req : b->req, b->reply_desc,
                           &b->opts, px__done, s, &err);
    if (st == PX_OK)
        return 0;
    px__slot_req_free(s);
    px__record(b, s, st, err.msg, px__now_ns());
    return -1;
}

/* Closed loop: the slot's next call, unless the run is over. */
static void px__next(px__bench *b, px__slot *s)
{
    int over = __atomic_load_n(&b->stop, __ATOMIC_RELAXED) ||
               (b->a->calls && __atomic_fetch_add(&b->issued, 1, __ATOMIC_RELAXED) >= b->a->calls);
    /* A call refused at once (the client is closing) will not call us back either. */
    if (!over && px__send(b, s, px__now_ns()) == 0)
        return;
    __atomic_sub_fetch(&b->active, 1, __ATOMIC_RELEASE);
}

static void px__slot_free(px__bench *b, px__slot *s)
{
    pthread_mutex_lock(&b->lock);
    s->next = b->free_slots;
    b->free_slots = s;
    pthread_mutex_unlock(&b->lock);
    __atomic_sub_fetch(&b->active, 1, __ATOMIC_RELEASE);
}

static px__slot *px__slot_take(px__bench *b)
{
    pthread_mutex_lock(&b->lock);
    px__slot *s = b->free_slots;
    if (s)
        b->free_slots = s->next;
    pthread_mutex_unlock(&b->lock);
    if (s)
        __atomic_add_fetch(&b->active, 1, __ATOMIC_RELAXED);
    return s;
}

static void px__done(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    px__slot *s = user;
    px__bench *b = s->b;
    px__record(b, s, st, msg, px__now_ns());
    px__slot_req_free(s);
    if (b->a->rate > 0)
        px__slot_free(b, s);
    else
        px__next(b, s);
}

static void px__progress(const px__bench *b, int64_t now, int64_t t0, int tty,
                         uint64_t *last_done, int64_t *last_t)
{
    if (!tty)
        return;
    uint64_t done = __atomic_load_n(&b->completed, __ATOMIC_RELAXED);
    double dt = (double)(now - *last_t) / 1e9;
    double rate = dt > 0 ? (double)(done - *last_done) / dt : 0;
    *last_done = done;
    *last_t = now;
    int warm = now < b->t_measure;
    double at = (double)(now - (warm ? t0 : b->t_measure)) / 1e9;
    double of = warm ? b->a->warmup_s : b->a->duration_s;
    fprintf(stderr, "\r%-8s %6.1f / %.1f s   %10.0f calls/s   %llu in flight   ",
            warm ? "warm-up" : "measure", at, of, rate,
            (unsigned long long)__atomic_load_n(&b->active, __ATOMIC_RELAXED));
    fflush(stderr);
}

/* The next moment the driver must wake: a tick, the window start or the end. */
static int64_t px__next_wake(const px__bench *b, int64_t now, int cpu_taken)
{
    int64_t t = now + PX__TICK_NS;
    if (!cpu_taken && b->t_measure > now && b->t_measure < t)
        t = b->t_measure;
    return b->t_end < t ? b->t_end : t;
}

/* Open loop: sends every call whose intended time has come, while slots are free. */
static void px__pace(px__bench *b, int64_t now, int64_t *intended, uint64_t *sent)
{
    const px_bench_args *a = b->a;
    int64_t interval = (int64_t)(1e9 / a->rate);
    while (*intended <= now && (!a->calls || *sent < a->calls)) {
        px__slot *s = px__slot_take(b);
        if (s == NULL)
            break; /* every slot busy: the call goes out late, timed from its intended time */
        if (px__send(b, s, *intended) != 0)
            px__slot_free(b, s);
        ++*sent;
        *intended += interval;
    }
    if (*intended <= now && (!a->calls || *sent < a->calls)) {
        uint64_t late = (uint64_t)((now - *intended) / interval) + 1;
        if (late > b->r->late_sends_max)
            b->r->late_sends_max = late;
    }
}

/* The calling thread drives the run: waits (closed loop) or paces sends (open loop). */
static void px__drive(px__bench *b, int64_t t0)
{
    const px_bench_args *a = b->a;
    int open = a->rate > 0;
    int tty = isatty(STDERR_FILENO);
    uint64_t last_done = 0, sent = 0;
    int64_t last_t = t0, next_tick = t0 + PX__TICK_NS;
    int cpu_taken = b->t_measure <= t0;
    double cpu0 = cpu_taken ? px__cpu_s() : 0;
    int64_t intended = t0; /* open loop: when the next call should go out */
    int64_t now = t0, ended_at = b->t_end;
    while (now < b->t_end) {
        if (open)
            px__pace(b, now, &intended, &sent);
        if (!cpu_taken && now >= b->t_measure) {
            cpu0 = px__cpu_s();
            cpu_taken = 1;
        }
        if (now >= next_tick) {
            px__progress(b, now, t0, tty, &last_done, &last_t);
            next_tick = now + PX__TICK_NS;
        }
        /* Early end: a counting run (--calls) whose calls are all done, or a closed
         * loop whose every slot stopped (calls refused). */
        int idle = __atomic_load_n(&b->active, __ATOMIC_ACQUIRE) == 0;
        if (idle && (!open || (a->calls && sent >= a->calls))) {
            /* Read the clock again: on the first pass `now` is still t0, and calls
             * that all ended before it (refused at once) would make a 0 s window. */
            ended_at = px__now_ns();
            break;
        }
        int64_t wake = px__next_wake(b, now, cpu_taken);
        int more = open && (!a->calls || sent < a->calls);
        if (more && intended <= now)
            wake = now + 20000; /* waiting for a free slot: look again in 20 us */
        else if (more && intended < wake)
            wake = intended;
        else if (a->calls && now + 10000000 < wake)
            wake = now + 10000000; /* a counting run ends when its calls are done: look often */
        px__sleep_until(wake);
        now = px__now_ns();
    }
    double cpu1 = px__cpu_s();
    b->r->client_cpu_s = cpu_taken ? cpu1 - cpu0 : 0;
    if (ended_at < b->t_measure)
        ended_at = b->t_measure;
    b->r->measured_s = (double)(ended_at - b->t_measure) / 1e9;
    if (tty)
        fprintf(stderr, "\r%70s\r", "");
}

/* After the window: no new calls; give those in flight a bounded time to end. */
static void px__drain(px__bench *b)
{
    __atomic_store_n(&b->stop, 1, __ATOMIC_RELAXED);
    int64_t give_up = px__now_ns() + 2000000000LL;
    while (__atomic_load_n(&b->active, __ATOMIC_ACQUIRE) > 0 && px__now_ns() < give_up)
        usleep(1000);
}

/* The upstream the bench calls: the named one, or the config's only one. */
static const char *px__upstream(const px_config *cfg, const char *name)
{
    if (name == NULL)
        return px_config_upstream_count(cfg) == 1 ? px_config_upstream_name(cfg, 0) : NULL;
    return px_config_upstream_codec(cfg, name) != NULL ? name : NULL;
}

static int px__setup(px__bench *b, px_config *cfg)
{
    const px_bench_args *a = b->a;
    const char *up = px__upstream(cfg, a->upstream);
    px_err err;
    px_err_clear(&err);
    if (up != NULL) {
        /* One client, C multiplexed connections per endpoint on its IO thread(s): the
         * same shape as the raw and gRPC peers (one client thread, C sockets). */
        if (px_config_upstream_set_connections(cfg, up, a->connections, &err) != PX_OK) {
            fprintf(stderr, "plexus: %s\n", err.msg);
            return -1;
        }
        b->r->upstream = up;
        b->r->codec = px_config_upstream_codec(cfg, up);
        b->r->endpoints = (int)px_config_upstream_endpoints(cfg, up);
    }
    if (px_client_new(cfg, a->upstream, &b->cl, &err) != PX_OK) {
        fprintf(stderr, "plexus: %s\n", err.msg);
        return -1;
    }
    b->r->io_threads = px_config_io_threads(cfg);
    b->n_hists = b->r->io_threads;
    b->n_slots = (size_t)a->connections * (size_t)a->inflight * (size_t)b->r->endpoints;
    b->hists = calloc((size_t)b->n_hists, sizeof *b->hists);
    b->slots = calloc(b->n_slots, sizeof *b->slots);
    size_t text_cap = b->tpl->max_len + 1;
    if (b->tpl->n_fields > 0)
        b->texts = malloc(b->n_slots * text_cap);
    if (b->hists == NULL || b->slots == NULL || (b->tpl->n_fields > 0 && b->texts == NULL)) {
        fprintf(stderr, "plexus: bench: out of memory for %zu call slots\n", b->n_slots);
        return -1;
    }
    for (int i = 0; i < b->n_hists; i++)
        px_hist_reset(&b->hists[i]);
    px_hist_reset(&b->shared_hist);
    for (size_t i = 0; i < b->n_slots; i++) {
        b->slots[i].b = b;
        b->slots[i].text = b->texts ? b->texts + i * text_cap : NULL;
        b->slots[i].next = i + 1 < b->n_slots ? &b->slots[i + 1] : NULL;
    }
    b->free_slots = b->slots;
    b->opts.timeout_us = a->timeout_us;
    return 0;
}

int px_bench_run(const px_cli_request *q, const px_bench_tpl *tpl, const px_bench_args *a,
                 px_bench_result *r)
{
    px_config *cfg = q->cfg;
    px__bench *b = calloc(1, sizeof *b);
    if (b == NULL) {
        fprintf(stderr, "plexus: bench: out of memory\n");
        return -1;
    }
    b->a = a;
    b->r = r;
    b->req = q->req;
    b->reply_desc = q->md->output;
    b->q = q;
    b->tpl = tpl;
    r->templated = tpl->n_fields > 0;
    pthread_mutex_init(&b->lock, NULL);
    r->tcp_connections = -1;
    int rc = px__setup(b, cfg);
    if (rc == 0) {
        int64_t t0 = px__now_ns();
        b->t_measure = t0 + (int64_t)(a->warmup_s * 1e9);
        b->t_end = b->t_measure + (int64_t)(a->duration_s * 1e9);
        if (a->rate <= 0) {
            /* Closed loop: every slot starts a call; each completion starts the next. */
            b->active = (int64_t)b->n_slots;
            b->free_slots = NULL;
            for (size_t i = 0; i < b->n_slots; i++)
                px__next(b, &b->slots[i]);
        }
        px__drive(b, t0);
        r->tcp_connections = px_bench_tcp_count();
        px__drain(b);
        r->calls_total = __atomic_load_n(&b->completed, __ATOMIC_RELAXED);
    }
    px_client_free(b->cl); /* ends what the drain left with CANCELLED, outside the window */
    for (size_t i = 0; b->slots != NULL && i < b->n_slots; i++)
        px__slot_req_free(&b->slots[i]);
    px_hist_reset(&r->hist);
    for (int i = 0; i < b->n_hists; i++)
        px_hist_merge(&r->hist, &b->hists[i]);
    px_hist_merge(&r->hist, &b->shared_hist);
    r->calls = r->hist.n;
    pthread_mutex_destroy(&b->lock);
    free(b->hists);
    free(b->slots);
    free(b->texts);
    free(b);
    return rc;
}
