/* acl's rules: parsed from a PX_DIR_LIST or refused at the item's FILE:LINE:COL, and
 * matched first-match-wins by principal, group, anonymity and method pattern. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "acl_rules.h"

/* A list as the core hands it, items on lines 10, 11, ... at column 7. */
static px_dir_list *list_of(const char *const *items, size_t n)
{
    px_dir_list *l = calloc(1, sizeof *l + n * sizeof l->items[0]);
    assert_non_null(l);
    l->file = "conf.yaml";
    l->n = n;
    for (size_t i = 0; i < n; i++)
        l->items[i] = (px_dir_item){.str = items[i], .line = 10 + (int)i, .col = 7};
    return l;
}

static const char *const *groups_of_call; /* the groups of the call being matched */

static int in_group(void *ctx, const char *g)
{
    (void)ctx;
    for (size_t i = 0; groups_of_call && groups_of_call[i]; i++)
        if (strcmp(groups_of_call[i], g) == 0)
            return 1;
    return 0;
}

/* 1 allow, 0 deny, -1 no rule matched. */
static int decide(const acl_rules *r, const char *method, const char *who,
                  const char *const *groups)
{
    groups_of_call = groups;
    const acl_rule *m = acl_rules_match(r, method, who, in_group, NULL);
    return m ? m->allow : -1;
}

static void test_match(void **state)
{
    (void)state;
    static const char *const items[] = {
        "deny  mallory *",
        "allow group:admin *",
        "allow bob calc.Calculator/Add calc.Calculator/Sub",
        "deny bob calc.Calculator/*",
        "allow anonymous grpc.health.v1.Health/*",
        "allow * calc.Calculator/Whoami",
        "allow\tbob\t\tkv.Store/*",
    };
    px_dir_list *l = list_of(items, sizeof items / sizeof items[0]);
    acl_rules r;
    px_err err;
    assert_int_equal(acl_rules_parse(l, &r, &err), PX_OK);
    assert_int_equal(r.n, 7);
    static const char *const admin[] = {"dev", "admin", NULL};
    /* First match wins: mallory is denied even in group admin. */
    assert_int_equal(decide(&r, "calc.Calculator/Add", "mallory", admin), 0);
    assert_int_equal(decide(&r, "calc.Calculator/Div", "carol", admin), 1);
    assert_int_equal(decide(&r, "calc.Calculator/Add", "bob", NULL), 1);
    assert_int_equal(decide(&r, "calc.Calculator/Sub", "bob", NULL), 1);
    assert_int_equal(decide(&r, "calc.Calculator/Div", "bob", NULL), 0);
    assert_int_equal(decide(&r, "calc.Calculator/Whoami", "bob", NULL), 0); /* deny came first */
    assert_int_equal(decide(&r, "kv.Store/Get", "bob", NULL), 1);
    assert_int_equal(decide(&r, "kv.Storage/Get", "bob", NULL), -1); /* not a prefix match */
    /* Anonymous calls match only * and anonymous. */
    assert_int_equal(decide(&r, "grpc.health.v1.Health/Check", NULL, NULL), 1);
    assert_int_equal(decide(&r, "calc.Calculator/Whoami", NULL, NULL), 1);
    assert_int_equal(decide(&r, "calc.Calculator/Add", NULL, NULL), -1);
    assert_int_equal(decide(&r, "grpc.health.v1.Health/Check", "carol", NULL), -1);
    /* A principal named like a group is not in it. */
    assert_int_equal(decide(&r, "calc.Calculator/Add", "admin", NULL), -1);
    acl_rules_free(&r);
    free(l);
}

static void test_refused(void **state)
{
    (void)state;
    static const struct {
        const char *rule, *want;
    } bad[] = {
        {"permit bob *", "conf.yaml:11:7: rules item 2: 'permit' is not allow or deny"},
        {"allow bob", "conf.yaml:11:7: rules item 2 'allow bob' is not 'allow|deny WHO "
                      "METHOD...' (e.g. 'allow group:admin *')"},
        {"allow bob calc.Calculator/Add calc.Calculator", "conf.yaml:11:7: rules item 2: "
         "'calc.Calculator' is not *, package.Service/* or package.Service/Method"},
        {"allow bob calc.Calc-ulator/Add", "conf.yaml:11:7: rules item 2: 'calc.Calc-ulator/Add' "
         "is not *, package.Service/* or package.Service/Method"},
        {"allow bob /Add", "conf.yaml:11:7: rules item 2: '/Add' is not *, package.Service/* or "
                           "package.Service/Method"},
        {"allow bob calc.Calculator/A.b", "conf.yaml:11:7: rules item 2: 'calc.Calculator/A.b' "
         "is not *, package.Service/* or package.Service/Method"},
        {"deny group: *", "conf.yaml:11:7: rules item 2: 'group:' names no group"},
        {"deny a,b *", "conf.yaml:11:7: rules item 2: 'a,b' is not *, anonymous, group:NAME or "
                       "a principal (printable ASCII, no comma)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *items[] = {"allow * *", bad[i].rule};
        px_dir_list *l = list_of(items, 2);
        acl_rules r;
        px_err err;
        px_err_clear(&err);
        assert_int_equal(acl_rules_parse(l, &r, &err), PX_INVALID_ARGUMENT);
        assert_string_equal(err.msg, bad[i].want);
        assert_null(r.r);
        free(l);
    }
    px_dir_list *none = list_of(NULL, 0);
    acl_rules r;
    px_err err;
    assert_int_equal(acl_rules_parse(none, &r, &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "rules: none given (e.g. rules: ['allow group:admin *'])");
    free(none);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests_name("acl", tests, NULL, NULL);
}
