/* Leveled logging: a hook of the embedding program, or one fprintf per line to stderr
 * (so lines from threads do not interleave) with a UTC timestamp. */
#include "px_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int px__level = -1;
static char px__name[64] = "plexus";
/* Held for reading while a hook runs, so that px_log_set_hook can promise the old hook
 * is done when it returns. Logging is off the hot paths: the lock costs nothing there. */
static pthread_rwlock_t px__hook_lock = PTHREAD_RWLOCK_INITIALIZER;
static px_log_hook_fn px__hook;
static void *px__hook_arg;

static const char *const px__names[] = {"error", "warn", "info", "debug"};

const char *px_log_level_name(px_log_level lvl)
{
    return (unsigned)lvl < sizeof px__names / sizeof px__names[0] ? px__names[lvl] : "?";
}

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

void px_log_set_level(px_log_level lvl) { __atomic_store_n(&px__level, (int)lvl, __ATOMIC_RELAXED); }

void px_log_set_name(const char *name)
{
    snprintf(px__name, sizeof px__name, "%s", name && name[0] ? name : "plexus");
}

void px_log_set_hook(px_log_hook_fn fn, void *arg)
{
    pthread_rwlock_wrlock(&px__hook_lock);
    px__hook = fn;
    px__hook_arg = arg;
    pthread_rwlock_unlock(&px__hook_lock);
}

/* "2026-12-06T18:27:21.123Z" (RFC 3339, UTC, milliseconds), never earlier than the
 * line before: when the real-time clock is stepped back (NTP, an operator), the stamps
 * hold at the last one until the clock passes it again, so the log stays in order. */
static int64_t px__last_stamp_ms;

static void px__stamp(char *buf, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int64_t last = __atomic_load_n(&px__last_stamp_ms, __ATOMIC_RELAXED);
    while (ms > last && !__atomic_compare_exchange_n(&px__last_stamp_ms, &last, ms, 1,
                                                     __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    if (ms < last)
        ms = last;
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03dZ", (int)(ms % 1000));
}

void px_log(px_log_level lvl, const char *module, const char *fmt, ...)
{
    if (!px_log_enabled(lvl))
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (module == NULL || module[0] == '\0')
        module = px__name;
    pthread_rwlock_rdlock(&px__hook_lock);
    if (px__hook) {
        px__hook(px__hook_arg, lvl, module, line);
        pthread_rwlock_unlock(&px__hook_lock);
        return;
    }
    pthread_rwlock_unlock(&px__hook_lock);
    char stamp[40];
    px__stamp(stamp, sizeof stamp);
    fprintf(stderr, "%s %s [%s] %s\n", stamp, px_log_level_name(lvl), module, line);
}
