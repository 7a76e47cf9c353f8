/* naming_dns's pieces without a network: the answer reader (dns_rr.c) on well-formed,
 * compressed and malformed messages, the endpoint list (dns_list.c), and the module's
 * config refusals at FILE:LINE:COL (the module loaded from PX_MODULE_DIR). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_list.h"
#include "dns_rr.h"
#include "plexus/plexus.h"

/* ---- a message builder ---- */

typedef struct msg {
    unsigned char b[1024];
    int n;
} msg;

static void p8(msg *m, unsigned v)
{
    m->b[m->n++] = (unsigned char)v;
}

static void p16(msg *m, unsigned v)
{
    p8(m, v >> 8);
    p8(m, v & 0xff);
}

static void p32(msg *m, uint32_t v)
{
    p16(m, v >> 16);
    p16(m, v & 0xffff);
}

static void pname(msg *m, const char *name)
{
    while (*name) {
        const char *dot = strchr(name, '.');
        int len = dot ? (int)(dot - name) : (int)strlen(name);
        p8(m, (unsigned)len);
        memcpy(m->b + m->n, name, (size_t)len);
        m->n += len;
        name += len + (dot ? 1 : 0);
    }
    p8(m, 0);
}

static void header(msg *m, unsigned an, unsigned ns, unsigned ar)
{
    m->n = 0;
    p16(m, 0x1234);
    p16(m, 0x8180);
    p16(m, 1);
    p16(m, an);
    p16(m, ns);
    p16(m, ar);
    pname(m, "_calc._tcp.test");
    p16(m, 33);
    p16(m, 1);
}

/* An SRV record whose owner is the question's name (a compression pointer). */
static void srv(msg *m, uint32_t ttl, unsigned prio, unsigned weight, unsigned port,
                const char *target)
{
    p16(m, 0xc00c);
    p16(m, 33);
    p16(m, 1);
    p32(m, ttl);
    int at = m->n;
    p16(m, 0);
    p16(m, prio);
    p16(m, weight);
    p16(m, port);
    pname(m, target);
    int len = m->n - at - 2;
    m->b[at] = (unsigned char)(len >> 8);
    m->b[at + 1] = (unsigned char)len;
}

static void a_rec(msg *m, const char *name, uint32_t ttl, const char *ip)
{
    pname(m, name);
    p16(m, 1);
    p16(m, 1);
    p32(m, ttl);
    p16(m, 4);
    inet_pton(AF_INET, ip, m->b + m->n);
    m->n += 4;
}

typedef struct seen {
    int n, additional;
    char names[8][64];
} seen;

static int on_rr(void *arg, const dns_rr *rr)
{
    seen *s = arg;
    if (s->n < 8)
        snprintf(s->names[s->n], sizeof s->names[0], "%d %s %d %u", rr->section, rr->name,
                 rr->type, rr->ttl);
    s->n++;
    s->additional += rr->section == DNS_SEC_ADDITIONAL;
    return 0;
}

static void test_ttl_of_srv_answer(void **state)
{
    (void)state;
    msg m;
    header(&m, 2, 0, 1);
    srv(&m, 30, 10, 1, 7101, "s1.test");
    srv(&m, 7, 10, 3, 7102, "s2.test");
    a_rec(&m, "s1.test", 3, "127.0.0.1"); /* additional: not an answer's TTL */
    uint32_t ttl = 0;
    assert_int_equal(dns_min_ttl(m.b, m.n, 33, &ttl), 1);
    assert_int_equal(ttl, 7);
    assert_int_equal(dns_min_ttl(m.b, m.n, 1, &ttl), 0); /* no A record among the answers */
    seen s = {0};
    assert_int_equal(dns_rr_walk(m.b, m.n, on_rr, &s), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.names[0], "1 _calc._tcp.test 33 30");
    assert_string_equal(s.names[2], "3 s1.test 1 3");
    assert_int_equal(s.additional, 1);
}

static void test_ttl_top_bit_reads_zero(void **state)
{
    (void)state;
    msg m;
    header(&m, 2, 0, 0);
    srv(&m, 0x80000005u, 1, 1, 1, "s1.test"); /* RFC 2181 §8 */
    srv(&m, 60, 1, 1, 1, "s2.test");
    uint32_t ttl = 99;
    assert_int_equal(dns_min_ttl(m.b, m.n, 33, &ttl), 1);
    assert_int_equal(ttl, 0);
}

static void test_ttl_malformed(void **state)
{
    (void)state;
    msg m;
    header(&m, 2, 0, 1);
    srv(&m, 30, 10, 1, 7101, "s1.test");
    srv(&m, 7, 10, 3, 7102, "s2.test");
    a_rec(&m, "s1.test", 3, "127.0.0.1");
    uint32_t ttl;
    /* Every cut short of the whole message is refused, or (cut inside the last record)
     * still reads the answers it holds whole; none reads past the end (valgrind, ASan). */
    for (int len = 0; len < m.n; len++) {
        unsigned char *copy = malloc((size_t)len + 1); /* exact size: overreads show */
        memcpy(copy, m.b, (size_t)len);
        seen s = {0};
        assert_int_equal(dns_rr_walk(copy, len, on_rr, &s), -1);
        free(copy);
    }
    assert_int_equal(dns_min_ttl(NULL, 0, 33, &ttl), -1);
    /* More records announced than there are. */
    msg more = m;
    more.b[7] = 5;
    assert_int_equal(dns_min_ttl(more.b, more.n, 33, &ttl), -1);
    /* An rdlength past the end. */
    msg big;
    header(&big, 1, 0, 0);
    srv(&big, 30, 1, 1, 1, "s1.test");
    int rdlen_at = big.n - (2 + 6 + 9); /* rdlength, prio/weight/port, "\2s1\4test\0" */
    big.b[rdlen_at] = 0x40;
    assert_int_equal(dns_min_ttl(big.b, big.n, 33, &ttl), -1);
    /* A compression pointer to itself. */
    msg loop;
    header(&loop, 1, 0, 0);
    int at = loop.n;
    p16(&loop, (unsigned)(0xc000 | at));
    p16(&loop, 33);
    p16(&loop, 1);
    p32(&loop, 5);
    p16(&loop, 0);
    assert_int_equal(dns_min_ttl(loop.b, loop.n, 33, &ttl), -1);
    /* A label longer than 63 in the question. */
    msg lab;
    header(&lab, 0, 0, 0);
    lab.b[12] = 0x50;
    assert_int_equal(dns_min_ttl(lab.b, lab.n, 33, &ttl), -1);
}

static void test_list(void **state)
{
    (void)state;
    dns_list l = {0};
    struct sockaddr_in a = {.sin_family = AF_INET};
    struct sockaddr_in6 b = {.sin6_family = AF_INET6};
    inet_pton(AF_INET, "10.0.0.5", &a.sin_addr);
    inet_pton(AF_INET6, "fd00::5", &b.sin6_addr);
    assert_int_equal(dns_list_add(&l, (struct sockaddr *)&a, 7101, 1), 0);
    assert_int_equal(dns_list_add(&l, (struct sockaddr *)&b, 7101, 3), 0);
    assert_int_equal(dns_list_add(&l, (struct sockaddr *)&a, 7101, 9), 1); /* a repeat */
    assert_int_equal(dns_list_add(&l, (struct sockaddr *)&a, 7102, 1), 0); /* another port */
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0].addr, "10.0.0.5:7101");
    assert_string_equal(l.v[1].addr, "[fd00::5]:7101");
    assert_int_equal(l.v[1].weight, 3);
    assert_int_equal(dns_srv_weight(0), 1);
    assert_int_equal(dns_srv_weight(65535), 10000);
    assert_int_equal(dns_srv_weight(3), 3);
    dns_list k = {0};
    assert_false(dns_list_equal(&l, &k));
    for (size_t i = 0; i < l.n; i++)
        dns_list_add(&k, (struct sockaddr *)&l.v[i].sa, i == 2 ? 7102 : 7101, l.v[i].weight);
    assert_true(dns_list_equal(&l, &k));
    dns_list_free(&k);
    dns_list_free(&l);
}

/* ---- config refusals ---- */

/* Loads a client config whose upstream has `naming` (written at line 7, column 15);
 * returns the error ("" when it loaded). */
static const char *load(const char *naming)
{
    static char msg_[600];
    char text[2048];
    snprintf(text, sizeof text,
             "modules:\n  path: [\"%s\"]\nclient:\n  descriptors: [calc]\n  upstreams:\n"
             "    calc:\n      naming: %s\n",
             getenv("PX_MODULE_DIR"), naming);
    px_err err;
    px_err_clear(&err);
    px_config *cfg = NULL;
    msg_[0] = '\0';
    if (px_config_parse(text, strlen(text), "d.yaml", &cfg, &err) != PX_OK)
        snprintf(msg_, sizeof msg_, "%s", err.msg);
    px_config_free(cfg);
    return msg_;
}

static void refused(const char *naming, const char *want)
{
    const char *got = load(naming);
    print_message("  %s\n", got);
    if (strstr(got, want) == NULL)
        print_error("got: %s\nwant: %s\n", got, want);
    assert_non_null(strstr(got, want));
}

static void test_config(void **state)
{
    (void)state;
    assert_string_equal(load("{module: dns, name: calc.test., port: 7101}"), "");
    assert_string_equal(load("{module: dns, name: _calc._tcp.test., type: SRV, "
                             "servers: '127.0.0.1:5353,[::1]:53', ttl_min: 100ms}"),
                        "");
    refused("{module: dns, name: calc.test.}",
            "d.yaml:7:24: naming 'dns': port is required with type A (A and AAAA records carry "
            "no port)");
    refused("{module: dns, name: calc.test., type: SRV, port: 7101}",
            "d.yaml:7:24: naming 'dns': port is not used with type SRV");
    refused("{module: dns, port: 7101}", "d.yaml:7:15: naming: missing required key 'name'");
    refused("{module: dns, name: calc.test., port: 7101, servers: 'not an address'}",
            "d.yaml:7:24: naming 'dns': servers 'not an address': ");
    refused("{module: dns, name: calc.test., port: 7101, ttl_min: 10s, ttl_max: 1s}",
            "d.yaml:7:24: naming 'dns': ttl_min is above ttl_max");
    refused("{module: dns, name: calc.test., port: 7101, retry_min: 10s, retry_max: 1s}",
            "d.yaml:7:24: naming 'dns': retry_min is above retry_max");
    refused("{module: dns, name: calc.test., port: 7101, type: MX}",
            "d.yaml:7:65: naming.type: 'MX' is not one of: A, AAAA, ANY_IP, SRV");
    refused("{module: dns, name: calc.test., port: 70000}",
            "d.yaml:7:53: naming.port: 70000 is out of range (0..65535)");
    refused("{module: dns, name: calc.test., port: 7101, query_timeout: 1ms}",
            "d.yaml:7:74: naming.query_timeout: 1ms is out of range (10ms..1m)");
    refused("{module: dns, name: calc.test., port: 7101, ttl: 5s}",
            "d.yaml:7:59: naming: unknown key 'ttl'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ttl_of_srv_answer),
        cmocka_unit_test(test_ttl_top_bit_reads_zero),
        cmocka_unit_test(test_ttl_malformed),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
