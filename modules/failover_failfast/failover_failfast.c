/* FAILOVER "failfast": every call ends with its first attempt; outcomes go to endpoint health. */
#include <plexus/plexus.h>

static px_failover_action ff_on_result(void *state, const px_attempt *a)
{
    /* Health still learns from the attempt, so a dead endpoint gets ejected
     * even though this module never retries around it. */
    if (a->endpoint != NULL)
        px_endpoint_report(a->endpoint, a->status);
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
