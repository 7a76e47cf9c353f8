/* naming `file`, YAML format: a sequence of `host:port` or `{address, weight}`, the shape
 * of an upstream's `endpoints:`. The core's own YAML reader (core/config/px_yaml.c,
 * compiled in) parses it, so aliases, repeated keys and tags are refused as in a config. */
#include "nf_list.h"

#include <string.h>

#include "px_yaml.h"

#define NF_ITEM "host:port or {address: host:port, weight: N}"

static px_status nf_item_map(const px_ynode *m, const char *file, nf_list *out, px_err *err)
{
    const px_ynode *addr = NULL, *weight = NULL;
    for (size_t i = 0; i < m->n; i++) {
        const px_ynode *k = m->pairs[i].key, *v = m->pairs[i].value;
        if (strcmp(k->str, "address") == 0)
            addr = v;
        else if (strcmp(k->str, "weight") == 0)
            weight = v;
        else
            return px_err_set(err, PX_INVALID_ARGUMENT,
                              "%s:%d:%d: unknown key '%.100s' (accepted: address, weight)", file,
                              k->line, k->col, k->str);
        if (v->kind != PX_YSCALAR)
            return px_err_set(err, PX_INVALID_ARGUMENT, "%s:%d:%d: %s: expected a scalar, got a %s",
                              file, v->line, v->col, k->str, px_ynode_kind_name(v->kind));
    }
    if (addr == NULL)
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s:%d:%d: missing required key 'address'",
                          file, m->line, m->col);
    return nf_add(out, file, addr->str, addr->len, addr->line, addr->col,
                  weight ? weight->str : NULL, weight ? weight->len : 0,
                  weight ? weight->line : 0, weight ? weight->col : 0, err);
}

px_status nf_parse_yaml(const char *text, size_t len, const char *file, nf_list *out,
                        px_err *err)
{
    px_ynode *root = NULL;
    if (px_yaml_parse(text, len, file, &root, err) != PX_OK)
        return err->status;
    px_status st = PX_OK;
    if (px_ynode_is_null(root)) {
        /* empty: nf_parse says the file lists nothing */
    } else if (root->kind != PX_YSEQ) {
        st = px_err_set(err, PX_INVALID_ARGUMENT,
                        "%s:%d:%d: expected a sequence of endpoints (" NF_ITEM "), got a %s",
                        file, root->line, root->col, px_ynode_kind_name(root->kind));
    } else {
        for (size_t i = 0; i < root->n && st == PX_OK; i++) {
            const px_ynode *it = root->items[i];
            if (it->kind == PX_YSCALAR)
                st = nf_add(out, file, it->str, it->len, it->line, it->col, NULL, 0, 0, 0, err);
            else if (it->kind == PX_YMAP)
                st = nf_item_map(it, file, out, err);
            else
                st = px_err_set(err, PX_INVALID_ARGUMENT, "%s:%d:%d: expected " NF_ITEM ", got a %s",
                                file, it->line, it->col, px_ynode_kind_name(it->kind));
        }
    }
    px_yaml_free(root);
    return st;
}
