/* The naming thread's event loop for naming modules (px_naming.h): fd watches and
 * timers on the client's first IO loop, which runs the module's start and stop too. */
#include "px_naming_int.h"

#include <stdlib.h>

#include "px_log.h"
#include "px_upstream.h"

struct px_naming_io {
    px_naming_sink *sink;
    int is_timer;
    ev_io io;
    ev_timer timer;
    px_naming_fd_fn fd_fn;
    px_naming_timer_fn timer_fn;
    void *arg;
    struct px_naming_io *prev, *next;
};

/* The loop, when the caller is on the naming thread; NULL with err set otherwise. */
static px_loop *px__naming_loop(px_naming_sink *s, const char *fn, px_err *err)
{
    if (s == NULL || s->loop == NULL) {
        px_err_set(err, PX_FAILED_PRECONDITION, "%s: the client has no event loop", fn);
        return NULL;
    }
    if (!px_loop_is_current(s->loop)) {
        px_err_set(err, PX_FAILED_PRECONDITION,
                   "%s: only on the naming thread (in start, stop or a watch's callback)", fn);
        return NULL;
    }
    return s->loop;
}

/* The other helpers take a watch the module holds: a wrong thread is a bug, said once. */
static int px__on_thread(px_naming_io *io, const char *fn)
{
    px_err err;
    if (io != NULL && px__naming_loop(io->sink, fn, &err) != NULL)
        return 1;
    px_log_error("upstream %s: naming '%s': %s", io ? io->sink->up->conf->name : "?",
                 io ? io->sink->module : "?", io ? err.msg : "no watch given");
    return 0;
}

static int px__ev_events(int events)
{
    return (events & PX_NAMING_READ ? EV_READ : 0) | (events & PX_NAMING_WRITE ? EV_WRITE : 0);
}

static void px__io_cb(struct ev_loop *ev, ev_io *w, int revents)
{
    px_naming_io *io = w->data;
    io->fd_fn(io->arg, w->fd,
              (revents & EV_READ ? PX_NAMING_READ : 0) | (revents & EV_WRITE ? PX_NAMING_WRITE : 0));
}

static void px__timer_cb(struct ev_loop *ev, ev_timer *w, int revents)
{
    px_naming_io *io = w->data;
    io->timer_fn(io->arg);
}

static px_naming_io *px__io_new(px_naming_sink *s, void *arg, px_err *err)
{
    px_naming_io *io = calloc(1, sizeof *io);
    if (io == NULL) {
        px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    io->sink = s;
    io->arg = arg;
    io->next = s->ios;
    if (s->ios)
        s->ios->prev = io;
    s->ios = io;
    return io;
}

px_naming_io *px_naming_io_fd(px_naming_sink *s, int fd, int events, px_naming_fd_fn fn,
                              void *arg, px_err *err)
{
    px_loop *l = px__naming_loop(s, "px_naming_io_fd", err);
    if (l == NULL)
        return NULL;
    if (fd < 0 || fn == NULL) {
        px_err_set(err, PX_INVALID_ARGUMENT, "px_naming_io_fd: needs an fd and a callback");
        return NULL;
    }
    px_naming_io *io = px__io_new(s, arg, err);
    if (io == NULL)
        return NULL;
    io->fd_fn = fn;
    ev_io_init(&io->io, px__io_cb, fd, px__ev_events(events));
    io->io.data = io;
    if (px__ev_events(events))
        ev_io_start(l->ev, &io->io);
    return io;
}

void px_naming_io_events(px_naming_io *io, int events)
{
    if (!px__on_thread(io, "px_naming_io_events") || io->is_timer)
        return;
    struct ev_loop *ev = io->sink->loop->ev;
    ev_io_stop(ev, &io->io);
    ev_io_set(&io->io, io->io.fd, px__ev_events(events));
    if (px__ev_events(events))
        ev_io_start(ev, &io->io);
}

px_naming_io *px_naming_io_timer(px_naming_sink *s, px_naming_timer_fn fn, void *arg,
                                 px_err *err)
{
    if (px__naming_loop(s, "px_naming_io_timer", err) == NULL)
        return NULL;
    if (fn == NULL) {
        px_err_set(err, PX_INVALID_ARGUMENT, "px_naming_io_timer: needs a callback");
        return NULL;
    }
    px_naming_io *io = px__io_new(s, arg, err);
    if (io == NULL)
        return NULL;
    io->is_timer = 1;
    io->timer_fn = fn;
    ev_timer_init(&io->timer, px__timer_cb, 0, 0);
    io->timer.data = io;
    return io;
}

void px_naming_io_after(px_naming_io *io, int64_t after_us)
{
    if (!px__on_thread(io, "px_naming_io_after") || !io->is_timer)
        return;
    struct ev_loop *ev = io->sink->loop->ev;
    ev_timer_stop(ev, &io->timer);
    if (after_us < 0)
        return;
    /* The loop's cached time may be a whole iteration old: never fire early. */
    ev_now_update(ev);
    ev_timer_set(&io->timer, (double)after_us / 1e6, 0);
    ev_timer_start(ev, &io->timer);
}

static void px__io_free(px_naming_io *io)
{
    px_naming_sink *s = io->sink;
    struct ev_loop *ev = s->loop->ev;
    if (io->is_timer)
        ev_timer_stop(ev, &io->timer);
    else
        ev_io_stop(ev, &io->io);
    if (io->prev)
        io->prev->next = io->next;
    else
        s->ios = io->next;
    if (io->next)
        io->next->prev = io->prev;
    free(io);
}

void px_naming_io_close(px_naming_io *io)
{
    if (io != NULL && px__on_thread(io, "px_naming_io_close"))
        px__io_free(io);
}

void px_naming_io_close_all(px_naming_sink *s)
{
    while (s->ios)
        px__io_free(s->ios);
}
