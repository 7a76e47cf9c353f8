/* naming_zookeeper's reader of one provider znode (modules/naming_zookeeper/zkn_node.c):
 * the layout's example node, defaults, the protocol filter, unknown fields, and every
 * refusal with its exact message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../modules/naming_zookeeper/zkn_node.c"

static zkn_node_result parse(const char *json, const char *protocol, zkn_node *n, char *why)
{
    why[0] = 0;
    return zkn_node_parse(json, json ? (int)strlen(json) : -1, protocol, n, why, 256);
}

static void test_layout_example(void **state)
{
    (void)state;
    zkn_node n;
    char why[256];
    const char *node = "{\"address\":\"127.0.0.1:7101\",\"weight\":3,\"protocols\":[\"native\"],"
                       "\"codecs\":[\"protobuf\"],\"id\":\"s1\",\"pid\":1234,\"version\":1}";
    assert_int_equal(parse(node, NULL, &n, why), ZKN_NODE_OK);
    assert_string_equal(n.address, "127.0.0.1:7101");
    assert_int_equal(n.weight, 3);
    assert_int_equal(parse(node, "native", &n, why), ZKN_NODE_OK);
    /* A node that does not list the client's protocol is skipped, not refused. */
    assert_int_equal(parse(node, "grpc", &n, why), ZKN_NODE_SKIP);
    assert_string_equal(why, "");
}

static void test_defaults_and_unknown_fields(void **state)
{
    (void)state;
    zkn_node n;
    char why[256];
    /* No weight: 1. No protocols: any protocol. Unknown fields and a later version:
     * ignored (a newer writer may add fields). */
    assert_int_equal(parse("{\"address\":\"[::1]:7101\",\"zone\":\"a\",\"version\":7,"
                           "\"extra\":{\"x\":[1,2]}}",
                           "grpc", &n, why),
                     ZKN_NODE_OK);
    assert_string_equal(n.address, "[::1]:7101");
    assert_int_equal(n.weight, 1);
    assert_int_equal(parse("{\"address\":\"10.0.0.5:1\",\"weight\":10000}", NULL, &n, why),
                     ZKN_NODE_OK);
    assert_int_equal(n.weight, 10000);
    assert_int_equal(parse(" \n{\"address\":\"10.0.0.5:1\",\"weight\":1}\n", NULL, &n, why),
                     ZKN_NODE_OK);
    assert_int_equal(parse("{\"address\":\"10.0.0.5:1\",\"protocols\":[]}", NULL, &n, why),
                     ZKN_NODE_OK);
    assert_int_equal(parse("{\"address\":\"10.0.0.5:1\",\"protocols\":[]}", "native", &n, why),
                     ZKN_NODE_SKIP);
    assert_int_equal(parse("{\"address\":\"localhost:7101\"}", NULL, &n, why), ZKN_NODE_OK);
}

static void refused(const char *json, const char *msg)
{
    zkn_node n;
    char why[256];
    assert_int_equal(parse(json, NULL, &n, why), ZKN_NODE_BAD);
    assert_string_equal(why, msg);
}

static void refused_prefix(const char *json, const char *prefix)
{
    zkn_node n;
    char why[256];
    assert_int_equal(parse(json, NULL, &n, why), ZKN_NODE_BAD);
    if (strncmp(why, prefix, strlen(prefix)) != 0)
        fail_msg("'%s' does not start with '%s'", why, prefix);
}

static void test_refusals(void **state)
{
    (void)state;
    refused(NULL, "the znode has no data");
    refused("", "the znode has no data");
    refused("[1]", "the data is not a JSON object");
    refused("{}", "no \"address\"");
    refused("{\"weight\":2}", "no \"address\"");
    refused("{\"address\":7101}", "\"address\" is not a string");
    refused("{\"address\":null}", "\"address\" is not a string");
    refused("{\"address\":\"\"}", "\"address\" is empty");
    refused("{\"address\":\"10.0.0.1:1\",\"weight\":\"2\"}", "\"weight\" is not an integer");
    refused("{\"address\":\"10.0.0.1:1\",\"weight\":1.5}", "\"weight\" is not an integer");
    refused("{\"address\":\"10.0.0.1:1\",\"weight\":0}", "\"weight\" 0 is out of range (1..10000)");
    refused("{\"address\":\"10.0.0.1:1\",\"weight\":-3}", "\"weight\" -3 is out of range (1..10000)");
    refused("{\"address\":\"10.0.0.1:1\",\"weight\":10001}",
            "\"weight\" 10001 is out of range (1..10000)");
    refused("{\"address\":\"10.0.0.1:1\",\"protocols\":\"native\"}",
            "\"protocols\" is not an array of strings");
    refused("{\"address\":\"10.0.0.1:1\",\"protocols\":[\"native\",2]}",
            "\"protocols\" is not an array of strings");
    /* The core's address check, with its own words. */
    refused("{\"address\":\"db1.lan:7101\"}",
            "\"address\" 'db1.lan' is a host name: a numeric address is needed here (names "
            "are resolved only when a config is loaded)");
    refused_prefix("{\"address\":\"10.0.0.1:99999\"}", "\"address\" ");
    refused_prefix("{\"address\":\"10.0.0.1\"}", "\"address\" ");
    refused_prefix("{\"address\":\"[::1:7101\"}", "\"address\" ");
    char json[300], addr[ZKN_ADDR_MAX + 2];
    memset(addr, 'a', ZKN_ADDR_MAX + 1);
    addr[ZKN_ADDR_MAX + 1] = 0;
    snprintf(json, sizeof json, "{\"address\":\"%s\"}", addr);
    refused(json, "\"address\" is longer than 127 bytes");
    /* jansson's own words, after where it stopped. */
    refused("{\"address\":", "malformed JSON at line 1 column 11: unexpected token near end of file");
    refused("{\"address\":\"10.0.0.1:1\"",
            "malformed JSON at line 1 column 23: '}' expected near end of file");
    refused_prefix("{\"address\":\"10.0.0.1:1\"} x", "malformed JSON at line 1 column ");
    refused_prefix("not json", "malformed JSON at line 1 column ");
    refused_prefix("7101", "malformed JSON at line 1 column ");
    refused_prefix("{\"address\":\"10.0.0.1:1\",\n\"address\":\"b:2\"}",
                   "malformed JSON at line 2 column ");
    refused_prefix("{\"address\":\"a\\u0000:1\"}", "malformed JSON at line 1 column ");
    refused_prefix("{\"address\":\"\xff:1\"}", "malformed JSON at line 1 column ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_example),
        cmocka_unit_test(test_defaults_and_unknown_fields),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
