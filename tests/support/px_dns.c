/* A DNS responder for tests (px_dns.h). Hand-written: it has to misbehave on demand
 * (SERVFAIL, silence, NXDOMAIN) and change records mid-test, which no packaged server
 * does in-process; it answers only what the naming_dns tests ask (one question, A,
 * AAAA, SRV, class IN) and ignores the rest. Answers stay under 512 bytes. */
#include "px_dns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

enum { T_A = 1, T_AAAA = 28, T_SRV = 33, MAX_RECS = 64 };

typedef struct rec {
    char name[128];
    int type;
    uint32_t ttl;
    unsigned char rdata[16];
    int rdlen;
    int prio, weight, port; /* SRV */
    char target[128];
} rec;

struct px_dns {
    int fd, port;
    pthread_t thread;
    pthread_mutex_t lock;
    int stop;    /* atomic */
    int queries; /* atomic */
    int by_type[3]; /* atomic: A, AAAA, SRV queries */
    px_dns_mode mode;
    int additional;
    rec recs[MAX_RECS];
    int n;
};

/* ---- building an answer ---- */

typedef struct out {
    unsigned char b[512];
    int n, full;
} out;

static void put(out *o, const void *p, int len)
{
    if (o->full || o->n + len > (int)sizeof o->b) {
        o->full = 1;
        return;
    }
    memcpy(o->b + o->n, p, (size_t)len);
    o->n += len;
}

static void put16(out *o, unsigned v)
{
    unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    put(o, b, 2);
}

static void put32(out *o, uint32_t v)
{
    put16(o, v >> 16);
    put16(o, v & 0xffff);
}

static void put_name(out *o, const char *name)
{
    while (*name) {
        const char *dot = strchr(name, '.');
        int len = dot ? (int)(dot - name) : (int)strlen(name);
        unsigned char l = (unsigned char)len;
        put(o, &l, 1);
        put(o, name, len);
        name += len + (dot ? 1 : 0);
    }
    put(o, "", 1);
}

/* One record; name NULL: a pointer to the question's name (offset 12). */
static void put_rr(out *o, const char *name, const rec *r)
{
    if (name)
        put_name(o, name);
    else
        put16(o, 0xc00c);
    put16(o, (unsigned)r->type);
    put16(o, 1);
    put32(o, r->ttl);
    if (r->type == T_SRV) {
        int at = o->n;
        put16(o, 0);
        put16(o, (unsigned)r->prio);
        put16(o, (unsigned)r->weight);
        put16(o, (unsigned)r->port);
        put_name(o, r->target);
        if (!o->full) {
            int len = o->n - at - 2;
            o->b[at] = (unsigned char)(len >> 8);
            o->b[at + 1] = (unsigned char)len;
        }
    } else {
        put16(o, (unsigned)r->rdlen);
        put(o, r->rdata, r->rdlen);
    }
}

/* ---- reading a query ---- */

/* The question's name as text ("calc.test") and where it ends; -1 when malformed
 * (compression is not expected in a query and is refused). */
static int read_qname(const unsigned char *q, int len, char *name, size_t cap)
{
    int off = 12;
    size_t w = 0;
    name[0] = '\0';
    for (;;) {
        if (off >= len)
            return -1;
        int l = q[off++];
        if (l == 0)
            break;
        if (l > 63 || off + l > len || w + (size_t)l + 2 > cap)
            return -1;
        if (w)
            name[w++] = '.';
        memcpy(name + w, q + off, (size_t)l);
        w += (size_t)l;
        name[w] = '\0';
        off += l;
    }
    return off;
}

static int same_name(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

/* The answer to query q (len bytes) in o; 0, or -1 to send nothing. Called locked. */
static int answer(px_dns *d, const unsigned char *q, int len, out *o)
{
    if (len < 12 || (q[2] & 0x80) || ((q[4] << 8) | q[5]) != 1)
        return -1; /* not a query with one question */
    char name[256];
    int end = read_qname(q, len, name, sizeof name);
    if (end < 0 || end + 4 > len)
        return -1;
    int qtype = (q[end] << 8) | q[end + 1];
    int tk = qtype == T_A ? 0 : qtype == T_AAAA ? 1 : qtype == T_SRV ? 2 : -1;
    if (tk >= 0)
        __atomic_add_fetch(&d->by_type[tk], 1, __ATOMIC_RELEASE);
    if (d->mode == PX_DNS_DROP)
        return -1;
    int rcode = d->mode == PX_DNS_SERVFAIL ? 2 : d->mode == PX_DNS_NXDOMAIN ? 3 : 0;
    int known = 0, an = 0, ar = 0;
    const rec *ans[MAX_RECS], *add[MAX_RECS];
    for (int i = 0; i < d->n && rcode == 0; i++)
        if (same_name(d->recs[i].name, name)) {
            known = 1;
            if (d->recs[i].type == qtype)
                ans[an++] = &d->recs[i];
        }
    if (rcode == 0 && !known)
        rcode = 3;
    for (int i = 0; i < an && d->additional; i++)
        if (ans[i]->type == T_SRV)
            for (int k = 0; k < d->n && ar < MAX_RECS; k++)
                if ((d->recs[k].type == T_A || d->recs[k].type == T_AAAA) &&
                    same_name(d->recs[k].name, ans[i]->target))
                    add[ar++] = &d->recs[k];
    put(o, q, 2);                                 /* id */
    unsigned char flags[2] = {(unsigned char)(0x84 | (q[2] & 0x01)), /* QR AA, RD copied */
                              (unsigned char)(0x80 | rcode)};         /* RA */
    put(o, flags, 2);
    put16(o, 1);
    put16(o, (unsigned)an);
    put16(o, 0);
    put16(o, (unsigned)ar);
    put(o, q + 12, end + 4 - 12); /* the question as asked */
    for (int i = 0; i < an; i++)
        put_rr(o, NULL, ans[i]);
    for (int i = 0; i < ar; i++)
        put_rr(o, add[i]->name, add[i]);
    if (o->full) {
        fprintf(stderr, "px_dns: the answer for %s does not fit 512 bytes\n", name);
        return -1;
    }
    return 0;
}

static void *serve(void *arg)
{
    px_dns *d = arg;
    while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE)) {
        struct pollfd p = {.fd = d->fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        unsigned char q[1024];
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t len = recvfrom(d->fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
        if (len <= 0)
            continue;
        __atomic_add_fetch(&d->queries, 1, __ATOMIC_RELEASE);
        out o = {.n = 0};
        pthread_mutex_lock(&d->lock);
        int rc = answer(d, q, (int)len, &o);
        pthread_mutex_unlock(&d->lock);
        if (rc == 0)
            sendto(d->fd, o.b, (size_t)o.n, 0, (struct sockaddr *)&from, fl);
    }
    return NULL;
}

px_dns *px_dns_start(void)
{
    px_dns *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    pthread_mutex_init(&d->lock, NULL);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    d->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (d->fd < 0 || bind(d->fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(d->fd, (struct sockaddr *)&a, &al) != 0 ||
        pthread_create(&d->thread, NULL, serve, d) != 0) {
        perror("px_dns_start");
        if (d->fd >= 0)
            close(d->fd);
        pthread_mutex_destroy(&d->lock);
        free(d);
        return NULL;
    }
    d->port = ntohs(a.sin_port);
    return d;
}

int px_dns_port(const px_dns *d)
{
    return d->port;
}

void px_dns_stop(px_dns *d)
{
    if (!d)
        return;
    __atomic_store_n(&d->stop, 1, __ATOMIC_RELEASE);
    pthread_join(d->thread, NULL);
    close(d->fd);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

void px_dns_set_mode(px_dns *d, px_dns_mode mode)
{
    pthread_mutex_lock(&d->lock);
    d->mode = mode;
    pthread_mutex_unlock(&d->lock);
}

void px_dns_set_additional(px_dns *d, int on)
{
    pthread_mutex_lock(&d->lock);
    d->additional = on;
    pthread_mutex_unlock(&d->lock);
}

static int add(px_dns *d, const rec *r)
{
    pthread_mutex_lock(&d->lock);
    int ok = d->n < MAX_RECS;
    if (ok)
        d->recs[d->n++] = *r;
    pthread_mutex_unlock(&d->lock);
    return ok ? 0 : -1;
}

static int add_addr(px_dns *d, const char *name, int type, const char *ip, uint32_t ttl)
{
    rec r = {.type = type, .ttl = ttl, .rdlen = type == T_A ? 4 : 16};
    snprintf(r.name, sizeof r.name, "%s", name);
    if (inet_pton(type == T_A ? AF_INET : AF_INET6, ip, r.rdata) != 1)
        return -1;
    return add(d, &r);
}

int px_dns_add_a(px_dns *d, const char *name, const char *ipv4, uint32_t ttl)
{
    return add_addr(d, name, T_A, ipv4, ttl);
}

int px_dns_add_aaaa(px_dns *d, const char *name, const char *ipv6, uint32_t ttl)
{
    return add_addr(d, name, T_AAAA, ipv6, ttl);
}

int px_dns_add_srv(px_dns *d, const char *name, int priority, int weight, int port,
                   const char *target, uint32_t ttl)
{
    rec r = {.type = T_SRV, .ttl = ttl, .prio = priority, .weight = weight, .port = port};
    snprintf(r.name, sizeof r.name, "%s", name);
    snprintf(r.target, sizeof r.target, "%s", target);
    return add(d, &r);
}

void px_dns_clear(px_dns *d, const char *name)
{
    pthread_mutex_lock(&d->lock);
    int w = 0;
    for (int i = 0; i < d->n; i++)
        if (name && !same_name(d->recs[i].name, name))
            d->recs[w++] = d->recs[i];
    d->n = w;
    pthread_mutex_unlock(&d->lock);
}

int px_dns_queries(const px_dns *d)
{
    return __atomic_load_n(&d->queries, __ATOMIC_ACQUIRE);
}

int px_dns_queries_of(const px_dns *d, int qtype)
{
    int k = qtype == T_A ? 0 : qtype == T_AAAA ? 1 : qtype == T_SRV ? 2 : -1;
    return k < 0 ? 0 : __atomic_load_n(&d->by_type[k], __ATOMIC_ACQUIRE);
}
