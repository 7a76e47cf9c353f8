/* Hand-written because c-ares 1.18's parsers drop what this module needs:
 * ares_parse_srv_reply has no TTL (ares_srv_reply gained none before 1.20's
 * ares_dns_record API), and none of them reads the additional section, where a server
 * often puts the SRV targets' addresses. Names are still read by c-ares
 * (ares_expand_name: compression pointers, loops, lengths); this file walks only the
 * fixed-size fields around them, checking every length against the message. It is
 * fuzzed (tests/fuzz/fuzz_dns_rr.c). */
#include "dns_rr.h"

#include <stddef.h>
#include <string.h>
#include <ares.h>

static unsigned get16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/* The longest text a legal name expands to: at most 254 octets of labels and length
 * bytes on the wire (RFC 1035 3.1), each octet at most 4 characters (\DDD) and the dots
 * between labels: under 1016. c-ares 1.18 follows compression pointers without that
 * bound, so a hostile message can make a longer name: refused as malformed. */
#define DNS_NAME_TEXT_MAX 1015

/* Reads the name at *off, moving *off past it; *name gets it (ares_free_string) when
 * name is not NULL. -1: malformed. */
static int read_name(const unsigned char *abuf, int alen, int *off, char **name)
{
    long enclen = 0;
    char *s = NULL;
    if (*off >= alen || ares_expand_name(abuf + *off, abuf, alen, &s, &enclen) != ARES_SUCCESS)
        return -1;
    if (enclen <= 0 || enclen > alen - *off || strnlen(s, DNS_NAME_TEXT_MAX + 1) > DNS_NAME_TEXT_MAX) {
        ares_free_string(s);
        return -1;
    }
    *off += (int)enclen;
    if (name)
        *name = s;
    else
        ares_free_string(s);
    return 0;
}

int dns_rr_walk(const unsigned char *abuf, int alen, dns_rr_fn fn, void *arg)
{
    if (abuf == NULL || alen < 12)
        return -1;
    unsigned qd = get16(abuf + 4), counts[3] = {get16(abuf + 6), get16(abuf + 8),
                                                get16(abuf + 10)};
    int off = 12;
    for (unsigned i = 0; i < qd; i++) {
        if (read_name(abuf, alen, &off, NULL) != 0 || alen - off < 4)
            return -1;
        off += 4; /* QTYPE, QCLASS */
    }
    for (int sec = 0; sec < 3; sec++)
        for (unsigned i = 0; i < counts[sec]; i++) {
            char *name = NULL;
            if (read_name(abuf, alen, &off, &name) != 0)
                return -1;
            if (alen - off < 10) {
                ares_free_string(name);
                return -1;
            }
            const unsigned char *p = abuf + off;
            uint32_t ttl = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
            dns_rr rr = {.section = sec + 1, .name = name, .type = (int)get16(p),
                         .cls = (int)get16(p + 2), .ttl = ttl > 0x7fffffffu ? 0 : ttl,
                         .rdata = p + 10, .rdlen = (int)get16(p + 8)};
            off += 10;
            if (rr.rdlen > alen - off) {
                ares_free_string(name);
                return -1;
            }
            off += rr.rdlen;
            int stop = fn(arg, &rr);
            ares_free_string(name);
            if (stop)
                return 0;
        }
    return 0;
}

typedef struct min_ttl {
    int type, found;
    uint32_t ttl;
} min_ttl;

static int on_min(void *arg, const dns_rr *rr)
{
    min_ttl *m = arg;
    if (rr->section == DNS_SEC_ANSWER && rr->type == m->type && (!m->found || rr->ttl < m->ttl)) {
        m->ttl = rr->ttl;
        m->found = 1;
    }
    return 0;
}

int dns_min_ttl(const unsigned char *abuf, int alen, int type, uint32_t *ttl)
{
    min_ttl m = {.type = type};
    if (dns_rr_walk(abuf, alen, on_min, &m) != 0)
        return -1;
    if (m.found)
        *ttl = m.ttl;
    return m.found;
}
