/* Loading a Plexus YAML file: schema check, module loading, directive validation. */
#ifndef PLEXUS_PX_CONFIG_H
#define PLEXUS_PX_CONFIG_H

#include <stddef.h>
#include "px_export.h"
#include "px_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct px_config px_config;

/**
 * Parses path, checks every key against the schema, loads the modules it names
 * from modules.path and validates each module's block against its directives.
 * On failure returns a status and err->msg reads "FILE:LINE:COL: message" (or
 * "FILE: message" when no position applies).
 */
PX_API px_status px_config_load(const char *path, px_config **out, px_err *err);
/**
 * The same from a YAML document in memory (len bytes of text): name stands for the
 * file in messages ("NAME:LINE:COL: message") and relative modules.path entries are
 * relative to its directory (the current directory when it has none). Since ABI 1.5.
 */
PX_API px_status px_config_parse(const char *text, size_t len, const char *name,
                                 px_config **out, px_err *err);
/** Whether the config has a server: section (what plexusd -t checks). Since ABI 1.5. */
PX_API int px_config_has_server(const px_config *cfg);
/** Frees the config and unloads its modules: free clients and servers first. */
PX_API void px_config_free(px_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
