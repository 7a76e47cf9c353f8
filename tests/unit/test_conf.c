/* Unit tests of px_conf: duration/size/scalar setters, the directive engine and the table check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "px_conf.h"

/* ---- setters ---- */

static void test_durations(void **state)
{
    static const struct {
        const char *text;
        int64_t us;
    } ok[] = {
        {"0", 0},           {"0s", 0},          {"100us", 100},       {"250ms", 250000},
        {"5s", 5000000},    {"1.5s", 1500000},  {"2m", 120000000},    {"1h", 3600000000},
        {"1d", 86400000000}, {"1m30s", 90000000}, {"1h0m5s", 3600000000 + 5000000},
        {"0.25ms", 250},    {"1.500000000s", 1500000}, {"1.000001s", 1000001},
        {"9223372036854775807us", INT64_MAX},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t us = -1;
        const char *why = px_parse_duration(ok[i].text, &us);
        if (why)
            fail_msg("'%s' %s", ok[i].text, why);
        assert_int_equal(us, ok[i].us);
    }
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"5 parsecs", "is not a duration (use e.g. 250ms, 5s)"},
        {"", "is not a duration (use e.g. 250ms, 5s)"},
        {"abc", "is not a duration (use e.g. 250ms, 5s)"},
        {"5x", "is not a duration (use e.g. 250ms, 5s)"},
        {"5 s", "is not a duration (use e.g. 250ms, 5s)"},
        {"1.s", "is not a duration (use e.g. 250ms, 5s)"},
        {".5s", "is not a duration (use e.g. 250ms, 5s)"},
        {"5min", "is not a duration (use e.g. 250ms, 5s)"},
        {"300", "has no unit (use us, ms, s, m, h or d, e.g. 250ms)"},
        {"1s300", "has no unit (use us, ms, s, m, h or d, e.g. 250ms)"},
        {"-5s", "is negative (durations are 0 or more, e.g. 250ms)"},
        {"0.5us", "is finer than 1us"},
        {"1.0000001s", "has more than 6 decimal places"},
        {"9223372036854775808us", "is too large"},
        {"200000000d", "is too large"},
        {"99999999999999999999s", "is too large"},
        {"9223372036854775807us1us", "is too large"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t us = 42;
        const char *why = px_parse_duration(bad[i].text, &us);
        if (why == NULL)
            fail_msg("'%s' was accepted", bad[i].text);
        assert_string_equal(why, bad[i].why);
        assert_int_equal(us, 42);
    }
}

static void test_sizes(void **state)
{
    static const struct {
        const char *text;
        uint64_t bytes;
    } ok[] = {
        {"0", 0},          {"1024", 1024},       {"64KB", 64000},       {"64kB", 64000},
        {"512KiB", 524288}, {"4MiB", 4194304},   {"1GiB", 1073741824},  {"2TiB", 2ull << 40},
        {"3MB", 3000000},  {"1GB", 1000000000},  {"5TB", 5000000000000}, {"7B", 7},
        {"1.5KiB", 1536},  {"0.5MiB", 524288},   {"18446744073709551615", UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t b = 1;
        const char *why = px_parse_size(ok[i].text, &b);
        if (why)
            fail_msg("'%s' %s", ok[i].text, why);
        assert_int_equal(b, ok[i].bytes);
    }
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"4 MiB", "is not a size (use e.g. 1024, 64KB, 512KiB, 4MiB, 1GiB)"},
        {"4mib", "is not a size (use e.g. 1024, 64KB, 512KiB, 4MiB, 1GiB)"},
        {"MiB", "is not a size (use e.g. 1024, 64KB, 512KiB, 4MiB, 1GiB)"},
        {"4MiBs", "is not a size (use e.g. 1024, 64KB, 512KiB, 4MiB, 1GiB)"},
        {"", "is not a size (use e.g. 1024, 64KB, 512KiB, 4MiB, 1GiB)"},
        {"-1", "is negative (sizes are 0 or more, e.g. 4MiB)"},
        {"1.5B", "is not a whole number of bytes"},
        {"18446744073709551616", "is too large"},
        {"16777216TiB", "is too large"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t b = 42;
        const char *why = px_parse_size(bad[i].text, &b);
        if (why == NULL)
            fail_msg("'%s' was accepted", bad[i].text);
        assert_string_equal(why, bad[i].why);
        assert_int_equal(b, 42);
    }
}

static void test_scalars(void **state)
{
    int b = -1;
    const char *yes[] = {"true", "yes", "on", "True", "YES", "On"};
    const char *no[] = {"false", "no", "off", "FALSE", "No", "OFF"};
    for (int i = 0; i < 6; i++) {
        assert_null(px_parse_bool(yes[i], &b));
        assert_int_equal(b, 1);
        assert_null(px_parse_bool(no[i], &b));
        assert_int_equal(b, 0);
    }
    assert_string_equal(px_parse_bool("1", &b), "is not a boolean (use true or false)");
    assert_string_equal(px_parse_bool("yess", &b), "is not a boolean (use true or false)");

    int64_t i64 = 0;
    assert_null(px_parse_int("42", &i64));
    assert_int_equal(i64, 42);
    assert_null(px_parse_int("-7", &i64));
    assert_int_equal(i64, -7);
    assert_null(px_parse_int("+8", &i64));
    assert_int_equal(i64, 8);
    assert_null(px_parse_int("-9223372036854775808", &i64));
    assert_true(i64 == INT64_MIN);
    assert_string_equal(px_parse_int("abc", &i64), "is not an integer");
    assert_string_equal(px_parse_int("12a", &i64), "is not an integer");
    assert_string_equal(px_parse_int(" 1", &i64), "is not an integer");
    assert_string_equal(px_parse_int("1.5", &i64), "is not an integer");
    assert_string_equal(px_parse_int("-", &i64), "is not an integer");
    assert_string_equal(px_parse_int("", &i64), "is not an integer");
    assert_string_equal(px_parse_int("9223372036854775808", &i64),
                        "is outside the 64-bit integer range");

    double d = 0;
    assert_null(px_parse_double("0.25", &d));
    assert_true(d == 0.25);
    assert_null(px_parse_double("-1e3", &d));
    assert_true(d == -1000.0);
    assert_string_equal(px_parse_double("nan", &d), "is not a number");
    assert_string_equal(px_parse_double("inf", &d), "is not a number");
    assert_string_equal(px_parse_double("0x10", &d), "is not a number");
    assert_string_equal(px_parse_double("1.2.3", &d), "is not a number");
    assert_string_equal(px_parse_double("", &d), "is not a number");
    assert_string_equal(px_parse_double("1e999", &d), "is too large");

    static const char *const modes[] = {"fast", "safe", NULL};
    int e = -1;
    assert_null(px_parse_enum("safe", modes, &e));
    assert_int_equal(e, 1);
    assert_string_equal(px_parse_enum("Safe", modes, &e), "is not one of the accepted values");

    assert_string_equal(px_dir_type_name(PX_DIR_DURATION), "duration");
    assert_string_equal(px_dir_type_name((px_dir_type)99), "unknown");
}

/* ---- the directive engine ---- */

typedef struct tconf {
    int on;
    int64_t count;
    double ratio;
    int64_t call_us;
    uint64_t frame;
    char *name;
    int mode;
    char *label;
} tconf;

static const char *const t_modes[] = {"fast", "safe", "paranoid", NULL};

static const px_directive t_dirs[] = {
    {"on", PX_DIR_BOOL, offsetof(tconf, on), "yes", 0, NULL, NULL, NULL, "a flag"},
    {"count", PX_DIR_INT, offsetof(tconf, count), "3", 0, "1", "64", NULL, "a count"},
    {"ratio", PX_DIR_DOUBLE, offsetof(tconf, ratio), "0.5", 0, "0", "1", NULL, "a ratio"},
    {"call", PX_DIR_DURATION, offsetof(tconf, call_us), "300ms", 0, "1ms", NULL, NULL, "a time"},
    {"frame", PX_DIR_SIZE, offsetof(tconf, frame), "4MiB", 0, NULL, "1GiB", NULL, "a size"},
    {"name", PX_DIR_STRING, offsetof(tconf, name), NULL, 1, NULL, NULL, NULL, "required"},
    {"mode", PX_DIR_ENUM, offsetof(tconf, mode), "safe", 0, NULL, NULL, t_modes, "a mode"},
    {"label", PX_DIR_STRING, offsetof(tconf, label), "none", 0, NULL, NULL, NULL, "a string"},
    {NULL},
};

typedef struct fixture {
    px_ynode *root;
    tconf conf;
    px_err err;
} fixture;

static px_ynode *yaml(const char *text)
{
    px_ynode *root = NULL;
    px_err err;
    if (px_yaml_parse(text, strlen(text), "conf/x.yaml", &root, &err) != PX_OK)
        fail_msg("fixture does not parse: %s", err.msg);
    return root;
}

/* Applies t_dirs to the mapping under key "t" of text, scoped "t". */
static px_status apply(fixture *f, const char *text)
{
    px_yaml_free(f->root);
    px_conf_release(t_dirs, &f->conf);
    memset(&f->conf, 0, sizeof f->conf);
    px_err_clear(&f->err);
    f->root = yaml(text);
    static const char *const skip[] = {"module", NULL};
    return px_conf_apply_scoped(t_dirs, &f->conf, px_ymap_get(f->root, "t"), skip, "t",
                                "conf/x.yaml", &f->err);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    *state = f;
    return f ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    px_conf_release(t_dirs, &f->conf);
    px_yaml_free(f->root);
    free(f);
    return 0;
}

static void test_apply_defaults(void **state)
{
    fixture *f = *state;
    assert_int_equal(apply(f, "t:\n  name: n1\n"), PX_OK);
    assert_int_equal(f->conf.on, 1);
    assert_int_equal(f->conf.count, 3);
    assert_true(f->conf.ratio == 0.5);
    assert_int_equal(f->conf.call_us, 300000);
    assert_int_equal(f->conf.frame, 4u << 20);
    assert_string_equal(f->conf.name, "n1");
    assert_int_equal(f->conf.mode, 1);
    assert_string_equal(f->conf.label, "none");
}

static void test_apply_values(void **state)
{
    fixture *f = *state;
    assert_int_equal(apply(f, "t:\n  module: x\n  on: off\n  count: 64\n  ratio: 1\n"
                              "  call: 1.5s\n  frame: '512KiB'\n  name: \"n2\"\n"
                              "  mode: paranoid\n  label: 5\n"),
                     PX_OK);
    assert_int_equal(f->conf.on, 0);
    assert_int_equal(f->conf.count, 64);
    assert_true(f->conf.ratio == 1.0);
    assert_int_equal(f->conf.call_us, 1500000);
    assert_int_equal(f->conf.frame, 512u << 10);
    assert_string_equal(f->conf.name, "n2");
    assert_int_equal(f->conf.mode, 2);
    assert_string_equal(f->conf.label, "5");
    /* Release frees and clears the strings. */
    px_conf_release(t_dirs, &f->conf);
    assert_null(f->conf.name);
    assert_null(f->conf.label);
}

static void expect(fixture *f, const char *text, px_status st, const char *msg)
{
    assert_int_equal(apply(f, text), st);
    assert_int_equal(f->err.status, st);
    assert_string_equal(f->err.msg, msg);
    /* Nothing stays allocated after a failure. */
    assert_null(f->conf.name);
    assert_null(f->conf.label);
}

static void test_apply_errors(void **state)
{
    fixture *f = *state;
    expect(f, "t:\n  name: a\n  colour: red\n", PX_INVALID_ARGUMENT,
           "conf/x.yaml:3:3: t: unknown key 'colour' (accepted: module, on, count, ratio, call, "
           "frame, name, mode, label)");
    expect(f, "t:\n  name: a\n  count: {a: 1}\n", PX_INVALID_ARGUMENT,
           "conf/x.yaml:3:10: t.count: expected an integer, got a mapping");
    expect(f, "t:\n  name: [a]\n", PX_INVALID_ARGUMENT,
           "conf/x.yaml:2:9: t.name: expected a string, got a sequence");
    expect(f, "t:\n  name: a\n  count: abc\n", PX_INVALID_ARGUMENT,
           "conf/x.yaml:3:10: t.count: 'abc' is not an integer");
    expect(f, "t:\n  name: a\n  count: 65\n", PX_OUT_OF_RANGE,
           "conf/x.yaml:3:10: t.count: 65 is out of range (1..64)");
    expect(f, "t:\n  name: a\n  count: 0\n", PX_OUT_OF_RANGE,
           "conf/x.yaml:3:10: t.count: 0 is out of range (1..64)");
    expect(f, "t:\n  name: a\n  call: 500us\n", PX_OUT_OF_RANGE,
           "conf/x.yaml:3:9: t.call: 500us is out of range (at least 1ms)");
    expect(f, "t:\n  name: a\n  frame: 2GiB\n", PX_OUT_OF_RANGE,
           "conf/x.yaml:3:10: t.frame: 2GiB is out of range (at most 1GiB)");
    expect(f, "t:\n  name: a\n  ratio: 1.01\n", PX_OUT_OF_RANGE,
           "conf/x.yaml:3:10: t.ratio: 1.01 is out of range (0..1)");
    expect(f, "t:\n  name: a\n  call: 5 parsecs\n", PX_INVALID_ARGUMENT,
           "conf/x.yaml:3:9: t.call: '5 parsecs' is not a duration (use e.g. 250ms, 5s)");
    expect(f, "t:\n  name: a\n  frame: 4 MiB\n", PX_INVALID_ARGUMENT,
           "conf/x.yaml:3:10: t.frame: '4 MiB' is not a size (use e.g. 1024, 64KB, 512KiB, "
           "4MiB, 1GiB)");
    expect(f, "t:\n  name: a\n  on: maybe\n", PX_INVALID_ARGUMENT,
           "conf/x.yaml:3:7: t.on: 'maybe' is not a boolean (use true or false)");
    expect(f, "t:\n  name: a\n  mode: quick\n", PX_INVALID_ARGUMENT,
           "conf/x.yaml:3:9: t.mode: 'quick' is not one of: fast, safe, paranoid");
    expect(f, "t:\n  name: a\n  mode: [fast]\n", PX_INVALID_ARGUMENT,
           "conf/x.yaml:3:9: t.mode: expected one of: fast, safe, paranoid, got a sequence");
    expect(f, "t:\n  name: a\n  count:\n", PX_INVALID_ARGUMENT,
           "conf/x.yaml:3:9: t.count: has no value (expected an integer)");
    expect(f, "t:\n  name: \"a\\0b\"\n", PX_INVALID_ARGUMENT,
           "conf/x.yaml:2:9: t.name: contains a NUL character");
    /* The required key is reported at the mapping, after the keys that are there. */
    expect(f, "t:\n  count: 2\n", PX_INVALID_ARGUMENT,
           "conf/x.yaml:2:3: t: missing required key 'name'");
    expect(f, "t: {count: 2}\n", PX_INVALID_ARGUMENT,
           "conf/x.yaml:1:4: t: missing required key 'name'");
    expect(f, "t: [1, 2]\n", PX_INVALID_ARGUMENT,
           "conf/x.yaml:1:4: t: expected a mapping, got a sequence");
    expect(f, "t: 5\n", PX_INVALID_ARGUMENT, "conf/x.yaml:1:4: t: expected a mapping, got a scalar");
    /* A later error frees the strings stored before it (checked in expect). */
    expect(f, "t:\n  label: x\n  name: y\n  count: 99\n", PX_OUT_OF_RANGE,
           "conf/x.yaml:4:10: t.count: 99 is out of range (1..64)");
}

static void test_apply_edges(void **state)
{
    fixture *f = *state;
    /* An empty (null) block reads as no keys: defaults, then the required check. */
    expect(f, "t:\n", PX_INVALID_ARGUMENT, "conf/x.yaml:1:3: t: missing required key 'name'");
    /* No map at all: no position to give. */
    assert_int_equal(apply(f, "other: 1\n"), PX_INVALID_ARGUMENT);
    assert_string_equal(f->err.msg, "conf/x.yaml: t: missing required key 'name'");

    /* Without a scope, names stand alone; a NULL table accepts only the skip keys. */
    px_ynode *root = yaml("a: 1\nb: 2\n");
    px_err err;
    static const char *const only_a[] = {"a", NULL};
    assert_int_equal(px_conf_apply(NULL, NULL, root, only_a, "f.yaml", &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "f.yaml:2:1: unknown key 'b' (accepted: a)");
    assert_int_equal(px_conf_apply(NULL, NULL, root, NULL, "f.yaml", &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "f.yaml:1:1: unknown key 'a' (no keys are accepted here)");
    static const char *const both[] = {"a", "b", NULL};
    assert_int_equal(px_conf_apply(NULL, NULL, root, both, "f.yaml", &err), PX_OK);
    px_yaml_free(root);

    /* px_conf_set / px_conf_set_default on their own. */
    tconf c;
    memset(&c, 0, sizeof c);
    root = yaml("v: 20\n");
    assert_int_equal(px_conf_set(&t_dirs[1], &c, px_ymap_get(root, "v"), NULL, "f.yaml", &err),
                     PX_OK);
    assert_int_equal(c.count, 20);
    assert_int_equal(px_conf_set(&t_dirs[5], &c, px_ymap_get(root, "v"), NULL, "f.yaml", &err),
                     PX_OK);
    assert_string_equal(c.name, "20");
    /* Setting a string again replaces (and frees) the old copy. */
    assert_int_equal(px_conf_set(&t_dirs[5], &c, px_ymap_get(root, "v"), NULL, "f.yaml", &err),
                     PX_OK);
    assert_int_equal(px_conf_set_default(&t_dirs[3], &c, &err), PX_OK);
    assert_int_equal(c.call_us, 300000);
    px_conf_release(t_dirs, &c);
    px_yaml_free(root);
}

/* ---- the table check ---- */

static void check_bad(const px_directive *dirs, const char *msg)
{
    px_err err;
    px_err_clear(&err);
    assert_int_equal(px_conf_check_table(dirs, &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, msg);
}

static void test_check_table(void **state)
{
    px_err err;
    assert_int_equal(px_conf_check_table(t_dirs, &err), PX_OK);
    assert_int_equal(px_conf_check_table(NULL, &err), PX_OK);

    static const char *const empty_enum[] = {NULL};
    static const char *const twice[] = {"a", "b", "a", NULL};
    static const char *const blank[] = {"a", "", NULL};
#define T(...) ((const px_directive[]){__VA_ARGS__, {NULL}})
    check_bad(T({.name = "a", .type = PX_DIR_INT},
                {.name = "a", .type = PX_DIR_INT, .offset = 8}),
              "directive 'a' is listed twice");
    check_bad(T({.name = "", .type = PX_DIR_INT}), "directive 0 has an empty name");
    check_bad(T({.name = "a", .type = (px_dir_type)42}), "directive 'a': unknown type 42");
    check_bad(T({.name = "a", .type = PX_DIR_ENUM}), "directive 'a': enum without values");
    check_bad(T({.name = "a", .type = PX_DIR_ENUM, .enum_values = empty_enum}),
              "directive 'a': enum without values");
    check_bad(T({.name = "a", .type = PX_DIR_ENUM, .enum_values = twice}),
              "directive 'a': enum value 'a' is listed twice");
    check_bad(T({.name = "a", .type = PX_DIR_ENUM, .enum_values = blank}),
              "directive 'a': enum value 1 is empty");
    check_bad(T({.name = "a", .type = PX_DIR_INT, .enum_values = twice}),
              "directive 'a': enum_values set on a directive of type int");
    check_bad(T({.name = "a", .type = PX_DIR_STRING, .min = "1"}),
              "directive 'a': min/max do not apply to type string");
    check_bad(T({.name = "a", .type = PX_DIR_BOOL, .max = "1"}),
              "directive 'a': min/max do not apply to type bool");
    check_bad(T({.name = "a", .type = PX_DIR_DURATION, .min = "soon"}),
              "directive 'a': min 'soon' is not a duration (use e.g. 250ms, 5s)");
    check_bad(T({.name = "a", .type = PX_DIR_SIZE, .max = "lots"}),
              "directive 'a': max 'lots' is not a size (use e.g. 1024, 64KB, 512KiB, 4MiB, 1GiB)");
    check_bad(T({.name = "a", .type = PX_DIR_INT, .min = "10", .max = "5"}),
              "directive 'a': min 10 is greater than max 5");
    check_bad(T({.name = "a", .type = PX_DIR_INT, .def = "1", .required = 1}),
              "directive 'a': is required and also has a default");
    check_bad(T({.name = "a", .type = PX_DIR_BOOL, .def = "perhaps"}),
              "directive 'a': default 'perhaps' is not a boolean (use true or false)");
    check_bad(T({.name = "a", .type = PX_DIR_DURATION, .def = "10ms", .min = "1s"}),
              "directive 'a': default 10ms is out of range (at least 1s)");
    static const char *const ab[] = {"a", "b", NULL};
    check_bad(T({.name = "a", .type = PX_DIR_ENUM, .def = "c", .enum_values = ab}),
              "directive 'a': default 'c' is not one of: a, b");
    check_bad(T({.name = "a", .type = PX_DIR_LIST, .def = "x"}),
              "directive 'a': a list has no default (absent: NULL)");
    check_bad(T({.name = "a", .type = PX_DIR_LIST, .min = "1"}),
              "directive 'a': min/max do not apply to type list");
#undef T
}

/* PX_DIR_LIST: a sequence of strings (or one string) with each item's place. */
typedef struct lconf {
    px_dir_list *rules;
} lconf;

static const px_directive l_dirs[] = {
    {"rules", PX_DIR_LIST, offsetof(lconf, rules), NULL, 0, NULL, NULL, NULL, "rules"},
    {NULL},
};

static px_status apply_list(const char *text, lconf *c, px_err *err)
{
    px_ynode *root = yaml(text);
    memset(c, 0, sizeof *c);
    px_err_clear(err);
    px_status st = px_conf_apply(l_dirs, c, px_ymap_get(root, "t"), NULL, "conf/x.yaml", err);
    px_yaml_free(root);
    return st;
}

static void test_list(void **state)
{
    (void)state;
    lconf c;
    px_err err;
    assert_int_equal(apply_list("t:\n  rules:\n    - allow a *\n    - 'deny b x.Y/Z'\n", &c,
                                &err), PX_OK);
    assert_non_null(c.rules);
    assert_string_equal(c.rules->file, "conf/x.yaml");
    assert_int_equal(c.rules->n, 2);
    assert_string_equal(c.rules->items[0].str, "allow a *");
    assert_int_equal(c.rules->items[0].line, 3);
    assert_int_equal(c.rules->items[0].col, 7);
    assert_string_equal(c.rules->items[1].str, "deny b x.Y/Z");
    assert_int_equal(c.rules->items[1].line, 4);
    px_conf_release(l_dirs, &c);
    assert_null(c.rules);
    /* One string is a list of one; absent is NULL; an empty sequence has no items. */
    assert_int_equal(apply_list("t:\n  rules: allow a *\n", &c, &err), PX_OK);
    assert_int_equal(c.rules->n, 1);
    assert_int_equal(c.rules->items[0].col, 10);
    px_conf_release(l_dirs, &c);
    assert_int_equal(apply_list("t:\n  {}\n", &c, &err), PX_OK);
    assert_null(c.rules);
    assert_int_equal(apply_list("t:\n  rules: []\n", &c, &err), PX_OK);
    assert_int_equal(c.rules->n, 0);
    px_conf_release(l_dirs, &c);
    /* Items that are not strings are refused where they are. */
    assert_int_equal(apply_list("t:\n  rules:\n    - ok\n    - {a: 1}\n", &c, &err),
                     PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "conf/x.yaml:4:7: rules: item 2 is not a string, a mapping");
    assert_int_equal(apply_list("t:\n  rules:\n    - ~\n", &c, &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "conf/x.yaml:3:7: rules: item 1 has no value");
    assert_int_equal(apply_list("t:\n  rules: {a: 1}\n", &c, &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg,
                        "conf/x.yaml:2:10: rules: expected a list of strings, got a mapping");
    assert_null(c.rules);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_scalars),
        cmocka_unit_test_setup_teardown(test_apply_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_edges, setup, teardown),
        cmocka_unit_test(test_check_table),
        cmocka_unit_test(test_list),
    };
    return cmocka_run_group_tests_name("px_conf", tests, NULL, NULL);
}
