/* Modules compiled into libplexus, the way nginx builds its core modules in: the loader
 * finds them by (kind, name) before it searches the module path, checks them as it checks
 * a file, and `plexus modules` lists them as built-in. They use only the public SDK, like
 * any module. The table lives in core/builtin/px_builtin.c, above every layer, so that a
 * built-in module may call the SDK's client functions (a naming module feeds its sink). */
#ifndef PX_BUILTIN_H
#define PX_BUILTIN_H

#include <stddef.h>
#include "plexus/px_module.h"

/** What the loader records as the path of a built-in module. */
#define PX_BUILTIN_PATH "(built-in)"

/** The built-in module of kind named name, or NULL. */
const px_module *px_builtin_find(px_module_kind kind, const char *name);
/** Every built-in module: n of them. */
const px_module *const *px_builtin_all(size_t *n);

#endif
