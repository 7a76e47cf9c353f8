/* plexus bench: request templates: parsing once, expanding per call. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_template.h"

#define PX__NUM_MAX 20 /* digits of UINT64_MAX */

static int px__fail(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int px__fail(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* The placeholder name between "{{" and "}}" (len bytes at p, from byte at) as a part. */
static int px__field(const char *p, size_t len, size_t at, px_bench_part *part, char *why,
                     size_t cap)
{
    if (len == 3 && memcmp(p, "seq", 3) == 0) {
        part->kind = PX_BENCH_SEQ;
        return 0;
    }
    if (len == 4 && memcmp(p, "rand", 4) == 0) {
        part->kind = PX_BENCH_RAND;
        part->n = (uint64_t)PX_BENCH_RAND_MAX + 1;
        return 0;
    }
    if (len > 5 && memcmp(p, "rand:", 5) == 0) {
        char num[32];
        size_t nl = len - 5;
        char *end = NULL;
        unsigned long long n = 0;
        if (nl < sizeof num && p[5] >= '0' && p[5] <= '9') {
            memcpy(num, p + 5, nl);
            num[nl] = '\0';
            errno = 0;
            n = strtoull(num, &end, 10);
        }
        if (end == NULL || *end != '\0' || errno != 0 || n < 1)
            return px__fail(why, cap, "'{{%.*s}}' at byte %zu: N of {{rand:N}} must be a whole "
                            "number in 1..18446744073709551615", (int)len, p, at);
        part->kind = PX_BENCH_RAND;
        part->n = n;
        return 0;
    }
    return px__fail(why, cap, "unknown placeholder '{{%.*s}}' at byte %zu (known: {{seq}}, "
                    "{{rand}}, {{rand:N}})", (int)len, p, at);
}

int px_bench_tpl_parse(px_bench_tpl *t, const char *text, uint64_t seed, char *why, size_t cap)
{
    *t = (px_bench_tpl){.text = text, .seed = seed, .max_len = strlen(text)};
    /* At most one text part per placeholder, plus the tail: count "{{" first. */
    size_t most = 1;
    for (const char *q = text; (q = strstr(q, "{{")) != NULL; q += 2)
        most += 2;
    if (most == 1)
        return 0;
    t->parts = calloc(most, sizeof *t->parts);
    if (t->parts == NULL)
        return px__fail(why, cap, "out of memory");
    size_t len = 0, from = 0;
    for (const char *q; (q = strstr(text + from, "{{")) != NULL;) {
        size_t at = (size_t)(q - text);
        const char *close = strstr(q + 2, "}}");
        if (close == NULL) {
            px_bench_tpl_free(t);
            return px__fail(why, cap, "'{{' at byte %zu is not closed by '}}'", at);
        }
        if (at > from) {
            t->parts[t->n_parts++] = (px_bench_part){PX_BENCH_TEXT, from, at - from, 0};
            len += at - from;
        }
        px_bench_part *f = &t->parts[t->n_parts];
        if (px__field(q + 2, (size_t)(close - q - 2), at, f, why, cap) != 0) {
            px_bench_tpl_free(t);
            return -1;
        }
        t->n_parts++;
        t->n_fields++;
        len += PX__NUM_MAX;
        from = (size_t)(close + 2 - text);
    }
    size_t tail = strlen(text + from);
    if (tail > 0) {
        t->parts[t->n_parts++] = (px_bench_part){PX_BENCH_TEXT, from, tail, 0};
        len += tail;
    }
    t->max_len = len;
    return 0;
}

void px_bench_tpl_free(px_bench_tpl *t)
{
    free(t->parts);
    t->parts = NULL;
    t->n_parts = t->n_fields = 0;
}

/* splitmix64: a well-mixed 64-bit value of its input, with no state to share. */
static uint64_t px__mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* mode: 0 random draws, 1 every draw 0, 2 every draw at its largest. */
static size_t px__expand(const px_bench_tpl *t, uint64_t seq, int mode, char *out)
{
    if (t->n_fields == 0) {
        memcpy(out, t->text, t->max_len + 1);
        return t->max_len;
    }
    size_t n = 0;
    for (size_t i = 0; i < t->n_parts; i++) {
        const px_bench_part *p = &t->parts[i];
        uint64_t v = seq;
        switch (p->kind) {
        case PX_BENCH_TEXT:
            memcpy(out + n, t->text + p->off, p->len);
            n += p->len;
            continue;
        case PX_BENCH_SEQ: break;
        case PX_BENCH_RAND:
            /* Modulo bias is below n / 2^64: nothing a benchmark can see. */
            if (mode == 0)
                v = px__mix(t->seed ^ px__mix(seq) ^ (i * 0xd1b54a32d192ed03ULL)) % p->n;
            else
                v = mode == 2 ? p->n - 1 : 0;
            break;
        }
        n += (size_t)snprintf(out + n, PX__NUM_MAX + 1, "%" PRIu64, v);
    }
    out[n] = '\0';
    return n;
}

size_t px_bench_tpl_expand(const px_bench_tpl *t, uint64_t seq, char *out)
{
    return px__expand(t, seq, 0, out);
}

size_t px_bench_tpl_expand_bound(const px_bench_tpl *t, uint64_t seq, int largest, char *out)
{
    return px__expand(t, seq, largest ? 2 : 1, out);
}
