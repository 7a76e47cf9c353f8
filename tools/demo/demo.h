/* plexus-demo: the state every part of the demo shares and its result bookkeeping. */
#ifndef PLEXUS_DEMO_H
#define PLEXUS_DEMO_H

#include <stdint.h>
#include "plexus/plexus.h"

typedef struct demo {
    px_client *client;
    int checks;   /* expectations tested */
    int failures; /* expectations that did not hold */
} demo;

/** Prints "ok" or "UNEXPECTED: why" under the call just shown and counts it. */
void demo_expect(demo *d, int ok, const char *fmt, ...) PX_PRINTF(3, 4);

/** Monotonic milliseconds, to show how long a call took. */
int64_t demo_now_ms(void);

/** px_call: Add, Div, Div by zero, Whoami several times, Sleep within and past the deadline. */
void demo_sync(demo *d);
/** px_call_async: many Whoami in flight at once; then one call through a generated stub. */
void demo_async(demo *d);

#endif
