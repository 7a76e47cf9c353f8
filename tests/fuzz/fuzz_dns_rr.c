/* libFuzzer target: naming_dns's answer reader (modules/naming_dns/dns_rr.c). The input
 * is a DNS message as a server would send it. The walk never reads outside it (ASan),
 * every record it reports lies inside it with a name c-ares read, and the smallest TTL
 * agrees with the walk: found only when an answer of that type was reported, and never
 * with the top bit set (RFC 2181 §8). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_rr.h"

typedef struct seen {
    const unsigned char *buf;
    int len;
    int srv_answers;
    uint32_t min_srv;
} seen;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_dns_rr: %s\n", what);
    abort();
}

static int on_rr(void *arg, const dns_rr *rr)
{
    seen *s = arg;
    if (rr->rdlen < 0 || rr->rdata < s->buf || rr->rdata + rr->rdlen > s->buf + s->len)
        fail("a record's data lies outside the message");
    if (rr->section < DNS_SEC_ANSWER || rr->section > DNS_SEC_ADDITIONAL)
        fail("a record in no section");
    if (rr->ttl > 0x7fffffffu)
        fail("a TTL with the top bit set");
    if (strlen(rr->name) > 1024) /* a C string, bounded by the message */
        fail("a name longer than any message could hold");
    if (rr->section == DNS_SEC_ANSWER && rr->type == 33 &&
        (!s->srv_answers++ || rr->ttl < s->min_srv))
        s->min_srv = rr->ttl;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65535)
        return 0;
    /* A copy of exactly the input's size, so ASan sees a read one byte past it. */
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    seen s = {.buf = buf, .len = (int)size};
    int walked = dns_rr_walk(buf, (int)size, on_rr, &s);
    uint32_t ttl = 0;
    int found = dns_min_ttl(buf, (int)size, 33, &ttl);
    if (walked == 0 && found != (s.srv_answers > 0))
        fail("dns_min_ttl disagrees with the walk about SRV answers");
    if (walked == 0 && found == 1 && ttl != s.min_srv)
        fail("dns_min_ttl is not the smallest SRV answer's TTL");
    if (walked != 0 && found != -1)
        fail("dns_min_ttl accepted a message the walk refused");
    free(buf);
    return 0;
}
