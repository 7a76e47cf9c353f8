#include "dns_list.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dns_list_add(dns_list *l, const struct sockaddr *sa, unsigned port, uint32_t weight)
{
    char host[INET6_ADDRSTRLEN], addr[sizeof l->v[0].addr];
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, host,
                  sizeof host);
        snprintf(addr, sizeof addr, "%s:%u", host, port);
    } else if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, host,
                  sizeof host);
        snprintf(addr, sizeof addr, "[%s]:%u", host, port);
    } else {
        return 1;
    }
    for (size_t i = 0; i < l->n; i++) /* a few dozen at most: a scan is cheapest */
        if (strcmp(l->v[i].addr, addr) == 0)
            return 1;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        dns_ep *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    dns_ep *e = &l->v[l->n++];
    memcpy(e->addr, addr, sizeof addr);
    e->weight = weight;
    memset(&e->sa, 0, sizeof e->sa);
    memcpy(&e->sa, sa, sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                                : sizeof(struct sockaddr_in6));
    return 0;
}

int dns_list_equal(const dns_list *a, const dns_list *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].weight != b->v[i].weight || strcmp(a->v[i].addr, b->v[i].addr) != 0)
            return 0;
    return 1;
}

uint32_t dns_srv_weight(unsigned w)
{
    return w == 0 ? 1 : w > 10000 ? 10000 : (uint32_t)w;
}

void dns_list_free(dns_list *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}
