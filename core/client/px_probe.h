/* Active health checks of ejected endpoints: connect, HELLO, PING, wait for PONG. */
#ifndef PX_PROBE_H
#define PX_PROBE_H

struct px_cloop;

/** Starts the probe timer on lp (the client's first loop) when health probing is on. */
void px_probe_start(struct px_cloop *lp);
/** Loop thread: stops the timer and closes probes in flight. */
void px_probe_stop(struct px_cloop *lp);

#endif
