/* Unit tests of px_yaml: node tree, positions, plain flag, and every refusal with its position. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "px_yaml.h"

static px_ynode *parse_ok(const char *text)
{
    px_ynode *root = NULL;
    px_err err;
    px_err_clear(&err);
    px_status st = px_yaml_parse(text, strlen(text), "t.yaml", &root, &err);
    if (st != PX_OK)
        fail_msg("unexpected error: %s", err.msg);
    assert_non_null(root);
    return root;
}

static void parse_fails(const char *text, px_status want, const char *msg)
{
    px_ynode *root = (px_ynode *)1;
    px_err err;
    px_err_clear(&err);
    assert_int_equal(px_yaml_parse(text, strlen(text), "t.yaml", &root, &err), want);
    assert_null(root);
    assert_int_equal(err.status, want);
    assert_string_equal(err.msg, msg);
}

static void test_tree_and_positions(void **state)
{
    px_ynode *r = parse_ok("server:\n"
                           "  listen: 127.0.0.1:7101\n"
                           "  codecs: [protobuf, json]\n"
                           "  limits: {max_frame: 4MiB}\n");
    assert_int_equal(r->kind, PX_YMAP);
    assert_int_equal(r->n, 1);
    assert_int_equal(r->line, 1);
    assert_int_equal(r->col, 1);
    const px_ynode *server = px_ymap_get(r, "server");
    assert_non_null(server);
    assert_int_equal(server->kind, PX_YMAP);
    assert_int_equal(server->n, 3);
    /* A block mapping starts at its first key. */
    assert_int_equal(server->line, 2);
    assert_int_equal(server->col, 3);
    assert_string_equal(server->pairs[0].key->str, "listen");
    assert_int_equal(server->pairs[0].key->line, 2);
    assert_int_equal(server->pairs[0].key->col, 3);
    const px_ynode *listen = px_ymap_get(server, "listen");
    assert_string_equal(listen->str, "127.0.0.1:7101");
    assert_int_equal(listen->len, 14);
    assert_int_equal(listen->line, 2);
    assert_int_equal(listen->col, 11);
    const px_ynode *codecs = px_ymap_get(server, "codecs");
    assert_int_equal(codecs->kind, PX_YSEQ);
    assert_int_equal(codecs->n, 2);
    assert_int_equal(codecs->col, 11); /* the '[' */
    assert_string_equal(codecs->items[1]->str, "json");
    assert_int_equal(codecs->items[1]->line, 3);
    assert_int_equal(codecs->items[1]->col, 22);
    const px_ynode *limits = px_ymap_get(server, "limits");
    assert_int_equal(limits->kind, PX_YMAP);
    assert_int_equal(limits->line, 4);
    assert_int_equal(limits->col, 11);
    assert_string_equal(px_ymap_get(limits, "max_frame")->str, "4MiB");
    assert_null(px_ymap_get(server, "nope"));
    assert_null(px_ymap_get(listen, "x")); /* not a mapping */
    assert_null(px_ymap_get(NULL, "x"));
    px_yaml_free(r);
}

static void test_plain_flag_and_null(void **state)
{
    px_ynode *r = parse_ok("a: plain\n"
                           "b: 'single'\n"
                           "c: \"double\"\n"
                           "d: |\n  block\n"
                           "e: !!str 5\n"
                           "f:\n"
                           "g: ~\n"
                           "h: ''\n"
                           "i: !!int 7\n");
    assert_int_equal(px_ymap_get(r, "a")->plain, 1);
    assert_int_equal(px_ymap_get(r, "b")->plain, 0);
    assert_int_equal(px_ymap_get(r, "c")->plain, 0);
    assert_int_equal(px_ymap_get(r, "d")->plain, 0);
    assert_string_equal(px_ymap_get(r, "d")->str, "block\n");
    assert_int_equal(px_ymap_get(r, "e")->plain, 0);
    assert_string_equal(px_ymap_get(r, "e")->str, "5");
    assert_int_equal(px_ymap_get(r, "i")->plain, 1);
    assert_true(px_ynode_is_null(px_ymap_get(r, "f")));
    assert_true(px_ynode_is_null(px_ymap_get(r, "g")));
    assert_false(px_ynode_is_null(px_ymap_get(r, "h"))); /* '' is an empty string */
    assert_false(px_ynode_is_null(px_ymap_get(r, "a")));
    assert_false(px_ynode_is_null(r));
    px_yaml_free(r);
}

static void test_empty_document(void **state)
{
    const char *texts[] = {"", "# only a comment\n"};
    for (size_t i = 0; i < 2; i++) {
        px_ynode *r = parse_ok(texts[i]);
        assert_int_equal(r->kind, PX_YSCALAR);
        assert_true(px_ynode_is_null(r));
        assert_int_equal(r->line, 1);
        assert_int_equal(r->col, 1);
        px_yaml_free(r);
    }
    /* An explicit empty document is the empty scalar libyaml reports after "---". */
    px_ynode *r = parse_ok("---\n");
    assert_int_equal(r->kind, PX_YSCALAR);
    assert_true(px_ynode_is_null(r));
    px_yaml_free(r);
}

static void test_kind_names(void **state)
{
    assert_string_equal(px_ynode_kind_name(PX_YSCALAR), "scalar");
    assert_string_equal(px_ynode_kind_name(PX_YSEQ), "sequence");
    assert_string_equal(px_ynode_kind_name(PX_YMAP), "mapping");
}

static void test_duplicate_key(void **state)
{
    parse_fails("a: 1\nb: 2\n  \nb: 3\n", PX_INVALID_ARGUMENT,
                "t.yaml:4:1: duplicate key 'b' (first defined at 2:1)");
    parse_fails("x:\n  k: 1\n  k: 2\n", PX_INVALID_ARGUMENT,
                "t.yaml:3:3: duplicate key 'k' (first defined at 2:3)");
    parse_fails("{a: 1, b: 2, a: 3}", PX_INVALID_ARGUMENT,
                "t.yaml:1:14: duplicate key 'a' (first defined at 1:2)");
    /* Two repeated keys: the one repeated first in the document is reported. */
    parse_fails("z: 1\ny: 2\ny: 3\nz: 4\n", PX_INVALID_ARGUMENT,
                "t.yaml:3:1: duplicate key 'y' (first defined at 2:1)");
    /* Same keys in different mappings are fine. */
    px_yaml_free(parse_ok("a: {k: 1}\nb: {k: 2}\n"));
}

static void test_duplicate_in_large_mapping(void **state)
{
    enum { N = 5000 };
    size_t cap = N * 16 + 64;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t at = 0;
    for (int i = 0; i < N; i++)
        at += (size_t)snprintf(text + at, cap - at, "k%d: %d\n", i, i);
    snprintf(text + at, cap - at, "k17: again\n");
    parse_fails(text, PX_INVALID_ARGUMENT, "t.yaml:5001:1: duplicate key 'k17' (first defined at 18:1)");
    text[at] = '\0';
    px_ynode *r = parse_ok(text);
    assert_int_equal(r->n, N);
    px_yaml_free(r);
    free(text);
}

static void test_alias_refused(void **state)
{
    parse_fails("base: &b {x: 1}\nother: *b\n", PX_INVALID_ARGUMENT,
                "t.yaml:2:8: aliases are not supported (*b): write the value out");
    /* The classic alias bomb never gets past its first alias. */
    parse_fails("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", PX_INVALID_ARGUMENT,
                "t.yaml:2:8: aliases are not supported (*a): write the value out");
}

static void test_syntax_errors(void **state)
{
    parse_fails("a: 1\n b: 2\n", PX_INVALID_ARGUMENT,
                "t.yaml:2:3: mapping values are not allowed in this context");
    parse_fails("a: [1, 2\nb: 3\n", PX_INVALID_ARGUMENT,
                "t.yaml:2:2: did not find expected ',' or ']' (while parsing a flow sequence "
                "started at 1:4)");
    parse_fails("a: 'open\n", PX_INVALID_ARGUMENT,
                "t.yaml:2:1: found unexpected end of stream (while scanning a quoted scalar "
                "started at 1:4)");
    parse_fails("key: \"\xff\"\n", PX_INVALID_ARGUMENT,
                "t.yaml:1:7: invalid leading UTF-8 octet (#FF at byte 6)");
    /* Columns count characters: "é" is two bytes, one column. */
    parse_fails("a: 1\nk\xc3\xa9: \xfe\n", PX_INVALID_ARGUMENT,
                "t.yaml:2:5: invalid leading UTF-8 octet (#FE at byte 10)");
}

static void test_bounds(void **state)
{
    char deep[2 * 70 + 1];
    /* 64 nested flow sequences are fine, 65 are not. */
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = '\0';
    px_yaml_free(parse_ok(deep));
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = '\0';
    parse_fails(deep, PX_RESOURCE_EXHAUSTED, "t.yaml:1:65: nesting deeper than 64 levels");

    size_t big = PX_YAML_MAX_SCALAR + 1;
    char *text = malloc(big + 8);
    assert_non_null(text);
    memcpy(text, "a: ", 3);
    memset(text + 3, 'x', big);
    text[3 + big] = '\0';
    parse_fails(text, PX_RESOURCE_EXHAUSTED, "t.yaml:1:4: a scalar longer than 1 MiB (1048577 bytes)");
    text[3 + big - 1] = '\0'; /* exactly 1 MiB */
    px_ynode *r = parse_ok(text);
    assert_int_equal(px_ymap_get(r, "a")->len, PX_YAML_MAX_SCALAR);
    px_yaml_free(r);
    free(text);

    px_err err;
    px_ynode *root;
    assert_int_equal(px_yaml_parse("a: 1", PX_YAML_MAX_DOC + 1, "t.yaml", &root, &err),
                     PX_RESOURCE_EXHAUSTED);
    assert_string_equal(err.msg, "t.yaml: larger than 16 MiB");
}

static void test_other_refusals(void **state)
{
    parse_fails("a: 1\n---\nb: 2\n", PX_INVALID_ARGUMENT,
                "t.yaml:2:1: only one YAML document per file is allowed");
    parse_fails("? [a, b]\n: 1\n", PX_INVALID_ARGUMENT,
                "t.yaml:1:3: a mapping key must be a scalar, not a sequence");
    parse_fails("a: !custom 5\n", PX_INVALID_ARGUMENT,
                "t.yaml:1:4: unsupported tag '!custom' (only the YAML core tags like !!str are "
                "allowed)");
    parse_fails("a: !!str [1]\n", PX_INVALID_ARGUMENT, "t.yaml:1:4: !!str on a sequence");
}

static void test_files(void **state)
{
    char dir[] = "/tmp/px_yaml_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/c.yaml", dir);

    px_err err;
    px_ynode *root = (px_ynode *)1;
    assert_int_equal(px_yaml_load_file(path, &root, &err), PX_NOT_FOUND);
    assert_null(root);
    char want[256];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    assert_string_equal(err.msg, want);

    assert_int_equal(px_yaml_load_file(dir, &root, &err), PX_INVALID_ARGUMENT);
    snprintf(want, sizeof want, "%s: cannot open: Is a directory", dir);
    assert_string_equal(err.msg, want);

    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("a:\n  - 1\n  - b: x\n    b: y\n", f);
    fclose(f);
    assert_int_equal(px_yaml_load_file(path, &root, &err), PX_INVALID_ARGUMENT);
    snprintf(want, sizeof want, "%s:4:5: duplicate key 'b' (first defined at 3:5)", path);
    assert_string_equal(err.msg, want);

    f = fopen(path, "w");
    fputs("a:\n  - 1\n  - b: x\n", f);
    fclose(f);
    assert_int_equal(px_yaml_load_file(path, &root, &err), PX_OK);
    const px_ynode *a = px_ymap_get(root, "a");
    assert_int_equal(a->kind, PX_YSEQ);
    assert_int_equal(a->n, 2);
    assert_int_equal(a->items[1]->kind, PX_YMAP);
    assert_int_equal(a->items[1]->line, 3);
    assert_int_equal(a->items[1]->col, 5);
    px_yaml_free(root);

    /* A file just over the document bound is refused before parsing. */
    f = fopen(path, "w");
    assert_int_equal(fseek(f, PX_YAML_MAX_DOC, SEEK_SET), 0);
    fputc('\n', f);
    fclose(f);
    assert_int_equal(px_yaml_load_file(path, &root, &err), PX_RESOURCE_EXHAUSTED);
    snprintf(want, sizeof want, "%s: larger than 16 MiB", path);
    assert_string_equal(err.msg, want);

    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_and_positions),
        cmocka_unit_test(test_plain_flag_and_null),
        cmocka_unit_test(test_empty_document),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_duplicate_in_large_mapping),
        cmocka_unit_test(test_alias_refused),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_other_refusals),
        cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests_name("px_yaml", tests, NULL, NULL);
}
