/* Server lifetime: per-IO-thread listeners (SO_REUSEPORT), codec and service instances,
 * and a graceful shutdown bounded by shutdown_grace. */
#include "plexus/px_server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "plexus/px_service.h"
#include "px_log.h"
#include "px_net.h"
#include "px_server_int.h"
#include "px_time.h"

/* After the grace ran out, how long loops and workers get to write the last answers
 * and stop before the server gives up on them. */
#define PX_FORCE_WAIT_US 1000000

/* The FILTER instances of one list (server.filters, or a service's filters). */
static px_status px__filters_new(px_insts *out, const px_modlist *list,
                                 const px_module_env *env, px_err *err)
{
    px_modlist only[PX_KIND_LIMIT] = {{0}};
    only[PX_MOD_FILTER] = *list;
    return px_insts_new(only, env, out, err);
}

/* The config refused longer chains at load (px_config.c). */
static px_status px__chain_add(px_fchain *ch, const px_insts *in, px_err *err)
{
    if (px_fchain_add_insts(ch, in) != 0)
        return px_err_set(err, PX_INTERNAL, "more than %d filters in one chain", PX_FCHAIN_MAX);
    return PX_OK;
}

/* A service's chain: the server's filters, then its own. */
static px_status px__service_chain(px_server *s, px_service_inst *si,
                                   const px_service_conf *conf, const px_module_env *env,
                                   px_err *err)
{
    if (px__filters_new(&si->filters, &conf->filters, env, err) != PX_OK)
        return err->status;
    if (px__chain_add(&si->chain, &s->filters, err) != PX_OK)
        return err->status;
    return px__chain_add(&si->chain, &si->filters, err);
}

/* One more slot in s->services (each record on its own: methods point into them). */
static px_service_inst *px__service_slot(px_server *s, px_err *err)
{
    if (s->n_services == s->cap_services) {
        size_t cap = s->cap_services ? s->cap_services * 2 : 4;
        px_service_inst **v = realloc(s->services, cap * sizeof *v);
        if (!v)
            return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory"), NULL;
        s->services = v;
        s->cap_services = cap;
    }
    px_service_inst *si = calloc(1, sizeof *si);
    if (!si)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory"), NULL;
    s->services[s->n_services++] = si;
    return si;
}

static px_status px__service_pool(px_service_inst *si, int workers, px_err *err)
{
    if (workers <= 0)
        return PX_OK;
    if (px_pool_start(&si->pool, workers) != 0)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "cannot start %d worker threads", workers);
    si->has_pool = 1;
    return PX_OK;
}

static px_status px__server_new(const px_config *cfg, px_server **out, px_err *err)
{
    const px_server_conf *sc = &cfg->server;
    if (!sc->present)
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s: no server: section", cfg->file);
    px_server *s = calloc(1, sizeof *s);
    if (!s)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    s->cfg = cfg;
    s->sc = sc;
    px__server_mem_init(s);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    *out = s;
    s->stop_fd = eventfd(0, EFD_CLOEXEC); /* before any failure: px_server_free closes it */
    if (s->stop_fd < 0)
        return px_err_set(err, PX_INTERNAL, "eventfd: %s", strerror(errno));
    px_module_env env = {.config_file = cfg->file, .server_id = sc->id, .scope = "server"};

    const px_modlist *codecs = &sc->mods[PX_MOD_CODEC];
    s->codecs = calloc(codecs->n ? codecs->n : 1, sizeof *s->codecs);
    s->loops = calloc((size_t)sc->io_threads, sizeof *s->loops);
    if (!s->codecs || !s->loops)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    for (size_t i = 0; i < codecs->n; i++) {
        px_codec_inst *ci = &s->codecs[i];
        ci->ref = &codecs->refs[i];
        ci->name = ci->ref->mod->name;
        ci->ops = ci->ref->mod->ops;
        ci->decode_with = px_codec_decode_with(ci->ref->mod);
        if (px_modref_create(ci->ref, &env, &ci->state, err) != PX_OK)
            return err->status;
        s->n_codecs++;
    }
    if (px__filters_new(&s->filters, &sc->mods[PX_MOD_FILTER], &env, err) != PX_OK)
        return err->status;
    px_modlist only[PX_KIND_LIMIT] = {{0}};
    only[PX_MOD_PROTOCOL] = sc->mods[PX_MOD_PROTOCOL];
    if (px_insts_new(only, &env, &s->proto_insts, err) != PX_OK)
        return err->status;
    s->protos = px_insts_of(&s->proto_insts, PX_MOD_PROTOCOL, &s->n_protos);
    if (!s->n_protos) /* the registry's default: the config always lists one */
        return px_err_set(err, PX_INTERNAL, "server %s has no protocol", sc->id);
    for (size_t i = 0; i < sc->n_services; i++) {
        px_service_inst *si = px__service_slot(s, err);
        if (!si)
            return err->status;
        si->ref = &sc->services[i].module;
        if (px_modref_create(si->ref, &env, &si->state, err) != PX_OK)
            return err->status;
        if (px__service_chain(s, si, &sc->services[i], &env, err) != PX_OK ||
            px__service_pool(si, sc->services[i].workers, err) != PX_OK)
            return err->status;
        const px_service_ops *ops = si->ref->mod->ops;
        ProtobufCService *svc = ops->service(si->state);
        if (!svc || !svc->descriptor || !svc->invoke)
            return px_err_set(err, PX_INTERNAL, "service module %s (%s) returned no service",
                              si->ref->mod->name, si->ref->path);
        si->desc = svc->descriptor;
        if (px_methods_add(&s->methods, svc, si->has_pool ? &si->pool : NULL,
                           si->chain.n ? &si->chain : NULL, err) != PX_OK)
            return err->status;
    }
    if (px__listeners_new(s, err) != PX_OK)
        return err->status;
    px__server_metrics_new(s);
    for (int i = 0; i < sc->io_threads; i++) {
        px_sloop *sl = &s->loops[i];
        if (px_loop_init(&sl->loop, (unsigned)i) != 0)
            return px_err_set(err, PX_INTERNAL, "cannot create an event loop");
        px_loop_lag_start(&sl->loop, "server");
        sl->srv = s;
        s->n_loops++;
        px_tq_init(&sl->tq, sl->loop.ev);
        px__sloop_mem_start(sl);
        px__sloop_tls_start(sl);
        if (px__sloop_listen(sl, err) != PX_OK)
            return err->status;
    }
    return PX_OK;
}

px_status px_server_new(const px_config *cfg, px_server **out, px_err *err)
{
    *out = NULL;
    px_server *s = NULL;
    px_status st = px__server_new(cfg, &s, err);
    if (st != PX_OK) {
        px_server_free(s);
        return st;
    }
    *out = s;
    return PX_OK;
}

px_status px_server_new_file(const char *path, px_server **out, px_err *err)
{
    *out = NULL;
    px_config *cfg = NULL;
    if (px_config_load(path, &cfg, err) != PX_OK)
        return err->status;
    if (px_server_new(cfg, out, err) != PX_OK) {
        px_config_free(cfg);
        return err->status;
    }
    (*out)->own_cfg = cfg;
    return PX_OK;
}

px_status px_server_add_service(px_server *s, ProtobufCService *svc, int workers, px_err *err)
{
    if (!svc || !svc->descriptor || !svc->invoke)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "px_server_add_service: no service (descriptor and invoke needed)");
    if (s->started)
        return px_err_set(err, PX_FAILED_PRECONDITION,
                          "px_server_add_service: %s: the server has started",
                          svc->descriptor->name);
    if (workers < 0)
        return px_err_set(err, PX_INVALID_ARGUMENT, "px_server_add_service: %s: workers %d",
                          svc->descriptor->name, workers);
    px_service_inst *si = px__service_slot(s, err);
    if (!si)
        return err->status;
    if (px__chain_add(&si->chain, &s->filters, err) != PX_OK ||
        px__service_pool(si, workers, err) != PX_OK)
        return err->status;
    si->desc = svc->descriptor; /* reflection and health list it too */
    return px_methods_add(&s->methods, svc, si->has_pool ? &si->pool : NULL,
                          si->chain.n ? &si->chain : NULL, err);
}

int px_server_port(const px_server *s) { return s->port; }

const char *px_server_id(const px_server *s) { return s->sc->id; }

px_status px_server_start(px_server *s, px_err *err)
{
    if (s->started)
        return px_err_set(err, PX_FAILED_PRECONDITION, "px_server_start: already started");
    /* The method index is built once every service is in. */
    if (px_methods_seal(&s->methods, err) != PX_OK)
        return err->status;
    s->started = 1;
    for (int i = 0; i < s->n_loops; i++)
        if (px_loop_start(&s->loops[i].loop) != 0)
            return px_err_set(err, PX_INTERNAL, "cannot start IO thread %d", i);
    px__log_listening(s);
    return PX_OK;
}

void px_server_stop(px_server *s)
{
    uint64_t one = 1;
    int saved = errno; /* a signal handler must leave errno as it found it */
    ssize_t n = write(s->stop_fd, &one, sizeof one);
    (void)n; /* only fails when the counter is full: a stop is pending anyway */
    errno = saved;
}

void px_server_wait(px_server *s)
{
    uint64_t v;
    while (read(s->stop_fd, &v, sizeof v) < 0 && errno == EINTR)
        ;
}

px_status px_server_run(px_server *s, px_err *err)
{
    if (px_server_start(s, err) != PX_OK)
        return err->status;
    px_server_wait(s);
    int stuck = px_server_shutdown(s);
    if (stuck)
        return px_err_set(err, PX_DEADLINE_EXCEEDED,
                          "%d thread(s) were still in a handler when the shutdown gave up "
                          "on them: exit the process", stuck);
    return PX_OK;
}

/* Waits until every running loop has drained or until the monotonic time `until`;
 * returns whether they all drained. */
static int px__wait_drained(px_server *s, int running, int64_t until)
{
    struct timespec ts;
    int drained;
    pthread_mutex_lock(&s->lock);
    while ((drained = s->drained_loops >= running) == 0) {
        int64_t left = until - px_mono_us();
        if (left <= 0)
            break;
        px_abstime(&ts, left);
        pthread_cond_timedwait(&s->cond, &s->lock, &ts);
    }
    pthread_mutex_unlock(&s->lock);
    return drained;
}

int px_server_shutdown(px_server *s)
{
    __atomic_store_n(&s->draining, 1, __ATOMIC_RELEASE);
    int running = 0;
    for (int i = 0; i < s->n_loops; i++)
        if (s->loops[i].loop.running) {
            running++;
            px_loop_post(&s->loops[i].loop, &s->loops[i].drain_task, px__sloop_drain_task,
                         &s->loops[i]);
        }
    int forced = !px__wait_drained(s, running, px_mono_us() + s->sc->shutdown_grace_us);
    if (forced) {
        px_log_warn("shutdown_grace (%lldms) ran out with calls in flight: answering them "
                    "UNAVAILABLE and closing every connection",
                    (long long)(s->sc->shutdown_grace_us / 1000));
        for (int i = 0; i < s->n_loops; i++)
            if (s->loops[i].loop.running)
                px_loop_post(&s->loops[i].loop, &s->loops[i].force_task, px__sloop_force_task,
                             &s->loops[i]);
        px__wait_drained(s, running, px_mono_us() + PX_FORCE_WAIT_US);
    }
    /* Workers first: their last answers are posted to loops that still run. After the
     * grace, a worker still in its handler is left behind (it cannot be stopped safely):
     * from then on whatever it answers is dropped. */
    int64_t give_up = forced ? px_mono_us() + PX_FORCE_WAIT_US : INT64_MAX;
    for (size_t i = 0; i < s->n_services; i++)
        if (s->services[i]->has_pool) {
            int stuck = px_pool_stop_until(&s->services[i]->pool, give_up);
            s->stuck_threads += stuck;
            if (stuck == 0)
                s->services[i]->has_pool = 0;
        }
    if (s->stuck_threads)
        __atomic_store_n(&s->abandoned, 1, __ATOMIC_RELEASE);
    /* The loops' own window: the pools may have used up theirs. */
    give_up = forced ? px_mono_us() + PX_FORCE_WAIT_US : INT64_MAX;
    for (int i = 0; i < s->n_loops; i++)
        if (px_loop_stop_join_until(&s->loops[i].loop, give_up) != 0)
            s->stuck_threads++; /* an IO thread blocked in a handler */
    if (s->stuck_threads)
        px_log_warn("%d thread(s) were still in a handler when the shutdown gave up on them",
                    s->stuck_threads);
    return s->stuck_threads;
}

void px_server_free(px_server *s)
{
    if (!s)
        return;
    /* Threads left in a handler may still touch the server: it stays until the process
     * exits. */
    if (s->stuck_threads)
        return;
    for (int i = 0; i < s->n_loops; i++) {
        px_sloop *sl = &s->loops[i];
        px_loop_stop_join(&sl->loop);
        px_err why;
        px_err_set(&why, PX_UNAVAILABLE, "server freed");
        while (sl->conns)
            px_conn_close(&sl->conns->conn, &why);
        px__sloop_listen_free(sl);
        px__sloop_mem_stop(sl);
        px__sloop_tls_stop(sl);
        px_loop_destroy(&sl->loop);
        px__sloop_free_calls(sl);
    }
    for (size_t i = 0; i < s->n_services; i++) {
        px_service_inst *si = s->services[i];
        if (si->has_pool)
            px_pool_stop(&si->pool);
        px_modref_destroy(si->ref, si->state);
        px_insts_free(&si->filters);
        free(si);
    }
    px_insts_free(&s->filters);
    px_insts_free(&s->proto_insts);
    for (size_t i = 0; i < s->n_codecs; i++)
        px_modref_destroy(s->codecs[i].ref, s->codecs[i].state);
    px_methods_free(&s->methods);
    free(s->codecs);
    free(s->services);
    free(s->loops);
    px__server_metrics_free(s);
    px__listeners_free(s);
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    px_config_free(s->own_cfg);
    free(s);
}
