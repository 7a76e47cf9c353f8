/* The core's side of an upstream's naming module: the sink updates arrive through
 * (px_naming.c), the naming thread's event loop helpers (px_naming_io.c) and starting
 * and stopping the module on that thread (px_naming_run.c). */
#ifndef PX_NAMING_INT_H
#define PX_NAMING_INT_H

#include <pthread.h>
#include "plexus/px_naming.h"
#include "px_loop.h"

struct px_upstream;

struct px_naming_sink {
    struct px_upstream *up;
    const char *module;           /* the naming module's name, for log lines */
    pthread_mutex_t lock;         /* one update at a time; every field below */
    uint32_t gen;                 /* updates so far: stamps the records an update lists */
    int started, stopped;
    px_loop *loop;                /* the naming thread's loop; NULL: none (no helpers) */
    px_naming_endpoint *configured; /* the upstream's endpoints: list */
    size_t n_configured;
    struct px_naming_io *ios;     /* open watches and timers (naming thread only) */
};

/** Makes up->sink for an upstream whose instances exist. */
px_status px_naming_sink_new(struct px_upstream *up, px_err *err);
/** Stops the module if it was started and not stopped, then frees up->sink. */
void px_naming_sink_free(struct px_upstream *up);

/**
 * Starts the upstream's naming module on loop's thread (the caller waits), or on the
 * calling thread when loop is NULL (then the module gets no event-loop helpers). What
 * start returns is returned; a module that failed is not stopped.
 */
px_status px_upstream_naming_start(struct px_upstream *up, px_loop *loop, px_err *err);
/** Stops the naming module (on the naming thread, when there is one) and closes what it
 *  left open. Idempotent. */
void px_upstream_naming_stop(struct px_upstream *up);

/** Closes every watch and timer still open (naming thread). */
void px_naming_io_close_all(struct px_naming_sink *s);

#endif
