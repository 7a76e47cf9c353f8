/* plexus-demo, blocking calls: px_call over the connection pool, one answer per line. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "calc.pb-c.h"
#include "demo.h"

#define ADD "calc.Calculator/Add"
#define DIV "calc.Calculator/Div"
#define SLEEP "calc.Calculator/Sleep"
#define WHOAMI "calc.Calculator/Whoami"

/* Makes one px_call; prints the failure when there is one. */
static px_status call(demo *d, const char *method, const ProtobufCMessage *req,
                      const ProtobufCMessageDescriptor *out, ProtobufCMessage **reply,
                      px_err *err)
{
    px_err_clear(err);
    px_status st = px_call(d->client, method, req, out, NULL, reply, err);
    if (st != PX_OK)
        printf("<- %s: %s\n", px_status_name(st), err->msg);
    return st;
}

static void add(demo *d, int32_t a, int32_t b)
{
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.a = a;
    req.b = b;
    printf("-> %s {a: %d, b: %d}\n", ADD, a, b);
    ProtobufCMessage *m = NULL;
    px_err err;
    if (call(d, ADD, &req.base, &calc__add_reply__descriptor, &m, &err) != PX_OK) {
        demo_expect(d, 0, "Add failed");
        return;
    }
    const Calc__AddReply *r = (const Calc__AddReply *)m;
    printf("<- AddReply {sum: %" PRId64 "}\n", r->sum);
    demo_expect(d, r->sum == (int64_t)a + b, "sum %" PRId64 ", expected %" PRId64, r->sum,
                (int64_t)a + b);
    px_msg_free(m);
}

static void div_ok(demo *d, int64_t a, int64_t b)
{
    Calc__DivRequest req = CALC__DIV_REQUEST__INIT;
    req.a = a;
    req.b = b;
    printf("-> %s {a: %" PRId64 ", b: %" PRId64 "}\n", DIV, a, b);
    ProtobufCMessage *m = NULL;
    px_err err;
    if (call(d, DIV, &req.base, &calc__div_reply__descriptor, &m, &err) != PX_OK) {
        demo_expect(d, 0, "Div failed");
        return;
    }
    const Calc__DivReply *r = (const Calc__DivReply *)m;
    printf("<- DivReply {quotient: %" PRId64 ", remainder: %" PRId64 "}\n", r->quotient,
           r->remainder);
    demo_expect(d, r->quotient == a / b && r->remainder == a % b, "expected %" PRId64 " r %" PRId64,
                a / b, a % b);
    px_msg_free(m);
}

static void div_by_zero(demo *d)
{
    Calc__DivRequest req = CALC__DIV_REQUEST__INIT;
    req.a = 1;
    printf("-> %s {a: 1, b: 0}   (the service refuses it)\n", DIV);
    ProtobufCMessage *m = NULL;
    px_err err;
    px_status st = call(d, DIV, &req.base, &calc__div_reply__descriptor, &m, &err);
    demo_expect(d, st == PX_INVALID_ARGUMENT && strcmp(err.msg, "division by zero") == 0,
                "expected INVALID_ARGUMENT: division by zero, got %s", px_status_name(st));
    px_msg_free(m);
}

static void whoami(demo *d, int times)
{
    printf("-> %s {} x%d   (the random balancer picks a server per call)\n", WHOAMI, times);
    int answered = 0;
    for (int i = 0; i < times; i++) {
        Calc__WhoamiRequest req = CALC__WHOAMI_REQUEST__INIT;
        ProtobufCMessage *m = NULL;
        px_err err;
        if (call(d, WHOAMI, &req.base, &calc__whoami_reply__descriptor, &m, &err) != PX_OK)
            continue;
        const Calc__WhoamiReply *r = (const Calc__WhoamiReply *)m;
        printf("<- WhoamiReply {id: \"%s\"}   answered by %s\n", r->id, r->id);
        answered += r->id[0] != '\0';
        px_msg_free(m);
    }
    demo_expect(d, answered == times, "%d of %d Whoami calls had no server id", times - answered,
                times);
}

/* Within the 500ms budget of conf/demo-client.yaml, then past it. */
static void sleep_call(demo *d, uint32_t ms, int expect_deadline)
{
    Calc__SleepRequest req = CALC__SLEEP_REQUEST__INIT;
    req.ms = ms;
    printf("-> %s {ms: %u}%s\n", SLEEP, (unsigned)ms,
           expect_deadline ? "   (longer than the call timeout)" : "");
    ProtobufCMessage *m = NULL;
    px_err err;
    int64_t t0 = demo_now_ms();
    px_status st = call(d, SLEEP, &req.base, &calc__sleep_reply__descriptor, &m, &err);
    int64_t took = demo_now_ms() - t0;
    if (st == PX_OK)
        printf("<- SleepReply {slept_ms: %u}   after %" PRId64 " ms\n",
               (unsigned)((const Calc__SleepReply *)m)->slept_ms, took);
    else
        printf("   after %" PRId64 " ms\n", took);
    if (expect_deadline)
        demo_expect(d, st == PX_DEADLINE_EXCEEDED && took < ms,
                    "expected DEADLINE_EXCEEDED before %u ms, got %s after %" PRId64 " ms",
                    (unsigned)ms, px_status_name(st), took);
    else
        demo_expect(d, st == PX_OK && ((const Calc__SleepReply *)m)->slept_ms == ms,
                    "expected slept_ms %u", (unsigned)ms);
    px_msg_free(m);
}

void demo_sync(demo *d)
{
    printf("== blocking calls (px_call over the connection pool)\n");
    add(d, 2, 3);
    add(d, -7, 1000000);
    div_ok(d, 17, 5);
    div_by_zero(d);
    whoami(d, 6);
    sleep_call(d, 50, 0);
    sleep_call(d, 800, 1);
}
