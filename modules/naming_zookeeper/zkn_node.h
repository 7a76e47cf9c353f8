/* One provider znode's data (UTF-8 JSON, docs/DEPLOYING.md "ZooKeeper layout") read
 * into an endpoint. Separate from the watching so that it can be tested and fuzzed on
 * its own. */
#ifndef ZKN_NODE_H
#define ZKN_NODE_H

#include <stddef.h>
#include <stdint.h>

/* The longest address a node may give: "[v6]:port" with room to spare. */
#define ZKN_ADDR_MAX 127
#define ZKN_WEIGHT_MAX 10000

typedef enum zkn_node_result {
    ZKN_NODE_OK = 0, /* *out filled */
    ZKN_NODE_SKIP,   /* a well-formed node that does not list the wanted protocol */
    ZKN_NODE_BAD,    /* refused: why says what is wrong */
} zkn_node_result;

typedef struct zkn_node {
    char address[ZKN_ADDR_MAX + 1];
    uint32_t weight; /* 1..ZKN_WEIGHT_MAX; 1 when the node gives none */
} zkn_node;

/**
 * Reads data[0..len) (len < 0: the znode has no data). protocol: the one the client
 * speaks, or NULL for any: a node whose "protocols" list does not name it is skipped.
 * Unknown fields are ignored (a newer writer may add some). On ZKN_NODE_BAD, why gets
 * one line (no znode path: the caller adds it).
 */
zkn_node_result zkn_node_parse(const char *data, int len, const char *protocol,
                               zkn_node *out, char *why, size_t why_cap);

#endif
