/* A server's core metrics: connections per listener, frames per protocol, the memory
 * budget (docs/OPERATIONS.md, "Metrics"). Handles are taken when the server is made and
 * given back when it is freed: the gauges go with it, the counters stay and go on
 * counting for the next server with the same listener or protocol (a reload). */
#include <stdlib.h>

#include "px_server_int.h"

static double px__mem_in_use(void *arg)
{
    const px_server *s = arg;
    return (double)__atomic_load_n(&s->mem_total, __ATOMIC_RELAXED);
}

void px__server_metrics_new(px_server *s)
{
    const px_mcore *mc = px__mcore();
    for (size_t i = 0; i < s->n_listeners; i++) {
        px_listener *l = &s->listeners[i];
        const char *v[] = {l->listen};
        l->m_conns = px__mget(mc->conns, v);
        l->m_accepted = px__mget(mc->accepted, v);
    }
    s->m_frames = calloc(2 * (s->n_protos ? s->n_protos : 1), sizeof *s->m_frames);
    for (size_t i = 0; s->m_frames && i < s->n_protos; i++) {
        const char *v[] = {s->protos[i].ref->mod->name};
        s->m_frames[2 * i] = px__mget(mc->frames_rx, v);
        s->m_frames[2 * i + 1] = px__mget(mc->frames_tx, v);
    }
    s->m_mem = px__mget_fn(mc->mem, NULL, px__mem_in_use, s);
    if ((s->m_mem_limit = px__mget(mc->mem_limit, NULL)))
        px_metric_set(s->m_mem_limit, (double)s->sc->limits.max_server_memory);
}

void px__server_metrics_free(px_server *s)
{
    for (size_t i = 0; i < s->n_listeners; i++) {
        px_metric_release(s->listeners[i].m_conns);
        px_metric_release(s->listeners[i].m_accepted);
    }
    for (size_t i = 0; s->m_frames && i < 2 * s->n_protos; i++)
        px_metric_release(s->m_frames[i]);
    free(s->m_frames);
    s->m_frames = NULL;
    px_metric_release(s->m_mem);
    px_metric_release(s->m_mem_limit);
    s->m_mem = s->m_mem_limit = NULL;
}

void px__sconn_metrics(px_sconn *sc, const px_inst *p)
{
    const px_server *s = sc->sl->srv;
    size_t i = (size_t)(p - s->protos);
    if (s->m_frames && i < s->n_protos) {
        sc->m_rx = s->m_frames[2 * i];
        sc->m_tx = s->m_frames[2 * i + 1];
    }
}
