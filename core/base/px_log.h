/* Minimal leveled logging to stderr; PLEXUS_LOG=error|warn|info|debug sets the level. */
#ifndef PX_LOG_H
#define PX_LOG_H

#include "plexus/px_export.h"

typedef enum { PX_LOG_ERROR = 0, PX_LOG_WARN, PX_LOG_INFO, PX_LOG_DEBUG } px_log_level;

void px_log(px_log_level lvl, const char *fmt, ...) PX_PRINTF(2, 3);
int px_log_enabled(px_log_level lvl);
/** Prefix every line with this (e.g. "plexusd[s1]"); NULL for none. Not thread-safe: call at start. */
void px_log_set_name(const char *name);

#define px_log_error(...) px_log(PX_LOG_ERROR, __VA_ARGS__)
#define px_log_warn(...) px_log(PX_LOG_WARN, __VA_ARGS__)
#define px_log_info(...) px_log(PX_LOG_INFO, __VA_ARGS__)
#define px_log_debug(...) do { if (px_log_enabled(PX_LOG_DEBUG)) px_log(PX_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
