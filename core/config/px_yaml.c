/* libyaml events -> a px_ynode tree with 1-based positions, refusing aliases and duplicates. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>
#include "px_yaml.h"

/* Node count bound: with aliases refused the tree is linear in the input, but a
 * 16 MiB flow sequence of one-character items would still cost ~1 GB of nodes. */
#define PX__YAML_MAX_NODES (256u * 1024u)

#define PX__TAG_PREFIX "tag:yaml.org,2002:"

typedef struct px__ybuild {
    const char *name;
    const char *text; /* the input, to place reader errors that only carry an offset */
    size_t len;
    px_err *err;
    px_ynode *open[PX_YAML_MAX_DEPTH]; /* containers being filled, outermost first */
    int depth;
    px_ynode *root;
    size_t nodes;
    int documents;
} px__ybuild;

const char *px_ynode_kind_name(px_ynode_kind kind)
{
    switch (kind) {
    case PX_YSCALAR: return "scalar";
    case PX_YSEQ: return "sequence";
    case PX_YMAP: return "mapping";
    }
    return "node";
}

int px_ynode_is_null(const px_ynode *node)
{
    if (node == NULL || node->kind != PX_YSCALAR || !node->plain)
        return 0;
    return node->len == 0 || strcmp(node->str, "~") == 0 || strcmp(node->str, "null") == 0 ||
           strcmp(node->str, "Null") == 0 || strcmp(node->str, "NULL") == 0;
}

const px_ynode *px_ymap_get(const px_ynode *map, const char *key)
{
    if (map == NULL || map->kind != PX_YMAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->pairs[i].key->str, key) == 0)
            return map->pairs[i].value;
    return NULL;
}

void px_yaml_free(px_ynode *node)
{
    if (node == NULL)
        return;
    /* Depth is bounded by PX_YAML_MAX_DEPTH, so recursion is safe. */
    if (node->kind == PX_YSEQ) {
        for (size_t i = 0; i < node->n; i++)
            px_yaml_free(node->items[i]);
    } else if (node->kind == PX_YMAP) {
        for (size_t i = 0; i < node->n; i++) {
            px_yaml_free(node->pairs[i].key);
            px_yaml_free(node->pairs[i].value);
        }
    }
    free(node->str);
    free(node->items);
    free(node->pairs);
    free(node);
}

static px_status px__yerr(px__ybuild *b, const yaml_mark_t *m, px_status st, const char *fmt,
                          ...) PX_PRINTF(4, 5);

/* "NAME:LINE:COL: what" at a libyaml mark (0-based there, 1-based for people). */
static px_status px__yerr(px__ybuild *b, const yaml_mark_t *m, px_status st, const char *fmt,
                          ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return px_err_set(b->err, st, "%s:%zu:%zu: %s", b->name, m->line + 1, m->column + 1, what);
}

/* Maps libyaml's error state to "FILE:LINE:COL: problem (context started at L:C)". */
static px_status px__parser_error(px__ybuild *b, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "malformed YAML";
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return px_err_set(b->err, PX_RESOURCE_EXHAUSTED, "%s: out of memory while parsing",
                          b->name);
    case YAML_READER_ERROR: {
        /* The reader decodes ahead of the scanner, so only the offset is exact:
         * count lines and characters (not UTF-8 continuation bytes) up to it. */
        size_t line = 1, col = 1, end = p->problem_offset < b->len ? p->problem_offset : b->len;
        for (size_t i = 0; i < end; i++) {
            unsigned char ch = (unsigned char)b->text[i];
            if (ch == '\n') {
                line++;
                col = 1;
            } else if ((ch & 0xC0) != 0x80) {
                col++;
            }
        }
        if (p->problem_value != -1)
            return px_err_set(b->err, PX_INVALID_ARGUMENT, "%s:%zu:%zu: %s (#%X at byte %zu)",
                              b->name, line, col, problem, (unsigned)p->problem_value,
                              p->problem_offset);
        return px_err_set(b->err, PX_INVALID_ARGUMENT, "%s:%zu:%zu: %s (at byte %zu)", b->name,
                          line, col, problem, p->problem_offset);
    }
    default:
        break;
    }
    if (p->context)
        return px_err_set(b->err, PX_INVALID_ARGUMENT, "%s:%zu:%zu: %s (%s started at %zu:%zu)",
                          b->name, p->problem_mark.line + 1, p->problem_mark.column + 1,
                          problem, p->context, p->context_mark.line + 1,
                          p->context_mark.column + 1);
    return px_err_set(b->err, PX_INVALID_ARGUMENT, "%s:%zu:%zu: %s", b->name,
                      p->problem_mark.line + 1, p->problem_mark.column + 1, problem);
}

/* Accepts no tag, the non-specific "!", and the YAML core schema tags; `!!str` makes
 * a scalar non-plain so "!!str 5" is text. Anything else is a tag nobody handles. */
static px_status px__check_tag(px__ybuild *b, const yaml_event_t *ev, const yaml_char_t *tag,
                               int *is_str)
{
    static const char *const known[] = {"str", "int", "float", "bool", "null", "map", "seq", NULL};
    *is_str = 0;
    if (tag == NULL || strcmp((const char *)tag, "!") == 0)
        return PX_OK;
    const char *t = (const char *)tag;
    if (strncmp(t, PX__TAG_PREFIX, strlen(PX__TAG_PREFIX)) == 0) {
        const char *s = t + strlen(PX__TAG_PREFIX);
        for (int i = 0; known[i]; i++) {
            if (strcmp(s, known[i]) == 0) {
                *is_str = i == 0;
                return PX_OK;
            }
        }
    }
    return px__yerr(b, &ev->start_mark, PX_INVALID_ARGUMENT,
                    "unsupported tag '%s' (only the YAML core tags like !!str are allowed)", t);
}

static int px__grow(void **arr, size_t n, size_t elem)
{
    /* Capacity is implicit (4, then doubling): n is full exactly at 0 and at powers
     * of two from 4 on, so appends stay amortized O(1) without a stored capacity. */
    if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
        return 0;
    size_t cap = n ? n * 2 : 4;
    void *p = realloc(*arr, cap * elem);
    if (p == NULL)
        return -1;
    *arr = p;
    return 0;
}

/* Puts a finished or just-opened node into its parent (or makes it the root). */
static px_status px__attach(px__ybuild *b, px_ynode *node, const yaml_event_t *ev)
{
    if (b->depth == 0) {
        b->root = node;
        return PX_OK;
    }
    px_ynode *parent = b->open[b->depth - 1];
    if (parent->kind == PX_YSEQ) {
        if (px__grow((void **)&parent->items, parent->n, sizeof *parent->items) != 0)
            goto oom;
        parent->items[parent->n++] = node;
        return PX_OK;
    }
    /* A mapping: either this node is the value of the last key, or a new key. */
    if (parent->n > 0 && parent->pairs[parent->n - 1].value == NULL) {
        parent->pairs[parent->n - 1].value = node;
        return PX_OK;
    }
    if (node->kind != PX_YSCALAR) {
        px_status st = px__yerr(b, &ev->start_mark, PX_INVALID_ARGUMENT,
                                "a mapping key must be a scalar, not a %s",
                                px_ynode_kind_name(node->kind));
        px_yaml_free(node);
        return st;
    }
    if (px__grow((void **)&parent->pairs, parent->n, sizeof *parent->pairs) != 0)
        goto oom;
    parent->pairs[parent->n].key = node;
    parent->pairs[parent->n].value = NULL;
    parent->n++;
    return PX_OK;
oom:
    px_yaml_free(node);
    return px_err_set(b->err, PX_RESOURCE_EXHAUSTED, "%s: out of memory", b->name);
}

static px_ynode *px__node(px__ybuild *b, px_ynode_kind kind, const yaml_event_t *ev,
                          px_status *st)
{
    if (++b->nodes > PX__YAML_MAX_NODES) {
        *st = px__yerr(b, &ev->start_mark, PX_RESOURCE_EXHAUSTED,
                       "the document has more than %u nodes", PX__YAML_MAX_NODES);
        return NULL;
    }
    px_ynode *n = calloc(1, sizeof *n);
    if (n == NULL) {
        *st = px_err_set(b->err, PX_RESOURCE_EXHAUSTED, "%s: out of memory", b->name);
        return NULL;
    }
    n->kind = kind;
    n->line = (int)ev->start_mark.line + 1;
    n->col = (int)ev->start_mark.column + 1;
    *st = PX_OK;
    return n;
}

static px_status px__on_scalar(px__ybuild *b, const yaml_event_t *ev)
{
    const size_t len = ev->data.scalar.length;
    if (len > PX_YAML_MAX_SCALAR)
        return px__yerr(b, &ev->start_mark, PX_RESOURCE_EXHAUSTED,
                        "a scalar longer than 1 MiB (%zu bytes)", len);
    int is_str;
    px_status st = px__check_tag(b, ev, ev->data.scalar.tag, &is_str);
    if (st != PX_OK)
        return st;
    px_ynode *n = px__node(b, PX_YSCALAR, ev, &st);
    if (n == NULL)
        return st;
    n->str = malloc(len + 1);
    if (n->str == NULL) {
        free(n);
        return px_err_set(b->err, PX_RESOURCE_EXHAUSTED, "%s: out of memory", b->name);
    }
    memcpy(n->str, ev->data.scalar.value, len);
    n->str[len] = '\0';
    n->len = len;
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !is_str;
    return px__attach(b, n, ev);
}

static px_status px__on_open(px__ybuild *b, const yaml_event_t *ev, px_ynode_kind kind)
{
    if (b->depth >= PX_YAML_MAX_DEPTH)
        return px__yerr(b, &ev->start_mark, PX_RESOURCE_EXHAUSTED,
                        "nesting deeper than %d levels", PX_YAML_MAX_DEPTH);
    int is_str;
    const yaml_char_t *tag =
        kind == PX_YMAP ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
    px_status st = px__check_tag(b, ev, tag, &is_str);
    if (st != PX_OK)
        return st;
    if (is_str)
        return px__yerr(b, &ev->start_mark, PX_INVALID_ARGUMENT,
                        "!!str on a %s", px_ynode_kind_name(kind));
    px_ynode *n = px__node(b, kind, ev, &st);
    if (n == NULL)
        return st;
    st = px__attach(b, n, ev);
    if (st != PX_OK)
        return st;
    b->open[b->depth++] = n;
    return PX_OK;
}

static int px__key_eq(const px_ynode *a, const px_ynode *b)
{
    return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
}

/* Orders by key bytes, then by address: pairs sit in one array in document order. */
static int px__pair_cmp(const void *a, const void *b)
{
    const px_ypair *pa = *(const px_ypair *const *)a, *pb = *(const px_ypair *const *)b;
    size_t min = pa->key->len < pb->key->len ? pa->key->len : pb->key->len;
    int c = memcmp(pa->key->str, pb->key->str, min);
    if (c != 0)
        return c;
    if (pa->key->len != pb->key->len)
        return pa->key->len < pb->key->len ? -1 : 1;
    return pa < pb ? -1 : (pa > pb);
}

/* Reports the first key, in document order, that repeats an earlier one. Sorting
 * keeps this O(n log n) for mappings with many keys. */
static px_status px__check_duplicates(px__ybuild *b, const px_ynode *map)
{
    if (map->n < 2)
        return PX_OK;
    const px_ypair **order = malloc(map->n * sizeof *order);
    if (order == NULL)
        return px_err_set(b->err, PX_RESOURCE_EXHAUSTED, "%s: out of memory", b->name);
    for (size_t i = 0; i < map->n; i++)
        order[i] = &map->pairs[i];
    qsort(order, map->n, sizeof *order, px__pair_cmp);
    const px_ypair *dup = NULL, *first = NULL;
    /* In each run of equal keys the second entry is that key's first repetition. */
    for (size_t i = 1; i < map->n; i++) {
        int starts_run = i == 1 || !px__key_eq(order[i - 2]->key, order[i - 1]->key);
        if (starts_run && px__key_eq(order[i - 1]->key, order[i]->key) &&
            (dup == NULL || order[i] < dup)) {
            dup = order[i];
            first = order[i - 1];
        }
    }
    free(order);
    if (dup == NULL)
        return PX_OK;
    return px_err_set(b->err, PX_INVALID_ARGUMENT,
                      "%s:%d:%d: duplicate key '%s' (first defined at %d:%d)", b->name,
                      dup->key->line, dup->key->col, dup->key->str, first->key->line,
                      first->key->col);
}

static px_status px__on_event(px__ybuild *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->documents > 1)
            return px__yerr(b, &ev->start_mark, PX_INVALID_ARGUMENT,
                            "only one YAML document per file is allowed");
        return PX_OK;
    case YAML_ALIAS_EVENT:
        return px__yerr(b, &ev->start_mark, PX_INVALID_ARGUMENT,
                        "aliases are not supported (*%s): write the value out",
                        (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        return px__on_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return px__on_open(b, ev, PX_YSEQ);
    case YAML_MAPPING_START_EVENT:
        return px__on_open(b, ev, PX_YMAP);
    case YAML_SEQUENCE_END_EVENT:
        b->depth--;
        return PX_OK;
    case YAML_MAPPING_END_EVENT:
        b->depth--;
        return px__check_duplicates(b, b->open[b->depth]);
    default:
        return PX_OK;
    }
}

px_status px_yaml_parse(const char *text, size_t len, const char *name, px_ynode **out,
                        px_err *err)
{
    *out = NULL;
    px__ybuild b = {.name = name ? name : "<string>", .text = text, .len = len, .err = err};
    if (len > PX_YAML_MAX_DOC)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "%s: larger than 16 MiB", b.name);
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "%s: out of memory", b.name);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    px_status st = PX_OK;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            st = px__parser_error(&b, &p);
            break;
        }
        int done = ev.type == YAML_STREAM_END_EVENT;
        st = px__on_event(&b, &ev);
        yaml_event_delete(&ev);
        if (st != PX_OK || done)
            break;
    }
    yaml_parser_delete(&p);
    if (st != PX_OK) {
        px_yaml_free(b.root);
        return st;
    }
    if (b.root == NULL) {
        /* No document at all (empty file, only comments): the same as an empty one. */
        px_ynode *n = calloc(1, sizeof *n);
        if (n == NULL || (n->str = calloc(1, 1)) == NULL) {
            free(n);
            return px_err_set(err, PX_RESOURCE_EXHAUSTED, "%s: out of memory", b.name);
        }
        n->kind = PX_YSCALAR;
        n->line = n->col = 1;
        n->plain = 1;
        b.root = n;
    }
    *out = b.root;
    return PX_OK;
}

px_status px_yaml_load_file(const char *path, px_ynode **out, px_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return px_err_set(err, PX_NOT_FOUND, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s: cannot open: %s", path,
                          strerror(EISDIR));
    }
    /* Read up to one byte past the bound to tell "at the limit" from "over it". */
    size_t cap = 64 * 1024, len = 0;
    char *buf = malloc(cap);
    px_status st = PX_OK;
    while (buf != NULL) {
        if (len == cap) {
            if (len > PX_YAML_MAX_DOC) {
                st = px_err_set(err, PX_RESOURCE_EXHAUSTED, "%s: larger than 16 MiB", path);
                break;
            }
            size_t ncap = cap * 2 > PX_YAML_MAX_DOC + 1 ? PX_YAML_MAX_DOC + 1 : cap * 2;
            char *nb = realloc(buf, ncap);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                st = px_err_set(err, PX_UNAVAILABLE, "%s: cannot read: %s", path,
                                strerror(errno));
            break;
        }
    }
    fclose(f);
    if (buf == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "%s: out of memory", path);
    if (st == PX_OK)
        st = px_yaml_parse(buf, len, path, out, err);
    free(buf);
    return st;
}
