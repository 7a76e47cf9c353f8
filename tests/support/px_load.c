/* Test helper: steady async Whoami load with per-call records, and a health watch. */
#include "px_load.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calc.pb-c.h"
#include "px_client_int.h"
#include "px_time.h"

typedef struct px_load_call {
    px_load *l;
    int i;
} px_load_call;

void px_load_pace(void)
{
    struct timespec ts = {0, 500 * 1000}; /* pacing, not waiting on a condition */
    nanosleep(&ts, NULL);
}

static int server_index(const char *id)
{
    if (!id || id[0] != 's' || id[1] < '0' || id[1] > '9' || id[2])
        return -1;
    return id[1] - '0' < PX_LOAD_MAX_SRV ? id[1] - '0' : -1;
}

int px_load_init(px_load *l, px_client *cl, int cap)
{
    memset(l, 0, sizeof *l);
    l->cl = cl;
    l->cap = cap;
    l->rec = calloc((size_t)cap, sizeof *l->rec);
    l->calls = calloc((size_t)cap, sizeof *l->calls);
    return l->rec && l->calls ? 0 : -1;
}

void px_load_free(px_load *l)
{
    free(l->rec);
    free(l->calls);
    memset(l, 0, sizeof *l);
}

static void load_done(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    px_load_call *c = user;
    px_load_rec *r = &c->l->rec[c->i];
    if (__atomic_add_fetch(&r->fired, 1, __ATOMIC_ACQ_REL) != 1)
        return; /* a second completion: px_load_sum_up counts it through `fired` */
    r->st = st;
    r->server = st == PX_OK && reply ? server_index(((const Calc__WhoamiReply *)reply)->id) : -1;
    r->end_us = px_mono_us();
    __atomic_add_fetch(&c->l->done, 1, __ATOMIC_RELEASE);
}

int px_load_run(px_load *l, int n, int64_t dur_us, void (*tick)(void *), void *arg)
{
    if (l->issued + n > l->cap)
        return -1;
    Calc__WhoamiRequest req = CALC__WHOAMI_REQUEST__INIT;
    int base = l->issued;
    int64_t t0 = px_mono_us();
    while (l->issued < base + n) {
        int64_t due = base + (px_mono_us() - t0) * n / (dur_us > 0 ? dur_us : 1);
        for (; l->issued < base + n && l->issued <= due; l->issued++) {
            int i = l->issued;
            l->calls[i] = (px_load_call){.l = l, .i = i};
            l->rec[i].start_us = px_mono_us();
            px_err err;
            if (px_call_async(l->cl, "calc.Calculator/Whoami", &req.base,
                              &calc__whoami_reply__descriptor, l->opts, load_done, &l->calls[i],
                              &err) != PX_OK) {
                fprintf(stderr, "px_load: call %d refused: %s\n", i, err.msg);
                return -1;
            }
        }
        if (tick)
            tick(arg);
        px_load_pace();
    }
    return 0;
}

int px_load_drain(px_load *l, int64_t max_us, void (*tick)(void *), void *arg)
{
    int64_t end = px_mono_us() + max_us;
    while (__atomic_load_n(&l->done, __ATOMIC_ACQUIRE) < l->issued && px_mono_us() < end) {
        if (tick)
            tick(arg);
        px_load_pace();
    }
    return __atomic_load_n(&l->done, __ATOMIC_ACQUIRE) == l->issued ? 0 : -1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

void px_load_sum_up(const px_load *l, int from, int to, px_load_sum *out)
{
    memset(out, 0, sizeof *out);
    int64_t *dur = calloc((size_t)(to > from ? to - from : 1), sizeof *dur);
    int nd = 0;
    for (int i = from; i < to; i++) {
        const px_load_rec *r = &l->rec[i];
        int fired = __atomic_load_n(&r->fired, __ATOMIC_ACQUIRE);
        out->calls++;
        out->twice += fired > 1;
        if (fired == 0) {
            out->never++;
            continue;
        }
        if (r->st != PX_OK) {
            out->failed++;
            continue;
        }
        out->ok++;
        if (r->server >= 0)
            out->per_server[r->server]++;
        if (dur)
            dur[nd++] = r->end_us - r->start_us;
    }
    if (dur && nd > 0) {
        qsort(dur, (size_t)nd, sizeof *dur, cmp_i64);
        out->p50_us = dur[nd / 2];
        out->p90_us = dur[nd * 9 / 10];
        out->max_us = dur[nd - 1];
    }
    free(dur);
}

void px_load_sum_print(const px_load *l, int from, int to, const px_load_sum *s,
                       const char *title)
{
    fprintf(stderr, "  %s: %d calls: %d ok, %d failed, %d completed twice, %d never; "
                    "p50 %.2f ms, p90 %.2f ms, max %.2f ms; answers s0 %d, s1 %d, s2 %d\n",
            title, s->calls, s->ok, s->failed, s->twice, s->never, s->p50_us / 1e3,
            s->p90_us / 1e3, s->max_us / 1e3, s->per_server[0], s->per_server[1],
            s->per_server[2]);
    int shown = 0;
    for (int i = from; i < to && shown < 5; i++) {
        if (__atomic_load_n(&l->rec[i].fired, __ATOMIC_ACQUIRE) == 1 && l->rec[i].st != PX_OK) {
            fprintf(stderr, "    call %d failed: %s\n", i, px_status_name(l->rec[i].st));
            shown++;
        }
    }
}

int64_t px_load_first_answer(const px_load *l, int srv, int64_t t_us)
{
    int64_t first = 0;
    for (int i = 0; i < l->issued; i++) {
        const px_load_rec *r = &l->rec[i];
        if (__atomic_load_n(&r->fired, __ATOMIC_ACQUIRE) == 1 && r->st == PX_OK &&
            r->server == srv && r->end_us >= t_us && (!first || r->end_us < first))
            first = r->end_us;
    }
    return first;
}

/* ---- health watch --------------------------------------------------------- */

void px_watch_init(px_watch *w, px_client *cl)
{
    memset(w, 0, sizeof *w);
    w->cl = cl;
    int n = (int)px_eptable_count(&cl->up->table); /* the static list, in its order */
    w->n = n < PX_LOAD_MAX_SRV ? n : PX_LOAD_MAX_SRV;
    w->t0 = px_mono_us();
}

void px_watch_note(px_watch *w, const char *fmt, ...)
{
    if (w->n_lines >= 64)
        return;
    char *line = w->line[w->n_lines++];
    int k = snprintf(line, sizeof w->line[0], "%6lld ms  ",
                     (long long)((px_mono_us() - w->t0) / 1000));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + k, sizeof w->line[0] - (size_t)k, fmt, ap);
    va_end(ap);
}

void px_watch_mark(px_watch *w)
{
    memset(w->eject_us, 0, sizeof w->eject_us);
    memset(w->readmit_us, 0, sizeof w->readmit_us);
}

void px_watch_poll(px_watch *w)
{
    int64_t now = px_mono_us();
    for (int i = 0; i < w->n; i++) {
        px_ep *ep = px_upstream_ep(w->cl->up, (uint32_t)i);
        int fails = __atomic_load_n(&ep->fails, __ATOMIC_RELAXED);
        if (fails > w->max_fails[i])
            w->max_fails[i] = fails;
        int out = px_endpoint_is_ejected(&ep->pub);
        if (out == w->ejected[i])
            continue;
        w->ejected[i] = out;
        px_watch_note(w, "s%d %s", i, out ? "ejected" : "re-admitted");
        if (out) {
            w->ejections[i]++;
            if (!w->eject_us[i])
                w->eject_us[i] = now;
        } else {
            w->readmissions[i]++;
            if (!w->readmit_us[i])
                w->readmit_us[i] = now;
        }
    }
}

void px_watch_tick(void *w) { px_watch_poll(w); }

int px_watch_wait_admitted(px_watch *w, int64_t max_us)
{
    int64_t end = px_mono_us() + max_us;
    for (;;) {
        px_watch_poll(w);
        int out = 0;
        for (int i = 0; i < w->n; i++)
            out += w->ejected[i];
        if (!out)
            return 0;
        if (px_mono_us() >= end)
            return -1;
        px_load_pace();
    }
}

void px_watch_print(const px_watch *w, const char *title)
{
    fprintf(stderr, "---- %s: timeline ----\n", title);
    for (int i = 0; i < w->n_lines; i++)
        fprintf(stderr, "  %s\n", w->line[i]);
}
