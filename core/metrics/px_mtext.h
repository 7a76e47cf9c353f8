/* The pieces of the Prometheus text format (0.0.4) both the registry's rendering and
 * the merge's write and check: names, escaped label values, numbers. */
#ifndef PX_MTEXT_H
#define PX_MTEXT_H

#include <stddef.h>
#include <stdint.h>
#include "plexus/px_buf.h"

/** Longest number px_mtext_f64 writes, NUL included. */
#define PX_MTEXT_NUM 32

/** 1 when s[0..n) is a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), else 0. */
int px_mtext_metric_name(const char *s, size_t n);
/** 1 when s[0..n) is a label name ([a-zA-Z_][a-zA-Z0-9_]*), else 0. */
int px_mtext_label_name(const char *s, size_t n);
/** Appends s with \, " and newline escaped as a label value needs. 0, or -1 (no memory). */
int px_mtext_escape(px_buf *b, const char *s, size_t n, int quotes);
/** v as the shortest decimal that reads back exactly; +Inf, -Inf, NaN by name. */
void px_mtext_f64(char out[PX_MTEXT_NUM], double v);
/** Appends NUL-terminated s. 0, or -1. */
int px_mtext_put(px_buf *b, const char *s);

#endif
