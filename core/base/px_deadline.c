/* Thread-local inherited deadline (see px_deadline.h). */
#include "px_deadline.h"

static __thread int64_t px__inherited = INT64_MAX;

int64_t px_deadline_inherited(void) { return px__inherited; }

int64_t px_deadline_inherit(int64_t deadline_us)
{
    int64_t prev = px__inherited;
    px__inherited = deadline_us;
    return prev;
}
