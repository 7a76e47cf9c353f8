/* The table of built-in modules (see core/config/px_builtin.h). */
#include <string.h>
#include "px_builtin.h"

extern const px_module px_naming_static_module;
extern const px_module px_proto_native_module;
extern const px_module px_service_reflection_module;
extern const px_module px_service_health_module;

static const px_module *const px__builtins[] = {
    &px_naming_static_module,
    &px_proto_native_module,
    &px_service_reflection_module,
    &px_service_health_module,
};

const px_module *const *px_builtin_all(size_t *n)
{
    *n = sizeof px__builtins / sizeof px__builtins[0];
    return px__builtins;
}

const px_module *px_builtin_find(px_module_kind kind, const char *name)
{
    for (size_t i = 0; i < sizeof px__builtins / sizeof px__builtins[0]; i++)
        if (px__builtins[i]->kind == kind && strcmp(px__builtins[i]->name, name) == 0)
            return px__builtins[i];
    return NULL;
}
