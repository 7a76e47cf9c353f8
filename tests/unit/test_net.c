/* Unit tests of px_net: the address parser (every form, every refusal's exact message),
 * peer names, and listen + connect on ::1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "px_net.h"
#include "px_time.h"

static const struct sockaddr_in *v4(const px_addr *a)
{
    return (const struct sockaddr_in *)&a->ss;
}

static const struct sockaddr_in6 *v6(const px_addr *a)
{
    return (const struct sockaddr_in6 *)&a->ss;
}

/* Parses text, which must be accepted, and returns its numeric name. */
static const char *ok(const char *text, px_addr *a)
{
    static char name[PX_NET_NAME_MAX];
    px_err err = {0};
    if (px_net_parse(text, a, &err) != PX_OK)
        fail_msg("'%s' refused: %s", text, err.msg);
    px_net_name((const struct sockaddr *)&a->ss, a->len, name, sizeof name);
    return name;
}

/* text must be refused with exactly msg, leaving the address unset. */
static void bad(const char *text, const char *msg)
{
    px_addr a;
    px_err err = {0};
    assert_int_equal(px_net_parse(text, &a, &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, msg);
    assert_int_equal(a.len, 0);
}

static void test_ipv4(void **state)
{
    px_addr a;
    assert_string_equal(ok("127.0.0.1:7101", &a), "127.0.0.1:7101");
    assert_int_equal(a.ss.ss_family, AF_INET);
    assert_int_equal(a.len, sizeof(struct sockaddr_in));
    assert_int_equal(ntohs(v4(&a)->sin_port), 7101);
    assert_string_equal(ok("0.0.0.0:1", &a), "0.0.0.0:1");
    assert_string_equal(ok("255.255.255.255:65535", &a), "255.255.255.255:65535");
    assert_string_equal(ok("10.1.2.3:07101", &a), "10.1.2.3:7101");
    /* localhost is 127.0.0.1 whatever the hosts file says, in any letter case */
    assert_string_equal(ok("localhost:1", &a), "127.0.0.1:1");
    assert_string_equal(ok("LocalHost:2", &a), "127.0.0.1:2");

    /* Numeric forms are checked as IPv4 and never sent to DNS. */
    bad("999.1.1.1:21011", "'999.1.1.1' is not a valid IPv4 address");
    bad("1.2.3.256:80", "'1.2.3.256' is not a valid IPv4 address");
    bad("1.2.3:80", "'1.2.3' is not a valid IPv4 address");
    bad("1.2.3.4.5:80", "'1.2.3.4.5' is not a valid IPv4 address");
    bad("127.1:80", "'127.1' is not a valid IPv4 address");
    bad("0x7f.0.0.1:80", "'0x7f.0.0.1' is not a valid IPv4 address");
    bad("2130706433:80", "'2130706433' is not a valid IPv4 address");
}

static void test_ipv6(void **state)
{
    px_addr a;
    assert_string_equal(ok("[::1]:65535", &a), "[::1]:65535");
    assert_int_equal(a.ss.ss_family, AF_INET6);
    assert_int_equal(a.len, sizeof(struct sockaddr_in6));
    assert_int_equal(ntohs(v6(&a)->sin6_port), 65535);
    assert_true(IN6_IS_ADDR_LOOPBACK(&v6(&a)->sin6_addr));
    assert_int_equal(v6(&a)->sin6_scope_id, 0);
    assert_string_equal(ok("[::]:80", &a), "[::]:80");
    assert_string_equal(ok("[2001:DB8:0:0::1]:80", &a), "[2001:db8::1]:80");
    assert_string_equal(ok("[::ffff:127.0.0.1]:80", &a), "[::ffff:127.0.0.1]:80");
    /* A scope by number or by interface name (lo: always there on Linux). */
    ok("[fe80::1%1]:80", &a);
    assert_int_equal(v6(&a)->sin6_scope_id, 1);
    assert_string_equal(ok("[fe80::1%lo]:80", &a), "[fe80::1%lo]:80");
    assert_int_equal(v6(&a)->sin6_scope_id, if_nametoindex("lo"));

    bad("[zz]:80", "'zz' is not a valid IPv6 address");
    bad("[]:80", "'' is not a valid IPv6 address");
    bad("[1.2.3.4]:80", "'1.2.3.4' is not a valid IPv6 address");
    bad("[::1::2]:80", "'::1::2' is not a valid IPv6 address");
    bad("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:80",
        "'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' is not a valid IPv6 address");
    bad("[fe80::1%nosuchif0]:80", "'fe80::1%nosuchif0': no network interface 'nosuchif0'");
    bad("[fe80::1%]:80", "'fe80::1%': no network interface ''");
    bad("[::1]80", "expected [IPv6]:port, e.g. [::1]:7101");
    bad("[::1]", "expected [IPv6]:port, e.g. [::1]:7101");
    bad("[::1:80", "expected [IPv6]:port, e.g. [::1]:7101");
    bad("::1:80", "an IPv6 address goes in brackets, e.g. [::1]:7101");
    bad("fe80::1:80", "an IPv6 address goes in brackets, e.g. [::1]:7101");
}

static void test_shape_and_port(void **state)
{
    const char *shape = "expected host:port, e.g. 127.0.0.1:7101, [::1]:7101 or localhost:7101";
    bad("", shape);
    bad(NULL, shape);
    bad("127.0.0.1", shape);
    bad(":80", shape);
    /* The port is checked first, so a bad one never costs a lookup. */
    bad("h:0", "port '0' is not a number in 1..65535");
    bad("h:65536", "port '65536' is not a number in 1..65535");
    bad("h:", "port '' is not a number in 1..65535");
    bad("h:80x", "port '80x' is not a number in 1..65535");
    bad("h:-1", "port '-1' is not a number in 1..65535");
    bad("h:+80", "port '+80' is not a number in 1..65535");
    bad("h: 80", "port ' 80' is not a number in 1..65535");
    bad("h:007101", "port '007101' is not a number in 1..65535");
    bad("[::1]:0", "port '0' is not a number in 1..65535");
    bad("a b:80", "'a b' is not a valid host name");
    bad("a/b:80", "'a/b' is not a valid host name");
    char longest[300];
    memset(longest, 'a', 254);
    snprintf(longest + 254, sizeof longest - 254, ":80");
    bad(longest, "the host is longer than 253 characters");
}

static void test_host_names(void **state)
{
    /* A name that fails: how long the lookup takes is printed (no outside network here). */
    px_addr a;
    px_err err = {0};
    int64_t t0 = px_mono_us();
    px_status st = px_net_parse("example.invalid:21011", &a, &err);
    int64_t took = px_mono_us() - t0;
    print_message("resolving example.invalid failed in %.1f ms: %s\n", took / 1000.0, err.msg);
    assert_true(st == PX_INVALID_ARGUMENT || st == PX_UNAVAILABLE);
    assert_int_equal(strncmp(err.msg, "cannot resolve 'example.invalid': ", 34), 0);
    assert_int_equal(a.len, 0);

    /* A name the system resolves (this machine's own, when it does): the first result. */
    char host[256];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (gethostname(host, sizeof host) != 0 || getaddrinfo(host, NULL, &hints, &res) != 0) {
        print_message("this machine's name does not resolve: first-result check skipped\n");
        return;
    }
    char text[300], want[PX_NET_NAME_MAX];
    snprintf(text, sizeof text, "%s:7101", host);
    ((struct sockaddr_in *)res->ai_addr)->sin_port = htons(7101); /* same offset in v6 */
    px_net_name(res->ai_addr, res->ai_addrlen, want, sizeof want);
    assert_string_equal(ok(text, &a), want);
    assert_int_equal(a.len, res->ai_addrlen);
    freeaddrinfo(res);
}

static void test_names_fit(void **state)
{
    /* The longest name: a full v6 address, the largest numeric scope, port 65535. */
    px_addr a;
    const char *n = ok("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535", &a);
    assert_string_equal(n, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535");
    assert_true(strlen(n) < PX_NET_NAME_MAX);
    char small[8];
    px_net_name((const struct sockaddr *)&a.ss, a.len, small, sizeof small);
    assert_string_equal(small, "[ffff:f"); /* cut, still terminated */
    struct sockaddr bogus = {.sa_family = AF_UNIX};
    char name[PX_NET_NAME_MAX];
    px_net_name(&bogus, sizeof bogus, name, sizeof name);
    assert_string_equal(name, "?");
}

/* Whether this machine can bind ::1 at all (some containers have no IPv6). */
static int have_ipv6_loopback(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int ok6 = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return ok6;
}

/* A port that was free on ::1 a moment ago. */
static int free_v6_port(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    socklen_t l = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
    close(fd);
    return ntohs(sa.sin6_port);
}

static void test_listen_connect_ipv6(void **state)
{
    if (!have_ipv6_loopback()) {
        print_message("::1 is not available on this machine: skipped\n");
        skip();
    }
    char text[64];
    int port = free_v6_port();
    snprintf(text, sizeof text, "[::1]:%d", port);
    px_addr a;
    ok(text, &a);
    px_err err = {0};
    int lfd = px_net_listen(&a, 16, &err);
    assert_true(lfd >= 0);
    int only = 0;
    socklen_t l = sizeof only;
    assert_int_equal(getsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &only, &l), 0);
    assert_int_equal(only, 1);
    /* A second listener on the same address: SO_REUSEPORT, one per IO thread. */
    int lfd2 = px_net_listen(&a, 16, &err);
    assert_true(lfd2 >= 0);
    close(lfd2);

    int cfd = px_net_connect(&a, &err);
    assert_true(cfd >= 0);
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    int afd = accept(lfd, (struct sockaddr *)&peer, &plen);
    assert_true(afd >= 0);
    char name[PX_NET_NAME_MAX];
    px_net_name((struct sockaddr *)&peer, plen, name, sizeof name);
    assert_int_equal(strncmp(name, "[::1]:", 6), 0);
    close(afd);
    close(cfd);
    close(lfd);

    /* Nobody listens now: the refusal names the address as [::1]:port. */
    cfd = px_net_connect(&a, &err);
    if (cfd >= 0) { /* the connect is in progress: the refusal comes with poll */
        p = (struct pollfd){.fd = cfd, .events = POLLOUT};
        assert_int_equal(poll(&p, 1, 5000), 1);
        int e = 0;
        l = sizeof e;
        getsockopt(cfd, SOL_SOCKET, SO_ERROR, &e, &l);
        assert_int_equal(e, ECONNREFUSED);
        close(cfd);
    } else {
        char want[128];
        snprintf(want, sizeof want, "connect to %s: Connection refused", text);
        assert_string_equal(err.msg, want);
    }
}

static void test_listen_error(void **state)
{
    px_addr a;
    ok("192.0.2.1:7101", &a); /* TEST-NET-1: not an address of this machine */
    px_err err = {0};
    assert_int_equal(px_net_listen(&a, 16, &err), -1);
    assert_int_equal(err.status, PX_UNAVAILABLE);
    assert_string_equal(err.msg, "cannot listen on 192.0.2.1:7101: Cannot assign requested address");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_shape_and_port),
        cmocka_unit_test(test_host_names),
        cmocka_unit_test(test_names_fit),
        cmocka_unit_test(test_listen_connect_ipv6),
        cmocka_unit_test(test_listen_error),
    };
    return cmocka_run_group_tests_name("px_net", tests, NULL, NULL);
}
