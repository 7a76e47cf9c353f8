/* NAMING `file`: an upstream's endpoints from a file (YAML or `address [weight]` lines),
 * delivered in start and again whenever the file changes (inotify on the naming thread's
 * loop). A bad edit is logged at FILE:LINE:COL and the last good list stays. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nf_state.h"
#include "px_mod_path.h"

typedef struct nf_conf {
    char *path;
    int64_t settle_us;
} nf_conf;

static const px_directive nf_dirs[] = {
    {"path", PX_DIR_STRING, offsetof(nf_conf, path), NULL, 1, NULL, NULL, NULL,
     "the endpoints file: .yaml/.yml a YAML list, else `address [weight]` lines"},
    {"settle", PX_DIR_DURATION, offsetof(nf_conf, settle_us), "100ms", 0, "0ms", "10s", NULL,
     "wait after a change of the file before it is read again (one read per burst)"},
    {NULL},
};

static px_status nf_create(const px_module_env *env, const void *conf, void **state,
                           px_err *err)
{
    const nf_conf *c = conf;
    nf_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    s->ifd = -1;
    s->settle_us = c->settle_us;
    if (c->path[0] == '\0' || px_mod_path(env, c->path, s->path, sizeof s->path) != 0) {
        free(s);
        return px_err_set(err, PX_INVALID_ARGUMENT, "path '%s' is %s", c->path,
                          c->path[0] ? "too long" : "empty");
    }
    char *slash = strrchr(s->path, '/'); /* px_mod_path made it absolute */
    if (slash == NULL || slash[1] == '\0') {
        px_err_set(err, PX_INVALID_ARGUMENT, "path '%s' names a folder, not a file", s->path);
        free(s);
        return err->status;
    }
    s->name = slash + 1;
    size_t dl = slash == s->path ? 1 : (size_t)(slash - s->path);
    memcpy(s->dir, s->path, dl);
    s->dir[dl] = '\0';
    *state = s;
    return PX_OK;
}

static void nf_destroy(void *state)
{
    nf_state *s = state;
    px_metric_release(s->reload_ok); /* none left when stop ran */
    px_metric_release(s->reload_failed);
    free(s->last);
    free(s);
}

static void nf_metrics(nf_state *s)
{
    static const char *const labels[] = {"upstream", "result"};
    px_metric_family *f = px_metric_family_get(
        "plexus_naming_file_reloads_total",
        "Re-reads of a naming file after it changed, by upstream and result (ok: applied; "
        "failed: refused, the last good list stays)",
        PX_METRIC_COUNTER, labels, 2, NULL, 0, NULL);
    if (f == NULL)
        return;
    const char *ok[] = {px_naming_upstream(s->sink), "ok"};
    const char *failed[] = {px_naming_upstream(s->sink), "failed"};
    s->reload_ok = px_metric_get(f, ok, NULL);
    s->reload_failed = px_metric_get(f, failed, NULL);
}

static void nf_stop(void *state)
{
    nf_state *s = state;
    nf_watch_stop(s);
    px_metric_release(s->reload_ok);
    px_metric_release(s->reload_failed);
    s->reload_ok = s->reload_failed = NULL;
}

static px_status nf_start(void *state, px_naming_sink *sink, px_err *err)
{
    nf_state *s = state;
    s->sink = sink;
    struct stat sb;
    s->follow_dir = lstat(s->path, &sb) == 0 && S_ISLNK(sb.st_mode);
    /* Watch before the first read: a change between the two is then not missed. */
    if (nf_watch_start(s, err) != PX_OK || nf_reload(s, 1, err) != PX_OK) {
        nf_watch_stop(s);
        return err->status;
    }
    nf_metrics(s);
    px_log(PX_LOG_INFO, NF_LOG, "upstream %s: %s: %zu endpoints; watching for changes",
           px_naming_upstream(sink), s->path, s->applied);
    return PX_OK;
}

static const px_naming_ops nf_ops = {.start = nf_start, .stop = nf_stop};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_NAMING,
    .name = "file",
    .version = "1.0.0",
    .description = "endpoints from a file (YAML or address [weight] lines), re-read when it "
                   "changes",
    .conf_size = sizeof(nf_conf),
    .directives = nf_dirs,
    .create = nf_create,
    .destroy = nf_destroy,
    .ops = &nf_ops,
};
