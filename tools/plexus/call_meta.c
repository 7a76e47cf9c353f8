/* plexus call -H KEY=VALUE: request metadata from the command line, and the response
 * metadata printed as "key: value" lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int px__hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A -bin value: @FILE (its bytes) or hex digits. Returns the length, or -1 after
 * printing why; *out is malloc'd. */
static long px__bin_value(const char *arg, const char *v, uint8_t **out)
{
    enum { MAX = 65535 };
    uint8_t *b = malloc(MAX + 1);
    if (!b) {
        px_cli_bad_usage("call: -H '%s': out of memory", arg);
        return -1;
    }
    size_t n = 0;
    if (v[0] == '@') {
        FILE *f = fopen(v + 1, "rb");
        if (!f) {
            free(b);
            px_cli_bad_usage("call: -H '%s': cannot read %s", arg, v + 1);
            return -1;
        }
        n = fread(b, 1, MAX + 1, f);
        fclose(f);
        if (n > MAX) {
            free(b);
            px_cli_bad_usage("call: -H '%s': %s is larger than %d bytes", arg, v + 1, MAX);
            return -1;
        }
    } else {
        size_t len = strlen(v);
        for (size_t i = 0; i < len && n <= MAX; i += 2) {
            int hi = px__hex(v[i]), lo = i + 1 < len ? px__hex(v[i + 1]) : -1;
            if (hi < 0 || lo < 0) {
                free(b);
                px_cli_bad_usage("call: -H '%s': the value of a -bin key is hex digits (e.g. "
                                 "00ff) or @FILE", arg);
                return -1;
            }
            b[n++] = (uint8_t)(hi << 4 | lo);
        }
    }
    *out = b;
    return (long)n;
}

int px_cli_meta_arg(px_meta *m, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return px_cli_bad_usage("call: -H '%s': expected KEY=VALUE", arg);
    char key[300];
    snprintf(key, sizeof key, "%.*s", (int)(eq - arg), arg);
    const char *v = eq + 1;
    size_t klen = strlen(key);
    px_err err;
    px_err_clear(&err);
    px_status st;
    if (klen >= 4 && strcmp(key + klen - 4, "-bin") == 0) {
        uint8_t *b = NULL;
        long n = px__bin_value(arg, v, &b);
        if (n < 0)
            return PX_CLI_USAGE;
        st = px_meta_add(m, key, b, (size_t)n, &err);
        free(b);
    } else {
        st = px_meta_add_str(m, key, v, &err);
    }
    if (st != PX_OK)
        return px_cli_bad_usage("call: -H '%s': %s", arg, err.msg);
    return PX_CLI_OK;
}

void px_cli_meta_print(const px_meta *m, FILE *to)
{
    for (size_t i = 0; i < px_meta_count(m); i++) {
        const char *k;
        size_t klen, len;
        const void *v;
        px_meta_at(m, i, &k, &klen, &v, &len);
        fprintf(to, "%.*s: ", (int)klen, k);
        int bin = klen >= 4 && memcmp(k + klen - 4, "-bin", 4) == 0;
        if (bin)
            for (size_t j = 0; j < len; j++)
                fprintf(to, "%02x", ((const uint8_t *)v)[j]);
        else
            fprintf(to, "%.*s", (int)len, (const char *)v);
        fputc('\n', to);
    }
}
