/* A server built in code: keys set one by one become a YAML document, which goes
 * through the same schema, defaults and checks as a file (one set of rules). */
#include "plexus/px_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_server_int.h"

/* What errors name as the "file" of a document built from keys. */
#define PX_OPTS_NAME "px_server_opts"

typedef struct px__opt {
    char *key, *value;
} px__opt;

struct px_server_opts {
    px__opt *items;
    size_t n, cap;
};

px_server_opts *px_server_opts_new(void) { return calloc(1, sizeof(px_server_opts)); }

void px_server_opts_free(px_server_opts *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++) {
        free(o->items[i].key);
        free(o->items[i].value);
    }
    free(o->items);
    free(o);
}

/* Dotted names of lowercase words: what config keys are. */
static int px__valid_key(const char *k)
{
    if (!*k || *k == '.')
        return 0;
    for (const char *p = k; *p; p++) {
        if (*p == '.' && (p[1] == '.' || p[1] == '\0'))
            return 0;
        if (*p != '.' && *p != '_' && !(*p >= 'a' && *p <= 'z') && !(*p >= '0' && *p <= '9'))
            return 0;
    }
    return 1;
}

px_status px_server_opts_set(px_server_opts *o, const char *key, const char *value, px_err *err)
{
    if (!o || !key || !value)
        return px_err_set(err, PX_INVALID_ARGUMENT, "px_server_opts_set: NULL argument");
    if (!px__valid_key(key))
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "px_server_opts_set: '%s' is not a config key (dotted lowercase "
                          "names, e.g. server.listen)", key);
    if (strpbrk(value, "\r\n"))
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "px_server_opts_set: %s: the value must be one line of YAML", key);
    char *v = strdup(value);
    if (!v)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->items[i].key, key) == 0) {
            free(o->items[i].value);
            o->items[i].value = v;
            return PX_OK;
        }
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 8;
        px__opt *items = realloc(o->items, cap * sizeof *items);
        if (!items) {
            free(v);
            return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
        }
        o->items = items;
        o->cap = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(v);
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    }
    o->items[o->n++] = (px__opt){k, v};
    return PX_OK;
}

/* Whether key lies under prefix (plen bytes, "" or ending in '.'). */
static int px__under(const char *key, const char *prefix, size_t plen)
{
    return strncmp(key, prefix, plen) == 0;
}

/* Writes the keys under prefix as a block mapping indented by depth, each next segment
 * once, in the order the keys were first set. */
static px_status px__emit(const px_server_opts *o, const char *prefix, int depth, FILE *out,
                          px_err *err)
{
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < o->n; i++) {
        const char *k = o->items[i].key;
        if (!px__under(k, prefix, plen))
            continue;
        const char *seg = k + plen;
        size_t slen = strcspn(seg, ".");
        int seen = 0; /* an earlier key gave this segment already */
        for (size_t j = 0; j < i && !seen; j++)
            seen = px__under(o->items[j].key, prefix, plen) &&
                   strncmp(o->items[j].key + plen, seg, slen) == 0 &&
                   (o->items[j].key[plen + slen] == '\0' || o->items[j].key[plen + slen] == '.');
        if (seen)
            continue;
        char sub[256];
        if (snprintf(sub, sizeof sub, "%.*s.", (int)(plen + slen), k) >= (int)sizeof sub)
            return px_err_set(err, PX_INVALID_ARGUMENT, "px_server_opts: key %s too long", k);
        const char *leaf = NULL;
        int children = 0;
        for (size_t j = i; j < o->n; j++) {
            if (strlen(o->items[j].key) == plen + slen && strncmp(o->items[j].key, k, plen + slen) == 0)
                leaf = o->items[j].value;
            else if (px__under(o->items[j].key, sub, plen + slen + 1))
                children = 1;
        }
        if (leaf && children)
            return px_err_set(err, PX_INVALID_ARGUMENT,
                              "px_server_opts: %.*s has a value and keys under it",
                              (int)(plen + slen), k);
        fprintf(out, "%*s%.*s:", depth * 2, "", (int)slen, seg);
        if (leaf) {
            fprintf(out, " %s\n", leaf);
            continue;
        }
        fputc('\n', out);
        if (px__emit(o, sub, depth + 1, out, err) != PX_OK)
            return err->status;
    }
    return PX_OK;
}

px_status px_server_new_opts(const px_server_opts *o, px_server **out, px_err *err)
{
    *out = NULL;
    if (!o)
        return px_err_set(err, PX_INVALID_ARGUMENT, "px_server_new_opts: no options");
    char *doc = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&doc, &len);
    if (!f)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    px_config *cfg = NULL;
    px_status st = px__emit(o, "", 0, f, err);
    if (fclose(f) != 0 && st == PX_OK)
        st = px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    if (st == PX_OK)
        st = px_config_parse(doc, len, PX_OPTS_NAME, &cfg, err);
    free(doc);
    if (st != PX_OK)
        return st;
    if (!px_config_has_server(cfg)) {
        px_config_free(cfg);
        return px_err_set(err, PX_INVALID_ARGUMENT, "px_server_new_opts: no server.* key set "
                          "(server.listen is required)");
    }
    if (px_server_new(cfg, out, err) != PX_OK) {
        px_config_free(cfg);
        return err->status;
    }
    (*out)->own_cfg = cfg;
    return PX_OK;
}
