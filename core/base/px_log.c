/* Leveled logging: one fprintf per line so lines from threads do not interleave. */
#include "px_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int px__level = -1;
static char px__name[64];

static int px__current_level(void)
{
    int lvl = __atomic_load_n(&px__level, __ATOMIC_RELAXED);
    if (lvl >= 0)
        return lvl;
    const char *e = getenv("PLEXUS_LOG");
    lvl = PX_LOG_INFO;
    if (e) {
        if (!strcmp(e, "error")) lvl = PX_LOG_ERROR;
        else if (!strcmp(e, "warn")) lvl = PX_LOG_WARN;
        else if (!strcmp(e, "debug")) lvl = PX_LOG_DEBUG;
    }
    __atomic_store_n(&px__level, lvl, __ATOMIC_RELAXED);
    return lvl;
}

int px_log_enabled(px_log_level lvl) { return (int)lvl <= px__current_level(); }

void px_log_set_name(const char *name)
{
    snprintf(px__name, sizeof px__name, "%s", name ? name : "");
}

void px_log(px_log_level lvl, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    if (!px_log_enabled(lvl))
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s%s%s: %s\n", px__name, px__name[0] ? " " : "", names[lvl], line);
}
