/* A small reader of a DNS answer's resource records: what c-ares 1.18 does not give
 * (an SRV record's TTL, the additional section's addresses). */
#ifndef DNS_RR_H
#define DNS_RR_H

#include <stdint.h>

enum { DNS_SEC_ANSWER = 1, DNS_SEC_AUTHORITY = 2, DNS_SEC_ADDITIONAL = 3 };

/** One record as dns_rr_walk sees it; rdata points into the message. */
typedef struct dns_rr {
    int section;          /* DNS_SEC_* */
    const char *name;     /* owner, uncompressed, without the final dot */
    int type, cls;
    uint32_t ttl;         /* seconds; RFC 2181 §8: a value with the top bit set reads 0 */
    const unsigned char *rdata;
    int rdlen;
} dns_rr;

/** Returns nonzero to stop the walk. */
typedef int (*dns_rr_fn)(void *arg, const dns_rr *rr);

/**
 * Calls fn for every record of the answer, authority and additional sections of the
 * message abuf[0..alen). Returns 0, or -1 when the message is malformed (short, a bad
 * name, a record past the end): what was seen before that was already passed to fn.
 */
int dns_rr_walk(const unsigned char *abuf, int alen, dns_rr_fn fn, void *arg);

/**
 * The smallest TTL of the answer section's records of type (e.g. 33, SRV) in *ttl.
 * Returns 1 when there is one, 0 when there is none, -1 when the message is malformed.
 */
int dns_min_ttl(const unsigned char *abuf, int alen, int type, uint32_t *ttl);

#endif
