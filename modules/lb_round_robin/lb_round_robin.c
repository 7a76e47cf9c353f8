/* BALANCER "round_robin": smooth weighted round robin, as nginx's upstream does it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <plexus/plexus.h>
#include "px_lb_util.h"

/*
 * One mutex around the whole O(n) selection. Per-thread state would avoid the lock but
 * give each thread its own cycle, so the interleaving of several threads would no
 * longer be the smooth sequence and the shares over a run would not be exact (the
 * guarantee users pick round robin for). The critical section is a few adds per
 * endpoint and no allocation in steady state; nginx takes a lock the same way when
 * its peers live in a shared zone.
 */
typedef struct lb_rr {
    pthread_mutex_t lock;
    int64_t *current; /* nginx's current_weight, by endpoint position */
    size_t n;
} lb_rr;

/* Makes room for n endpoints, all current weights zero (a new cycle). Called locked. */
static int rr_reset(lb_rr *st, size_t n)
{
    if (n != st->n) {
        int64_t *cur = realloc(st->current, (n ? n : 1) * sizeof *cur);
        if (cur == NULL)
            return -1;
        st->current = cur;
        st->n = n;
    }
    if (n > 0)
        memset(st->current, 0, n * sizeof *st->current);
    return 0;
}

static void rr_update(void *state, px_endpoint *const *eps, size_t n)
{
    lb_rr *st = state;
    pthread_mutex_lock(&st->lock);
    if (rr_reset(st, n) != 0)
        st->n = 0; /* out of memory: pick retries the allocation */
    pthread_mutex_unlock(&st->lock);
}

/* Each candidate gains its weight; the richest wins and pays the candidates' total. */
static int rr_pick(void *state, px_endpoint *const *eps, size_t n, const px_pick_ctx *ctx)
{
    lb_rr *st = state;
    int best = -1, no_memory = 0;
    pthread_mutex_lock(&st->lock);
    if (n != st->n && rr_reset(st, n) != 0) {
        no_memory = 1;
    } else {
        int64_t total = 0;
        for (size_t i = 0; i < n; i++) {
            if (ctx->avoid[i])
                continue;
            int64_t w = (int64_t)px_lb_weight(eps[i]);
            st->current[i] += w;
            total += w;
            if (best < 0 || st->current[i] > st->current[best])
                best = (int)i;
        }
        if (best >= 0)
            st->current[best] -= total;
    }
    pthread_mutex_unlock(&st->lock);
    if (no_memory) /* no room for the cycle: still serve the call */
        best = px_lb_nth_free(ctx->avoid, n, 0);
    return best;
}

static px_status rr_create(const px_module_env *env, const void *conf, void **state, px_err *err)
{
    lb_rr *st = calloc(1, sizeof *st);
    if (st == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "balancer round_robin (upstream %s): out of memory",
                          env && env->scope ? env->scope : "?");
    pthread_mutex_init(&st->lock, NULL);
    *state = st;
    return PX_OK;
}

static void rr_destroy(void *state)
{
    lb_rr *st = state;
    pthread_mutex_destroy(&st->lock);
    free(st->current);
    free(st);
}

static const px_balancer_ops rr_ops = {.update = rr_update, .pick = rr_pick};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_BALANCER,
    .name = "round_robin",
    .version = "1.0.0",
    .description = "smooth weighted round robin (nginx): exact shares, evenly interleaved",
    .create = rr_create,
    .destroy = rr_destroy,
    .ops = &rr_ops,
};
