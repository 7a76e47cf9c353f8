/* Call timers in O(1): calls of one upstream mostly share a timeout, so each distinct
 * duration gets a FIFO list (appending keeps it sorted by expiry) and one ev_timer for
 * its head. Arm and cancel are a list link/unlink; libev's heap, O(log n) per
 * operation, is kept as the fallback when more distinct durations are in use. */
#ifndef PX_TIMERQ_H
#define PX_TIMERQ_H

#include <ev.h>

#define PX_TQ_LISTS 8

struct px_tlist;
struct px_timerq;

typedef struct px_tnode {
    struct px_tnode *prev, *next;
    struct px_tlist *list;   /* the list it waits in, or NULL */
    ev_tstamp at;            /* expiry, loop time */
    void (*fn)(struct px_tnode *node);
    ev_timer fallback;       /* used when every list is taken by other durations */
    struct px_timerq *q;
} px_tnode;

typedef struct px_tlist {
    ev_tstamp dur;
    px_tnode *head, *tail;
    ev_timer w;
    struct px_timerq *q;
} px_tlist;

typedef struct px_timerq {
    struct ev_loop *ev;
    px_tlist lists[PX_TQ_LISTS];
} px_timerq;

void px_tq_init(px_timerq *q, struct ev_loop *ev);
/** Arms node to call fn(node) after dur seconds (loop time). Node must not be armed. */
void px_tq_arm(px_timerq *q, px_tnode *node, ev_tstamp dur, void (*fn)(px_tnode *node));
/** Disarms node if armed (idempotent). */
void px_tq_cancel(px_tnode *node);
static inline int px_tq_armed(const px_tnode *node)
{
    return node->list != NULL || ev_is_active(&node->fallback);
}
/** Stops the list timers; every node must be disarmed already. */
void px_tq_destroy(px_timerq *q);

#endif
