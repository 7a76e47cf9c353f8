/* Naming updates (px_naming.h): each entry checked on its own and its record found or
 * made, then one new live list built, handed to the balancer and published; the list it
 * replaces waits out the picks that may still read it (px_grace.h). One update at a
 * time, under the sink's lock, from whichever thread the module calls on. */
#include "px_naming_int.h"

#include <stdlib.h>
#include <string.h>

#include "px_health.h"
#include "px_log.h"
#include "px_upstream.h"

/* The longest address text taken: "[v6%ifname]:65535" fits many times over. */
#define PX__ADDR_MAX 255
#define PX__WEIGHT_MAX 10000

/* The grace domain of the upstream whose balancer update runs on this thread. */
static __thread px_grace *px__retire_to;

void px_balancer_retire(void *p, void (*fn)(void *))
{
    px_grace *g = px__retire_to;
    if (g == NULL) {
        fn(p); /* create or destroy: no pick runs */
        return;
    }
    if (px_grace_retire(g, p, fn) != 0)
        px_log_warn("a balancer's old state was not freed: out of memory");
}

typedef struct px__member {
    px_ep *ep;
    uint32_t weight;
} px__member;

static void px__refused(const px_naming_sink *s, const char *address, const px_err *why,
                        px_status *first)
{
    px_log_warn("upstream %s: naming '%s': endpoint '%s' refused: %s", s->up->conf->name,
                s->module, address ? address : "(none)", why->msg);
    if (*first == PX_OK)
        *first = why->status;
}

/* What any entry's address text must be, numeric or not. */
static px_status px__address_text(const char *address, px_err *why)
{
    if (address == NULL || address[0] == '\0')
        return px_err_set(why, PX_INVALID_ARGUMENT, "it has no address");
    if (strnlen(address, PX__ADDR_MAX + 1) > PX__ADDR_MAX)
        return px_err_set(why, PX_INVALID_ARGUMENT, "the address is longer than %d bytes",
                          PX__ADDR_MAX);
    return PX_OK;
}

px_status px_naming_check_address(const char *address, px_err *err)
{
    px_addr a;
    px_err local;
    px_err *e = err ? err : &local;
    px_status st = px__address_text(address, e);
    return st != PX_OK ? st : px_net_parse_numeric(address, &a, e);
}

/* The socket address of an entry: the module's own, or its numeric text parsed. */
static px_status px__entry_addr(const px_naming_endpoint *e, px_addr *a, px_err *why)
{
    memset(a, 0, sizeof *a);
    if (e->sa == NULL)
        return px_net_parse_numeric(e->address, a, why);
    size_t need = e->sa->sa_family == AF_INET    ? sizeof(struct sockaddr_in)
                  : e->sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                 : 0;
    if (need == 0 || e->sa_len < need || e->sa_len > sizeof a->ss)
        return px_err_set(why, PX_INVALID_ARGUMENT,
                          "sa is not an IPv4 or IPv6 socket address (family %d, %u bytes)",
                          (int)e->sa->sa_family, (unsigned)e->sa_len);
    memcpy(&a->ss, e->sa, need);
    a->len = (socklen_t)need;
    return PX_OK;
}

/* Checks one entry and finds or makes its record; NULL with why set when refused. */
static px_ep *px__entry(px_naming_sink *s, const px_naming_endpoint *e, px_err *why)
{
    px_upstream *up = s->up;
    if (px__address_text(e->address, why) != PX_OK)
        return NULL;
    if (e->weight > PX__WEIGHT_MAX) {
        px_err_set(why, PX_INVALID_ARGUMENT, "weight %u is out of range (1..%d)",
                   (unsigned)e->weight, PX__WEIGHT_MAX);
        return NULL;
    }
    px_addr a;
    if (px__entry_addr(e, &a, why) != PX_OK)
        return NULL;
    px_ep *ep = px_eptable_find(&up->table, e->address);
    if (ep != NULL) {
        /* Connections and health belong to the address the record connects to. */
        if (ep->sa.len != a.len || memcmp(&ep->sa.ss, &a.ss, a.len) != 0) {
            px_err_set(why, PX_INVALID_ARGUMENT,
                       "it is known at another socket address: remove it first");
            return NULL;
        }
        return ep;
    }
    if ((ep = px_eptable_make(&up->table, e->address, &a, why)) == NULL)
        return NULL;
    ep->up = up;
    ep->pub.weight = 1;
    ep->ejection_us = up->conf->health.ejection_us;
    px_eptable_commit(&up->table);
    return ep;
}

static uint32_t px__weight(uint32_t w)
{
    return w ? w : 1;
}

/* The list would not change: same endpoints, same order, same weights. */
static int px__same(const px_epset *old, const px__member *m, size_t k)
{
    if (old->n != k)
        return 0;
    for (size_t i = 0; i < k; i++)
        if (old->eps[i] != &m[i].ep->pub ||
            px_endpoint_weight(old->eps[i]) != px__weight(m[i].weight))
            return 0;
    return 1;
}

/* Publishes m[0..k) as the live list; the records of this update carry stamp gen. The
 * balancer sees the new list before any pick can, so a newcomer has its balancer state
 * first; picks still holding the old list keep their endpoints until they return. */
static px_status px__install(px_naming_sink *s, const px__member *m, size_t k, uint32_t gen)
{
    px_upstream *up = s->up;
    px_epset *old = up->live; /* only updates change it, and we hold the lock */
    if (px__same(old, m, k))
        return PX_OK;
    px_epset *set = malloc(sizeof *set + (k ? k : 1) * sizeof set->eps[0]);
    if (set == NULL) {
        px_log_warn("upstream %s: naming '%s': update of %zu endpoints not applied: out of "
                    "memory",
                    up->conf->name, s->module, k);
        return PX_RESOURCE_EXHAUSTED;
    }
    set->n = k;
    size_t added = 0, removed = 0;
    for (size_t i = 0; i < k; i++) {
        px_ep *ep = m[i].ep;
        set->eps[i] = &ep->pub;
        __atomic_store_n(&ep->pub.weight, px__weight(m[i].weight), __ATOMIC_RELAXED);
        if (!px_ep_is_member(ep)) {
            px_health_join(ep);
            added++;
        }
    }
    if (up->balancer->update) {
        px__retire_to = &up->grace;
        up->balancer->update(up->balancer_state, set->eps, k);
        px__retire_to = NULL;
    }
    __atomic_store_n(&up->live, set, __ATOMIC_SEQ_CST);
    __atomic_store_n(&up->n_live, (uint32_t)k, __ATOMIC_RELEASE);
    for (size_t j = 0; j < old->n; j++) {
        px_ep *ep = (px_ep *)old->eps[j];
        if (ep->stamp != gen) {
            px_health_leave(ep);
            removed++;
        }
    }
    int first = gen == 1 && old->n == 0;
    if (px_grace_retire(&up->grace, old, free) != 0)
        px_log_warn("upstream %s: an old endpoint list was not freed: out of memory",
                    up->conf->name);
    if (first)
        px_log_debug("upstream %s: naming '%s': %zu endpoints", up->conf->name, s->module, k);
    else
        px_log_info("upstream %s: naming '%s': %zu endpoints (%zu added, %zu removed)",
                    up->conf->name, s->module, k, added, removed);
    if (removed && up->on_removed)
        up->on_removed(up->on_removed_arg);
    return PX_OK;
}

/* Locks the sink for an update; PX_FAILED_PRECONDITION (unlocked) when it is over. */
static px_status px__begin(px_naming_sink *s, const char *what)
{
    pthread_mutex_lock(&s->lock);
    if (!s->stopped)
        return PX_OK;
    pthread_mutex_unlock(&s->lock);
    px_log_debug("upstream %s: naming '%s': %s after stop ignored", s->up->conf->name,
                 s->module, what);
    return PX_FAILED_PRECONDITION;
}

/* The current list as members stamped gen, with room for one more; NULL on OOM. */
static px__member *px__current(px_naming_sink *s, uint32_t gen, size_t *k)
{
    const px_epset *cur = s->up->live;
    px__member *m = malloc((cur->n + 1) * sizeof *m);
    if (m == NULL)
        return NULL;
    for (size_t i = 0; i < cur->n; i++) {
        px_ep *ep = (px_ep *)cur->eps[i];
        ep->stamp = gen;
        m[i] = (px__member){ep, px_endpoint_weight(&ep->pub)};
    }
    *k = cur->n;
    return m;
}

px_status px_naming_set(px_naming_sink *s, const px_naming_endpoint *eps, size_t n)
{
    if (s == NULL || (n > 0 && eps == NULL))
        return PX_INVALID_ARGUMENT;
    px__member *m = malloc((n ? n : 1) * sizeof *m);
    if (m == NULL)
        return PX_RESOURCE_EXHAUSTED;
    px_status st = px__begin(s, "px_naming_set");
    if (st != PX_OK) {
        free(m);
        return st;
    }
    uint32_t gen = ++s->gen;
    size_t k = 0;
    px_status first = PX_OK;
    for (size_t i = 0; i < n; i++) {
        px_err why;
        px_err_clear(&why);
        px_ep *ep = px__entry(s, &eps[i], &why);
        if (ep != NULL && ep->stamp == gen)
            px_err_set(&why, PX_INVALID_ARGUMENT, "listed twice in one update (the first "
                                                  "is kept)");
        if (ep == NULL || why.status != PX_OK) {
            px__refused(s, eps[i].address, &why, &first);
            continue;
        }
        ep->stamp = gen;
        m[k++] = (px__member){ep, eps[i].weight};
    }
    if (k == 0 && n > 0) {
        px_log_warn("upstream %s: naming '%s': every endpoint of the update was refused: the "
                    "list stays as it was",
                    s->up->conf->name, s->module);
        st = first;
    } else {
        st = px__install(s, m, k, gen);
        if (st == PX_OK)
            st = first;
    }
    pthread_mutex_unlock(&s->lock);
    free(m);
    return st;
}

px_status px_naming_add(px_naming_sink *s, const px_naming_endpoint *e)
{
    if (s == NULL || e == NULL)
        return PX_INVALID_ARGUMENT;
    px_status st = px__begin(s, "px_naming_add");
    if (st != PX_OK)
        return st;
    uint32_t gen = ++s->gen;
    size_t k;
    px__member *m = px__current(s, gen, &k);
    px_err why;
    px_err_clear(&why);
    px_ep *ep = m ? px__entry(s, e, &why) : NULL;
    if (m == NULL) {
        st = PX_RESOURCE_EXHAUSTED;
    } else if (ep == NULL) {
        st = PX_OK;
        px__refused(s, e->address, &why, &st);
    } else {
        size_t i = 0;
        while (i < k && m[i].ep != ep)
            i++;
        if (i == k)
            k++; /* a newcomer goes last; a listed one only changes weight */
        m[i] = (px__member){ep, e->weight};
        ep->stamp = gen;
        st = px__install(s, m, k, gen);
    }
    pthread_mutex_unlock(&s->lock);
    free(m);
    return st;
}

px_status px_naming_remove(px_naming_sink *s, const char *address)
{
    if (s == NULL || address == NULL)
        return PX_INVALID_ARGUMENT;
    px_status st = px__begin(s, "px_naming_remove");
    if (st != PX_OK)
        return st;
    px_ep *gone = px_eptable_find(&s->up->table, address);
    if (gone == NULL || !px_ep_is_member(gone)) {
        pthread_mutex_unlock(&s->lock);
        px_log_debug("upstream %s: naming '%s': remove '%s': not listed", s->up->conf->name,
                     s->module, address);
        return PX_NOT_FOUND;
    }
    uint32_t gen = ++s->gen;
    size_t k, j = 0;
    px__member *m = px__current(s, gen, &k);
    if (m == NULL) {
        st = PX_RESOURCE_EXHAUSTED;
    } else {
        for (size_t i = 0; i < k; i++)
            if (m[i].ep != gone)
                m[j++] = m[i];
        gone->stamp = gen - 1; /* not in this update */
        st = px__install(s, m, j, gen);
    }
    pthread_mutex_unlock(&s->lock);
    free(m);
    return st;
}

const char *px_naming_upstream(const px_naming_sink *s)
{
    return s ? s->up->conf->name : "";
}

const px_naming_endpoint *px_naming_configured(const px_naming_sink *s, size_t *n)
{
    *n = s ? s->n_configured : 0;
    return s ? s->configured : NULL;
}

px_status px_naming_sink_new(px_upstream *up, px_err *err)
{
    const px_upstream_conf *uc = up->conf;
    px_naming_sink *s = calloc(1, sizeof *s);
    if (s == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    up->sink = s;
    s->up = up;
    pthread_mutex_init(&s->lock, NULL);
    const px_modref *ref = px_modlist_one(uc->mods, PX_MOD_NAMING);
    s->module = ref ? ref->mod->name : "(none)";
    if (uc->n_endpoints == 0)
        return PX_OK;
    s->configured = calloc(uc->n_endpoints, sizeof *s->configured);
    if (s->configured == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    /* Resolved when the config was loaded: run time never resolves. */
    for (size_t i = 0; i < uc->n_endpoints; i++)
        s->configured[i] = (px_naming_endpoint){
            .address = uc->endpoints[i],
            .weight = uc->weights ? uc->weights[i] : 1,
            .sa = (const struct sockaddr *)&uc->addrs[i].ss,
            .sa_len = (uint32_t)uc->addrs[i].len,
        };
    s->n_configured = uc->n_endpoints;
    return PX_OK;
}

void px_naming_sink_free(px_upstream *up)
{
    px_naming_sink *s = up->sink;
    if (s == NULL)
        return;
    px_upstream_naming_stop(up);
    pthread_mutex_destroy(&s->lock);
    free(s->configured);
    free(s);
    up->sink = NULL;
}
