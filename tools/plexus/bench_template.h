/* plexus bench: the request template, JSON with placeholders expanded for every call
 * ({{seq}}, {{rand}}, {{rand:N}}), so calls can differ (consistent_hash keys, caches). */
#ifndef PX_BENCH_TEMPLATE_H
#define PX_BENCH_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

/** {{rand}} draws from 0..PX_BENCH_RAND_MAX: it fits any integer field, int32 too. */
#define PX_BENCH_RAND_MAX 2147483647u

typedef enum px_bench_part_kind { PX_BENCH_TEXT, PX_BENCH_SEQ, PX_BENCH_RAND } px_bench_part_kind;

typedef struct px_bench_part {
    px_bench_part_kind kind;
    size_t off, len; /* TEXT: the bytes of the template it copies */
    uint64_t n;      /* RAND: draws 0..n-1 */
} px_bench_part;

typedef struct px_bench_tpl {
    const char *text;     /* the template as given (not copied) */
    px_bench_part *parts; /* in order; NULL when it has no placeholder */
    size_t n_parts;
    size_t n_fields;      /* placeholders */
    size_t max_len;       /* the longest expansion, without the terminating NUL */
    uint64_t seed;        /* of {{rand}} */
} px_bench_tpl;

/**
 * Reads text. 0, or -1 with why (e.g. "unknown placeholder '{{foo}}' at byte 9") in
 * why[cap]. Every "{{" starts a placeholder. A template without one is valid: n_fields 0.
 */
int px_bench_tpl_parse(px_bench_tpl *t, const char *text, uint64_t seed, char *why, size_t cap);
void px_bench_tpl_free(px_bench_tpl *t);

/**
 * Call number seq's request into out (at least max_len + 1 bytes): {{seq}} is seq,
 * each {{rand}} a draw that depends on seed, seq and the placeholder's place only
 * (no shared state: any thread may expand). Returns the length written.
 */
size_t px_bench_tpl_expand(const px_bench_tpl *t, uint64_t seq, char *out);
/** The same with every {{rand}} and {{rand:N}} at 0 (largest 0) or at its largest
 *  value: probes of what the numbers do to the request's fields, the same every run. */
size_t px_bench_tpl_expand_bound(const px_bench_tpl *t, uint64_t seq, int largest, char *out);

#endif
