/* plexus bench's request templates (tools/plexus/bench_template.c): what each
 * placeholder expands to, the bound on an expansion, and the refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_template.h"

static void test_plain_json(void **state)
{
    px_bench_tpl t;
    char why[200], out[64];
    assert_int_equal(px_bench_tpl_parse(&t, "{\"a\":{\"b\":1}}", 7, why, sizeof why), 0);
    assert_int_equal(t.n_fields, 0);
    assert_int_equal(px_bench_tpl_expand(&t, 5, out), strlen("{\"a\":{\"b\":1}}"));
    assert_string_equal(out, "{\"a\":{\"b\":1}}");
    px_bench_tpl_free(&t);
}

static void test_seq(void **state)
{
    px_bench_tpl t;
    char why[200];
    assert_int_equal(px_bench_tpl_parse(&t, "{\"k\":\"k{{seq}}\",\"n\":{{seq}}}", 1, why, sizeof why), 0);
    assert_int_equal(t.n_fields, 2);
    char *out = malloc(t.max_len + 1);
    assert_non_null(out);
    px_bench_tpl_expand(&t, 0, out);
    assert_string_equal(out, "{\"k\":\"k0\",\"n\":0}");
    px_bench_tpl_expand(&t, 41, out);
    assert_string_equal(out, "{\"k\":\"k41\",\"n\":41}");
    /* The widest number still fits the bound. */
    size_t n = px_bench_tpl_expand(&t, UINT64_MAX, out);
    assert_true(n <= t.max_len);
    assert_string_equal(out, "{\"k\":\"k18446744073709551615\",\"n\":18446744073709551615}");
    free(out);
    px_bench_tpl_free(&t);
}

static void test_rand(void **state)
{
    px_bench_tpl t;
    char why[200], out[128];
    /* Placeholders only, back to back: no text part between them. */
    assert_int_equal(px_bench_tpl_parse(&t, "{{rand:3}}{{rand}}", 99, why, sizeof why), 0);
    assert_int_equal(t.n_fields, 2);
    int seen[3] = {0};
    unsigned long long big_max = 0;
    for (uint64_t seq = 0; seq < 3000; seq++) {
        px_bench_tpl_expand(&t, seq, out);
        assert_true(out[0] >= '0' && out[0] <= '2');
        seen[out[0] - '0']++;
        unsigned long long v = strtoull(out + 1, NULL, 10);
        assert_true(v <= PX_BENCH_RAND_MAX);
        if (v > big_max)
            big_max = v;
    }
    /* Each of 0..2 about a third of the time; {{rand}} reaches well into its range. */
    for (int i = 0; i < 3; i++)
        if (seen[i] < 800 || seen[i] > 1200)
            fail_msg("{{rand:3}} drew %d %d %d in 3000", seen[0], seen[1], seen[2]);
    assert_true(big_max > PX_BENCH_RAND_MAX / 2);
    /* A draw depends on the seed and the call only: the same call, the same numbers. */
    char again[128];
    px_bench_tpl_expand(&t, 17, out);
    px_bench_tpl_expand(&t, 17, again);
    assert_string_equal(out, again);
    px_bench_tpl_expand_bound(&t, 0, 1, out);
    assert_string_equal(out, "22147483647");
    px_bench_tpl_expand_bound(&t, 0, 0, out);
    assert_string_equal(out, "00");
    px_bench_tpl_free(&t);
}

static void test_refused(void **state)
{
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"{\"k\":\"{{foo}}\"}", "unknown placeholder '{{foo}}' at byte 6 (known: {{seq}}, "
                                "{{rand}}, {{rand:N}})"},
        {"{{}}", "unknown placeholder '{{}}' at byte 0 (known: {{seq}}, {{rand}}, {{rand:N}})"},
        {"{{SEQ}}", "unknown placeholder '{{SEQ}}' at byte 0 (known: {{seq}}, {{rand}}, "
                    "{{rand:N}})"},
        {"x{{seq", "'{{' at byte 1 is not closed by '}}'"},
        {"{{seq}}{{rand", "'{{' at byte 7 is not closed by '}}'"},
        {"{{rand:0}}", "'{{rand:0}}' at byte 0: N of {{rand:N}} must be a whole number in "
                       "1..18446744073709551615"},
        {"{{rand:-1}}", "'{{rand:-1}}' at byte 0: N of {{rand:N}} must be a whole number in "
                        "1..18446744073709551615"},
        {"{{rand:1x}}", "'{{rand:1x}}' at byte 0: N of {{rand:N}} must be a whole number in "
                        "1..18446744073709551615"},
        {"{{rand:18446744073709551616}}", "'{{rand:18446744073709551616}}' at byte 0: N of "
                                          "{{rand:N}} must be a whole number in "
                                          "1..18446744073709551615"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        px_bench_tpl t;
        char why[200] = "";
        if (px_bench_tpl_parse(&t, bad[i].text, 0, why, sizeof why) != -1)
            fail_msg("'%s' was accepted", bad[i].text);
        assert_string_equal(why, bad[i].why);
        assert_null(t.parts);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_json),
        cmocka_unit_test(test_seq),
        cmocka_unit_test(test_rand),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests_name("plexus bench templates", tests, NULL, NULL);
}
