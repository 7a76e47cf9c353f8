/* SERVICE px_health (built in): plexus.health.v1.Health/Check, after grpc.health.v1: a
 * service the server serves is SERVING while the server runs and NOT_SERVING once its
 * shutdown has begun; "" asks about the server itself; any other name fails NOT_FOUND.
 * On every server unless server.health is false. */
#include <stdlib.h>
#include <string.h>

#include "plexus/px_service.h"
#include "px_health.pb-c.h"
#include "px_handler_int.h"

/* Whether the call's server serves the service called name. */
static int px__serves(void *data, const char *name)
{
    size_t n = px__handler_services(data, NULL, 0);
    const ProtobufCServiceDescriptor **sds = calloc(n ? n : 1, sizeof *sds);
    if (sds == NULL)
        return -1;
    px__handler_services(data, sds, n);
    int found = 0;
    for (size_t i = 0; i < n && !found; i++)
        found = strcmp(sds[i]->name, name) == 0;
    free(sds);
    return found;
}

static void px__check(Plexus__Health__V1__Health_Service *svc,
                      const Plexus__Health__V1__HealthCheckRequest *in,
                      Plexus__Health__V1__HealthCheckResponse_Closure closure, void *data)
{
    (void)svc;
    int found = in->service[0] == '\0' ? 1 : px__serves(data, in->service);
    if (found <= 0) {
        if (found < 0)
            px_handler_fail(data, PX_RESOURCE_EXHAUSTED, "health: out of memory");
        else
            px_handler_fail(data, PX_NOT_FOUND, "UNKNOWN_SERVICE: this server serves no "
                            "service '%s'", in->service);
        closure(NULL, data);
        return;
    }
    Plexus__Health__V1__HealthCheckResponse reply = PLEXUS__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    reply.status = px__handler_draining(data)
                       ? PLEXUS__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
                       : PLEXUS__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    closure(&reply, data);
}

typedef struct px__health_state {
    Plexus__Health__V1__Health_Service svc;
} px__health_state;

static px_status px__create(const px_module_env *env, const void *conf, void **state,
                            px_err *err)
{
    (void)env;
    (void)conf;
    px__health_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "health: out of memory");
    Plexus__Health__V1__Health_Service init = PLEXUS__HEALTH__V1__HEALTH__INIT(px__);
    st->svc = init;
    *state = st;
    return PX_OK;
}

static void px__destroy(void *state)
{
    free(state);
}

static ProtobufCService *px__service(void *state)
{
    return &((px__health_state *)state)->svc.base;
}

static const px_service_ops px__health_ops = {
    .descriptor = &plexus__health__v1__health__descriptor,
    .service = px__service,
};

const px_module px_service_health_module = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_SERVICE,
    .name = "px_health",
    .version = "1.0.0",
    .description = "plexus.health.v1.Health/Check: SERVING, or NOT_SERVING once the server "
                   "drains (server.health)",
    .create = px__create,
    .destroy = px__destroy,
    .ops = &px__health_ops,
};
