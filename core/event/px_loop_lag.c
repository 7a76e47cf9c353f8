/* An IO loop's lag: a timer every PX_LAG_EVERY seconds notes how late it fired (the
 * time the loop spent busy past the moment it was due), as plexus_loop_lag_seconds. */
#include <stdio.h>

#include "px_loop.h"
#include "px_mcore.h"

#define PX_LAG_EVERY 0.5

static void px__lag_cb(struct ev_loop *ev, ev_timer *w, int revents)
{
    px_loop *l = w->data;
    /* ev_time, not the iteration's cached ev_now: the work done in this iteration
     * before the timer's turn is lag too. Read once per tick, off the call path. */
    ev_tstamp late = ev_time() - l->lag_due;
    px_metric_set(l->lag_m, late > 0 ? late : 0);
    l->lag_due = ev_now(ev) + PX_LAG_EVERY; /* where ev_timer_again puts it */
    w->repeat = PX_LAG_EVERY;
    ev_timer_again(ev, w);
}

void px_loop_lag_start(px_loop *l, const char *kind)
{
    char name[48];
    snprintf(name, sizeof name, "%s-%u", kind, l->index);
    const char *v[] = {name};
    if (!(l->lag_m = px__mget(px__mcore()->loop_lag, v)))
        return;
    px_metric_set(l->lag_m, 0);
    ev_init(&l->lag_w, px__lag_cb);
    l->lag_w.data = l;
    l->lag_w.repeat = PX_LAG_EVERY;
    l->lag_due = ev_now(l->ev) + PX_LAG_EVERY;
    ev_timer_again(l->ev, &l->lag_w);
    ev_unref(l->ev); /* the measure never keeps a loop alive */
}
