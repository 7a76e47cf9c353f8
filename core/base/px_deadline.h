/* Deadline propagation: while a server handler runs, the deadline its caller sent is
 * this thread's inherited deadline, and client calls made from the handler get no
 * more time than is left of it (gRPC-style, on by default). */
#ifndef PX_DEADLINE_H
#define PX_DEADLINE_H

#include <stdint.h>

/** Monotonic microseconds of the deadline inherited by this thread; INT64_MAX when none. */
int64_t px_deadline_inherited(void);
/** Sets this thread's inherited deadline (INT64_MAX: none); returns the previous one. */
int64_t px_deadline_inherit(int64_t deadline_us);

#endif
