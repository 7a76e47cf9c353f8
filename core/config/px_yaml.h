/* A YAML document as a small node tree that remembers where every node came from. */
#ifndef PX_YAML_H
#define PX_YAML_H

#include <stddef.h>
#include "plexus/px_status.h"

/* Bounds that keep a hostile or broken file from costing unbounded memory or stack. */
#define PX_YAML_MAX_DEPTH 64                    /**< nested sequences/mappings */
#define PX_YAML_MAX_SCALAR (1024u * 1024u)      /**< bytes of one scalar */
#define PX_YAML_MAX_DOC (16u * 1024u * 1024u)   /**< bytes of one file or string */

typedef enum px_ynode_kind {
    PX_YSCALAR = 1,
    PX_YSEQ,
    PX_YMAP,
} px_ynode_kind;

typedef struct px_ynode px_ynode;

/** One `key: value` of a mapping; keys are always scalars. */
typedef struct px_ypair {
    px_ynode *key;
    px_ynode *value;
} px_ypair;

struct px_ynode {
    px_ynode_kind kind;
    int line, col; /**< 1-based position of the node's first character */
    /* PX_YSCALAR */
    char *str;  /**< NUL-terminated text (may also contain NULs: see len) */
    size_t len; /**< bytes of str */
    int plain;  /**< 1: YAML plain style; 0: quoted, a `|`/`>` block or tagged `!!str` */
    /* PX_YSEQ: items; PX_YMAP: pairs in document order */
    px_ynode **items;
    px_ypair *pairs;
    size_t n; /**< number of items or pairs */
};

/**
 * Parses one YAML document. `name` is the file name used in messages. An empty
 * document yields an empty plain scalar at 1:1. Fails with err->msg
 * "NAME:LINE:COL: message" on a syntax error, a duplicate mapping key, an alias,
 * a non-scalar key, an unsupported tag, more than one document or a bound above.
 */
px_status px_yaml_parse(const char *text, size_t len, const char *name, px_ynode **out,
                        px_err *err);
/** Reads and parses a file; "FILE: cannot open: <strerror>" when it cannot be read. */
px_status px_yaml_load_file(const char *path, px_ynode **out, px_err *err);
void px_yaml_free(px_ynode *node);

/** The value of `key` in a mapping, or NULL (also when map is NULL or not a mapping). */
const px_ynode *px_ymap_get(const px_ynode *map, const char *key);
/** "scalar", "sequence", "mapping". */
const char *px_ynode_kind_name(px_ynode_kind kind);
/** A plain scalar that YAML reads as null: empty, "~", "null", "Null" or "NULL". */
int px_ynode_is_null(const px_ynode *node);

#endif
