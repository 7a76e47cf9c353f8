/* Who a server's call comes from: the principal and groups a filter sets (px_filter.h),
 * kept in the px_fident room the server gives the call (no allocation per call). */
#include <string.h>

#include "px_fchain.h"

/* Printable ASCII without space; a comma too unless it separates groups. 0 when fine,
 * else the offending byte's index + 1. */
static size_t px__bad_byte(const char *s, size_t len, int comma_ok)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || (c == ',' && !comma_ok))
            return i + 1;
    }
    return 0;
}

/* Checks text for a field of cap bytes and copies it in; what says which one. */
static px_status px__set(px_fcall *call, char *field, size_t cap, const char *text,
                         int groups, px_err *err)
{
    const char *what = groups ? "groups" : "principal";
    if (call->ident == NULL)
        return px_err_set(err, PX_FAILED_PRECONDITION,
                          "%s: a %s is set on a server's calls only", call->method, what);
    if (text == NULL)
        text = "";
    size_t len = strnlen(text, cap + 1), bad;
    if (len == 0 && !groups)
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s: empty principal", call->method);
    if (len > cap)
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s: %s longer than %zu bytes",
                          call->method, what, cap);
    if ((bad = px__bad_byte(text, len, groups)) != 0)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "%s: %s has byte 0x%02x at %zu (printable ASCII without space%s)",
                          call->method, what, (unsigned char)text[bad - 1], bad - 1,
                          groups ? "" : " or comma");
    if (groups && len > 0 && (text[0] == ',' || text[len - 1] == ',' || strstr(text, ",,")))
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s: groups '%s' has an empty name",
                          call->method, text);
    memcpy(field, text, len + 1);
    return PX_OK;
}

px_status px_fcall_set_principal(px_fcall *call, const char *principal, px_err *err)
{
    char *field = call->ident ? call->ident->principal : NULL;
    return px__set(call, field, PX_PRINCIPAL_MAX, principal, 0, err);
}

px_status px_fcall_set_groups(px_fcall *call, const char *groups, px_err *err)
{
    char *field = call->ident ? call->ident->groups : NULL;
    return px__set(call, field, PX_GROUPS_MAX, groups, 1, err);
}

const char *px_fcall_principal(const px_fcall *call)
{
    return call->ident && call->ident->principal[0] ? call->ident->principal : NULL;
}

int px_fcall_in_group(const px_fcall *call, const char *group)
{
    if (call->ident == NULL || group == NULL || group[0] == '\0')
        return 0;
    size_t n = strlen(group);
    for (const char *g = call->ident->groups; *g;) {
        const char *end = strchr(g, ',');
        size_t len = end ? (size_t)(end - g) : strlen(g);
        if (len == n && memcmp(g, group, n) == 0)
            return 1;
        if (!end)
            break;
        g = end + 1;
    }
    return 0;
}
