/* Dynamic endpoint membership through the naming sink, on an upstream built as the core
 * builds one: full lists, add and remove, refused entries (bad address, duplicate, over
 * max_endpoints) with their log lines, the balancer's update getting the live list,
 * health kept for endpoints that stay, updates from another thread while picks run on
 * four (never a removed endpoint after its update returned; TSan-clean), the naming
 * thread's fd watches and timers, and the loader's built-in `static`. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <dlfcn.h>
#include <cmocka.h>

#include "plexus/plexus.h"
#include "px_builtin.h"
#include "px_conf.h"
#include "px_health.h"
#include "px_naming_int.h"
#include "px_test_module.h"
#include "px_time.h"
#include "px_upstream.h"

/* ---- modules of this file: a codec never called, a recording balancer, a naming module
 * the test drives ---------------------------------------------------------------------- */

static px_status t_encode(void *st, const ProtobufCMessage *m, px_buf *out, px_err *err)
{
    return px_err_set(err, PX_UNIMPLEMENTED, "test codec");
}

static px_status t_decode(void *st, const ProtobufCMessageDescriptor *d, const uint8_t *data,
                          size_t len, ProtobufCMessage **out, px_err *err)
{
    return px_err_set(err, PX_UNIMPLEMENTED, "test codec");
}

static const px_codec_ops t_codec_ops = {.encode = t_encode, .decode = t_decode};
static const px_module t_codec = {PX_MODULE_HEADER, .kind = PX_MOD_CODEC, .name = "tcodec",
                                  .ops = &t_codec_ops};

/* What the recording balancer's update saw last. */
static struct {
    int updates;
    size_t n;
    char addr[16][64];
    uint32_t weight[16];
} rec;

static void rec_update(void *st, px_endpoint *const *eps, size_t n)
{
    rec.updates++;
    rec.n = n;
    for (size_t i = 0; i < n && i < 16; i++) {
        snprintf(rec.addr[i], sizeof rec.addr[i], "%s", eps[i]->address);
        rec.weight[i] = px_endpoint_weight(eps[i]);
    }
}

static int rec_pick(void *st, px_endpoint *const *eps, size_t n, const px_pick_ctx *ctx)
{
    for (size_t i = 0; i < n; i++)
        if (!ctx->avoid[i])
            return (int)i;
    return -1;
}

static const px_balancer_ops rec_ops = {.update = rec_update, .pick = rec_pick};
static const px_module t_rec = {PX_MODULE_HEADER, .kind = PX_MOD_BALANCER, .name = "trec",
                                .ops = &rec_ops};

/* The driven naming module: start keeps the sink and runs the test's hook. */
static px_naming_sink *g_sink;
static int g_stops;
static px_status (*g_start_hook)(px_naming_sink *sink, px_err *err);

static px_status t_start(void *st, px_naming_sink *sink, px_err *err)
{
    g_sink = sink;
    return g_start_hook ? g_start_hook(sink, err) : PX_OK;
}

static void t_stop(void *st)
{
    g_stops++;
}

static const px_naming_ops t_naming_ops = {.start = t_start, .stop = t_stop};
static const px_module t_naming = {PX_MODULE_HEADER, .kind = PX_MOD_NAMING, .name = "tdrive",
                                   .ops = &t_naming_ops};

/* ---- an upstream over those modules ----------------------------------------------- */

typedef struct ufx {
    px_config cfg;
    px_upstream_conf uc;
    px_modref refs[PX_KIND_LIMIT];
    _Alignas(max_align_t) uint8_t lb_conf[256];
    px_upstream *up;
} ufx;

/* An upstream "calc" with balancer lb (conf from its directive defaults), eject after 3
 * failures, at most pct % ejected; not started. */
static ufx *ufx_new(const px_module *lb, uint32_t max_endpoints, int pct)
{
    ufx *f = calloc(1, sizeof *f);
    f->cfg.file = "test.yaml";
    f->uc.name = "calc";
    f->uc.max_endpoints = max_endpoints;
    f->uc.health = (px_health_conf){.max_fails = 3, .fail_window_us = 60000000,
                                    .ejection_us = 1000000, .max_ejection_us = 30000000,
                                    .max_ejected_percent = pct, .probe_interval_us = 500000,
                                    .probe_timeout_us = 500000};
    px_err err;
    for (const px_directive *d = lb->directives; d && d->name; d++)
        assert_int_equal(px_conf_set_default(d, f->lb_conf, &err), PX_OK);
    const px_module *mods[] = {[PX_MOD_CODEC] = &t_codec, [PX_MOD_BALANCER] = lb,
                               [PX_MOD_NAMING] = &t_naming};
    for (int k = 0; k < PX_KIND_LIMIT; k++) {
        if (k >= (int)(sizeof mods / sizeof mods[0]) || mods[k] == NULL)
            continue;
        f->refs[k] = (px_modref){.mod = mods[k], .conf = k == PX_MOD_BALANCER ? f->lb_conf : NULL};
        f->uc.mods[k] = (px_modlist){&f->refs[k], 1};
    }
    assert_int_equal(px_upstream_new(&f->cfg, &f->uc, &f->up, &err), PX_OK);
    return f;
}

static ufx *ufx_started(const px_module *lb, uint32_t max_endpoints, int pct)
{
    ufx *f = ufx_new(lb, max_endpoints, pct);
    px_err err;
    assert_int_equal(px_upstream_naming_start(f->up, NULL, &err), PX_OK);
    assert_non_null(g_sink);
    return f;
}

static void ufx_free(ufx *f)
{
    px_upstream_free(f->up);
    free(f);
    g_sink = NULL;
    g_start_hook = NULL;
}

static px_naming_endpoint ep_of(const char *address, uint32_t weight)
{
    return (px_naming_endpoint){.address = address, .weight = weight};
}

/* The live list as "a,b,c". */
static const char *live_str(px_upstream *up)
{
    static char buf[512];
    size_t k = 0;
    buf[0] = 0;
    const px_epset *set = __atomic_load_n(&up->live, __ATOMIC_ACQUIRE); /* the naming thread's */
    for (size_t i = 0; i < set->n; i++)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s", i ? "," : "", set->eps[i]->address);
    return buf;
}

static px_ep *rec_of(px_upstream *up, const char *address)
{
    for (uint32_t i = 0; i < px_eptable_count(&up->table); i++)
        if (strcmp(px_upstream_ep(up, i)->pub.address, address) == 0)
            return px_upstream_ep(up, i);
    return NULL;
}

/* ---- stderr capture, for the log lines refusals write --------------------------------- */

static int cap_saved = -1;
static FILE *cap_file;

static void capture_begin(void)
{
    fflush(stderr);
    cap_file = tmpfile();
    cap_saved = dup(2);
    dup2(fileno(cap_file), 2);
}

static const char *capture_end(void)
{
    static char buf[8192];
    fflush(stderr);
    dup2(cap_saved, 2);
    close(cap_saved);
    rewind(cap_file);
    size_t n = fread(buf, 1, sizeof buf - 1, cap_file);
    buf[n] = 0;
    fclose(cap_file);
    fputs(buf, stderr); /* still shown with the test's output */
    return buf;
}

/* ---- lists ------------------------------------------------------------------------ */

static void test_full_list(void **state)
{
    ufx *f = ufx_started(&t_rec, 64, 50);
    px_upstream *up = f->up;
    rec.updates = 0;
    assert_null(px_upstream_pick(up, "a/b", NULL, &(px_tried){0}, px_mono_us()));
    px_naming_endpoint l1[] = {ep_of("10.0.0.1:7101", 1), ep_of("10.0.0.2:7101", 2),
                               ep_of("[fd00::3]:7101", 0)};
    assert_int_equal(px_naming_set(g_sink, l1, 3), PX_OK);
    assert_string_equal(live_str(up), "10.0.0.1:7101,10.0.0.2:7101,[fd00::3]:7101");
    assert_int_equal(px_upstream_live_count(up), 3);
    /* The balancer got the live list, weights included (0 counts as 1). */
    assert_int_equal(rec.updates, 1);
    assert_int_equal(rec.n, 3);
    assert_string_equal(rec.addr[1], "10.0.0.2:7101");
    assert_int_equal(rec.weight[1], 2);
    assert_int_equal(rec.weight[2], 1);
    px_ep *two = rec_of(up, "10.0.0.2:7101");
    assert_int_equal(two->pub.index, 1);

    /* Replace: 10.0.0.1 goes, 10.0.0.4 comes; the one that stays keeps its record. */
    px_naming_endpoint l2[] = {ep_of("10.0.0.4:7101", 1), ep_of("10.0.0.2:7101", 2),
                               ep_of("[fd00::3]:7101", 1)};
    assert_int_equal(px_naming_set(g_sink, l2, 3), PX_OK);
    assert_string_equal(live_str(up), "10.0.0.4:7101,10.0.0.2:7101,[fd00::3]:7101");
    assert_int_equal(rec.updates, 2);
    assert_string_equal(rec.addr[0], "10.0.0.4:7101");
    assert_ptr_equal(rec_of(up, "10.0.0.2:7101"), two);
    assert_int_equal(rec_of(up, "10.0.0.4:7101")->pub.index, 3); /* indexes are never reused */
    assert_false(px_ep_is_member(rec_of(up, "10.0.0.1:7101")));
    assert_true(px_ep_is_member(two));
    /* No pick returns the removed one (the balancer takes the first it may). */
    px_tried t = {0};
    for (int i = 0; i < 3; i++) {
        px_ep *ep = px_upstream_pick(up, "a/b", NULL, &t, px_mono_us());
        assert_non_null(ep);
        assert_true(px_ep_is_member(ep));
        px_tried_add(&t, ep->pub.index);
    }
    /* The same list again changes nothing: the balancer is not bothered. */
    assert_int_equal(px_naming_set(g_sink, l2, 3), PX_OK);
    assert_int_equal(rec.updates, 2);
    /* A weight change is a change. */
    l2[1].weight = 5;
    assert_int_equal(px_naming_set(g_sink, l2, 3), PX_OK);
    assert_int_equal(rec.updates, 3);
    assert_int_equal(px_endpoint_weight(&two->pub), 5);
    /* An empty list is applied: the source says no server is there. */
    assert_int_equal(px_naming_set(g_sink, NULL, 0), PX_OK);
    assert_int_equal(px_upstream_live_count(up), 0);
    assert_int_equal(rec.n, 0);
    assert_null(px_upstream_pick(up, "a/b", NULL, &(px_tried){0}, px_mono_us()));
    ufx_free(f);
}

static void test_add_remove(void **state)
{
    ufx *f = ufx_started(&t_rec, 64, 50);
    px_upstream *up = f->up;
    px_naming_endpoint a = ep_of("10.0.0.1:7101", 1), b = ep_of("10.0.0.2:7101", 1);
    assert_int_equal(px_naming_add(g_sink, &a), PX_OK);
    assert_int_equal(px_naming_add(g_sink, &b), PX_OK);
    assert_string_equal(live_str(up), "10.0.0.1:7101,10.0.0.2:7101");
    assert_int_equal(rec.n, 2);
    /* Adding a listed address changes its weight, in place. */
    a.weight = 7;
    assert_int_equal(px_naming_add(g_sink, &a), PX_OK);
    assert_string_equal(live_str(up), "10.0.0.1:7101,10.0.0.2:7101");
    assert_int_equal(rec.weight[0], 7);
    px_ep *ra = rec_of(up, "10.0.0.1:7101");
    assert_int_equal(px_naming_remove(g_sink, "10.0.0.1:7101"), PX_OK);
    assert_string_equal(live_str(up), "10.0.0.2:7101");
    assert_int_equal(rec.n, 1);
    assert_int_equal(px_naming_remove(g_sink, "10.0.0.1:7101"), PX_NOT_FOUND);
    assert_int_equal(px_naming_remove(g_sink, "10.9.9.9:1"), PX_NOT_FOUND);
    /* Back again: the same record and index (a fresh health record, see below). */
    a.weight = 1;
    assert_int_equal(px_naming_add(g_sink, &a), PX_OK);
    assert_string_equal(live_str(up), "10.0.0.2:7101,10.0.0.1:7101");
    assert_ptr_equal(rec_of(up, "10.0.0.1:7101"), ra);
    assert_int_equal(ra->pub.index, 0);
    assert_int_equal(px_eptable_count(&up->table), 2);
    /* Removing the last one leaves an empty list. */
    assert_int_equal(px_naming_remove(g_sink, "10.0.0.2:7101"), PX_OK);
    assert_int_equal(px_naming_remove(g_sink, "10.0.0.1:7101"), PX_OK);
    assert_int_equal(px_upstream_live_count(up), 0);
    ufx_free(f);
}

static void test_bad_addresses(void **state)
{
    ufx *f = ufx_started(&t_rec, 64, 50);
    px_upstream *up = f->up;
    px_naming_endpoint l[] = {
        ep_of("10.0.0.1:7101", 1), ep_of("db1.example:7101", 1), ep_of("10.0.0.2", 1),
        ep_of("[::1]:0", 1),       ep_of(NULL, 1),               ep_of("10.0.0.3:7101", 20000),
        ep_of("999.0.0.1:7101", 1), ep_of("10.0.0.4:7101", 3),
    };
    capture_begin();
    px_status st = px_naming_set(g_sink, l, sizeof l / sizeof l[0]);
    const char *log = capture_end();
    /* The good ones are applied; each bad one is named with the upstream and module. */
    assert_int_equal(st, PX_INVALID_ARGUMENT);
    assert_string_equal(live_str(up), "10.0.0.1:7101,10.0.0.4:7101");
    assert_non_null(strstr(log, "upstream calc: naming 'tdrive': endpoint 'db1.example:7101' "
                                "refused: 'db1.example' is a host name"));
    assert_non_null(strstr(log, "endpoint '10.0.0.2' refused: expected host:port"));
    assert_non_null(strstr(log, "endpoint '[::1]:0' refused: port '0' is not a number"));
    assert_non_null(strstr(log, "endpoint '(none)' refused: it has no address"));
    assert_non_null(strstr(log, "endpoint '10.0.0.3:7101' refused: weight 20000 is out of range"));
    assert_non_null(strstr(log, "endpoint '999.0.0.1:7101' refused: '999.0.0.1' is not a valid"));
    /* An update whose every entry is refused changes nothing. */
    int updates = rec.updates;
    capture_begin();
    st = px_naming_set(g_sink, &l[1], 2);
    log = capture_end();
    assert_int_equal(st, PX_INVALID_ARGUMENT);
    assert_non_null(strstr(log, "every endpoint of the update was refused: the list stays"));
    assert_string_equal(live_str(up), "10.0.0.1:7101,10.0.0.4:7101");
    assert_int_equal(rec.updates, updates);
    capture_begin();
    assert_int_equal(px_naming_add(g_sink, &l[1]), PX_INVALID_ARGUMENT);
    capture_end();
    assert_int_equal(rec.updates, updates);

    /* A name the module resolved itself comes with its socket address. */
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(7105)};
    inet_pton(AF_INET, "10.0.0.5", &sin.sin_addr);
    px_naming_endpoint named = {.address = "app5.example:7105", .weight = 1,
                                .sa = (const struct sockaddr *)&sin, .sa_len = sizeof sin};
    assert_int_equal(px_naming_add(g_sink, &named), PX_OK);
    assert_string_equal(live_str(up), "10.0.0.1:7101,10.0.0.4:7101,app5.example:7105");
    /* The same text at another socket address is refused: remove it first. */
    sin.sin_port = htons(7106);
    capture_begin();
    assert_int_equal(px_naming_add(g_sink, &named), PX_INVALID_ARGUMENT);
    log = capture_end();
    assert_non_null(strstr(log, "'app5.example:7105' refused: it is known at another socket"));
    struct sockaddr un = {.sa_family = AF_UNIX};
    px_naming_endpoint unix_ep = {.address = "x:1", .sa = &un, .sa_len = sizeof un};
    capture_begin();
    assert_int_equal(px_naming_add(g_sink, &unix_ep), PX_INVALID_ARGUMENT);
    log = capture_end();
    assert_non_null(strstr(log, "sa is not an IPv4 or IPv6 socket address"));
    ufx_free(f);
}

static void test_duplicates(void **state)
{
    ufx *f = ufx_started(&t_rec, 64, 50);
    px_naming_endpoint l[] = {ep_of("10.0.0.1:7101", 2), ep_of("10.0.0.2:7101", 1),
                              ep_of("10.0.0.1:7101", 9)};
    capture_begin();
    assert_int_equal(px_naming_set(g_sink, l, 3), PX_INVALID_ARGUMENT);
    const char *log = capture_end();
    assert_non_null(strstr(log, "endpoint '10.0.0.1:7101' refused: listed twice in one update"));
    assert_string_equal(live_str(f->up), "10.0.0.1:7101,10.0.0.2:7101");
    assert_int_equal(rec.weight[0], 2); /* the first is kept */
    ufx_free(f);
}

static void test_max_endpoints(void **state)
{
    ufx *f = ufx_started(&t_rec, 3, 50);
    px_naming_endpoint l[] = {ep_of("10.0.0.1:1", 1), ep_of("10.0.0.2:1", 1),
                              ep_of("10.0.0.3:1", 1), ep_of("10.0.0.4:1", 1)};
    capture_begin();
    assert_int_equal(px_naming_set(g_sink, l, 4), PX_RESOURCE_EXHAUSTED);
    const char *log = capture_end();
    assert_non_null(strstr(log, "endpoint '10.0.0.4:1' refused: the upstream already has "
                                "max_endpoints (3) addresses"));
    assert_string_equal(live_str(f->up), "10.0.0.1:1,10.0.0.2:1,10.0.0.3:1");
    /* Records are kept for the upstream's life: removing one makes no room for a new
     * address, but the removed one may come back. */
    assert_int_equal(px_naming_remove(g_sink, "10.0.0.1:1"), PX_OK);
    capture_begin();
    assert_int_equal(px_naming_add(g_sink, &l[3]), PX_RESOURCE_EXHAUSTED);
    capture_end();
    assert_int_equal(px_naming_add(g_sink, &l[0]), PX_OK);
    assert_string_equal(live_str(f->up), "10.0.0.2:1,10.0.0.3:1,10.0.0.1:1");
    ufx_free(f);
}

/* ---- health follows membership ----------------------------------------------------- */

/* Three failed attempts, as the core records them (px_upstream_attempt_done). */
static void eject(px_ep *ep)
{
    for (int i = 0; i < 3; i++)
        px_health_report(ep, PX_UNAVAILABLE);
}

static void test_health_follows_membership(void **state)
{
    ufx *f = ufx_started(&t_rec, 64, 50);
    px_upstream *up = f->up;
    px_naming_endpoint l[] = {ep_of("10.0.0.1:1", 1), ep_of("10.0.0.2:1", 1),
                              ep_of("10.0.0.3:1", 1), ep_of("10.0.0.4:1", 1)};
    assert_int_equal(px_naming_set(g_sink, l, 4), PX_OK);
    px_ep *a = rec_of(up, "10.0.0.1:1"), *b = rec_of(up, "10.0.0.2:1"),
          *c = rec_of(up, "10.0.0.3:1");
    eject(b);
    assert_true(px_endpoint_is_ejected(&b->pub));
    px_health_report(c, PX_UNAVAILABLE); /* one failure on the books */
    /* An endpoint that stays keeps its health: b ejected, c's failure counted. */
    assert_int_equal(px_naming_remove(g_sink, "10.0.0.4:1"), PX_OK);
    assert_true(px_endpoint_is_ejected(&b->pub));
    assert_int_equal(c->fails, 1);
    assert_int_equal(up->n_ejected, 1);
    /* max_ejected_percent counts live endpoints: of 3, 50% allows one ejected. */
    eject(a);
    assert_false(px_endpoint_is_ejected(&a->pub));
    /* Removing the ejected one ends its ejection and frees its place in the cap. */
    assert_int_equal(px_naming_remove(g_sink, "10.0.0.2:1"), PX_OK);
    assert_false(px_endpoint_is_ejected(&b->pub));
    assert_int_equal(up->n_ejected, 0);
    eject(a); /* 1 of 2 live: allowed now */
    assert_true(px_endpoint_is_ejected(&a->pub));
    /* A removed endpoint is not ejected by the late reports of its calls in flight. */
    eject(b);
    assert_false(px_endpoint_is_ejected(&b->pub));
    /* Nor probed, even when its ejection ran out while it was away. */
    assert_false(px_health_probe_due(b, px_mono_us() + 3600ll * 1000000));
    /* Back again, it starts with a clean record. */
    px_health_report(b, PX_UNAVAILABLE);
    assert_int_equal(px_naming_add(g_sink, &l[1]), PX_OK);
    assert_false(px_endpoint_is_ejected(&b->pub));
    assert_int_equal(b->fails, 0);
    ufx_free(f);
}

/* ---- updates from another thread while picks run -------------------------------------- */

#define UNIVERSE 12
#define HISTORY 4096
static char g_addr[UNIVERSE][32];

typedef struct churn {
    px_upstream *up;
    px_naming_sink *sink;
    uint32_t members[HISTORY]; /* bit i: g_addr[i] listed after update k */
    uint32_t published;        /* atomic: updates that have returned */
    int stop;                  /* atomic */
    int bad;                   /* atomic: picks that broke the rule */
    long picks;                /* atomic */
} churn;

/* Deterministic lists: every update lists a different subset of 2..UNIVERSE addresses. */
static void *churn_updates(void *arg)
{
    churn *c = arg;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (uint32_t k = 1; k < HISTORY; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint32_t mask = (uint32_t)(x & ((1u << UNIVERSE) - 1));
        if (__builtin_popcount(mask) < 2)
            mask |= 3;
        int op = (int)((x >> 40) % 3);
        if (op == 0 || k < 3) {
            /* Written before the update: a pick that sees the new list sees this too. */
            __atomic_store_n(&c->members[k], mask, __ATOMIC_RELAXED);
            px_naming_endpoint l[UNIVERSE];
            size_t n = 0;
            for (int i = 0; i < UNIVERSE; i++)
                if (mask & (1u << i))
                    l[n++] = ep_of(g_addr[i], 1 + (uint32_t)(x >> (20 + i)) % 3);
            assert_int_equal(px_naming_set(c->sink, l, n), PX_OK);
        } else {
            /* The same change as one add or remove: flip one address of the last list. */
            uint32_t prev = __atomic_load_n(&c->members[k - 1], __ATOMIC_RELAXED);
            int i = (int)((x >> 32) % UNIVERSE);
            uint32_t next = prev ^ (1u << i);
            if (__builtin_popcount(next) < 1)
                next = prev | (1u << ((i + 1) % UNIVERSE));
            __atomic_store_n(&c->members[k], next, __ATOMIC_RELAXED);
            for (int j = 0; j < UNIVERSE; j++) {
                if ((next ^ prev) & (1u << j)) {
                    px_naming_endpoint e = ep_of(g_addr[j], 2);
                    if (next & (1u << j))
                        assert_int_equal(px_naming_add(c->sink, &e), PX_OK);
                    else
                        assert_int_equal(px_naming_remove(c->sink, g_addr[j]), PX_OK);
                }
            }
        }
        __atomic_store_n(&c->published, k, __ATOMIC_RELEASE);
        if (k % 64 == 0)
            usleep(100);
    }
    __atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* A pick that began after update k returned may only return an endpoint listed by update
 * k or a later one (the update in progress included). */
static void *churn_picks(void *arg)
{
    churn *c = arg;
    px_call_opts opts = {.has_hash_key = 1};
    for (uint64_t i = 0; !__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE); i++) {
        uint32_t before = __atomic_load_n(&c->published, __ATOMIC_ACQUIRE);
        px_tried t = {0};
        if (i % 5 == 0)
            px_tried_add(&t, (uint32_t)(i % UNIVERSE)); /* as a retry would */
        opts.hash_key = i * 0x9e3779b97f4a7c15ull;
        px_ep *ep = px_upstream_pick(c->up, "a/b", i & 1 ? &opts : NULL, &t, px_mono_us());
        uint32_t after = __atomic_load_n(&c->published, __ATOMIC_ACQUIRE);
        if (before == 0)
            continue;
        uint32_t allowed = 0;
        for (uint32_t k = before; k <= after + 1 && k < HISTORY; k++)
            allowed |= __atomic_load_n(&c->members[k], __ATOMIC_RELAXED);
        int idx = -1;
        for (int j = 0; ep && j < UNIVERSE; j++)
            if (strcmp(ep->pub.address, g_addr[j]) == 0)
                idx = j;
        if (ep == NULL || idx < 0 || !(allowed & (1u << idx)))
            __atomic_add_fetch(&c->bad, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&c->picks, 1, __ATOMIC_RELAXED);
        if (ep && i % 7 == 0) /* feedback for a listed or just removed endpoint */
            px_upstream_attempt_lost(c->up, ep, 100);
    }
    return NULL;
}

static void test_updates_while_picking(void **state)
{
    static const char *const files[] = {"lb_random.so", "lb_round_robin.so",
                                        "lb_least_loaded.so", "lb_p2c_ewma.so",
                                        "lb_consistent_hash.so"};
    for (int i = 0; i < UNIVERSE; i++)
        snprintf(g_addr[i], sizeof g_addr[i], "10.1.0.%d:7101", i + 1);
    for (size_t m = 0; m < sizeof files / sizeof files[0]; m++) {
        void *h;
        const px_module *lb = px_test_load_module(files[m], &h);
        assert_non_null(lb);
        ufx *f = ufx_started(lb, 64, 50);
        f->uc.health.max_fails = 0; /* the lost attempts below must not eject anything */
        churn *c = calloc(1, sizeof *c);
        c->up = f->up;
        c->sink = g_sink;
        pthread_t upd, pk[4];
        for (int i = 0; i < 4; i++)
            assert_int_equal(pthread_create(&pk[i], NULL, churn_picks, c), 0);
        assert_int_equal(pthread_create(&upd, NULL, churn_updates, c), 0);
        pthread_join(upd, NULL);
        for (int i = 0; i < 4; i++)
            pthread_join(pk[i], NULL);
        print_message("  %s: %ld picks during %d updates, %d broke the rule\n", lb->name,
                      c->picks, HISTORY - 1, c->bad);
        assert_int_equal(c->bad, 0);
        assert_true(c->picks > 0);
        free(c);
        ufx_free(f);
        dlclose(h);
    }
}

/* ---- the naming thread's loop: fd watches and timers -------------------------------------- */

static int g_pipe[2];
static px_naming_io *g_fd_io, *g_timer_io;
static px_naming_sink *g_io_sink;
static int g_timer_fired; /* atomic */

static void on_pipe(void *arg, int fd, int revents)
{
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n <= 0 || !(revents & PX_NAMING_READ))
        return;
    buf[n] = 0;
    px_naming_endpoint e = ep_of(buf, 1);
    px_naming_add(g_io_sink, &e);
}

static void on_timer(void *arg)
{
    __atomic_add_fetch(&g_timer_fired, 1, __ATOMIC_RELEASE);
    px_naming_endpoint e = ep_of("10.2.0.9:7101", 1);
    px_naming_add(g_io_sink, &e);
}

static px_status io_start(px_naming_sink *sink, px_err *err)
{
    g_io_sink = sink;
    if ((g_fd_io = px_naming_io_fd(sink, g_pipe[0], PX_NAMING_READ, on_pipe, NULL, err)) == NULL)
        return err->status;
    if ((g_timer_io = px_naming_io_timer(sink, on_timer, NULL, err)) == NULL)
        return err->status;
    px_naming_io_after(g_timer_io, 20000);
    return PX_OK;
}

/* Acquire: the list published before the count is then the one live_str reads. */
static void wait_live(px_upstream *up, uint32_t n)
{
    for (int i = 0; i < 2000 && __atomic_load_n(&up->n_live, __ATOMIC_ACQUIRE) != n; i++)
        usleep(1000);
    assert_int_equal(__atomic_load_n(&up->n_live, __ATOMIC_ACQUIRE), n);
}

static void test_io_on_the_naming_thread(void **state)
{
    assert_int_equal(pipe(g_pipe), 0);
    px_loop loop;
    assert_int_equal(px_loop_init(&loop, 0), 0);
    assert_int_equal(px_loop_start(&loop), 0);
    ufx *f = ufx_new(&t_rec, 64, 50);
    g_start_hook = io_start;
    px_err err;
    assert_int_equal(px_upstream_naming_start(f->up, &loop, &err), PX_OK);
    /* Off the naming thread the helpers refuse, and say why. */
    assert_null(px_naming_io_timer(g_io_sink, on_timer, NULL, &err));
    assert_non_null(strstr(err.msg, "only on the naming thread"));
    /* The timer delivers one endpoint, the watched pipe the others. */
    wait_live(f->up, 1);
    assert_int_equal(__atomic_load_n(&g_timer_fired, __ATOMIC_ACQUIRE), 1);
    assert_int_equal(write(g_pipe[1], "10.2.0.1:7101", 13), 13);
    wait_live(f->up, 2);
    assert_string_equal(live_str(f->up), "10.2.0.9:7101,10.2.0.1:7101");
    /* Stopping runs the module's stop on its thread and closes what it left open. */
    g_stops = 0;
    px_upstream_naming_stop(f->up);
    assert_int_equal(g_stops, 1);
    assert_null(f->up->sink->ios);
    assert_int_equal(write(g_pipe[1], "10.2.0.2:7101", 13), 13);
    usleep(20000);
    assert_int_equal(px_upstream_live_count(f->up), 2);
    /* After stop the sink refuses updates. */
    assert_int_equal(px_naming_add(g_sink, &(px_naming_endpoint){.address = "10.2.0.3:1"}),
                     PX_FAILED_PRECONDITION);
    ufx_free(f);
    px_loop_stop_join(&loop);
    px_loop_destroy(&loop);
    close(g_pipe[0]);
    close(g_pipe[1]);
    g_stops = 0;
}

static px_status failing_start(px_naming_sink *sink, px_err *err)
{
    return px_err_set(err, PX_UNAVAILABLE, "registry unreachable");
}

static void test_start_fails(void **state)
{
    ufx *f = ufx_new(&t_rec, 64, 50);
    g_start_hook = failing_start;
    g_stops = 0;
    px_err err;
    assert_int_equal(px_upstream_naming_start(f->up, NULL, &err), PX_UNAVAILABLE);
    assert_string_equal(err.msg, "naming 'tdrive' (upstream calc): registry unreachable");
    ufx_free(f);
    assert_int_equal(g_stops, 0); /* a module that did not start is not stopped */
}

/* ---- the built-in static module -------------------------------------------------------- */

static void test_builtin_static(void **state)
{
    const px_module *m = px_builtin_find(PX_MOD_NAMING, "static");
    assert_non_null(m);
    assert_null(px_builtin_find(PX_MOD_BALANCER, "static"));
    px_loader *l = px_loader_new();
    /* A stray naming_static.so on the path is never looked at: built-in comes first. */
    assert_int_equal(px_loader_add_path(l, "/nonexistent"), 0);
    const px_module *got;
    const char *path;
    px_err err;
    assert_int_equal(px_loader_load(l, PX_MOD_NAMING, "static", &got, &path, &err), PX_OK);
    assert_ptr_equal(got, m);
    assert_string_equal(path, PX_BUILTIN_PATH);
    assert_int_equal(px_loader_load(l, PX_MOD_NAMING, "static", &got, &path, &err), PX_OK);
    assert_int_equal(px_loader_count(l), 1);
    assert_int_equal(px_loader_load(l, PX_MOD_NAMING, "zk", &got, &path, &err), PX_NOT_FOUND);
    assert_non_null(strstr(err.msg, "naming_zk.so not found"));
    px_loader_free(l);

    /* It delivers the configured list with weights, each entry with its socket address. */
    ufx *f = ufx_new(&t_rec, 64, 50);
    f->refs[PX_MOD_NAMING].mod = m;
    px_upstream_free(f->up);
    char *names[] = {"localhost:7101", "10.0.0.2:7102"};
    px_addr addrs[2];
    assert_int_equal(px_net_parse(names[0], &addrs[0], &err), PX_OK);
    assert_int_equal(px_net_parse(names[1], &addrs[1], &err), PX_OK);
    uint32_t weights[] = {1, 4};
    f->uc.endpoints = names;
    f->uc.addrs = addrs;
    f->uc.weights = weights;
    f->uc.n_endpoints = 2;
    assert_int_equal(px_upstream_new(&f->cfg, &f->uc, &f->up, &err), PX_OK);
    assert_int_equal(px_upstream_naming_start(f->up, NULL, &err), PX_OK);
    assert_string_equal(live_str(f->up), "localhost:7101,10.0.0.2:7102");
    assert_int_equal(rec.weight[1], 4);
    assert_int_equal(px_upstream_ep(f->up, 0)->sa.len, addrs[0].len);
    ufx_free(f);
}

int main(void)
{
    setenv("PLEXUS_LOG", "warn", 1); /* thousands of updates: their info lines are noise */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_list),
        cmocka_unit_test(test_add_remove),
        cmocka_unit_test(test_bad_addresses),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_max_endpoints),
        cmocka_unit_test(test_health_follows_membership),
        cmocka_unit_test(test_updates_while_picking),
        cmocka_unit_test(test_io_on_the_naming_thread),
        cmocka_unit_test(test_start_fails),
        cmocka_unit_test(test_builtin_static),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
