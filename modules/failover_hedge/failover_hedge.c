/* FAILOVER "hedge": backup requests. If a call has no reply after hedge_after, the
 * client (async or blocking) sends a copy to another endpoint; the first reply wins and
 * the loser is cancelled with a CANCEL frame (the core does the sending, cancelling and
 * judging; this module only says when). Failures before the request left are retried
 * once. */
#include <stddef.h>
#include <plexus/plexus.h>

typedef struct hedge_conf {
    int64_t hedge_after_us;
    int64_t retries;
} hedge_conf;

static const px_directive hedge_directives[] = {
    {"hedge_after", PX_DIR_DURATION, offsetof(hedge_conf, hedge_after_us), "50ms", 0, "100us",
     "1h", NULL, "send a backup copy when no reply came within this"},
    {"retries", PX_DIR_INT, offsetof(hedge_conf, retries), "1", 0, "0", "10", NULL,
     "attempts added for failures that happened before the request was sent"},
    {NULL},
};

static px_failover_action hedge_on_result(void *state, const px_attempt *a)
{
    const hedge_conf *c = state;
    /* A request that never left cannot have run: repeating it is always safe. */
    if (a->status != PX_OK && !a->sent && a->attempt < (unsigned)c->retries)
        return PX_FAILOVER_RETRY;
    return PX_FAILOVER_DONE;
}

static int64_t hedge_after(void *state, const char *method)
{
    return ((const hedge_conf *)state)->hedge_after_us;
}

static const px_failover_ops hedge_ops = {
    .on_result = hedge_on_result,
    .hedge_after_us = hedge_after,
};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_FAILOVER,
    .name = "hedge",
    .version = "1.0.0",
    .description = "backup requests: a second copy after hedge_after, first reply wins",
    .conf_size = sizeof(hedge_conf),
    .directives = hedge_directives,
    .ops = &hedge_ops,
};
