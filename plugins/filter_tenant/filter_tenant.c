/* FILTER "tenant": a call must name its tenant in the request metadata key
 * `x-tenant`, and the tenant must be one of those configured; any other call is
 * refused with PERMISSION_DENIED before its handler runs. The tenant that was let
 * through is echoed to the client in the response metadata key `x-tenant-seen`. */
#include <stdlib.h>
#include <string.h>
#include <plexus/plexus.h>

typedef struct tenant_conf {
    char *allow;  /* "acme,globex": the tenants let through */
    char *header; /* the metadata key that names the tenant */
} tenant_conf;

/* Whether value[0..len) is one of the comma-separated names of list. */
static int listed(const char *list, const char *value, size_t len)
{
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && memcmp(p, value, len) == 0)
            return 1;
        p += n + (end != NULL);
    }
    return 0;
}

static px_filter_verdict tenant_request(void *state, px_fcall *call)
{
    const tenant_conf *c = state;
    size_t len = 0;
    const char *tenant = px_meta_get(px_fcall_meta(call), c->header, &len);
    if (tenant == NULL) {
        px_fcall_reject(call, PX_PERMISSION_DENIED, "%s: no '%s' in the request metadata",
                        px_fcall_method(call), c->header);
        return PX_FILTER_REJECT;
    }
    if (!listed(c->allow, tenant, len)) {
        px_fcall_reject(call, PX_PERMISSION_DENIED, "%s: tenant '%.*s' is not allowed",
                        px_fcall_method(call), (int)(len < 64 ? len : 64), tenant);
        return PX_FILTER_REJECT;
    }
    px_err err;
    px_err_clear(&err);
    /* Sent back with the answer; a failure here only loses the echo. */
    px_fcall_add_meta(call, "x-tenant-seen", tenant, len, &err);
    return PX_FILTER_CONTINUE;
}

static const px_directive tenant_directives[] = {
    {.name = "allow", .type = PX_DIR_STRING, .offset = offsetof(tenant_conf, allow),
     .required = 1, .help = "comma-separated tenants let through, e.g. acme,globex"},
    {.name = "header", .type = PX_DIR_STRING, .offset = offsetof(tenant_conf, header),
     .def = "x-tenant", .help = "the request metadata key that names the tenant"},
    {.name = NULL},
};

static const px_filter_ops tenant_ops = {
    .sides = PX_FILTER_SERVER,
    .on_request = tenant_request,
};

/* No create(): the state is the validated conf itself. */
PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_FILTER,
    .name = "tenant",
    .version = "1.0.0",
    .description = "refuse calls whose x-tenant metadata is missing or not allowed",
    .conf_size = sizeof(tenant_conf),
    .directives = tenant_directives,
    .ops = &tenant_ops,
};
