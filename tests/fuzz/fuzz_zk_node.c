/* libFuzzer target: naming_zookeeper's reader of a provider znode's data
 * (modules/naming_zookeeper/zkn_node.c). The input is the data. A node taken has an
 * address the core can be handed (non-empty, bounded, no NUL inside) and a weight in
 * range; a refused one says why; the protocol filter only ever skips a node that is
 * otherwise taken, with the same endpoint. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zkn_node.h"

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_zk_node: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    zkn_node any, native;
    char why_any[256], why_native[256];
    why_any[0] = why_native[0] = 0;
    zkn_node_result r = zkn_node_parse((const char *)data, (int)size, NULL, &any, why_any,
                                       sizeof why_any);
    zkn_node_result rn = zkn_node_parse((const char *)data, (int)size, "native", &native,
                                        why_native, sizeof why_native);
    switch (r) {
    case ZKN_NODE_OK: {
        size_t l = strnlen(any.address, sizeof any.address);
        if (l == 0 || l > ZKN_ADDR_MAX)
            fail("took an empty or unbounded address");
        if (any.weight < 1 || any.weight > ZKN_WEIGHT_MAX)
            fail("took a weight out of range");
        if (rn == ZKN_NODE_BAD)
            fail("refused with a protocol what it took without one");
        if (rn == ZKN_NODE_OK &&
            (strcmp(any.address, native.address) != 0 || any.weight != native.weight))
            fail("a protocol changed the endpoint read");
        break;
    }
    case ZKN_NODE_BAD:
        if (why_any[0] == 0)
            fail("refused without saying why");
        if (rn != ZKN_NODE_BAD || strcmp(why_any, why_native) != 0)
            fail("a protocol changed a refusal");
        break;
    case ZKN_NODE_SKIP:
        fail("skipped a node without a protocol to filter on");
    }
    return 0;
}
