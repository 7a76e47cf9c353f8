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
 *
 * Current weights are kept by endpoint index (px_endpoint.index, fixed for the
 * upstream's life), not by position: a pick that still holds the list before an update
 * and one given the new list index the same array, and the lock makes update and pick
 * take turns, so either list is served correctly.
 */
typedef struct lb_rr {
    pthread_mutex_t lock;
    int64_t *current; /* nginx's current_weight, by endpoint index */
    size_t cap;
} lb_rr;

/* Room for indexes below need, new ones at zero. Called locked. */
static int rr_room(lb_rr *st, size_t need)
{
    if (need <= st->cap)
        return 0;
    size_t cap = st->cap ? st->cap : 8;
    while (cap < need)
        cap *= 2;
    int64_t *cur = realloc(st->current, cap * sizeof *cur);
    if (cur == NULL)
        return -1;
    memset(cur + st->cap, 0, (cap - st->cap) * sizeof *cur);
    st->current = cur;
    st->cap = cap;
    return 0;
}

/* A new list starts a new cycle, as nginx does on reload: every current weight zero. */
static void rr_update(void *state, px_endpoint *const *eps, size_t n)
{
    lb_rr *st = state;
    size_t need = 0;
    for (size_t i = 0; i < n; i++)
        if (eps[i]->index + (size_t)1 > need)
            need = eps[i]->index + (size_t)1;
    pthread_mutex_lock(&st->lock);
    rr_room(st, need); /* out of memory: pick tries again */
    if (st->cap > 0)
        memset(st->current, 0, st->cap * sizeof *st->current);
    pthread_mutex_unlock(&st->lock);
}

/* Each candidate gains its weight; the richest wins and pays the candidates' total. */
static int rr_pick(void *state, px_endpoint *const *eps, size_t n, const px_pick_ctx *ctx)
{
    lb_rr *st = state;
    int best = -1, no_memory = 0;
    int64_t total = 0, best_cur = 0;
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < n && !no_memory; i++) {
        if (ctx->avoid[i])
            continue;
        size_t k = eps[i]->index;
        if (k >= st->cap && rr_room(st, k + 1) != 0) {
            no_memory = 1;
            break;
        }
        int64_t w = (int64_t)px_lb_weight(eps[i]);
        st->current[k] += w;
        total += w;
        if (best < 0 || st->current[k] > best_cur) {
            best = (int)i;
            best_cur = st->current[k];
        }
    }
    if (best >= 0 && !no_memory)
        st->current[eps[best]->index] -= total;
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
