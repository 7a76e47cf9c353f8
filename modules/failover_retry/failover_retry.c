/* FAILOVER "retry": retry a failed call on another endpoint when repeating it is safe,
 * at most `retries` times and within a retry budget (endpoint health is the core's).
 *
 * Which attempts are retried (the rest end the call with their status):
 *   - never PX_OK, CANCELLED (the caller or client gave up) or DEADLINE_EXCEEDED (no
 *     time is left), never after `retries` retries, never with remaining_us <= 0;
 *   - sent == 0 (the request never left this client: connect refused or timed out,
 *     connection lost while connecting, out of memory): any other status;
 *   - sent != 0 and idempotent: UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED, INTERNAL and
 *     UNKNOWN, the failures of a server or a connection that another endpoint may not
 *     share; not the statuses that say the request itself is wrong (INVALID_ARGUMENT,
 *     NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED, FAILED_PRECONDITION, OUT_OF_RANGE,
 *     UNIMPLEMENTED, UNAUTHENTICATED, DATA_LOSS): every replica would answer the same;
 *   - sent != 0 and not idempotent: nothing. The server may have run the handler (a
 *     connection lost after the write cannot tell), so at-most-once wins.
 * A retry that passes these rules still needs the budget to have room. */
#include <stdlib.h>
#include <time.h>
#include <plexus/plexus.h>

#include "failover_retry.h"
#include "retry_budget.h"

typedef struct fr_state {
    unsigned retries;
    retry_budget budget;
} fr_state;

static int64_t fr_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int fr_retryable(px_status st, int sent, int idempotent)
{
    if (st == PX_OK || st == PX_CANCELLED || st == PX_DEADLINE_EXCEEDED)
        return 0;
    if (!sent)
        return 1;
    if (!idempotent)
        return 0;
    switch (st) {
    case PX_UNAVAILABLE:
    case PX_RESOURCE_EXHAUSTED:
    case PX_ABORTED:
    case PX_INTERNAL:
    case PX_UNKNOWN:
        return 1;
    default:
        return 0;
    }
}

static px_failover_action fr_on_result(void *state, const px_attempt *a)
{
    fr_state *s = state;
    int64_t now = fr_now_us();
    /* Every call deposits once, with its first attempt, successful or not. */
    if (a->attempt == 0)
        retry_budget_deposit(&s->budget, now);
    if (a->status == PX_OK || a->attempt >= s->retries || a->remaining_us <= 0 ||
        !fr_retryable(a->status, a->sent, a->idempotent))
        return PX_FAILOVER_DONE;
    return retry_budget_withdraw(&s->budget, now) ? PX_FAILOVER_RETRY : PX_FAILOVER_DONE;
}

static px_status fr_create(const px_module_env *env, const void *conf, void **state, px_err *err)
{
    const failover_retry_conf *c = conf;
    fr_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    s->retries = (unsigned)c->retries;
    retry_budget_init(&s->budget, c->budget_percent, c->min_retries_per_second, c->window_us);
    *state = s;
    return PX_OK;
}

static void fr_destroy(void *state) { free(state); }

static const px_directive fr_directives[] = {
    {.name = "retries", .type = PX_DIR_INT, .offset = offsetof(failover_retry_conf, retries),
     .def = "2", .min = "0", .max = "10",
     .help = "retries per call, each on an endpoint the call has not tried yet"},
    {.name = "budget_percent", .type = PX_DIR_DOUBLE,
     .offset = offsetof(failover_retry_conf, budget_percent), .def = "20", .min = "0",
     .max = "1000", .help = "retries may add at most this percentage of the calls in the window"},
    {.name = "min_retries_per_second", .type = PX_DIR_INT,
     .offset = offsetof(failover_retry_conf, min_retries_per_second), .def = "10", .min = "0",
     .max = "1000000", .help = "budget floor, so low traffic can still retry"},
    {.name = "window", .type = PX_DIR_DURATION, .offset = offsetof(failover_retry_conf, window_us),
     .def = "10s", .min = "100ms", .max = "10m",
     .help = "how far back the budget counts calls and retries"},
    {.name = NULL},
};

static const px_failover_ops fr_ops = {.on_result = fr_on_result, .hedge_after_us = NULL};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_FAILOVER,
    .name = "retry",
    .version = "1.0.0",
    .description = "retries safe-to-repeat failures on another endpoint, within a retry budget",
    .conf_size = sizeof(failover_retry_conf),
    .directives = fr_directives,
    .create = fr_create,
    .destroy = fr_destroy,
    .ops = &fr_ops,
};
