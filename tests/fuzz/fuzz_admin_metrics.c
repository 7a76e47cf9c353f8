/* libFuzzer target: the admin's reader of the Prometheus text format (core/admin:
 * px_prom_read.c) and the per-method table built on it (/status, `plexus stats`).
 * The input is a metrics text; its second half is also given as the earlier sample.
 * A refused text's message names the line; every accepted sample has a valid name
 * and labels within the bounds; the table is made or refused, never anything else. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plexus/px_admin.h"
#include "px_prom_read.h"

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_admin_metrics: %s\n", what);
    abort();
}

static int check_sample(void *ud, const px_prom_sample *s)
{
    size_t *n = ud;
    (*n)++;
    if (s->name[0] == '\0' || strlen(s->name) >= PX_PROM_MAX_NAME)
        fail("accepted an empty or unbounded name");
    if (s->n_labels > PX_PROM_MAX_LABELS)
        fail("more labels than the bound");
    for (size_t i = 0; i < s->n_labels; i++)
        if (px_prom_label_get(s, s->labels[i].name) == NULL)
            fail("a label it read cannot be found by name");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    px_err err = {0};
    size_t n = 0;
    if (px_prom_each(text, size, check_sample, &n, &err) != PX_OK &&
        strncmp(err.msg, "line ", 5) != 0)
        fail("a refusal that names no line");
    size_t half = size / 2, len = 0;
    char *table = px_admin_method_table(text, size, text + half, size - half, 2.0, &len, &err);
    if (table != NULL) {
        if (strlen(table) != len)
            fail("the table's length is not its text's");
        free(table);
    } else if (strncmp(err.msg, "metrics: line ", 14) != 0 &&
               strncmp(err.msg, "previous metrics: line ", 23) != 0) {
        fail("a refused table that names no line");
    }
    return 0;
}
