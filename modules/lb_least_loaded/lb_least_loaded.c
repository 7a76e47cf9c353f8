/* BALANCER "least_loaded": fewest outstanding calls per unit of weight; full scan or p2c. */
#include <stdlib.h>
#include <plexus/plexus.h>
#include "lb_least_loaded.h"
#include "px_lb_util.h"

typedef struct lb_ll {
    int mode;
    px_lb_rng rng;
} lb_ll;

/* a's load is below b's: inflight/weight compared by cross-multiplying (nginx least_conn). */
static int ll_less(uint64_t la, uint64_t wa, uint64_t lb, uint64_t wb)
{
    return la * wb < lb * wa;
}

/* Every candidate: the least loaded, ties by a weighted reservoir draw, so equal
 * endpoints share evenly (Dubbo's leastactive does the same with weights). */
static int ll_pick_full(lb_ll *st, px_endpoint *const *eps, size_t n, const uint8_t *avoid)
{
    int best = -1;
    uint64_t best_l = 0, best_w = 1, ties_w = 0;
    for (size_t i = 0; i < n; i++) {
        if (avoid[i])
            continue;
        uint64_t l = px_endpoint_inflight(eps[i]), w = px_lb_weight(eps[i]);
        if (best < 0 || ll_less(l, w, best_l, best_w)) {
            best = (int)i;
            best_l = l;
            best_w = w;
            ties_w = w;
        } else if (!ll_less(best_l, best_w, l, w)) { /* a tie: keep i with odds w/ties_w */
            ties_w += w;
            if (px_lb_rng_below(&st->rng, ties_w) < w) {
                best = (int)i;
                best_l = l;
                best_w = w;
            }
        }
    }
    return best;
}

/* Two distinct random candidates, the less loaded wins (Finagle's default). Both
 * were drawn at random, so keeping the first on a tie is unbiased. */
static int ll_pick_p2c(lb_ll *st, px_endpoint *const *eps, size_t n, const uint8_t *avoid)
{
    int a = -1, b = -1;
    int found = px_lb_two_free(&st->rng, avoid, n, &a, &b);
    if (found < 2)
        return found == 1 ? a : -1;
    uint64_t la = px_endpoint_inflight(eps[a]), lb = px_endpoint_inflight(eps[b]);
    return ll_less(lb, px_lb_weight(eps[b]), la, px_lb_weight(eps[a])) ? b : a;
}

static int ll_pick(void *state, px_endpoint *const *eps, size_t n, const px_pick_ctx *ctx)
{
    lb_ll *st = state;
    if (st->mode == LB_LEAST_LOADED_P2C)
        return ll_pick_p2c(st, eps, n, ctx->avoid);
    return ll_pick_full(st, eps, n, ctx->avoid);
}

static px_status ll_create(const px_module_env *env, const void *conf, void **state, px_err *err)
{
    const lb_least_loaded_conf *c = conf;
    lb_ll *st = calloc(1, sizeof *st);
    if (st == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED,
                          "balancer least_loaded (upstream %s): out of memory",
                          env && env->scope ? env->scope : "?");
    st->mode = c->mode;
    st->rng.seed = (uint64_t)c->seed;
    *state = st;
    return PX_OK;
}

static void ll_destroy(void *state)
{
    free(state);
}

static const char *const ll_modes[] = {"full", "p2c", NULL};

static const px_directive ll_directives[] = {
    {.name = "mode", .type = PX_DIR_ENUM, .offset = offsetof(lb_least_loaded_conf, mode),
     .def = "full", .enum_values = ll_modes,
     .help = "full: the least loaded of all endpoints; p2c: the less loaded of two random ones"},
    {.name = "seed", .type = PX_DIR_INT, .offset = offsetof(lb_least_loaded_conf, seed),
     .def = "0",
     .help = "fixed random seed for reproducible tie breaks and p2c draws; 0 seeds each thread from the clock"},
    {.name = NULL},
};

static const px_balancer_ops ll_ops = {.pick = ll_pick};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_BALANCER,
    .name = "least_loaded",
    .version = "1.0.0",
    .description = "fewest outstanding calls per unit of weight, ties at random; mode p2c: two random choices",
    .conf_size = sizeof(lb_least_loaded_conf),
    .directives = ll_directives,
    .create = ll_create,
    .destroy = ll_destroy,
    .ops = &ll_ops,
};
