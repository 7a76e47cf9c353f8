/* TIMEOUT "fixed": the same configured budgets for every call and connect. */
#include <plexus/plexus.h>
#include "timeout_fixed.h"

/* No create(): the state is the validated conf itself. */
static int64_t tf_call(void *state, const char *method)
{
    return ((const timeout_fixed_conf *)state)->call_us;
}

static int64_t tf_connect(void *state)
{
    return ((const timeout_fixed_conf *)state)->connect_us;
}

static const px_directive tf_directives[] = {
    {.name = "connect", .type = PX_DIR_DURATION, .offset = offsetof(timeout_fixed_conf, connect_us),
     .def = "1s", .min = "1ms", .help = "time allowed to establish a connection"},
    {.name = "call", .type = PX_DIR_DURATION, .offset = offsetof(timeout_fixed_conf, call_us),
     .def = "1s", .min = "1ms", .max = "1h", .help = "time allowed for a whole call"},
    {.name = NULL},
};

static const px_timeout_ops tf_ops = {
    .call_timeout_us = tf_call,
    .connect_timeout_us = tf_connect,
    .observe = NULL,
};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_TIMEOUT,
    .name = "fixed",
    .version = "1.0.0",
    .description = "fixed connect and call timeouts",
    .conf_size = sizeof(timeout_fixed_conf),
    .directives = tf_directives,
    .ops = &tf_ops,
};
