/* A line of the Prometheus text format 0.0.4, read and checked. Written by hand: no
 * Debian C library parses this format (the reference parser is Go's). */
#ifndef PX_MPARSE_H
#define PX_MPARSE_H

#include <stddef.h>
#include "plexus/px_buf.h"

typedef enum px_mline_kind {
    PX_MLINE_OTHER,  /* blank, or a comment that is neither HELP nor TYPE */
    PX_MLINE_HELP,   /* name, text: the docstring as written (escapes kept) */
    PX_MLINE_TYPE,   /* name, text: counter, gauge, histogram, summary or untyped */
    PX_MLINE_SAMPLE, /* name, labels (re-rendered: a="x",b="y"), value */
} px_mline_kind;

typedef struct px_mline {
    px_mline_kind kind;
    const char *name;
    size_t name_len;
    const char *text;
    size_t text_len;
    double value;
} px_mline;

/*
 * Reads p[0..n) (one line, its \n not included). A sample's labels are appended to
 * *labels (emptied first), checked and escaped the one way the registry writes them,
 * NUL-terminated. Returns 0, or -1 with why[] saying what is wrong and at which column
 * (1-based).
 */
int px_mparse_line(const char *p, size_t n, px_mline *out, px_buf *labels, char *why,
                   size_t why_len);

#endif
