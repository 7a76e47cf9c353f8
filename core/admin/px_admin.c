/* The admin listener: libmicrohttpd parses and answers HTTP on its own thread; this
 * file routes the five paths and keeps the ready state and the config shown. */
#define _GNU_SOURCE /* vasprintf */
#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "plexus/px_log.h"
#include "plexus/px_metrics.h"
#include "px_admin_int.h"
#include "px_admin_yaml.h"
#include "px_config_int.h"
#include "px_time.h"

#define PX__TEXT "text/plain; charset=utf-8"
#define PX__METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

char *px_admin_metrics(px_admin *adm, size_t *len)
{
    pthread_mutex_lock(&adm->hook_lock);
    char *text = adm->hooks.metrics ? adm->hooks.metrics(adm->ud, len) : px_metrics_text(len);
    pthread_mutex_unlock(&adm->hook_lock);
    return text;
}

int px_admin_is_ready(px_admin *adm, char *why, size_t cap)
{
    if (adm->hooks.ready != NULL) {
        why[0] = '\0';
        pthread_mutex_lock(&adm->hook_lock);
        int r = adm->hooks.ready(adm->ud, why, cap);
        pthread_mutex_unlock(&adm->hook_lock);
        if (!r && why[0] == '\0')
            snprintf(why, cap, "not ready");
        return r;
    }
    pthread_mutex_lock(&adm->lock);
    int r = adm->ready;
    snprintf(why, cap, "%s", adm->why);
    pthread_mutex_unlock(&adm->lock);
    return r;
}

/* Queues status with body (malloc'd, taken; NULL: out of memory, a 500). */
static enum MHD_Result px__reply(struct MHD_Connection *conn, unsigned status, char *body,
                                 size_t len, const char *type)
{
    if (body == NULL) {
        static const char oom[] = "out of memory\n";
        body = strdup(oom);
        len = body ? sizeof oom - 1 : 0;
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        type = PX__TEXT;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result px__text(struct MHD_Connection *conn, unsigned status, const char *fmt,
                                ...) PX_PRINTF(3, 4);

static enum MHD_Result px__text(struct MHD_Connection *conn, unsigned status, const char *fmt,
                                ...)
{
    char *body = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&body, fmt, ap);
    va_end(ap);
    return px__reply(conn, status, n < 0 ? NULL : body, n < 0 ? 0 : (size_t)n, PX__TEXT);
}

static enum MHD_Result px__metrics(px_admin *adm, struct MHD_Connection *conn)
{
    size_t len = 0;
    char *text = px_admin_metrics(adm, &len);
    if (text == NULL)
        return px__text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "metrics unavailable\n");
    return px__reply(conn, MHD_HTTP_OK, text, len, PX__METRICS_TYPE);
}

static enum MHD_Result px__readyz(px_admin *adm, struct MHD_Connection *conn)
{
    char why[96];
    if (px_admin_is_ready(adm, why, sizeof why))
        return px__text(conn, MHD_HTTP_OK, "ready\n");
    return px__text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready: %s\n", why);
}

static enum MHD_Result px__config(px_admin *adm, struct MHD_Connection *conn)
{
    pthread_mutex_lock(&adm->lock);
    char *copy = malloc(adm->config_yaml_len + 1);
    size_t len = adm->config_yaml_len;
    if (copy != NULL)
        memcpy(copy, adm->config_yaml, len + 1);
    pthread_mutex_unlock(&adm->lock);
    return px__reply(conn, MHD_HTTP_OK, copy, len, "application/yaml; charset=utf-8");
}

static enum MHD_Result px__status(px_admin *adm, struct MHD_Connection *conn)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (out == NULL)
        return px__reply(conn, MHD_HTTP_OK, NULL, 0, PX__TEXT);
    px_admin_status_write(adm, out);
    if (fclose(out) != 0) {
        free(text);
        text = NULL;
    }
    return px__reply(conn, MHD_HTTP_OK, text, len, PX__TEXT);
}

static const char px__paths[] = "/metrics, /healthz, /readyz, /status, /config";

static enum MHD_Result px__handle(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    px_admin *adm = cls;
    /* HEAD is GET without the body (libmicrohttpd leaves it out). A request with a body
     * is answered on its first call, so the body is never read. */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return px__text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                        "method %s not allowed: the admin listener answers GET only\n", method);
    if (strcmp(url, "/metrics") == 0)
        return px__metrics(adm, conn);
    if (strcmp(url, "/healthz") == 0)
        return px__text(conn, MHD_HTTP_OK, "ok\n");
    if (strcmp(url, "/readyz") == 0)
        return px__readyz(adm, conn);
    if (strcmp(url, "/status") == 0)
        return px__status(adm, conn);
    if (strcmp(url, "/config") == 0)
        return px__config(adm, conn);
    return px__text(conn, MHD_HTTP_NOT_FOUND, "no such path: %s (the admin listener serves %s)\n",
                    url, px__paths);
}

/* libmicrohttpd's messages: the one that made start fail becomes the error; later ones
 * (a client's malformed request, a failed accept) go to the log at debug level. */
static void px__mhd_log(void *cls, const char *fmt, va_list ap)
{
    px_admin *adm = cls;
    if (!atomic_load(&adm->started)) {
        vsnprintf(adm->start_err, sizeof adm->start_err, fmt, ap);
        return;
    }
    if (!px_log_enabled(PX_LOG_DEBUG))
        return;
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    px_log(PX_LOG_DEBUG, "admin", "%s", msg);
}

static px_status px__set_config(px_admin *adm, const px_config *cfg, px_err *err)
{
    size_t len = 0;
    char *yaml = cfg->root ? px_admin_yaml(cfg->root, &len) : strdup("");
    char *file = strdup(cfg->file);
    if (yaml == NULL || file == NULL) {
        free(yaml);
        free(file);
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "admin: out of memory");
    }
    pthread_mutex_lock(&adm->lock);
    free(adm->config_yaml);
    free(adm->config_file);
    adm->config_yaml = yaml;
    adm->config_yaml_len = len;
    adm->config_file = file;
    adm->config_loaded_at = cfg->loaded_at;
    pthread_mutex_unlock(&adm->lock);
    return PX_OK;
}

px_status px_admin_set_config(px_admin *adm, const px_config *cfg, px_err *err)
{
    if (adm == NULL || cfg == NULL)
        return px_err_set(err, PX_INVALID_ARGUMENT, "px_admin_set_config: NULL argument");
    return px__set_config(adm, cfg, err);
}

/* A process forked after the admin started (plexusd's workers) must not keep its
 * listening socket open: a worker outliving the master would hold the port. The
 * child closes it; the daemon's state stays, unused, in the child's copy. */
#define PX__ADMIN_FDS 8
static int px__admin_fds[PX__ADMIN_FDS] = {-1, -1, -1, -1, -1, -1, -1, -1};
static pthread_once_t px__atfork_once = PTHREAD_ONCE_INIT;

static void px__atfork_child(void)
{
    for (int i = 0; i < PX__ADMIN_FDS; i++) {
        int fd = __atomic_load_n(&px__admin_fds[i], __ATOMIC_RELAXED);
        if (fd >= 0)
            close(fd);
        __atomic_store_n(&px__admin_fds[i], -1, __ATOMIC_RELAXED);
    }
}

static void px__atfork_init(void)
{
    pthread_atfork(NULL, NULL, px__atfork_child);
}

/* Notes fd (-1: forgets old) as an admin's listening socket. */
static void px__admin_fd_note(int old, int fd)
{
    pthread_once(&px__atfork_once, px__atfork_init);
    for (int i = 0; i < PX__ADMIN_FDS; i++) {
        int expect = old;
        if (__atomic_compare_exchange_n(&px__admin_fds[i], &expect, fd, 0, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            return;
    }
}

/* px_admin_new (polled 0: threads of its own) and px_admin_new_polled. */
static px_status px__admin_new(const px_config *cfg, const px_admin_hooks *hooks, void *ud,
                               int polled, px_admin **out, px_err *err)
{
    *out = NULL;
    if (cfg == NULL)
        return px_err_set(err, PX_INVALID_ARGUMENT, "px_admin_new: NULL config");
    if (cfg->admin.listen == NULL)
        return PX_OK;
    px_admin *adm = calloc(1, sizeof *adm);
    if (adm)
        adm->listen_fd = -1;
    if (adm == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "admin: out of memory");
    if (hooks != NULL)
        adm->hooks = *hooks;
    adm->ud = ud;
    adm->polled = polled;
    adm->started_us = px_mono_us();
    snprintf(adm->why, sizeof adm->why, "starting");
    pthread_mutex_init(&adm->lock, NULL);
    pthread_mutex_init(&adm->hook_lock, NULL);
    if (px__set_config(adm, cfg, err) != PX_OK) {
        px_admin_free(adm);
        return err->status;
    }
    const px_addr *a = &cfg->admin.addr;
    /* Polled: no thread; the program polls its epoll descriptor (px_admin_poll_fd). */
    unsigned flags = polled ? MHD_USE_ERROR_LOG | MHD_USE_EPOLL
                            : MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_POLL;
    if (a->ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* Bounds so that slow or many clients cannot hold the listener: 64 connections,
     * 10 s idle each. */
    /* The port is given twice: bound through SOCK_ADDR, named in libmicrohttpd's message. */
    uint16_t port = ntohs(a->ss.ss_family == AF_INET6
                              ? ((const struct sockaddr_in6 *)&a->ss)->sin6_port
                              : ((const struct sockaddr_in *)&a->ss)->sin_port);
    adm->daemon = MHD_start_daemon(
        flags, port, NULL, NULL, px__handle, adm, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&a->ss,
        MHD_OPTION_EXTERNAL_LOGGER, px__mhd_log, adm, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (adm->daemon == NULL) {
        px_status st = px_err_set(err, PX_UNAVAILABLE, "admin.listen: cannot listen on '%s': %s",
                                  cfg->admin.listen,
                                  adm->start_err[0] ? adm->start_err : "libmicrohttpd refused");
        err->msg[strcspn(err->msg, "\n")] = '\0';
        px_admin_free(adm);
        return st;
    }
    atomic_store(&adm->started, 1);
    const union MHD_DaemonInfo *fd = MHD_get_daemon_info(adm->daemon, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (fd != NULL) {
        adm->listen_fd = fd->listen_fd;
        px__admin_fd_note(-1, adm->listen_fd);
    }
    if (fd != NULL && getsockname(fd->listen_fd, (struct sockaddr *)&ss, &sl) == 0) {
        /* Under the lock: /status, on the admin's thread, may already show it. */
        pthread_mutex_lock(&adm->lock);
        px_net_name((struct sockaddr *)&ss, sl, adm->address, sizeof adm->address);
        adm->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                   : ((struct sockaddr_in *)&ss)->sin_port);
        pthread_mutex_unlock(&adm->lock);
    }
    int rc = polled ? 0 : px_admin_sampler_start(adm);
    if (rc != 0) {
        px_admin_free(adm);
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "admin: cannot start a thread: %s",
                          strerror(rc));
    }
    *out = adm;
    return PX_OK;
}

px_status px_admin_new(const px_config *cfg, const px_admin_hooks *hooks, void *ud,
                       px_admin **out, px_err *err)
{
    return px__admin_new(cfg, hooks, ud, 0, out, err);
}

px_status px_admin_new_polled(const px_config *cfg, const px_admin_hooks *hooks, void *ud,
                              px_admin **out, px_err *err)
{
    return px__admin_new(cfg, hooks, ud, 1, out, err);
}

int px_admin_poll_fd(const px_admin *adm)
{
    const union MHD_DaemonInfo *i =
        adm && adm->polled ? MHD_get_daemon_info(adm->daemon, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
    return i ? i->epoll_fd : -1;
}

int px_admin_poll_timeout_ms(px_admin *adm)
{
    if (adm == NULL || !adm->polled)
        return -1;
    int64_t due = px_admin_sample_due_us(adm) - px_mono_us();
    int ms = due <= 0 ? 0 : (int)((due + 999) / 1000);
    MHD_UNSIGNED_LONG_LONG t;
    if (MHD_get_timeout(adm->daemon, &t) == MHD_YES && t < (MHD_UNSIGNED_LONG_LONG)ms)
        ms = (int)t;
    return ms;
}

void px_admin_poll(px_admin *adm)
{
    if (adm == NULL || !adm->polled)
        return;
    MHD_run(adm->daemon);
    if (px_mono_us() >= px_admin_sample_due_us(adm))
        px_admin_sample_now(adm);
}

int px_admin_port(const px_admin *adm) { return adm ? adm->port : 0; }

const char *px_admin_address(const px_admin *adm) { return adm ? adm->address : ""; }

void px_admin_set_ready(px_admin *adm, int ready, const char *why)
{
    if (adm == NULL)
        return;
    pthread_mutex_lock(&adm->lock);
    adm->ready = ready != 0;
    snprintf(adm->why, sizeof adm->why, "%s", ready ? "" : why ? why : "not ready");
    pthread_mutex_unlock(&adm->lock);
}

void px_admin_free(px_admin *adm)
{
    if (adm == NULL)
        return;
    /* The listener first: no request may run while the state below goes away. */
    if (adm->listen_fd >= 0)
        px__admin_fd_note(adm->listen_fd, -1);
    if (adm->daemon != NULL)
        MHD_stop_daemon(adm->daemon);
    px_admin_sampler_stop(adm);
    pthread_mutex_destroy(&adm->hook_lock);
    pthread_mutex_destroy(&adm->lock);
    free(adm->config_yaml);
    free(adm->config_file);
    free(adm);
}
