/* BALANCER "consistent_hash": a hash ring with virtual nodes; calls with equal keys meet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <plexus/plexus.h>
#include "lb_consistent_hash.h"
#include "px_lb_util.h"

/*
 * A ring (Karger et al.; nginx `hash ... consistent`, Dubbo, brpc's c_murmurhash)
 * rather than Maglev: walking the ring clockwise past avoided endpoints gives every
 * key a stable order of fallbacks, identical to the ring without them, so a retry or
 * an ejection moves only the keys of the endpoint that is out; adding or removing an
 * endpoint moves exactly the arcs it owns (~1/N of keys). Maglev spreads more evenly
 * and looks up in O(1), but moves a little more than 1/N on change and has no natural
 * "next endpoint"; with tens of endpoints the ring's O(log points) search is a few
 * dozen compares.
 */

/* Endpoints x vnodes x weight is capped here; heavier sets are scaled down evenly. */
#define CH_MAX_POINTS (1u << 20)

typedef struct ch_point {
    uint64_t hash;
    uint32_t ep; /* position in the endpoint list the ring was built for */
} ch_point;

/* A ring, never changed once published: positions into one list, which it names. */
typedef struct ch_ring {
    px_endpoint *const *eps; /* the list given to update (compared, never read) */
    size_t n_eps;
    size_t n_points;
    ch_point points[]; /* sorted by hash, then endpoint */
} ch_ring;

/*
 * Lists change under picks (naming updates). Each update builds a new ring aside and
 * publishes it; a pick uses the ring built for the list it was given, found by that
 * list's address (the core keeps a list at one address while any pick holds it): the
 * current ring, or the previous one for a pick that still holds the list before the
 * update. Older rings are handed to px_balancer_retire, which frees them once no pick
 * can be reading them. A list matching neither (a pick two updates late) is served at
 * random, as calls without a key are.
 */
typedef struct lb_ch {
    uint32_t vnodes;
    char *key_field;
    char scope[64];
    px_lb_rng rng;
    ch_ring *cur;  /* atomic: the ring of the latest list; NULL: none (out of memory) */
    ch_ring *prev; /* atomic: the ring of the list before it */
    int warned; /* the key_field type warning was printed */
} lb_ch;

static int ch_point_cmp(const void *a, const void *b)
{
    const ch_point *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->ep < y->ep ? -1 : x->ep > y->ep;
}

static uint64_t ch_gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* An endpoint's points hash its address, not its position: reordering or changing
 * other endpoints leaves its arcs where they were. */
static uint64_t ch_vnode_hash(const char *address, uint32_t i)
{
    char buf[320];
    int len = snprintf(buf, sizeof buf, "%s#%u", address ? address : "", i);
    if (len < 0)
        len = 0;
    if ((size_t)len >= sizeof buf)
        len = (int)sizeof buf - 1;
    return px_lb_mix64(ch_fnv1a(CH_FNV_OFFSET, buf, (size_t)len));
}

/* A ring for the list eps[0..n), or NULL when out of memory. */
static ch_ring *ch_build(const lb_ch *st, px_endpoint *const *eps, size_t n)
{
    /* Points per endpoint: vnodes x weight, weights reduced by their gcd (100:200 is
     * 1:2), then scaled down together if the ring would be too big. */
    uint64_t g = 0, total = 0;
    for (size_t i = 0; i < n; i++)
        g = ch_gcd(px_lb_weight(eps[i]), g);
    for (size_t i = 0; i < n; i++)
        total += st->vnodes * (px_lb_weight(eps[i]) / g);
    double scale = total > CH_MAX_POINTS ? (double)CH_MAX_POINTS / (double)total : 1.0;
    uint32_t *count = calloc(n ? n : 1, sizeof *count);
    if (count == NULL)
        return NULL;
    total = 0;
    for (size_t i = 0; i < n; i++) {
        double c = (double)st->vnodes * (double)(px_lb_weight(eps[i]) / g) * scale;
        count[i] = c < 1 ? 1 : (uint32_t)c;
        total += count[i];
    }
    ch_ring *r = malloc(sizeof *r + (total ? total : 1) * sizeof r->points[0]);
    if (r == NULL) {
        free(count);
        return NULL;
    }
    r->eps = eps;
    r->n_eps = n;
    r->n_points = 0;
    for (size_t i = 0; i < n; i++)
        for (uint32_t v = 0; v < count[i]; v++)
            r->points[r->n_points++] =
                (ch_point){ch_vnode_hash(eps[i]->address, v), (uint32_t)i};
    free(count);
    qsort(r->points, r->n_points, sizeof r->points[0], ch_point_cmp);
    return r;
}

/* Publishes the new ring: the old current one becomes the previous, and the previous
 * one is retired once no pick may hold it (prev is replaced before it is retired). */
static void ch_update(void *state, px_endpoint *const *eps, size_t n)
{
    lb_ch *st = state;
    ch_ring *r = ch_build(st, eps, n); /* NULL: pick falls back to random */
    ch_ring *old_prev = st->prev, *old_cur = st->cur;
    __atomic_store_n(&st->prev, old_cur, __ATOMIC_RELEASE);
    if (old_prev != NULL)
        px_balancer_retire(old_prev, free);
    __atomic_store_n(&st->cur, r, __ATOMIC_RELEASE);
}

/* The first point at or after h, wrapping to 0 past the last. */
static size_t ch_lower_bound(const ch_ring *r, uint64_t h)
{
    size_t lo = 0, hi = r->n_points;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->points[mid].hash < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == r->n_points ? 0 : lo;
}

/* The ring built for this list, or NULL. */
static const ch_ring *ch_ring_for(const lb_ch *st, px_endpoint *const *eps, size_t n)
{
    const ch_ring *r = __atomic_load_n(&st->cur, __ATOMIC_ACQUIRE);
    if (r == NULL || r->eps != eps || r->n_eps != n)
        r = __atomic_load_n(&st->prev, __ATOMIC_ACQUIRE);
    if (r == NULL || r->eps != eps || r->n_eps != n || r->n_points == 0)
        return NULL;
    return r;
}

static int ch_pick(void *state, px_endpoint *const *eps, size_t n, const px_pick_ctx *ctx)
{
    lb_ch *st = state;
    if (px_lb_count_free(ctx->avoid, n) == 0)
        return -1;
    const ch_ring *r = ctx->has_hash_key ? ch_ring_for(st, eps, n) : NULL;
    if (r == NULL)
        return px_lb_random_free(&st->rng, eps, n, ctx->avoid);
    /* Mixed again: keys callers make up (1, 2, 3...) would otherwise crowd one arc. */
    size_t at = ch_lower_bound(r, px_lb_mix64(ctx->hash_key));
    for (size_t k = 0; k < r->n_points; k++) {
        uint32_t ep = r->points[(at + k) % r->n_points].ep;
        if (!ctx->avoid[ep])
            return (int)ep;
    }
    return px_lb_random_free(&st->rng, eps, n, ctx->avoid); /* unreachable: one is free */
}

static int ch_hash_key(void *state, const char *method, const ProtobufCMessage *req,
                       uint64_t *key)
{
    lb_ch *st = state;
    if (st->key_field == NULL)
        return 0;
    ch_key_result r = ch_field_key(req, st->key_field, key);
    if (r == CH_KEY_BAD_TYPE && !__atomic_exchange_n(&st->warned, 1, __ATOMIC_RELAXED))
        px_log(PX_LOG_WARN, "lb_consistent_hash",
               "upstream %s: key_field '%s' of %s (method %s) is not a string, bytes, "
               "integer, bool or enum field; such calls are spread at random",
               st->scope, st->key_field, req->descriptor->name, method ? method : "?");
    return r == CH_KEY_OK;
}

static px_status ch_create(const px_module_env *env, const void *conf, void **state, px_err *err)
{
    const lb_consistent_hash_conf *c = conf;
    const char *scope = env && env->scope ? env->scope : "?";
    lb_ch *st = calloc(1, sizeof *st);
    if (st == NULL || (c->key_field && (st->key_field = strdup(c->key_field)) == NULL)) {
        free(st);
        return px_err_set(err, PX_RESOURCE_EXHAUSTED,
                          "balancer consistent_hash (upstream %s): out of memory", scope);
    }
    if (st->key_field && st->key_field[0] == '\0') {
        free(st->key_field);
        free(st);
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "balancer consistent_hash (upstream %s): key_field is empty; name a "
                          "request field or leave the key out",
                          scope);
    }
    snprintf(st->scope, sizeof st->scope, "%s", scope);
    st->vnodes = (uint32_t)c->vnodes;
    st->rng.seed = (uint64_t)c->seed;
    *state = st;
    return PX_OK;
}

static void ch_destroy(void *state)
{
    lb_ch *st = state;
    free(st->cur);
    free(st->prev);
    free(st->key_field);
    free(st);
}

static const px_directive ch_directives[] = {
    {.name = "vnodes", .type = PX_DIR_INT, .offset = offsetof(lb_consistent_hash_conf, vnodes),
     .def = "160", .min = "1", .max = "10000",
     .help = "ring points per endpoint and unit of weight; more points, more even shares"},
    {.name = "key_field", .type = PX_DIR_STRING,
     .offset = offsetof(lb_consistent_hash_conf, key_field),
     .help = "request field (string, bytes or integer) whose value is the key when the call "
             "sets none; calls without a key go to a random endpoint"},
    {.name = "seed", .type = PX_DIR_INT, .offset = offsetof(lb_consistent_hash_conf, seed),
     .def = "0",
     .help = "fixed random seed for calls without a key; 0 seeds each thread from the clock"},
    {.name = NULL},
};

static const px_balancer_ops ch_ops = {
    .update = ch_update,
    .pick = ch_pick,
    .hash_key = ch_hash_key,
};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_BALANCER,
    .name = "consistent_hash",
    .version = "1.0.0",
    .description = "hash ring with virtual nodes: one key, one endpoint; ~1/N of keys move on change",
    .conf_size = sizeof(lb_consistent_hash_conf),
    .directives = ch_directives,
    .create = ch_create,
    .destroy = ch_destroy,
    .ops = &ch_ops,
};
