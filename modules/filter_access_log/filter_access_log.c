/* FILTER "access_log": one line per call, written when the call is over (on_done),
 * to stderr or to a file opened for appending. Off unless a chain lists it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <plexus/plexus.h>
#include "access_line.h"
#include "px_mod_path.h"

typedef struct al_conf {
    char *path; /* "-": stderr */
} al_conf;

typedef struct al_state {
    int fd;
    int own; /* the module opened fd */
} al_state;

static px_status al_create(const px_module_env *env, const void *conf, void **state,
                           px_err *err)
{
    const al_conf *c = conf;
    al_state *s = calloc(1, sizeof *s);
    if (!s)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    s->fd = STDERR_FILENO;
    if (c->path && strcmp(c->path, "-") != 0) {
        char path[4096];
        if (px_mod_path(env, c->path, path, sizeof path) != 0) {
            free(s);
            return px_err_set(err, PX_INVALID_ARGUMENT, "access log path '%s' is too long",
                              c->path);
        }
        s->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (s->fd < 0) {
            int e = errno;
            free(s);
            return px_err_set(err, PX_FAILED_PRECONDITION, "cannot open access log %s: %s%s",
                              path, strerror(e),
                              c->path[0] != '/' ? " (relative to the config file's folder)"
                                                : "");
        }
        s->own = 1;
    }
    *state = s;
    return PX_OK;
}

static void al_destroy(void *state)
{
    al_state *s = state;
    if (s->own)
        close(s->fd);
    free(s);
}

static void al_done(void *state, px_fcall *call)
{
    al_state *s = state;
    const char *msg = "";
    px_status st = px_fcall_status(call, &msg);
    char line[2048];
    access_ids ids = {px_fcall_trace_id(call), px_fcall_span_id(call),
                      px_fcall_parent_span_id(call)};
    size_t n = access_line(line, sizeof line, px_fcall_start_unix_us(call),
                           px_fcall_side(call) == PX_FILTER_SERVER ? "server" : "client",
                           px_fcall_peer(call), px_fcall_method(call), st,
                           px_fcall_elapsed_us(call), px_fcall_request_bytes(call),
                           px_fcall_response_bytes(call), &ids, msg);
    /* One write per line with O_APPEND: lines from several threads or processes sharing
     * the file never interleave. A full disk loses lines, never calls. */
    ssize_t w = write(s->fd, line, n);
    (void)w;
}

static const px_directive al_directives[] = {
    {.name = "path", .type = PX_DIR_STRING, .offset = offsetof(al_conf, path), .def = "-",
     .help = "file the lines are appended to, relative to the config file; \"-\" for stderr"},
    {.name = NULL},
};

static const px_filter_ops al_ops = {
    .sides = PX_FILTER_SERVER | PX_FILTER_CLIENT,
    .on_request = NULL,
    .on_done = al_done,
};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_FILTER,
    .name = "access_log",
    .version = "1.1.0",
    .description = "one line per call: time, side, peer, method, status, duration, bytes, "
                   "trace ids",
    .conf_size = sizeof(al_conf),
    .directives = al_directives,
    .create = al_create,
    .destroy = al_destroy,
    .ops = &al_ops,
};
