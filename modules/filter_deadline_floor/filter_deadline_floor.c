/* FILTER "deadline_floor": a call with less than min_remaining of its deadline left is
 * refused with DEADLINE_EXCEEDED before any work is done for it (a server: before its
 * handler runs; a client: before it is sent), since it could not finish in time anyway.
 * With `cap` set, a call's deadline is at most cap from now (a call without one gets
 * one): in a client that bounds the call; in a server it is the deadline the handler
 * sees (px_handler_remaining_us) and its own outgoing calls inherit, and a call still
 * waiting for a worker then is answered DEADLINE_EXCEEDED. */
#include <plexus/plexus.h>

typedef struct df_conf {
    int64_t min_remaining_us;
    int64_t cap_us; /* 0: none */
} df_conf;

static px_filter_verdict df_request(void *state, px_fcall *call)
{
    const df_conf *c = state;
    if (c->cap_us > 0)
        px_fcall_limit_deadline(call, c->cap_us);
    int64_t left = px_fcall_remaining_us(call);
    if (left != INT64_MAX && left < c->min_remaining_us) {
        px_fcall_reject(call, PX_DEADLINE_EXCEEDED,
                        "%s: %lldus left of the deadline, under the %lldus this %s needs "
                        "(deadline_floor min_remaining)",
                        px_fcall_method(call), (long long)(left > 0 ? left : 0),
                        (long long)c->min_remaining_us,
                        px_fcall_side(call) == PX_FILTER_SERVER ? "server" : "client");
        return PX_FILTER_REJECT;
    }
    return PX_FILTER_CONTINUE;
}

static const px_directive df_directives[] = {
    {.name = "min_remaining", .type = PX_DIR_DURATION,
     .offset = offsetof(df_conf, min_remaining_us), .def = "1ms", .min = "0", .max = "1h",
     .help = "refuse a call with less than this left of its deadline"},
    {.name = "cap", .type = PX_DIR_DURATION, .offset = offsetof(df_conf, cap_us), .def = "0",
     .min = "0", .max = "24h", .help = "the longest deadline a call gets (server: what its handler sees); 0: none"},
    {.name = NULL},
};

static const px_filter_ops df_ops = {
    .sides = PX_FILTER_SERVER | PX_FILTER_CLIENT,
    .on_request = df_request,
};

/* No create(): the state is the validated conf itself. */
PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_FILTER,
    .name = "deadline_floor",
    .version = "1.0.0",
    .description = "refuse calls that cannot finish in time; optionally cap every deadline",
    .conf_size = sizeof(df_conf),
    .directives = df_directives,
    .ops = &df_ops,
};
