/* Test helper: a tiny authoritative DNS responder over UDP on 127.0.0.1 (a free port,
 * its own thread) whose records and behaviour a test changes while it runs: A, AAAA
 * and SRV records with their TTLs, and failure modes. Test code only. */
#ifndef PX_DNS_H
#define PX_DNS_H

#include <stdint.h>

typedef struct px_dns px_dns;

typedef enum px_dns_mode {
    PX_DNS_ANSWER = 0, /* answers from the records (NXDOMAIN for an unknown name) */
    PX_DNS_SERVFAIL,   /* every query: SERVFAIL */
    PX_DNS_DROP,       /* every query: no answer at all */
    PX_DNS_NXDOMAIN,   /* every query: NXDOMAIN */
} px_dns_mode;

/** Starts the responder. NULL with a message printed when it cannot. */
px_dns *px_dns_start(void);
int px_dns_port(const px_dns *d);
/** Stops its thread, frees it. */
void px_dns_stop(px_dns *d);

void px_dns_set_mode(px_dns *d, px_dns_mode mode);
/** Whether SRV answers carry their targets' A / AAAA records in the additional section. */
void px_dns_set_additional(px_dns *d, int on);
/** Adds a record; names are written without the final dot ("calc.test"). 0 or -1. */
int px_dns_add_a(px_dns *d, const char *name, const char *ipv4, uint32_t ttl);
int px_dns_add_aaaa(px_dns *d, const char *name, const char *ipv6, uint32_t ttl);
int px_dns_add_srv(px_dns *d, const char *name, int priority, int weight, int port,
                   const char *target, uint32_t ttl);
/** Removes every record of name (any type; NULL name: every record). */
void px_dns_clear(px_dns *d, const char *name);
/** Queries received so far (answered or not). */
int px_dns_queries(const px_dns *d);
/** Of those, the queries for type qtype (1 A, 28 AAAA, 33 SRV). */
int px_dns_queries_of(const px_dns *d, int qtype);

#endif
