/* naming `file`'s parsers (modules/naming_file): the plain `address [weight]` lines and
 * the YAML list, each entry with its place; every refusal with its FILE:LINE:COL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nf_list.h"

/* Parses text as fmt; the entries, or NULL with the message in err. */
static nf_list *parse(nf_format fmt, const char *text, size_t len, px_err *err)
{
    nf_list *l = calloc(1, sizeof *l);
    assert_non_null(l);
    px_err_clear(err);
    if (nf_parse(text, len, fmt, "ep", l, err) != PX_OK) {
        assert_null(l->e);
        assert_int_equal(l->n, 0);
        free(l);
        return NULL;
    }
    return l;
}

static void drop(nf_list *l)
{
    nf_list_free(l);
    free(l);
}

static void expect(const nf_entry *e, const char *addr, uint32_t w, int line, int col)
{
    assert_string_equal(e->address, addr);
    assert_int_equal(e->weight, w);
    assert_int_equal(e->line, line);
    assert_int_equal(e->col, col);
}

static void test_format_of(void **state)
{
    (void)state;
    assert_int_equal(nf_format_of("/etc/plexus/calc.yaml"), NF_YAML);
    assert_int_equal(nf_format_of("calc.yml"), NF_YAML);
    assert_int_equal(nf_format_of("/etc/plexus/calc.endpoints"), NF_PLAIN);
    assert_int_equal(nf_format_of("yaml"), NF_PLAIN);
    assert_int_equal(nf_format_of("calc.yaml.bak"), NF_PLAIN);
}

static void test_plain(void **state)
{
    (void)state;
    static const char text[] = "# the calc servers\n"
                               "\n"
                               "10.0.0.5:7101\n"
                               "  10.0.0.6:7101   3   # bigger box\n"
                               "\t[::1]:7101\t10000\r\n"
                               "[fd00::5]:7101 1\n"
                               "localhost:7102#no space before the comment\n"
                               "   \t \n"
                               "10.0.0.7:7101"; /* no final newline */
    px_err err;
    nf_list *l = parse(NF_PLAIN, text, sizeof text - 1, &err);
    assert_non_null(l);
    assert_int_equal(l->n, 6);
    expect(&l->e[0], "10.0.0.5:7101", 1, 3, 1);
    expect(&l->e[1], "10.0.0.6:7101", 3, 4, 3);
    expect(&l->e[2], "[::1]:7101", 10000, 5, 2);
    expect(&l->e[3], "[fd00::5]:7101", 1, 6, 1);
    expect(&l->e[4], "localhost:7102", 1, 7, 1);
    expect(&l->e[5], "10.0.0.7:7101", 1, 9, 1);
    drop(l);
}

static void test_yaml(void **state)
{
    (void)state;
    static const char text[] = "# the calc servers\n"
                               "- 10.0.0.5:7101\n"
                               "- {address: 10.0.0.6:7101, weight: 3}\n"
                               "- '[::1]:7101'\n"
                               "- address: '[fd00::5]:7101'\n"
                               "  weight: 10000\n"
                               "- {address: localhost:7102}\n";
    px_err err;
    nf_list *l = parse(NF_YAML, text, sizeof text - 1, &err);
    assert_non_null(l);
    assert_int_equal(l->n, 5);
    expect(&l->e[0], "10.0.0.5:7101", 1, 2, 3);
    expect(&l->e[1], "10.0.0.6:7101", 3, 3, 13);
    expect(&l->e[2], "[::1]:7101", 1, 4, 3);
    expect(&l->e[3], "[fd00::5]:7101", 10000, 5, 12);
    expect(&l->e[4], "localhost:7102", 1, 7, 13);
    drop(l);
    /* A flow list is YAML too. */
    static const char flow[] = "[10.0.0.5:7101, {address: 10.0.0.6:7101, weight: 2}]";
    assert_non_null(l = parse(NF_YAML, flow, sizeof flow - 1, &err));
    assert_int_equal(l->n, 2);
    expect(&l->e[1], "10.0.0.6:7101", 2, 1, 27);
    drop(l);
}

typedef struct bad_case {
    const char *text, *want;
} bad_case;

static void refused(nf_format fmt, const bad_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        px_err err;
        size_t len = strlen(cases[i].text);
        if (parse(fmt, cases[i].text, len, &err) != NULL)
            fail_msg("accepted: %s", cases[i].text);
        if (strcmp(err.msg, cases[i].want) != 0)
            fail_msg("for %s\n got: %s\nwant: %s", cases[i].text, err.msg, cases[i].want);
        assert_int_equal(err.status, PX_INVALID_ARGUMENT);
    }
}

#define HOSTNAME_WHY                                                                         \
    "'db1.lan' is a host name: a numeric address is needed here (names are resolved only " \
    "when a config is loaded)"

static void test_plain_refused(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"", "ep: lists no endpoint"},
        {"# only a comment\n\n  \n", "ep: lists no endpoint"},
        {"10.0.0.5:7101\n  db1.lan:7101 2\n", "ep:2:3: 'db1.lan:7101': " HOSTNAME_WHY},
        {"10.0.0.5:70000", "ep:1:1: '10.0.0.5:70000': port '70000' is not a number in 1..65535"},
        {"10.0.0.5", "ep:1:1: '10.0.0.5': expected host:port, e.g. 127.0.0.1:7101, [::1]:7101 "
                     "or localhost:7101"},
        {"::1:7101", "ep:1:1: '::1:7101': an IPv6 address goes in brackets, e.g. [::1]:7101"},
        {"[::g]:7101", "ep:1:1: '[::g]:7101': '::g' is not a valid IPv6 address"},
        {"999.1.1.1:7101", "ep:1:1: '999.1.1.1:7101': '999.1.1.1' is not a valid IPv4 address"},
        {"10.0.0.5:7101 0", "ep:1:15: weight '0' is not an integer in 1..10000"},
        {"10.0.0.5:7101  10001", "ep:1:16: weight '10001' is not an integer in 1..10000"},
        {"10.0.0.5:7101 3x", "ep:1:15: weight '3x' is not an integer in 1..10000"},
        {"10.0.0.5:7101 -1", "ep:1:15: weight '-1' is not an integer in 1..10000"},
        {"10.0.0.5:7101 99999999999999999999",
         "ep:1:15: weight '99999999999999999999' is not an integer in 1..10000"},
        {"10.0.0.5:7101 2 extra", "ep:1:17: unexpected 'extra' after the weight (a line is: "
                                  "address [weight])"},
        {"10.0.0.5:7101\n10.0.0.6:7101\n\n 10.0.0.5:7101 2\n10.0.0.6:7101",
         "ep:4:2: '10.0.0.5:7101' is listed twice (first at 1:1)"},
    };
    refused(NF_PLAIN, cases, sizeof cases / sizeof cases[0]);
    /* A NUL byte inside an address (a binary file at the path). */
    static const char nul[] = "10.0.0.5:7101\n10.0\0.0.6:7101\n";
    px_err err;
    assert_null(parse(NF_PLAIN, nul, sizeof nul - 1, &err));
    assert_string_equal(err.msg, "ep:2:1: the address holds a NUL byte");
}

static void test_yaml_refused(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"", "ep: lists no endpoint"},
        {"# nothing\n", "ep: lists no endpoint"},
        {"[]", "ep: lists no endpoint"},
        {"- 10.0.0.5:7101\n- [10.0.0.6:7101]\n",
         "ep:2:3: expected host:port or {address: host:port, weight: N}, got a sequence"},
        {"endpoints: [10.0.0.5:7101]\n", "ep:1:1: expected a sequence of endpoints (host:port "
                                         "or {address: host:port, weight: N}), got a mapping"},
        {"10.0.0.5:7101\n", "ep:1:1: expected a sequence of endpoints (host:port or {address: "
                            "host:port, weight: N}), got a scalar"},
        {"- {address: 10.0.0.5:7101, wieght: 2}\n",
         "ep:1:28: unknown key 'wieght' (accepted: address, weight)"},
        {"- {weight: 2}\n", "ep:1:3: missing required key 'address'"},
        {"- {address: [10.0.0.5:7101]}\n", "ep:1:13: address: expected a scalar, got a sequence"},
        {"- {address: 10.0.0.5:7101, weight: 0}\n",
         "ep:1:36: weight '0' is not an integer in 1..10000"},
        {"- {address: 10.0.0.5:7101, weight: 10001}\n",
         "ep:1:36: weight '10001' is not an integer in 1..10000"},
        {"- {address: 10.0.0.5:7101, weight: 1.5}\n",
         "ep:1:36: weight '1.5' is not an integer in 1..10000"},
        {"- 10.0.0.5:7101\n- db1.lan:7101\n", "ep:2:3: 'db1.lan:7101': " HOSTNAME_WHY},
        {"- {address: '10.0.0.5:0'}\n",
         "ep:1:13: '10.0.0.5:0': port '0' is not a number in 1..65535"},
        {"- 10.0.0.5:7101\n- {address: 10.0.0.5:7101, weight: 2}\n",
         "ep:2:13: '10.0.0.5:7101' is listed twice (first at 1:3)"},
        {"- &a 10.0.0.5:7101\n- *a\n", "ep:2:3: aliases are not supported (*a): write the value out"},
        {"- 10.0.0.5:7101\n- {address: 10.0.0.6:7101\n",
         "ep:3:1: did not find expected ',' or '}' (while parsing a flow mapping started at 2:3)"},
        {"- {address: 10.0.0.5:7101, address: 10.0.0.6:7101}\n",
         "ep:1:28: duplicate key 'address' (first defined at 1:4)"},
    };
    refused(NF_YAML, cases, sizeof cases / sizeof cases[0]);
}

/* Many entries: the repeat check still names the first repeat in file order. */
static void test_long_file(void **state)
{
    (void)state;
    enum { N = 20000 };
    char *text = malloc((size_t)N * 24);
    assert_non_null(text);
    size_t at = 0;
    for (int i = 0; i < N; i++)
        at += (size_t)sprintf(text + at, "10.%d.%d.1:7101\n", i / 250, i % 250);
    px_err err;
    nf_list *l = parse(NF_PLAIN, text, at, &err);
    assert_non_null(l);
    assert_int_equal(l->n, N);
    drop(l);
    at += (size_t)sprintf(text + at, "10.0.7.1:7101\n10.0.3.1:7101\n");
    assert_null(parse(NF_PLAIN, text, at, &err));
    char want[80];
    snprintf(want, sizeof want, "ep:%d:1: '10.0.7.1:7101' is listed twice (first at 8:1)", N + 1);
    assert_string_equal(err.msg, want);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_of),     cmocka_unit_test(test_plain),
        cmocka_unit_test(test_yaml),          cmocka_unit_test(test_plain_refused),
        cmocka_unit_test(test_yaml_refused),  cmocka_unit_test(test_long_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
