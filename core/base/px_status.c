/* Status names and messages, generated from the PX_STATUS_MAP X-macro. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "plexus/px_status.h"

/* Indexed by code: the map's codes are dense 0..PX_STATUS_COUNT-1. */
static const char *const px__status_names[] = {
#define PX__STATUS_NAME(name, code, msg) [code] = #name,
    PX_STATUS_MAP(PX__STATUS_NAME)
#undef PX__STATUS_NAME
};

static const char *const px__status_messages[] = {
#define PX__STATUS_MSG(name, code, msg) [code] = msg,
    PX_STATUS_MAP(PX__STATUS_MSG)
#undef PX__STATUS_MSG
};

_Static_assert(sizeof px__status_names / sizeof px__status_names[0] == PX_STATUS_COUNT,
               "status codes must be dense");

static int px__status_valid(px_status st)
{
    return (int)st >= 0 && (int)st < (int)PX_STATUS_COUNT;
}

const char *px_status_name(px_status st)
{
    return px__status_valid(st) ? px__status_names[st] : "UNKNOWN_STATUS";
}

const char *px_status_message(px_status st)
{
    return px__status_valid(st) ? px__status_messages[st] : "unknown status code";
}

int px_status_from_name(const char *name, px_status *out)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < (int)PX_STATUS_COUNT; i++) {
        if (strcmp(name, px__status_names[i]) == 0) {
            if (out)
                *out = (px_status)i;
            return 0;
        }
    }
    return -1;
}

px_status px_err_set(px_err *err, px_status st, const char *fmt, ...)
{
    if (err == NULL)
        return st;
    err->status = st;
    if (fmt == NULL) {
        snprintf(err->msg, sizeof err->msg, "%s", px_status_message(st));
        return st;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return st;
}

void px_err_clear(px_err *err)
{
    if (err == NULL)
        return;
    err->status = PX_OK;
    err->msg[0] = '\0';
}
