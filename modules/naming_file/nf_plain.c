/* naming `file`, plain format: one `address [weight]` per line, `#` to the end of a line
 * is a comment, blank lines are skipped. Written by hand: two fields a line have no
 * Debian library worth a dependency, and a hand parser gives each field its column. */
#include "nf_list.h"

#include <string.h>

static int nf_space(char c)
{
    return c == ' ' || c == '\t';
}

/* The next field of line[*at..end): its start and length; 0 when none is left. */
static int nf_field(const char *line, size_t end, size_t *at, size_t *start, size_t *n)
{
    size_t i = *at;
    while (i < end && nf_space(line[i]))
        i++;
    if (i == end)
        return 0;
    *start = i;
    while (i < end && !nf_space(line[i]))
        i++;
    *n = i - *start;
    *at = i;
    return 1;
}

px_status nf_parse_plain(const char *text, size_t len, const char *file, nf_list *out,
                         px_err *err)
{
    int lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - line) : len - pos;
        pos += end + (nl != NULL);
        lineno++;
        const char *hash = memchr(line, '#', end);
        if (hash)
            end = (size_t)(hash - line);
        if (end > 0 && line[end - 1] == '\r') /* a file written on Windows */
            end--;
        size_t at = 0, a, an, w = 0, wn = 0, x, xn;
        if (!nf_field(line, end, &at, &a, &an))
            continue;
        int has_w = nf_field(line, end, &at, &w, &wn);
        if (nf_field(line, end, &at, &x, &xn))
            return px_err_set(err, PX_INVALID_ARGUMENT,
                              "%s:%d:%zu: unexpected '%.*s' after the weight (a line is: "
                              "address [weight])",
                              file, lineno, x + 1, (int)(xn < 100 ? xn : 100), line + x);
        if (nf_add(out, file, line + a, an, lineno, (int)a + 1, has_w ? line + w : NULL, wn,
                   lineno, (int)w + 1, err) != PX_OK)
            return err->status;
    }
    return PX_OK;
}
