/* Test helper: calc Add calls, one or many at once (px_test_calls.h). */
#include "px_test_calls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calc.pb-c.h"
#include "px_time.h"

px_status px_test_add(px_client *c, int wait, int a, int b, int64_t *sum, px_err *err)
{
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.a = a;
    req.b = b;
    ProtobufCMessage *rep = NULL;
    px_status st = wait ? px_call_wait(c, "calc.Calculator/Add", &req.base,
                                       &calc__add_reply__descriptor, NULL, &rep, err)
                        : px_call(c, "calc.Calculator/Add", &req.base,
                                  &calc__add_reply__descriptor, NULL, &rep, err);
    if (st == PX_OK) {
        *sum = ((Calc__AddReply *)rep)->sum;
        px_msg_free(rep);
    }
    return st;
}

px_status px_test_echo(px_client *c, int wait, const char *text, const px_call_opts *opts,
                       px_err *err)
{
    Calc__EchoMsg e = CALC__ECHO_MSG__INIT;
    e.f_string = (char *)text;
    ProtobufCMessage *rep = NULL;
    px_status st = wait ? px_call_wait(c, "calc.Calculator/Echo", &e.base,
                                       &calc__echo_msg__descriptor, opts, &rep, err)
                        : px_call(c, "calc.Calculator/Echo", &e.base, &calc__echo_msg__descriptor,
                                  opts, &rep, err);
    if (st == PX_OK && strcmp(((Calc__EchoMsg *)rep)->f_string, text) != 0)
        st = px_err_set(err, PX_INTERNAL, "Echo answered '%s' to '%s'",
                        ((Calc__EchoMsg *)rep)->f_string, text);
    px_msg_free(rep);
    return st;
}

typedef struct px__slot {
    int done; /* answers seen: exactly one is right */
    px_status st;
    int64_t sum;
} px__slot;

static void px__on_add(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    (void)msg;
    px__slot *s = user;
    s->st = st;
    s->sum = st == PX_OK ? ((const Calc__AddReply *)reply)->sum : 0;
    __atomic_add_fetch(&s->done, 1, __ATOMIC_RELEASE);
}

int px_test_async_adds(px_client *c, int n, int b, int64_t timeout_us, char *why, size_t cap)
{
    if (n < 0 || n > 4096) {
        snprintf(why, cap, "n %d is out of 0..4096", n);
        return -1;
    }
    px__slot *slots = calloc((size_t)n + 1, sizeof *slots);
    int rc = -1;
    if (!slots) {
        snprintf(why, cap, "out of memory");
        return -1;
    }
    px_client_stats before, after;
    px_client_stats_get(c, &before);
    for (int i = 0; i < n; i++) {
        Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
        req.a = i;
        req.b = b;
        px_err err;
        if (px_call_async(c, "calc.Calculator/Add", &req.base, &calc__add_reply__descriptor, NULL,
                          px__on_add, &slots[i], &err) != PX_OK) {
            snprintf(why, cap, "px_call_async %d: %s", i, err.msg);
            goto out; /* the calls already made still answer into slots: leak it */
        }
    }
    int64_t end = px_mono_us() + timeout_us;
    for (int i = 0; i < n; i++) {
        struct timespec ms = {0, 1000000L};
        while (!__atomic_load_n(&slots[i].done, __ATOMIC_ACQUIRE) && px_mono_us() < end)
            nanosleep(&ms, NULL);
        if (__atomic_load_n(&slots[i].done, __ATOMIC_ACQUIRE) != 1 || slots[i].st != PX_OK ||
            slots[i].sum != i + b) {
            snprintf(why, cap, "call %d: %d answers, status %s, sum %lld (expected %d)", i,
                     slots[i].done, px_status_name(slots[i].st), (long long)slots[i].sum, i + b);
            goto out;
        }
    }
    px_client_stats_get(c, &after);
    uint64_t done = after.calls_completed - before.calls_completed;
    uint64_t late = after.late_responses - before.late_responses;
    if (done != (uint64_t)n || late != 0) {
        snprintf(why, cap, "client stats: %llu completed, %llu late responses",
                 (unsigned long long)done, (unsigned long long)late);
        goto out;
    }
    rc = 0;
    free(slots);
out:
    return rc;
}
