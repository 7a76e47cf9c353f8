/* SERVICE "calc": the example Calculator implementation (Add, Div, Echo, Sleep, Whoami);
 * Echo returns the request's metadata as well. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <plexus/plexus.h>
#include "calc.pb-c.h"

typedef struct calc_conf {
    int64_t max_sleep_us; /* Sleep requests above this are refused */
    int64_t delay_us;     /* added to every call: makes one server slow in balancing tests */
} calc_conf;

typedef struct calc_state {
    Calc__Calculator_Service svc; /* handed to the server; handlers get back here */
    char *server_id;
    int64_t max_sleep_us;
    int64_t delay_us;
} calc_state;

static calc_state *calc_of(Calc__Calculator_Service *svc)
{
    return (calc_state *)((char *)svc - offsetof(calc_state, svc));
}

static void calc_sleep_us(int64_t us)
{
    struct timespec left = { .tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000L };
    while (nanosleep(&left, &left) != 0 && errno == EINTR)
        ;
}

/* The `delay` directive: every handler first waits this long (blocking, so a server
 * configured with it should run calc on workers). */
static void calc_delay(Calc__Calculator_Service *svc)
{
    int64_t us = calc_of(svc)->delay_us;
    if (us > 0)
        calc_sleep_us(us);
}

static void calc_add(Calc__Calculator_Service *svc, const Calc__AddRequest *in,
                     Calc__AddReply_Closure closure, void *data)
{
    calc_delay(svc);
    Calc__AddReply reply = CALC__ADD_REPLY__INIT;
    reply.sum = (int64_t)in->a + (int64_t)in->b; /* int32 + int32 always fits in int64 */
    closure(&reply, data);
}

static void calc_div(Calc__Calculator_Service *svc, const Calc__DivRequest *in,
                     Calc__DivReply_Closure closure, void *data)
{
    calc_delay(svc);
    if (in->b == 0) {
        px_handler_fail(data, PX_INVALID_ARGUMENT, "division by zero");
        closure(NULL, data);
        return;
    }
    if (in->a == INT64_MIN && in->b == -1) { /* the one quotient int64 cannot hold */
        px_handler_fail(data, PX_INVALID_ARGUMENT, "quotient of %lld / -1 overflows int64",
                        (long long)in->a);
        closure(NULL, data);
        return;
    }
    Calc__DivReply reply = CALC__DIV_REPLY__INIT;
    reply.quotient = in->a / in->b;
    reply.remainder = in->a % in->b;
    closure(&reply, data);
}

static void calc_echo(Calc__Calculator_Service *svc, const Calc__EchoMsg *in,
                      Calc__EchoMsg_Closure closure, void *data)
{
    calc_delay(svc);
    /* The request's metadata comes back too, entry by entry (keys of a list are not
     * NUL-terminated; px_handler_set_meta takes a C string). */
    const px_meta *md = px_handler_meta(data);
    for (size_t i = 0; i < px_meta_count(md); i++) {
        const char *k;
        size_t klen, len;
        const void *v;
        char key[256];
        px_meta_at(md, i, &k, &klen, &v, &len);
        memcpy(key, k, klen);
        key[klen] = 0;
        px_err err;
        if (px_handler_set_meta(data, key, v, len, &err) != PX_OK) {
            px_handler_fail(data, err.status, "%s", err.msg);
            closure(NULL, data);
            return;
        }
    }
    closure(in, data); /* the input stays valid until closure returns */
}

static void calc_sleep(Calc__Calculator_Service *svc, const Calc__SleepRequest *in,
                       Calc__SleepReply_Closure closure, void *data)
{
    calc_delay(svc);
    calc_state *st = calc_of(svc);
    if ((int64_t)in->ms * 1000 > st->max_sleep_us) {
        px_handler_fail(data, PX_INVALID_ARGUMENT, "sleep of %u ms exceeds the %lld ms limit",
                        (unsigned)in->ms, (long long)(st->max_sleep_us / 1000));
        closure(NULL, data);
        return;
    }
    /* Blocking on purpose: the config runs calc on a worker pool. */
    calc_sleep_us((int64_t)in->ms * 1000);
    Calc__SleepReply reply = CALC__SLEEP_REPLY__INIT;
    reply.slept_ms = in->ms;
    closure(&reply, data);
}

static void calc_whoami(Calc__Calculator_Service *svc, const Calc__WhoamiRequest *in,
                        Calc__WhoamiReply_Closure closure, void *data)
{
    calc_delay(svc);
    Calc__WhoamiReply reply = CALC__WHOAMI_REPLY__INIT;
    reply.id = calc_of(svc)->server_id;
    closure(&reply, data);
}

static px_status calc_create(const px_module_env *env, const void *conf, void **state,
                             px_err *err)
{
    const calc_conf *cf = conf;
    calc_state *st = calloc(1, sizeof *st);
    const char *id = env != NULL && env->server_id != NULL ? env->server_id : "";
    if (st == NULL || (st->server_id = strdup(id)) == NULL) {
        free(st);
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "calc: out of memory");
    }
    Calc__Calculator_Service svc = CALC__CALCULATOR__INIT(calc_);
    st->svc = svc;
    st->max_sleep_us = cf->max_sleep_us;
    st->delay_us = cf->delay_us;
    *state = st;
    return PX_OK;
}

static void calc_destroy(void *state)
{
    calc_state *st = state;
    free(st->server_id);
    free(st);
}

static ProtobufCService *calc_service(void *state)
{
    return &((calc_state *)state)->svc.base;
}

static const px_service_ops calc_ops = {
    .descriptor = &calc__calculator__descriptor,
    .service = calc_service,
};

static const px_directive calc_directives[] = {
    { .name = "max_sleep", .type = PX_DIR_DURATION, .offset = offsetof(calc_conf, max_sleep_us),
      .def = "60s", .min = "0ms", .max = "1h",
      .help = "longest Sleep the service accepts; longer requests fail with INVALID_ARGUMENT" },
    { .name = "delay", .type = PX_DIR_DURATION, .offset = offsetof(calc_conf, delay_us),
      .def = "0ms", .min = "0ms", .max = "10s",
      .help = "extra time every call takes (blocking: give calc workers); simulates a slow server" },
    { .name = NULL },
};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_SERVICE,
    .name = "calc",
    .version = "1.0.0",
    .description = "example Calculator service: Add, Div, Echo, Sleep, Whoami",
    .conf_size = sizeof(calc_conf),
    .directives = calc_directives,
    .create = calc_create,
    .destroy = calc_destroy,
    .ops = &calc_ops,
};
