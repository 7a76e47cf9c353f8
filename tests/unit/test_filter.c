/* Filter chains (core/filter): order in and out, short-circuit on a rejection, pending
 * filters resumed later, per-call data slots, deadlines; and the access_log line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "access_line.h"
#include "px_fchain.h"
#include "px_time.h"

/* What the test filters did, in order: "r0 r1 d1 d0 " = on_request of 0 and 1, then
 * on_done of 1 and 0. */
static char trace[256];

typedef struct tf {
    int idx;
    px_filter_verdict verdict; /* what on_request returns */
} tf;

static void note(const char *what, int idx)
{
    size_t n = strlen(trace);
    snprintf(trace + n, sizeof trace - n, "%s%d ", what, idx);
}

static px_filter_verdict tf_request(void *state, px_fcall *call)
{
    tf *f = state;
    note("r", f->idx);
    *px_fcall_data(call) = f; /* each filter sees its own slot in on_done */
    if (f->verdict == PX_FILTER_REJECT)
        px_fcall_reject(call, PX_PERMISSION_DENIED, "filter %d says no", f->idx);
    return f->verdict;
}

static void tf_done(void *state, px_fcall *call)
{
    tf *f = state;
    assert_ptr_equal(*px_fcall_data(call), f);
    note("d", f->idx);
}

static const px_filter_ops tf_ops = {
    .sides = PX_FILTER_SERVER, .on_request = tf_request, .on_done = tf_done};
/* A filter that only looks at the outcome. */
static const px_filter_ops done_only_ops = {.sides = PX_FILTER_SERVER, .on_done = tf_done};
/* One that rejects without saying why. */
static px_filter_verdict mute_request(void *state, px_fcall *call)
{
    (void)state, (void)call;
    return PX_FILTER_REJECT;
}
static const px_filter_ops mute_ops = {.sides = PX_FILTER_SERVER, .on_request = mute_request};

static tf filters[4];
static px_fchain chain;
static _Alignas(px_fcall) unsigned char fc_room[px_fcall_size(PX_FCHAIN_MAX)];
#define fc (*(px_fcall *)fc_room)
static int64_t deadline;
static int resumed;

static void on_resume(px_fcall *call)
{
    (void)call;
    resumed++;
}

static void setup_chain(int n, const px_filter_verdict *verdicts)
{
    memset(&chain, 0, sizeof chain);
    trace[0] = '\0';
    resumed = 0;
    for (int i = 0; i < n; i++) {
        filters[i] = (tf){.idx = i, .verdict = verdicts ? verdicts[i] : PX_FILTER_CONTINUE};
        px_fentry e = {.ops = &tf_ops, .state = &filters[i], .name = "tf"};
        assert_int_equal(px_fchain_append(&chain, &e, 1), 0);
    }
    px_fcall_begin(&fc, &chain, PX_FILTER_SERVER);
    fc.method = "calc.Calculator/Add";
    fc.peer = "127.0.0.1:5000";
    deadline = INT64_MAX;
    fc.deadline_us = &deadline;
    fc.resume = on_resume;
}

static void test_order_in_and_out(void **state)
{
    (void)state;
    setup_chain(3, NULL);
    assert_int_equal(px_fchain_request(&fc), PX_FILTER_CONTINUE);
    assert_string_equal(trace, "r0 r1 r2 ");
    px_fchain_done(&fc, PX_OK, "");
    assert_string_equal(trace, "r0 r1 r2 d2 d1 d0 ");
    const char *msg = NULL;
    assert_int_equal(px_fcall_status(&fc, &msg), PX_OK);
    assert_string_equal(msg, "");
    assert_true(px_fcall_elapsed_us(&fc) >= 0);
}

/* A rejecting filter stops the call with its status: later filters never see it, the
 * filters that ran (it included) see the outcome, last first. */
static void test_reject_short_circuits(void **state)
{
    (void)state;
    px_filter_verdict v[3] = {PX_FILTER_CONTINUE, PX_FILTER_REJECT, PX_FILTER_CONTINUE};
    setup_chain(3, v);
    assert_int_equal(px_fchain_request(&fc), PX_FILTER_REJECT);
    assert_string_equal(trace, "r0 r1 ");
    const char *msg = NULL;
    assert_int_equal(px_fcall_status(&fc, &msg), PX_PERMISSION_DENIED);
    assert_string_equal(msg, "filter 1 says no");
    px_fchain_done(&fc, fc.status, fc.msg);
    assert_string_equal(trace, "r0 r1 d1 d0 ");
    assert_int_equal(px_fcall_status(&fc, &msg), PX_PERMISSION_DENIED);
    assert_string_equal(msg, "filter 1 says no");
}

static void test_reject_without_reason_names_the_filter(void **state)
{
    (void)state;
    setup_chain(1, NULL);
    px_fentry e = {.ops = &mute_ops, .state = NULL, .name = "mute"};
    assert_int_equal(px_fchain_append(&chain, &e, 1), 0);
    assert_int_equal(px_fchain_request(&fc), PX_FILTER_REJECT);
    const char *msg = NULL;
    assert_int_equal(px_fcall_status(&fc, &msg), PX_UNKNOWN);
    assert_string_equal(msg, "calc.Calculator/Add: rejected by filter 'mute'");
}

/* A pending filter holds the chain until it resumes; the rest then runs, or a rejection
 * ends it. */
static void test_pending_then_resume(void **state)
{
    (void)state;
    px_filter_verdict v[3] = {PX_FILTER_CONTINUE, PX_FILTER_PENDING, PX_FILTER_CONTINUE};
    setup_chain(3, v);
    assert_int_equal(px_fchain_request(&fc), PX_FILTER_PENDING);
    assert_string_equal(trace, "r0 r1 ");
    assert_int_equal(fc.pending, 1);
    px_fcall_resume(&fc, PX_FILTER_CONTINUE);
    assert_int_equal(resumed, 1);
    assert_int_equal(px_fchain_resumed(&fc, (px_filter_verdict)fc.verdict), PX_FILTER_CONTINUE);
    assert_int_equal(fc.pending, 0);
    assert_string_equal(trace, "r0 r1 r2 ");
    px_fchain_done(&fc, PX_OK, "");
    assert_string_equal(trace, "r0 r1 r2 d2 d1 d0 ");

    setup_chain(3, v);
    assert_int_equal(px_fchain_request(&fc), PX_FILTER_PENDING);
    px_fcall_resume(&fc, PX_FILTER_REJECT);
    assert_int_equal(px_fchain_resumed(&fc, (px_filter_verdict)fc.verdict), PX_FILTER_REJECT);
    assert_int_equal(fc.status, PX_UNKNOWN); /* it gave no reason: the core names it */
    assert_string_equal(fc.msg, "calc.Calculator/Add: rejected by filter 'tf'");
    px_fchain_done(&fc, fc.status, fc.msg);
    assert_string_equal(trace, "r0 r1 d1 d0 ");
}

/* A filter with on_done only is in the chain for the outcome of every call that passed. */
static void test_done_only_filter(void **state)
{
    (void)state;
    setup_chain(0, NULL);
    filters[0] = (tf){.idx = 7};
    px_fentry e = {.ops = &done_only_ops, .state = &filters[0], .name = "log"};
    assert_int_equal(px_fchain_append(&chain, &e, 1), 0);
    px_fcall_begin(&fc, &chain, PX_FILTER_SERVER);
    fc.deadline_us = &deadline;
    *px_fcall_data(&fc) = &filters[0]; /* as if on_request had stored it */
    assert_int_equal(px_fchain_request(&fc), PX_FILTER_CONTINUE);
    px_fchain_done(&fc, PX_DEADLINE_EXCEEDED, "too late");
    assert_string_equal(trace, "d7 ");
    assert_int_equal(fc.status, PX_DEADLINE_EXCEEDED);
    assert_string_equal(fc.msg, "too late");
}

static void test_chain_bound(void **state)
{
    (void)state;
    setup_chain(0, NULL);
    px_fentry e[PX_FCHAIN_MAX + 1];
    for (int i = 0; i <= PX_FCHAIN_MAX; i++)
        e[i] = (px_fentry){.ops = &tf_ops, .state = &filters[0], .name = "tf"};
    assert_int_equal(px_fchain_append(&chain, e, PX_FCHAIN_MAX), 0);
    assert_int_equal(px_fchain_append(&chain, e, 1), -1);
    assert_int_equal(chain.n, PX_FCHAIN_MAX);
}

/* A filter may shorten a deadline, never lengthen it, and set one where there is none. */
static void test_limit_deadline(void **state)
{
    (void)state;
    setup_chain(1, NULL);
    assert_int_equal(px_fcall_remaining_us(&fc), INT64_MAX);
    int64_t t0 = px_mono_us();
    px_fcall_limit_deadline(&fc, 200000);
    int64_t left = px_fcall_remaining_us(&fc);
    /* 200 ms from the moment it was set: less only by the time that has passed since
     * (however much that was), never more. */
    assert_true(left <= 200000);
    assert_true(left >= 200000 - (px_mono_us() - t0));
    px_fcall_limit_deadline(&fc, 5000000); /* longer: no change */
    assert_true(px_fcall_remaining_us(&fc) <= 200000);
    px_fcall_limit_deadline(&fc, 1000);
    assert_true(px_fcall_remaining_us(&fc) <= 1000);
}

/* Who the call comes from: set within bounds on a server's call, read back, refused
 * clearly otherwise; a client's call has no room for it. */
static void test_principal(void **state)
{
    (void)state;
    setup_chain(1, NULL);
    px_fident id;
    px_err err;
    assert_int_equal(px_fcall_set_principal(&fc, "alice", &err), PX_FAILED_PRECONDITION);
    assert_string_equal(err.msg, "calc.Calculator/Add: a principal is set on a server's calls only");
    assert_null(px_fcall_principal(&fc));
    fc.ident = &id;
    id.principal[0] = id.groups[0] = '\0';
    assert_null(px_fcall_principal(&fc));
    assert_int_equal(px_fcall_in_group(&fc, "admin"), 0);
    assert_int_equal(px_fcall_set_principal(&fc, "alice@example.com", &err), PX_OK);
    assert_string_equal(px_fcall_principal(&fc), "alice@example.com");
    assert_int_equal(px_fcall_set_groups(&fc, "admin,ops", &err), PX_OK);
    assert_int_equal(px_fcall_in_group(&fc, "admin"), 1);
    assert_int_equal(px_fcall_in_group(&fc, "ops"), 1);
    assert_int_equal(px_fcall_in_group(&fc, "adm"), 0);
    assert_int_equal(px_fcall_in_group(&fc, "admin,ops"), 0);
    assert_int_equal(px_fcall_in_group(&fc, ""), 0);

    char longest[PX_PRINCIPAL_MAX + 2];
    memset(longest, 'p', sizeof longest);
    longest[PX_PRINCIPAL_MAX] = '\0';
    assert_int_equal(px_fcall_set_principal(&fc, longest, &err), PX_OK);
    assert_int_equal(strlen(px_fcall_principal(&fc)), PX_PRINCIPAL_MAX);
    longest[PX_PRINCIPAL_MAX] = 'p';
    longest[PX_PRINCIPAL_MAX + 1] = '\0';
    assert_int_equal(px_fcall_set_principal(&fc, longest, &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "calc.Calculator/Add: principal longer than 128 bytes");
    assert_int_equal(px_fcall_set_principal(&fc, "", &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "calc.Calculator/Add: empty principal");
    assert_int_equal(px_fcall_set_principal(&fc, "a b", &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "calc.Calculator/Add: principal has byte 0x20 at 1 "
                                 "(printable ASCII without space or comma)");
    assert_int_equal(px_fcall_set_principal(&fc, "a,b", &err), PX_INVALID_ARGUMENT);
    assert_int_equal(px_fcall_set_groups(&fc, "a,,b", &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "calc.Calculator/Add: groups 'a,,b' has an empty name");
    /* A refused value leaves what was set. */
    assert_int_equal(strlen(px_fcall_principal(&fc)), PX_PRINCIPAL_MAX);
    assert_int_equal(px_fcall_in_group(&fc, "ops"), 1);
    assert_int_equal(px_fcall_set_groups(&fc, "", &err), PX_OK);
    assert_int_equal(px_fcall_in_group(&fc, "ops"), 0);
    /* The next call of the record starts anonymous (the owner clears its room). */
    px_fcall_begin(&fc, &chain, PX_FILTER_SERVER);
    assert_null(px_fcall_principal(&fc));
}

static void test_access_line(void **state)
{
    (void)state;
    char line[512];
    const access_ids none = {0};
    const access_ids ids = {"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7",
                            "a3ce929d0e0e4736"};
    /* 2026-12-06T15:50:57.000042Z */
    size_t n = access_line(line, sizeof line, 1796572257000042LL, "server", "127.0.0.1:5000",
                           "calc.Calculator/Add", PX_OK, 398, 4, 2, &ids, "");
    assert_int_equal(n, strlen(line));
    assert_string_equal(line, "2026-12-06T15:50:57.000042Z server 127.0.0.1:5000 "
                              "calc.Calculator/Add OK 398 4 2 "
                              "trace=4bf92f3577b34da6a3ce929d0e0e4736 span=00f067aa0ba902b7 "
                              "parent=a3ce929d0e0e4736 \"\"\n");
    /* A message with a quote, a backslash and a newline stays one line; ids a call has
     * not are "-". */
    n = access_line(line, sizeof line, 1796572257000042LL, "client", "", "a.B/C",
                    PX_INTERNAL, 7, 0, 0, &none, "bad \"x\"\\\nnext");
    assert_string_equal(line, "2026-12-06T15:50:57.000042Z client - a.B/C INTERNAL 7 0 0 "
                              "trace=- span=- parent=- \"bad \\x22x\\x22\\x5c\\x0anext\"\n");
    /* Cut to the buffer, the line still ends with a quote and a newline. */
    char small[64];
    char big[300];
    memset(big, 'm', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    n = access_line(small, sizeof small, 0, "server", "p", "m", PX_INTERNAL, 1, 1, 1, &ids, big);
    assert_true(n < sizeof small);
    assert_int_equal(small[n - 1], '\n');
    assert_int_equal(small[n - 2], '"');
    assert_null(memchr(small, '\n', n - 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_in_and_out),
        cmocka_unit_test(test_reject_short_circuits),
        cmocka_unit_test(test_reject_without_reason_names_the_filter),
        cmocka_unit_test(test_pending_then_resume),
        cmocka_unit_test(test_done_only_filter),
        cmocka_unit_test(test_chain_bound),
        cmocka_unit_test(test_limit_deadline),
        cmocka_unit_test(test_principal),
        cmocka_unit_test(test_access_line),
    };
    return cmocka_run_group_tests_name("px_filter", tests, NULL, NULL);
}
