/* naming `file`: reading the file and applying its list; a bad edit keeps the last list. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nf_list.h"
#include "nf_state.h"

/* The whole file into *out (malloc'd, *len bytes), or err "FILE: cannot open: why".
 * O_NONBLOCK: a FIFO put at the path must not stall the naming thread, which serves calls. */
static px_status nf_read(const char *path, char **out, size_t *len, px_err *err)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return px_err_set(err, errno == ENOENT ? PX_NOT_FOUND : PX_UNAVAILABLE,
                          "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s: cannot open: not a regular file", path);
    }
    /* Up to one byte past the bound, to tell "at the limit" from "over it". */
    char *buf = malloc(NF_FILE_MAX + 1);
    size_t n = 0;
    px_status st = buf ? PX_OK : px_err_set(err, PX_RESOURCE_EXHAUSTED, "%s: out of memory", path);
    while (st == PX_OK && n <= NF_FILE_MAX) {
        ssize_t r = read(fd, buf + n, NF_FILE_MAX + 1 - n);
        if (r == 0)
            break;
        if (r < 0 && errno != EINTR)
            st = px_err_set(err, PX_UNAVAILABLE, "%s: cannot read: %s", path, strerror(errno));
        n += r > 0 ? (size_t)r : 0;
    }
    close(fd);
    if (st == PX_OK && n > NF_FILE_MAX)
        st = px_err_set(err, PX_RESOURCE_EXHAUSTED, "%s: larger than %u MiB", path,
                        NF_FILE_MAX >> 20);
    if (st != PX_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *len = n;
    return PX_OK;
}

/* The list to the sink, entries pointing into l. */
static px_status nf_apply(nf_state *s, const nf_list *l, px_err *err)
{
    px_naming_endpoint *eps = calloc(l->n, sizeof *eps);
    if (eps == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "%s: out of memory", s->path);
    for (size_t i = 0; i < l->n; i++)
        eps[i] = (px_naming_endpoint){.address = l->e[i].address, .weight = l->e[i].weight};
    px_status st = px_naming_set(s->sink, eps, l->n);
    free(eps);
    if (st != PX_OK)
        return px_err_set(err, st, "%s: the list was not taken whole (%s; see the log)", s->path,
                          px_status_name(st));
    s->applied = l->n;
    return PX_OK;
}

static void nf_keep(nf_state *s, char *bytes, size_t len)
{
    free(s->last);
    s->last = bytes;
    s->last_len = len;
}

px_status nf_reload(nf_state *s, int initial, px_err *err)
{
    const char *up = px_naming_upstream(s->sink);
    char *text;
    size_t len;
    px_status st = nf_read(s->path, &text, &len, err);
    if (st == PX_NOT_FOUND && !initial) {
        /* Removed (or between an editor's rename and its new file): not a bad edit. */
        if (!s->gone)
            px_log(PX_LOG_WARN, NF_LOG, "upstream %s: %s: the list stays as it was (%zu "
                   "endpoints) until the file is back", up, err->msg, s->applied);
        s->gone = 1;
        return st;
    }
    if (st == PX_OK && s->gone) {
        px_log(PX_LOG_INFO, NF_LOG, "upstream %s: %s is back", up, s->path);
        s->gone = 0;
    }
    if (st == PX_OK && s->last && len == s->last_len && memcmp(text, s->last, len) == 0) {
        free(text); /* a rewrite with the same bytes, or a change elsewhere in the folder */
        return PX_OK;
    }
    nf_list l = {0};
    if (st == PX_OK) {
        st = nf_parse(text, len, nf_format_of(s->path), s->path, &l, err);
        nf_keep(s, text, len);
    }
    if (st == PX_OK) {
        st = nf_apply(s, &l, err);
        nf_list_free(&l);
    }
    if (!initial) {
        px_metric *m = st == PX_OK ? s->reload_ok : s->reload_failed;
        if (m != NULL) /* none when the registry was full at start */
            px_metric_add(m, 1);
        if (st == PX_OK)
            px_log(PX_LOG_INFO, NF_LOG, "upstream %s: %s: %zu endpoints applied", up, s->path,
                   s->applied);
        else
            px_log(PX_LOG_WARN, NF_LOG, "upstream %s: %s; the last good list stays (%zu "
                   "endpoints)", up, err->msg, s->applied);
    }
    return st;
}
