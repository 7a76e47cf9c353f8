/* Retry budget over a sliding window: exact running totals, plus one snapshot of them per
 * tenth of the window; the window's counts are "totals now - the oldest snapshot in it". */
#include "retry_budget.h"

#include <string.h>

#define SLOT_BUSY UINT64_MAX

void retry_budget_init(retry_budget *b, double percent, int64_t min_per_second, int64_t window_us)
{
    memset(b, 0, sizeof *b);
    b->ratio = percent / 100.0;
    b->reserve = (double)min_per_second * (double)window_us / 1e6;
    b->slot_us = window_us / RETRY_BUDGET_SLOTS > 0 ? window_us / RETRY_BUDGET_SLOTS : 1;
}

/* Makes sure the slot of the current interval holds a snapshot; returns the interval. */
static uint64_t retry__touch(retry_budget *b, int64_t now_us)
{
    uint64_t epoch = (uint64_t)(now_us / b->slot_us) + 1;
    retry_slot *s = &b->slots[epoch % RETRY_BUDGET_SLOTS];
    uint64_t seen = __atomic_load_n(&s->epoch, __ATOMIC_ACQUIRE);
    if (seen == epoch || seen == SLOT_BUSY || (seen != 0 && seen > epoch))
        return epoch;
    /* One thread wins the slot and writes the snapshot; readers skip it while BUSY. */
    if (__atomic_compare_exchange_n(&s->epoch, &seen, SLOT_BUSY, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_RELAXED)) {
        __atomic_store_n(&s->calls, __atomic_load_n(&b->calls, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
        __atomic_store_n(&s->retries, __atomic_load_n(&b->retries, __ATOMIC_RELAXED),
                         __ATOMIC_RELAXED);
        __atomic_store_n(&s->epoch, epoch, __ATOMIC_RELEASE);
    }
    return epoch;
}

/* The oldest snapshot still inside the window, as (calls, retries) at its start. */
static int retry__base(retry_budget *b, uint64_t epoch, uint64_t *calls, uint64_t *retries)
{
    uint64_t oldest = 0;
    for (int i = 0; i < RETRY_BUDGET_SLOTS; i++) {
        retry_slot *s = &b->slots[i];
        uint64_t e = __atomic_load_n(&s->epoch, __ATOMIC_ACQUIRE);
        if (e == 0 || e == SLOT_BUSY || e > epoch || epoch - e >= RETRY_BUDGET_SLOTS)
            continue;
        if (oldest != 0 && e >= oldest)
            continue;
        uint64_t c = __atomic_load_n(&s->calls, __ATOMIC_RELAXED);
        uint64_t r = __atomic_load_n(&s->retries, __ATOMIC_RELAXED);
        /* Re-check: the slot must not have been recycled while we read it. */
        if (__atomic_load_n(&s->epoch, __ATOMIC_ACQUIRE) != e)
            continue;
        oldest = e;
        *calls = c;
        *retries = r;
    }
    return oldest != 0;
}

void retry_budget_deposit(retry_budget *b, int64_t now_us)
{
    retry__touch(b, now_us);
    __atomic_add_fetch(&b->calls, 1, __ATOMIC_RELAXED);
}

int retry_budget_withdraw(retry_budget *b, int64_t now_us)
{
    uint64_t epoch = retry__touch(b, now_us);
    uint64_t base_calls, base_retries;
    if (!retry__base(b, epoch, &base_calls, &base_retries)) {
        /* The only snapshot in the window is being written this instant: the window
         * starts now, so only the floor is available. */
        base_calls = __atomic_load_n(&b->calls, __ATOMIC_RELAXED);
        base_retries = __atomic_load_n(&b->retries, __ATOMIC_RELAXED);
    }
    int64_t calls = (int64_t)(__atomic_load_n(&b->calls, __ATOMIC_RELAXED) - base_calls);
    double allowed = (double)calls * b->ratio + b->reserve;
    /* Take first, then check: concurrent withdrawals each see a distinct count, so the
     * budget is never overdrawn. Signed: an undo racing a snapshot may dip below it. */
    int64_t mine = (int64_t)(__atomic_add_fetch(&b->retries, 1, __ATOMIC_RELAXED) - base_retries);
    if ((double)mine <= allowed)
        return 1;
    __atomic_sub_fetch(&b->retries, 1, __ATOMIC_RELAXED);
    return 0;
}
