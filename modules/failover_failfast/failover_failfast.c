/* FAILOVER "failfast": every call ends with its first attempt. The core still records
 * each attempt to endpoint health, so a dead endpoint gets ejected although this module
 * never retries around it. */
#include <plexus/plexus.h>

static px_failover_action ff_on_result(void *state, const px_attempt *a)
{
    (void)state;
    (void)a;
    return PX_FAILOVER_DONE;
}

static const px_failover_ops ff_ops = {.on_result = ff_on_result};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_FAILOVER,
    .name = "failfast",
    .version = "1.0.0",
    .description = "never retries: the first attempt's status ends the call",
    .ops = &ff_ops,
};
