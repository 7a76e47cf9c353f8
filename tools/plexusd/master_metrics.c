/* plexusd: the master's metrics, for the admin listener: each worker's px_metrics_text
 * asked for over its channel, summed by px_metrics_merge, and the master's own series. */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "master.h"
#include "master_int.h"
#include "plexus/px_metrics.h"

px_master *px_master_running;

int64_t px_master_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The master's own series, as a text merged with the workers'. */
static char *pxm_own_text(px_master *m, size_t *len)
{
    int workers = 0;
    for (size_t i = 0; i < m->nw; i++)
        workers += m->w[i].ready && !m->w[i].retiring;
    char *t = NULL;
    int n = asprintf(&t,
                     "# HELP plexus_workers Worker processes serving.\n"
                     "# TYPE plexus_workers gauge\n"
                     "plexus_workers %d\n"
                     "# HELP plexus_worker_restarts_total Workers started again after they died.\n"
                     "# TYPE plexus_worker_restarts_total counter\n"
                     "plexus_worker_restarts_total %" PRIu64 "\n"
                     "# HELP plexus_config_reloads_total Configuration reloads (SIGHUP), by result.\n"
                     "# TYPE plexus_config_reloads_total counter\n"
                     "plexus_config_reloads_total{result=\"ok\"} %" PRIu64 "\n"
                     "plexus_config_reloads_total{result=\"failed\"} %" PRIu64 "\n"
                     "# HELP plexus_config_last_reload_success_timestamp_seconds When the "
                     "configuration serving was loaded.\n"
                     "# TYPE plexus_config_last_reload_success_timestamp_seconds gauge\n"
                     "plexus_config_last_reload_success_timestamp_seconds %.3f\n",
                     workers, m->restarts, m->reloads_ok, m->reloads_failed,
                     m->last_reload_ok_s);
    if (n < 0)
        return NULL;
    *len = (size_t)n;
    return t;
}

/* Asks every serving worker for its text and waits for the answers, up to timeout_ms.
 * texts[i] is worker i's answer, NULL when none came. Under m->mu. */
static void pxm_collect(px_master *m, int timeout_ms, char **texts, size_t *lens)
{
    uint32_t seq = ++m->seq;
    size_t waiting = 0;
    int *asked = calloc(m->nw ? m->nw : 1, sizeof *asked);
    if (asked == NULL)
        return;
    for (size_t i = 0; i < m->nw; i++)
        if (m->w[i].ready && !m->w[i].eof &&
            px_chan_send(m->w[i].fd, PX_CHAN_METRICS, seq, NULL, 0) == 0) {
            asked[i] = 1;
            waiting++;
        }
    int64_t deadline = px_master_now_us() + (int64_t)timeout_ms * 1000;
    struct pollfd *p = calloc(m->nw ? m->nw : 1, sizeof *p);
    size_t *at = calloc(m->nw ? m->nw : 1, sizeof *at);
    while (p && at && waiting > 0) {
        int64_t left = deadline - px_master_now_us();
        if (left <= 0)
            break;
        size_t np = 0;
        for (size_t i = 0; i < m->nw; i++)
            if (asked[i]) {
                at[np] = i;
                p[np++] = (struct pollfd){.fd = m->w[i].fd, .events = POLLIN};
            }
        int n = poll(p, np, (int)((left + 999) / 1000));
        if (n < 0 && errno != EINTR)
            break;
        for (size_t k = 0; n > 0 && k < np; k++) {
            if (!p[k].revents)
                continue;
            size_t i = at[k];
            pxm_worker *w = &m->w[i];
            int r = px_chan_rx_fill(&w->rx, w->fd);
            px_chan_hdr h;
            const char *body;
            /* Drops the answers to requests given up on before (their seq is older). */
            while (asked[i] && px_chan_rx_peek(&w->rx, &h, &body)) {
                if (h.kind == PX_CHAN_METRICS && h.seq == seq) {
                    if ((texts[i] = malloc((size_t)h.len + 1)) != NULL) {
                        memcpy(texts[i], body, (size_t)h.len);
                        texts[i][h.len] = 0;
                        lens[i] = (size_t)h.len;
                    }
                    asked[i] = 0;
                    waiting--;
                }
                px_chan_rx_pop(&w->rx);
            }
            if (r < 0 && asked[i]) {
                w->eof = 1; /* exiting: its channel closed */
                asked[i] = 0;
                waiting--;
            }
        }
    }
    for (size_t i = 0; i < m->nw; i++)
        if (asked[i])
            px_log(PX_LOG_INFO, NULL, "metrics: worker %d (pid %d) did not answer within %d ms",
                   m->w[i].slot, (int)m->w[i].pid, timeout_ms);
    free(p);
    free(at);
    free(asked);
}

char *px_plexusd_master_metrics(int timeout_ms, size_t *len)
{
    px_master *m = __atomic_load_n(&px_master_running, __ATOMIC_ACQUIRE);
    if (m == NULL)
        return NULL;
    pthread_mutex_lock(&m->mu);
    size_t cap = m->nw + 1;
    char **texts = calloc(cap, sizeof *texts);
    size_t *lens = calloc(cap, sizeof *lens);
    char *out = NULL;
    if (texts && lens) {
        pxm_collect(m, timeout_ms, texts, lens);
        texts[m->nw] = pxm_own_text(m, &lens[m->nw]);
        /* The answers side by side, those missing left out. */
        size_t n = 0;
        for (size_t i = 0; i < cap; i++)
            if (texts[i]) {
                texts[n] = texts[i];
                lens[n++] = lens[i];
            }
        px_err err = {0};
        out = px_metrics_merge((const char *const *)texts, lens, n, len, &err);
        if (out == NULL)
            px_log(PX_LOG_ERROR, NULL, "metrics: %s", err.msg);
        for (size_t i = 0; i < n; i++)
            free(texts[i]);
    }
    pthread_mutex_unlock(&m->mu);
    free(texts);
    free(lens);
    return out;
}

int px_plexusd_master_ready(char *why, size_t cap)
{
    px_master *m = __atomic_load_n(&px_master_running, __ATOMIC_ACQUIRE);
    if (m == NULL) {
        snprintf(why, cap, "starting");
        return 0;
    }
    pthread_mutex_lock(&m->mu);
    int ready = m->started && !m->stopping;
    if (!ready)
        snprintf(why, cap, "%s", m->stopping ? "draining" : "starting");
    pthread_mutex_unlock(&m->mu);
    return ready;
}

void px_plexusd_master_status(char *buf, size_t cap)
{
    px_master *m = __atomic_load_n(&px_master_running, __ATOMIC_ACQUIRE);
    size_t at = 0;
    if (cap)
        buf[0] = 0;
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->nw && at < cap; i++) {
        const pxm_worker *w = &m->w[i];
        int n = snprintf(buf + at, cap - at, "worker %d pid %d generation %u %s\n", w->slot,
                         (int)w->pid, w->gen,
                         w->retiring ? "draining" : w->ready ? "serving" : "starting");
        if (n < 0)
            break;
        at += (size_t)n;
    }
    pthread_mutex_unlock(&m->mu);
}
