/* Paths in a module's config: relative to the config file's folder, as every path in a
 * config is. Compiled into the modules that take a path (access_log, auth_token). */
#ifndef PX_MOD_PATH_H
#define PX_MOD_PATH_H

#include <stddef.h>
#include <plexus/px_module.h>

/** path made absolute against env's config file into out[cap] (so a message says where
 *  it led); 0, or -1 when it does not fit. */
int px_mod_path(const px_module_env *env, const char *path, char *out, size_t cap);

#endif
