/* libFuzzer target: naming file's two parsers (modules/naming_file: nf_plain.c and
 * nf_yaml.c through nf_parse), each fed every input. A list either parser accepts has
 * at least one entry, each address one the core takes and listed once, each weight in
 * 1..10000; written out again in either format it parses to the same list. A refused
 * file's message names the file, and a line within it when it names one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plexus/px_naming.h>

#include "nf_list.h"

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_naming_file: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

/* l written out in fmt. */
static char *write_out(const nf_list *l, nf_format fmt, size_t *len)
{
    size_t cap = 64;
    for (size_t i = 0; i < l->n; i++)
        cap += strlen(l->e[i].address) + 40;
    char *t = malloc(cap);
    if (t == NULL)
        fail("out of memory", NULL);
    size_t at = 0;
    for (size_t i = 0; i < l->n; i++)
        at += (size_t)snprintf(t + at, cap - at,
                               fmt == NF_YAML ? "- {address: '%s', weight: %u}\n" : "%s %u\n",
                               l->e[i].address, (unsigned)l->e[i].weight);
    *len = at;
    return t;
}

static void check_good(const nf_list *l)
{
    if (l->n == 0)
        fail("accepted a file without entries", NULL);
    for (size_t i = 0; i < l->n; i++) {
        const nf_entry *e = &l->e[i];
        px_err err;
        if (px_naming_check_address(e->address, &err) != PX_OK)
            fail("accepted an address the core refuses", err.msg);
        if (e->weight < 1 || e->weight > NF_WEIGHT_MAX)
            fail("accepted a weight out of range", NULL);
        if (e->line < 1 || e->col < 1)
            fail("an entry without its place", e->address);
        for (size_t k = 0; k < i && l->n < 64; k++)
            if (strcmp(l->e[k].address, e->address) == 0)
                fail("accepted a repeat", e->address);
    }
    for (int fmt = NF_PLAIN; fmt <= NF_YAML; fmt++) {
        size_t len;
        char *text = write_out(l, (nf_format)fmt, &len);
        nf_list again = {0};
        px_err err;
        if (nf_parse(text, len, (nf_format)fmt, "again", &again, &err) != PX_OK)
            fail("the list written out again is refused", err.msg);
        if (again.n != l->n)
            fail("the list written out again has another length", NULL);
        for (size_t i = 0; i < l->n; i++)
            if (strcmp(again.e[i].address, l->e[i].address) != 0 ||
                again.e[i].weight != l->e[i].weight)
                fail("the list written out again parses to another list", l->e[i].address);
        nf_list_free(&again);
        free(text);
    }
}

/* Lines as YAML counts them: CR, LF, CR LF, and the Unicode breaks NEL, LS and PS. */
static unsigned yaml_lines(const uint8_t *d, size_t n)
{
    unsigned lines = 1;
    for (size_t i = 0; i < n; i++) {
        if (d[i] == '\r' || d[i] == '\n')
            lines += !(d[i] == '\r' && i + 1 < n && d[i + 1] == '\n');
        else if (d[i] == 0xC2 && i + 1 < n && d[i + 1] == 0x85)
            lines++;
        else if (d[i] == 0xE2 && i + 2 < n && d[i + 1] == 0x80 && (d[i + 2] & 0xFE) == 0xA8)
            lines++;
    }
    return lines;
}

static void one(const uint8_t *data, size_t size, nf_format fmt)
{
    nf_list l = {0};
    px_err err;
    px_err_clear(&err);
    if (nf_parse((const char *)data, size, fmt, "fuzz", &l, &err) == PX_OK) {
        check_good(&l);
        nf_list_free(&l);
        return;
    }
    if (l.e != NULL || l.n != 0)
        fail("a refused file left entries behind", NULL);
    if (strncmp(err.msg, "fuzz:", 5) != 0)
        fail("a refusal that does not name the file", err.msg);
    unsigned line = 0, col = 0;
    if (sscanf(err.msg, "fuzz:%u:%u:", &line, &col) == 2) {
        unsigned lines = fmt == NF_YAML ? yaml_lines(data, size) : 1;
        for (size_t i = 0; i < size && fmt == NF_PLAIN; i++)
            lines += data[i] == '\n';
        if (line == 0 || line > lines + 1 || col == 0) /* libyaml may point past the end */
            fail("a refusal naming a place the file does not have", err.msg);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size, NF_PLAIN);
    one(data, size, NF_YAML);
    return 0;
}
