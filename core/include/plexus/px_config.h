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
/*
 * What a loaded config holds, for tools and programs that show it or run a part of it
 * on their own (the plexus CLI is built on these alone). Since ABI 1.5; new functions
 * only: a program using them on an older libplexus fails at load naming the symbol.
 */
struct ProtobufCServiceDescriptor;
struct px_module;
/** The path the config was loaded from (or the name given to px_config_parse). */
PX_API const char *px_config_file(const px_config *cfg);
/** server.pid_file as written (plexusd resolves it against the config's folder); NULL
 *  when unset. New in ABI 1.5's library. */
PX_API const char *px_config_pid_file(const px_config *cfg);
/** The modules the config loaded, in load order; path: the file each came from. */
PX_API size_t px_config_module_count(const px_config *cfg);
PX_API const struct px_module *px_config_module(const px_config *cfg, size_t i,
                                                const char **path);
/** client.descriptors: the services the config names for their descriptors only. The
 *  i-th one's descriptor, or NULL when its module carries none; mod (if not NULL): the
 *  service module. */
PX_API size_t px_config_descriptor_count(const px_config *cfg);
PX_API const struct ProtobufCServiceDescriptor *
px_config_descriptor(const px_config *cfg, size_t i, const struct px_module **mod);
/** client.io_threads (default 1). */
PX_API int px_config_io_threads(const px_config *cfg);
/** server.processes (default 1): how many worker processes plexusd runs. */
PX_API int px_config_server_processes(const px_config *cfg);
/** The config's upstreams by position; NULL past the end. */
PX_API size_t px_config_upstream_count(const px_config *cfg);
PX_API const char *px_config_upstream_name(const px_config *cfg, size_t i);
/** Upstream name's codec module name and endpoint count; NULL / 0 when it has none. */
PX_API const char *px_config_upstream_codec(const px_config *cfg, const char *name);
PX_API size_t px_config_upstream_endpoints(const px_config *cfg, const char *name);
/** Sets upstream name's connections_per_endpoint (1..64) for clients made from cfg
 *  afterwards (what `plexus bench --connections` does); PX_NOT_FOUND or
 *  PX_INVALID_ARGUMENT with err saying why. */
PX_API px_status px_config_upstream_set_connections(px_config *cfg, const char *name, int n,
                                                    px_err *err);

/** Frees the config and unloads its modules: free clients and servers first. */
PX_API void px_config_free(px_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
