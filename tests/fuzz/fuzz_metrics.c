/* libFuzzer target: the Prometheus text format parser behind px_metrics_merge. The
 * input is one scrape. A refused text must say where (text 1, a line) and why; an
 * accepted one merges to a text that merges to itself again (the rendering is the
 * parser's fixed point), and the input merged with itself must be accepted too and
 * equal the output merged with itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plexus/px_metrics.h"

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_metrics: %s: %s\n", what, detail);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    px_err err;
    size_t len1 = 0;
    char *out = px_metrics_merge(&in, &size, 1, &len1, &err);
    if (!out) {
        if (err.status == PX_RESOURCE_EXHAUSTED)
            return 0;
        if (strncmp(err.msg, "metrics text 1 of 1, line ", 26) != 0)
            fail("a refusal does not name the text and line", err.msg);
        return 0;
    }
    if (strlen(out) != len1)
        fail("the length is not the text's", out);
    const char *o = out;
    size_t len2 = 0;
    char *again = px_metrics_merge(&o, &len1, 1, &len2, &err);
    if (!again)
        fail("the merged text is refused", err.msg);
    if (len2 != len1 || memcmp(again, out, len1) != 0)
        fail("merging the merged text changes it", out);
    const char *twice_in[] = {in, in}, *twice_out[] = {out, out};
    size_t lens_in[] = {size, size}, lens_out[] = {len1, len1}, l3 = 0, l4 = 0;
    char *d_in = px_metrics_merge(twice_in, lens_in, 2, &l3, &err);
    if (!d_in)
        fail("a text merged with itself is refused", err.msg);
    char *d_out = px_metrics_merge(twice_out, lens_out, 2, &l4, &err);
    if (!d_out)
        fail("the merged text merged with itself is refused", err.msg);
    if (l3 != l4 || memcmp(d_in, d_out, l3) != 0)
        fail("doubling the input and doubling the output differ", d_in);
    free(d_out);
    free(d_in);
    free(again);
    free(out);
    return 0;
}
