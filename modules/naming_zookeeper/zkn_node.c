/* A provider znode's JSON, read with Debian's jansson. */
#include "zkn_node.h"

#include <jansson.h>
#include <plexus/plexus.h>
#include <stdio.h>
#include <string.h>

static zkn_node_result bad(char *why, size_t cap, const char *msg)
{
    snprintf(why, cap, "%s", msg);
    return ZKN_NODE_BAD;
}

/* Whether the node serves protocol: its "protocols" array (checked by the caller) names
 * it. A node without the field predates nothing (the layout's version 1 writes it), so
 * it is taken as serving any protocol rather than dropped. */
static int lists_protocol(const json_t *protocols, const char *protocol)
{
    if (protocol == NULL || protocols == NULL)
        return 1;
    size_t i;
    const json_t *p;
    json_array_foreach(protocols, i, p)
        if (strcmp(json_string_value(p), protocol) == 0)
            return 1;
    return 0;
}

static int strings_only(const json_t *a)
{
    size_t i;
    const json_t *p;
    if (!json_is_array(a))
        return 0;
    json_array_foreach(a, i, p)
        if (!json_is_string(p))
            return 0;
    return 1;
}

static zkn_node_result read_object(const json_t *o, const char *protocol, zkn_node *out,
                                   char *why, size_t cap)
{
    if (!json_is_object(o))
        return bad(why, cap, "the data is not a JSON object");
    const json_t *addr = json_object_get(o, "address");
    if (addr == NULL)
        return bad(why, cap, "no \"address\"");
    if (!json_is_string(addr))
        return bad(why, cap, "\"address\" is not a string");
    size_t alen = json_string_length(addr);
    const char *a = json_string_value(addr);
    if (alen == 0)
        return bad(why, cap, "\"address\" is empty");
    if (alen > ZKN_ADDR_MAX) {
        snprintf(why, cap, "\"address\" is longer than %d bytes", ZKN_ADDR_MAX);
        return ZKN_NODE_BAD;
    }
    /* The core's own check: a node the core would refuse is refused here, where its
     * znode can be named. */
    px_err err;
    if (px_naming_check_address(a, &err) != PX_OK) {
        snprintf(why, cap, "\"address\" %s", err.msg);
        return ZKN_NODE_BAD;
    }
    out->weight = 1;
    const json_t *w = json_object_get(o, "weight");
    if (w != NULL) {
        if (!json_is_integer(w))
            return bad(why, cap, "\"weight\" is not an integer");
        json_int_t v = json_integer_value(w);
        if (v < 1 || v > ZKN_WEIGHT_MAX) {
            snprintf(why, cap, "\"weight\" %lld is out of range (1..%d)", (long long)v,
                     ZKN_WEIGHT_MAX);
            return ZKN_NODE_BAD;
        }
        out->weight = (uint32_t)v;
    }
    const json_t *protocols = json_object_get(o, "protocols");
    if (protocols != NULL && !strings_only(protocols))
        return bad(why, cap, "\"protocols\" is not an array of strings");
    memcpy(out->address, a, alen + 1); /* jansson refuses NUL inside strings: alen is all */
    return lists_protocol(protocols, protocol) ? ZKN_NODE_OK : ZKN_NODE_SKIP;
}

zkn_node_result zkn_node_parse(const char *data, int len, const char *protocol,
                               zkn_node *out, char *why, size_t why_cap)
{
    memset(out, 0, sizeof *out);
    if (data == NULL || len <= 0)
        return bad(why, why_cap, "the znode has no data");
    json_error_t e;
    /* Duplicate keys are refused: which "address" a writer meant would be a guess. */
    json_t *o = json_loadb(data, (size_t)len, JSON_REJECT_DUPLICATES, &e);
    if (o == NULL) {
        snprintf(why, why_cap, "malformed JSON at line %d column %d: %s", e.line, e.column,
                 e.text);
        return ZKN_NODE_BAD;
    }
    zkn_node_result r = read_object(o, protocol, out, why, why_cap);
    json_decref(o);
    return r;
}
