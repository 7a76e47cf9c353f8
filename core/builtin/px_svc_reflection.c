/* SERVICE px_reflection (built in): plexus.reflection.v1.Reflection, what the server it runs
 * in serves, so a client with only an address can list and call it (plexus list, plexus call
 * HOST:PORT). On every server unless server.reflection is false. */
#include <stdlib.h>
#include <string.h>

#include "plexus/px_service.h"
#include "px_reflect.h"
#include "px_reflection.pb-c.h"
#include "px_handler_int.h"

/* The service descriptors of the call's server (a server has few services). */
static const ProtobufCServiceDescriptor **px__services(void *data, size_t *n)
{
    size_t count = px__handler_services(data, NULL, 0);
    const ProtobufCServiceDescriptor **all = calloc(count ? count : 1, sizeof *all);
    if (all != NULL)
        px__handler_services(data, all, count);
    *n = count;
    return all;
}

static void px__oom(void *data)
{
    px_handler_fail(data, PX_RESOURCE_EXHAUSTED, "reflection: out of memory");
}

static void px__list_services(Plexus__Reflection__V1__Reflection_Service *svc,
                     const Plexus__Reflection__V1__ListServicesRequest *in,
                     Plexus__Reflection__V1__ListServicesReply_Closure closure, void *data)
{
    (void)svc;
    (void)in;
    size_t n = 0, n_methods = 0;
    const ProtobufCServiceDescriptor **sds = px__services(data, &n);
    for (size_t i = 0; sds != NULL && i < n; i++)
        n_methods += sds[i]->n_methods;
    /* The reply points into the static descriptors: only the arrays are allocated. */
    Plexus__Reflection__V1__ServiceInfo *infos = calloc(n ? n : 1, sizeof *infos);
    Plexus__Reflection__V1__ServiceInfo **info_ptrs = calloc(n ? n : 1, sizeof *info_ptrs);
    Plexus__Reflection__V1__MethodInfo *ms = calloc(n_methods ? n_methods : 1, sizeof *ms);
    Plexus__Reflection__V1__MethodInfo **m_ptrs = calloc(n_methods ? n_methods : 1, sizeof *m_ptrs);
    if (sds == NULL || infos == NULL || info_ptrs == NULL || ms == NULL || m_ptrs == NULL) {
        px__oom(data);
        closure(NULL, data);
    } else {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            plexus__reflection__v1__service_info__init(&infos[i]);
            infos[i].name = (char *)sds[i]->name;
            infos[i].n_methods = sds[i]->n_methods;
            infos[i].methods = &m_ptrs[k];
            for (unsigned j = 0; j < sds[i]->n_methods; j++, k++) {
                plexus__reflection__v1__method_info__init(&ms[k]);
                ms[k].name = (char *)sds[i]->methods[j].name;
                ms[k].input_type = (char *)sds[i]->methods[j].input->name;
                ms[k].output_type = (char *)sds[i]->methods[j].output->name;
                m_ptrs[k] = &ms[k];
            }
            info_ptrs[i] = &infos[i];
        }
        Plexus__Reflection__V1__ListServicesReply reply =
            PLEXUS__REFLECTION__V1__LIST_SERVICES_REPLY__INIT;
        reply.n_services = n;
        reply.services = info_ptrs;
        closure(&reply, data);
    }
    free(m_ptrs);
    free(ms);
    free(info_ptrs);
    free(infos);
    free(sds);
}

static void px__file_descriptors(Plexus__Reflection__V1__Reflection_Service *svc,
                      const Plexus__Reflection__V1__FileDescriptorsRequest *in,
                      Plexus__Reflection__V1__FileDescriptorsReply_Closure closure, void *data)
{
    (void)svc;
    size_t n = 0;
    const ProtobufCServiceDescriptor **sds = px__services(data, &n);
    const ProtobufCServiceDescriptor *sd = NULL;
    for (size_t i = 0; sds != NULL && i < n && sd == NULL; i++)
        if (strcmp(sds[i]->name, in->service) == 0)
            sd = sds[i];
    if (sds == NULL) {
        px__oom(data);
    } else if (sd == NULL) {
        px_handler_fail(data, PX_NOT_FOUND, "this server serves no service '%s'", in->service);
    } else {
        ProtobufCBinaryData *files = NULL;
        size_t n_files = 0;
        px_err err;
        px_err_clear(&err);
        if (px__reflect_files(sd, &files, &n_files, &err) != PX_OK) {
            px_handler_fail(data, err.status, "%s", err.msg);
        } else {
            Plexus__Reflection__V1__FileDescriptorsReply reply =
                PLEXUS__REFLECTION__V1__FILE_DESCRIPTORS_REPLY__INIT;
            reply.n_file = n_files;
            reply.file = files;
            free(sds);
            closure(&reply, data);
            px__reflect_files_free(files, n_files);
            return;
        }
    }
    free(sds);
    closure(NULL, data);
}

typedef struct px__refl_state {
    Plexus__Reflection__V1__Reflection_Service svc;
} px__refl_state;

static px_status px__create(const px_module_env *env, const void *conf, void **state,
                            px_err *err)
{
    (void)env;
    (void)conf;
    px__refl_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "reflection: out of memory");
    Plexus__Reflection__V1__Reflection_Service init = PLEXUS__REFLECTION__V1__REFLECTION__INIT(px__);
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
    return &((px__refl_state *)state)->svc.base;
}

static const px_service_ops px__reflection_ops = {
    .descriptor = &plexus__reflection__v1__reflection__descriptor,
    .service = px__service,
};

const px_module px_service_reflection_module = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_SERVICE,
    .name = "px_reflection",
    .version = "1.0.0",
    .description = "plexus.reflection.v1.Reflection: the server's services, methods and "
                   "their descriptors (server.reflection)",
    .create = px__create,
    .destroy = px__destroy,
    .ops = &px__reflection_ops,
};
