/* Durations as docs/CONFIG.md writes them. The core's parser is internal to libplexus
 * (not in the SDK), so a module that takes durations inside a string parses them here. */
#include "pm_duration.h"

#include <ctype.h>
#include <string.h>

typedef struct pm_unit {
    const char *name;
    int64_t us;
} pm_unit;

/* Longest names first, so "ms" is not read as "m". */
static const pm_unit pm_units[] = {
    {"us", 1}, {"ms", 1000}, {"s", 1000000}, {"m", 60000000}, {"h", 3600000000LL},
    {"d", 86400000000LL}, {NULL, 0},
};

static const char *const pm_bad = "is not a duration (use e.g. 250ms, 5s)";

const char *pm_parse_duration(const char *text, int64_t *us)
{
    if (text == NULL || *text == '\0')
        return pm_bad;
    if (strcmp(text, "0") == 0) {
        *us = 0;
        return NULL;
    }
    if (text[0] == '-')
        return "is negative (durations are 0 or more)";
    const char *p = text;
    int64_t total = 0;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return pm_bad;
        int64_t ip = 0, frac = 0, scale = 1;
        for (; isdigit((unsigned char)*p); p++) {
            if (ip > (INT64_MAX - 9) / 10)
                return "is too long";
            ip = ip * 10 + (*p - '0');
        }
        if (*p == '.') {
            p++;
            if (!isdigit((unsigned char)*p))
                return pm_bad;
            for (; isdigit((unsigned char)*p); p++) {
                if (scale == 1000000)
                    return "has more than 6 decimal places";
                frac = frac * 10 + (*p - '0');
                scale *= 10;
            }
        }
        const pm_unit *u = NULL;
        for (const pm_unit *c = pm_units; c->name; c++) {
            size_t n = strlen(c->name);
            if (strncmp(p, c->name, n) == 0 && !isalpha((unsigned char)p[n])) {
                u = c;
                break;
            }
        }
        if (u == NULL)
            return *p ? pm_bad : "has no unit (use e.g. 250ms, 5s)";
        p += strlen(u->name);
        if (ip > INT64_MAX / u->us)
            return "is too long";
        int64_t part = ip * u->us;
        if ((frac * u->us) % scale != 0)
            return "is finer than one microsecond";
        part += frac * u->us / scale;
        if (part > INT64_MAX - total)
            return "is too long";
        total += part;
    }
    *us = total;
    return NULL;
}
