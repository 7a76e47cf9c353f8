/* Logging for the core, modules and the program that embeds them: one line per call,
 * to stderr by default or to the embedding program's own logger through a hook. */
#ifndef PLEXUS_PX_LOG_H
#define PLEXUS_PX_LOG_H

#include "px_export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { PX_LOG_ERROR = 0, PX_LOG_WARN, PX_LOG_INFO, PX_LOG_DEBUG } px_log_level;

/**
 * Logs one line at lvl for module (its name, e.g. "lb_consistent_hash"; NULL: the
 * core's name, see px_log_set_name). Lines above the level are dropped: the level is
 * PLEXUS_LOG=error|warn|info|debug from the environment (default info), or what
 * px_log_set_level set. Without a hook the line goes to stderr in one write:
 * `2026-12-06T18:27:21.123Z warn [lb_consistent_hash] message` (UTC, milliseconds).
 * Safe from any thread; a message is cut at 1023 bytes. Not async-signal-safe.
 */
PX_API void px_log(px_log_level lvl, const char *module, const char *fmt, ...) PX_PRINTF(3, 4);
/** Whether a line at lvl would be logged (to skip building an expensive message). */
PX_API int px_log_enabled(px_log_level lvl);
/** Sets the level in code, overriding PLEXUS_LOG. */
PX_API void px_log_set_level(px_log_level lvl);
/** "error", "warn", "info", "debug". */
PX_API const char *px_log_level_name(px_log_level lvl);

/**
 * Receives every line that passes the level instead of stderr: the level, the module
 * name (never NULL) and the formatted message without a timestamp or a newline (the
 * embedding program's logger adds its own). It may run on any thread, several at once;
 * it must not call px_log or px_log_set_hook itself.
 */
typedef void (*px_log_hook_fn)(void *arg, px_log_level lvl, const char *module,
                               const char *msg);
/**
 * Routes log lines to fn(arg, ...); NULL restores stderr. Callable from any thread at
 * any time: once it returns, the previous hook is not running and will not be called
 * again (so its arg may be freed).
 */
PX_API void px_log_set_hook(px_log_hook_fn fn, void *arg);
/** The module name of the core's own lines (default "plexus"; plexusd sets
 *  "plexusd SERVER_ID"). Call it at start, before other threads log. */
PX_API void px_log_set_name(const char *name);

#ifdef __cplusplus
}
#endif
#endif
