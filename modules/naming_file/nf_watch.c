/* naming `file`: inotify on the file's folder, on the naming thread's loop. The folder,
 * not the file: an editor's save or `mv tmp file` puts a new file at the name, which a
 * watch on the old file would never see. Events start a short settle delay, so the burst
 * one save makes (create, write, close, rename) costs one re-read. */
#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "nf_state.h"

#define NF_DIR_EVENTS                                                                        \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | \
     IN_MOVE_SELF | IN_ONLYDIR)

static void nf_settle(nf_state *s)
{
    if (!s->armed) { /* later events of the burst join this re-read */
        s->armed = 1;
        px_naming_io_after(s->timer, s->settle_us);
    }
}

static void nf_timer(void *arg)
{
    nf_state *s = arg;
    px_err err;
    s->armed = 0;
    nf_reload(s, 0, &err); /* logs what it did */
}

/* Whether one event may have changed what the path reads. */
static int nf_concerns(const nf_state *s, const struct inotify_event *ev)
{
    if (ev->mask & IN_Q_OVERFLOW) /* events were lost: the file may have changed */
        return 1;
    if (ev->len == 0 || (ev->mask & IN_ISDIR && !s->follow_dir))
        return 0;
    if (strcmp(ev->name, s->name) == 0)
        return 1;
    /* A symlink's target may be swapped under another name (a ConfigMap's `..data`). */
    return s->follow_dir && (ev->mask & (IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE));
}

static void nf_lost(nf_state *s)
{
    px_log(PX_LOG_WARN, NF_LOG, "upstream %s: the folder %s was removed or moved: %s is no "
           "longer watched; the list stays as it was (%zu endpoints)",
           px_naming_upstream(s->sink), s->dir, s->path, s->applied);
    px_naming_io_close(s->io);
    s->io = NULL;
}

static void nf_readable(void *arg, int fd, int revents)
{
    nf_state *s = arg;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    int lost = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            break; /* EAGAIN: all read */
        }
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
                lost = 1;
            else if (nf_concerns(s, ev))
                nf_settle(s);
            p += sizeof *ev + ev->len;
        }
    }
    if (lost && s->io)
        nf_lost(s);
}

px_status nf_watch_start(nf_state *s, px_err *err)
{
    s->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (s->ifd < 0)
        return px_err_set(err, PX_UNAVAILABLE, "%s: cannot watch: inotify: %s", s->path,
                          strerror(errno));
    if (inotify_add_watch(s->ifd, s->dir, NF_DIR_EVENTS) < 0) {
        int e = errno;
        return px_err_set(err, e == ENOENT || e == ENOTDIR ? PX_NOT_FOUND : PX_UNAVAILABLE,
                          "%s: cannot watch its folder %s: %s%s", s->path, s->dir, strerror(e),
                          e == ENOSPC ? " (raise fs.inotify.max_user_watches)" : "");
    }
    if ((s->timer = px_naming_io_timer(s->sink, nf_timer, s, err)) == NULL ||
        (s->io = px_naming_io_fd(s->sink, s->ifd, PX_NAMING_READ, nf_readable, s, err)) == NULL)
        return err->status;
    return PX_OK;
}

void nf_watch_stop(nf_state *s)
{
    if (s->io)
        px_naming_io_close(s->io);
    if (s->timer)
        px_naming_io_close(s->timer);
    s->io = s->timer = NULL;
    if (s->ifd >= 0)
        close(s->ifd);
    s->ifd = -1;
}
