/* NAMING "static", built into libplexus: the upstream's `endpoints:` list from the
 * config, with its weights, delivered once when the client starts. Host names in it
 * were resolved when the file was loaded (the entries carry their socket address), so
 * the list is exactly what `plexus check` saw. It uses only the public SDK, as any
 * naming module does. */
#include <plexus/plexus.h>

static px_status px__static_start(void *state, px_naming_sink *sink, px_err *err)
{
    size_t n;
    const px_naming_endpoint *eps = px_naming_configured(sink, &n);
    if (n == 0) /* the config requires the list (PX_NAMING_USES_ENDPOINTS) */
        return px_err_set(err, PX_FAILED_PRECONDITION, "upstream %s lists no endpoints",
                          px_naming_upstream(sink));
    px_status st = px_naming_set(sink, eps, n);
    if (st != PX_OK)
        return px_err_set(err, st, "upstream %s: the endpoints: list was not taken (see the "
                                   "log)",
                          px_naming_upstream(sink));
    return PX_OK;
}

static const px_naming_ops px__static_ops = {
    .flags = PX_NAMING_USES_ENDPOINTS,
    .start = px__static_start,
};

const px_module px_naming_static_module = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_NAMING,
    .name = "static",
    .version = "1.0.0",
    .description = "the upstream's endpoints: list from the config, with its weights",
    .ops = &px__static_ops,
};
