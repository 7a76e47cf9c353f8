/* The endpoints one resolution found: numeric "addr:port" strings with weights, no
 * repeats, in the order found. */
#ifndef DNS_LIST_H
#define DNS_LIST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct dns_ep {
    char addr[64]; /* "10.0.0.5:7101" or "[fd00::5]:7101" */
    uint32_t weight;
    struct sockaddr_storage sa; /* the address as found (its port not set) */
} dns_ep;

typedef struct dns_list {
    dns_ep *v;
    size_t n, cap;
} dns_list;

/** Adds sa (AF_INET or AF_INET6; its own port is ignored) at port with weight, unless
 *  that address:port is listed already. 0 added, 1 a repeat or not an IP address, -1
 *  out of memory. */
int dns_list_add(dns_list *l, const struct sockaddr *sa, unsigned port, uint32_t weight);
/** Whether a and b list the same endpoints with the same weights in the same order. */
int dns_list_equal(const dns_list *a, const dns_list *b);
/** An SRV weight as an endpoint weight: 0 counts as 1, at most 10000. */
uint32_t dns_srv_weight(unsigned w);
void dns_list_free(dns_list *l);

#endif
