/* libFuzzer target: auth_token's token file (modules/filter_auth_token/token_file.c).
 * The input is the file. A file the parser accepts has at least one entry, each with a
 * principal and groups a call may carry; written out again as lines, the entries parse
 * to the same table, and the lookup runs over it. A refused file's message names the
 * file, and a line within it when it names one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_token.h"

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_token_file: %s\n", what);
    abort();
}

static void hex(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", in[i]);
}

static void check_good(const at_table *t)
{
    if (t->n == 0)
        fail("accepted a file without entries");
    char *text = malloc(t->n * (AT_LINE_MAX + 2));
    if (!text)
        return;
    size_t at = 0;
    for (size_t i = 0; i < t->n; i++) {
        const at_entry *e = &t->e[i];
        size_t pl = strlen(e->principal);
        if (!at_name_ok(e->principal, pl) || pl > PX_PRINCIPAL_MAX)
            fail("accepted a principal a call cannot carry");
        if (strlen(e->groups) > PX_GROUPS_MAX || strstr(e->groups, ",,") ||
            e->groups[0] == ',' || strchr(e->groups, ' '))
            fail("accepted malformed groups");
        char salt[2 * AT_SALT_LEN + 1], hash[2 * AT_HASH_LEN + 1];
        hex(e->salt, AT_SALT_LEN, salt);
        hex(e->hash, AT_HASH_LEN, hash);
        at += (size_t)sprintf(text + at, "%s %s %s %s\n", e->principal,
                              e->groups[0] ? e->groups : "-", salt, hash);
    }
    at_table again;
    px_err err;
    if (at_table_parse(text, at, "again", &again, &err) != PX_OK)
        fail(err.msg);
    if (again.n != t->n || memcmp(again.e, t->e, t->n * sizeof *t->e) != 0) {
        /* The entries' unused bytes after each string differ: compare field by field. */
        for (size_t i = 0; i < t->n; i++)
            if (again.n != t->n || strcmp(again.e[i].principal, t->e[i].principal) ||
                strcmp(again.e[i].groups, t->e[i].groups) ||
                memcmp(again.e[i].salt, t->e[i].salt, AT_SALT_LEN) ||
                memcmp(again.e[i].hash, t->e[i].hash, AT_HASH_LEN))
                fail("the entries written out again parse to another table");
    }
    at_table_free(&again);
    free(text);
    (void)at_table_find(t, "token", 5);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    at_table t;
    px_err err;
    px_err_clear(&err);
    if (at_table_parse((const char *)data, size, "fuzz", &t, &err) == PX_OK) {
        check_good(&t);
        at_table_free(&t);
        return 0;
    }
    if (t.e != NULL || t.n != 0)
        fail("a refused file left entries behind");
    if (strncmp(err.msg, "fuzz:", 5) != 0)
        fail("a refusal that does not name the file");
    unsigned line = 0;
    if (sscanf(err.msg, "fuzz:%u:", &line) == 1) {
        unsigned lines = 1;
        for (size_t i = 0; i < size; i++)
            lines += data[i] == '\n';
        if (line == 0 || line > lines)
            fail("a refusal naming a line the file does not have");
    }
    return 0;
}
