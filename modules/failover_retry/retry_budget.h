/* A retry budget (Finagle's RetryBudget, Envoy's retry_budget): retries may add at most a
 * share of the calls seen over a sliding window, plus a small floor. Lock-free. */
#ifndef PX_RETRY_BUDGET_H
#define PX_RETRY_BUDGET_H

#include <stdint.h>

#define RETRY_BUDGET_SLOTS 10

/* A slot remembers the running totals at the start of one window/SLOTS interval. */
typedef struct retry_slot {
    uint64_t epoch;   /* interval number + 1; 0 = never used, UINT64_MAX = being written */
    uint64_t calls;   /* total calls when the interval began */
    uint64_t retries; /* total retries when the interval began */
} retry_slot;

typedef struct retry_budget {
    double ratio;        /* budget_percent / 100 */
    double reserve;      /* min_retries_per_second x window seconds */
    int64_t slot_us;     /* window / SLOTS */
    uint64_t calls;      /* running totals, only ever added to (retries: add, maybe undo) */
    uint64_t retries;
    retry_slot slots[RETRY_BUDGET_SLOTS];
} retry_budget;

void retry_budget_init(retry_budget *b, double percent, int64_t min_per_second, int64_t window_us);
/** A call started (its first attempt ended), at now_us (monotonic). */
void retry_budget_deposit(retry_budget *b, int64_t now_us);
/** Takes one retry from the budget: 1 if allowed, 0 if the budget is spent. */
int retry_budget_withdraw(retry_budget *b, int64_t now_us);

#endif
