/* Duration-keyed timer lists (see px_timerq.h). */
#include "px_timerq.h"

#include <stddef.h>

static void px__tq_list_cb(struct ev_loop *ev, ev_timer *w, int revents)
{
    px_tlist *l = w->data;
    ev_tstamp now = ev_now(ev);
    /* fn may arm or cancel other nodes, this list's too: re-read the head each time. */
    while (l->head && l->head->at <= now) {
        px_tnode *n = l->head;
        l->head = n->next;
        if (l->head)
            l->head->prev = NULL;
        else
            l->tail = NULL;
        n->next = n->prev = NULL;
        n->list = NULL;
        n->fn(n);
    }
    if (l->head) {
        /* Lazy: a cancelled head left the timer early; wait for the new head. A node
         * armed by fn may have started the timer already: restart it either way. */
        ev_timer_stop(ev, w);
        ev_timer_set(w, l->head->at - now, 0);
        ev_timer_start(ev, w);
    }
}

static void px__tq_fallback_cb(struct ev_loop *ev, ev_timer *w, int revents)
{
    px_tnode *n = w->data;
    n->fn(n);
}

void px_tq_init(px_timerq *q, struct ev_loop *ev)
{
    q->ev = ev;
    for (int i = 0; i < PX_TQ_LISTS; i++) {
        px_tlist *l = &q->lists[i];
        *l = (px_tlist){.q = q};
        ev_init(&l->w, px__tq_list_cb);
        l->w.data = l;
    }
}

void px_tq_arm(px_timerq *q, px_tnode *node, ev_tstamp dur, void (*fn)(px_tnode *node))
{
    node->fn = fn;
    node->q = q;
    node->at = ev_now(q->ev) + dur;
    px_tlist *l = NULL, *free_list = NULL;
    for (int i = 0; i < PX_TQ_LISTS && !l; i++) {
        if (q->lists[i].head && q->lists[i].dur == dur)
            l = &q->lists[i];
        else if (!q->lists[i].head && !free_list)
            free_list = &q->lists[i];
    }
    if (!l && free_list) {
        l = free_list;
        l->dur = dur;
    }
    if (!l) {
        ev_timer_init(&node->fallback, px__tq_fallback_cb, dur, 0);
        node->fallback.data = node;
        ev_timer_start(q->ev, &node->fallback);
        return;
    }
    /* Same duration, later arm: later expiry. Appending keeps the list sorted. */
    node->list = l;
    node->next = NULL;
    node->prev = l->tail;
    if (l->tail)
        l->tail->next = node;
    else
        l->head = node;
    l->tail = node;
    if (!ev_is_active(&l->w)) {
        ev_timer_set(&l->w, dur, 0);
        ev_timer_start(q->ev, &l->w);
    }
}

void px_tq_cancel(px_tnode *node)
{
    px_tlist *l = node->list;
    if (!l) {
        if (node->q && ev_is_active(&node->fallback))
            ev_timer_stop(node->q->ev, &node->fallback);
        return;
    }
    if (node->prev)
        node->prev->next = node->next;
    else
        l->head = node->next;
    if (node->next)
        node->next->prev = node->prev;
    else
        l->tail = node->prev;
    node->next = node->prev = NULL;
    node->list = NULL;
    if (!l->head)
        ev_timer_stop(l->q->ev, &l->w); /* the list is free for another duration */
}

void px_tq_destroy(px_timerq *q)
{
    for (int i = 0; i < PX_TQ_LISTS; i++)
        ev_timer_stop(q->ev, &q->lists[i].w);
}
