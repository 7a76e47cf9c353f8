/* The core's own log lines: the SDK's px_log under the core's name (px_log_set_name). */
#ifndef PX_LOG_H
#define PX_LOG_H

#include "plexus/px_log.h"

#define px_log_error(...) px_log(PX_LOG_ERROR, NULL, __VA_ARGS__)
#define px_log_warn(...) px_log(PX_LOG_WARN, NULL, __VA_ARGS__)
#define px_log_info(...) px_log(PX_LOG_INFO, NULL, __VA_ARGS__)
#define px_log_debug(...) do { if (px_log_enabled(PX_LOG_DEBUG)) px_log(PX_LOG_DEBUG, NULL, __VA_ARGS__); } while (0)

#endif
