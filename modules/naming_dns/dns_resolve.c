/* One resolution of the configured name: ares_getaddrinfo for A / AAAA / ANY_IP, or an
 * SRV query, then its targets' addresses (from the answer's additional section when
 * the server put them there, else ares_getaddrinfo per target). */
#include <ares.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns_rr.h"
#include "dns_state.h"

typedef struct dns_target {
    char *host; /* absolute: "s1.example." */
    unsigned priority, weight, port;
    dns_list addrs; /* port 0: the record's port is applied when the list is built */
    uint32_t ttl;   /* the smallest of its addresses' */
    int status;   /* of its lookup */
} dns_target;

struct dns_round {
    dns_state *s;
    int pending; /* lookups whose callback has not run */
    int status;  /* the first failure seen (ARES_SUCCESS: none) */
    uint32_t ttl;
    int have_ttl;
    dns_list list; /* A / AAAA / ANY_IP: the answer */
    dns_target *t; /* SRV: the records */
    size_t nt;
};

typedef struct dns_lookup {
    dns_round *r;
    dns_target *t; /* NULL: the configured name itself */
} dns_lookup;

static int family_of(int type)
{
    return type == DNS_A ? AF_INET : type == DNS_AAAA ? AF_INET6 : AF_UNSPEC;
}

static void take_ttl(uint32_t *ttl, int *have, uint32_t v)
{
    if (!*have || v < *ttl)
        *ttl = v;
    *have = 1;
}

static void round_free(dns_round *r)
{
    for (size_t i = 0; i < r->nt; i++) {
        free(r->t[i].host);
        dns_list_free(&r->t[i].addrs);
    }
    free(r->t);
    dns_list_free(&r->list);
    free(r);
}

/* SRV: the lowest priority that has addresses, each with its record's port and weight. */
static int srv_pick(dns_round *r)
{
    const dns_target *best = NULL;
    for (size_t i = 0; i < r->nt; i++)
        if (r->t[i].addrs.n && (!best || r->t[i].priority < best->priority))
            best = &r->t[i];
    if (!best)
        return 0;
    for (size_t i = 0; i < r->nt; i++) {
        dns_target *t = &r->t[i];
        if (!t->addrs.n || t->priority != best->priority)
            continue;
        take_ttl(&r->ttl, &r->have_ttl, t->ttl);
        for (size_t k = 0; k < t->addrs.n; k++)
            if (dns_list_add(&r->list, (const struct sockaddr *)&t->addrs.v[k].sa, t->port,
                             dns_srv_weight(t->weight)) < 0)
                return -1;
    }
    return 1;
}

/* A lookup ended: when it was the last, the round reports. */
static void round_step(dns_round *r)
{
    if (--r->pending > 0)
        return;
    dns_state *s = r->s;
    s->round = NULL;
    if (s->stopping) {
        round_free(r);
        return;
    }
    int status = r->status;
    const char *why = NULL;
    char buf[320];
    if (s->conf->type == DNS_SRV && r->nt) {
        int got = srv_pick(r);
        if (got < 0) {
            status = ARES_ENOMEM;
        } else if (got > 0) {
            status = ARES_SUCCESS;
        } else { /* the SRV records came, none of their targets resolved */
            const dns_target *t = &r->t[0];
            snprintf(buf, sizeof buf, "no SRV target has an address (%s: %s)", t->host,
                     t->status == ARES_SUCCESS || t->status == ARES_ENODATA
                         ? "no usable records"
                         : ares_strerror(t->status));
            status = ARES_ENODATA;
            why = buf;
        }
    }
    if (status == ARES_SUCCESS && r->list.n == 0)
        status = ARES_ENODATA;
    dns_report(s, &r->list, r->ttl, status, why);
    round_free(r);
}

static void fail(dns_round *r, int status)
{
    if (r->status == ARES_SUCCESS && status != ARES_SUCCESS)
        r->status = status;
}

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    (void)timeouts;
    dns_lookup *lk = arg;
    dns_round *r = lk->r;
    dns_target *t = lk->t;
    free(lk);
    if (status == ARES_SUCCESS && res) {
        dns_list *into = t ? &t->addrs : &r->list;
        unsigned port = t ? 0 : (unsigned)r->s->conf->port;
        uint32_t ttl = 0;
        int have = 0;
        for (struct ares_addrinfo_node *n = res->nodes; n; n = n->ai_next) {
            int added = dns_list_add(into, n->ai_addr, port, 1);
            if (added < 0)
                status = ARES_ENOMEM;
            take_ttl(&ttl, &have, n->ai_ttl < 0 ? 0 : (uint32_t)n->ai_ttl);
        }
        for (struct ares_addrinfo_cname *c = res->cnames; c; c = c->next)
            take_ttl(&ttl, &have, c->ttl < 0 ? 0 : (uint32_t)c->ttl);
        if (have) {
            if (t)
                t->ttl = ttl;
            else
                take_ttl(&r->ttl, &r->have_ttl, ttl);
        }
    }
    if (res)
        ares_freeaddrinfo(res);
    if (t)
        t->status = status;
    fail(r, status);
    round_step(r);
}

static void lookup(dns_round *r, dns_target *t, const char *host, int family)
{
    dns_lookup *lk = malloc(sizeof *lk);
    if (!lk) {
        fail(r, ARES_ENOMEM);
        return;
    }
    *lk = (dns_lookup){.r = r, .t = t};
    r->pending++;
    struct ares_addrinfo_hints h = {.ai_family = family};
    ares_getaddrinfo(r->s->loop.ch, host, NULL, &h, on_addrinfo, lk);
}

/* The additional section's A / AAAA records of an SRV target, when the server sent them. */
typedef struct extra {
    dns_round *r;
    int family;
} extra;

static int on_extra(void *arg, const dns_rr *rr)
{
    extra *x = arg;
    if (rr->section != DNS_SEC_ADDITIONAL || rr->cls != C_IN)
        return 0;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (rr->type == T_A && rr->rdlen == 4 && x->family != AF_INET6) {
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        memcpy(&((struct sockaddr_in *)&ss)->sin_addr, rr->rdata, 4);
    } else if (rr->type == T_AAAA && rr->rdlen == 16 && x->family != AF_INET) {
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, rr->rdata, 16);
    } else {
        return 0;
    }
    for (size_t i = 0; i < x->r->nt; i++) {
        dns_target *t = &x->r->t[i];
        size_t hl = strlen(t->host) - 1; /* without its final dot */
        if (strlen(rr->name) == hl && strncasecmp(rr->name, t->host, hl) == 0) {
            int first = t->addrs.n == 0;
            if (dns_list_add(&t->addrs, (struct sockaddr *)&ss, 0, 1) == 0 &&
                (first || rr->ttl < t->ttl))
                t->ttl = rr->ttl;
        }
    }
    return 0;
}

static void on_srv(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    dns_round *r = arg;
    struct ares_srv_reply *srv = NULL;
    if (status == ARES_SUCCESS)
        status = ares_parse_srv_reply(abuf, alen, &srv);
    uint32_t ttl;
    if (status == ARES_SUCCESS && dns_min_ttl(abuf, alen, T_SRV, &ttl) > 0)
        take_ttl(&r->ttl, &r->have_ttl, ttl);
    size_t n = 0;
    for (struct ares_srv_reply *p = srv; p; p = p->next)
        n += p->host[0] != '\0'; /* target "." (RFC 2782): no service there */
    if (status == ARES_SUCCESS && n && !r->s->stopping && (r->t = calloc(n, sizeof *r->t))) {
        for (struct ares_srv_reply *p = srv; p; p = p->next) {
            if (!p->host[0])
                continue;
            dns_target *t = &r->t[r->nt];
            size_t hl = strlen(p->host);
            if (!(t->host = malloc(hl + 2)))
                break;
            memcpy(t->host, p->host, hl);
            memcpy(t->host + hl, ".", 2);
            t->priority = p->priority;
            t->weight = p->weight;
            t->port = p->port;
            r->nt++;
        }
        extra x = {.r = r, .family = family_of(r->s->conf->srv_target)};
        dns_rr_walk(abuf, alen, on_extra, &x); /* a malformed tail leaves the rest to lookups */
        r->pending++; /* held while the lookups are issued: one may end at once */
        for (size_t i = 0; i < r->nt; i++)
            if (!r->t[i].addrs.n)
                lookup(r, &r->t[i], r->t[i].host, x.family);
        r->pending--;
    } else if (status == ARES_SUCCESS) {
        status = ARES_ENODATA;
    }
    if (srv)
        ares_free_data(srv);
    fail(r, status);
    round_step(r);
}

void dns_resolve(dns_state *s)
{
    dns_round *r = calloc(1, sizeof *r);
    if (!r) {
        dns_list none = {0};
        dns_report(s, &none, 0, ARES_ENOMEM, NULL);
        return;
    }
    r->s = s;
    r->status = ARES_SUCCESS;
    s->round = r;
    r->pending = 1; /* held until the first lookup is issued */
    if (s->conf->type == DNS_SRV) {
        r->pending++;
        ares_search(s->loop.ch, s->conf->name, C_IN, T_SRV, on_srv, r);
    } else {
        lookup(r, NULL, s->conf->name, family_of(s->conf->type));
    }
    round_step(r);
}

const char *dns_type_name(int type)
{
    static const char *const names[] = {"A", "AAAA", "ANY_IP", "SRV"};
    return type >= 0 && type <= DNS_SRV ? names[type] : "?";
}
