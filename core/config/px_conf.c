/* Typed setters (duration, size, bool, int, ...) and the directive engine over YAML mappings. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "px_conf.h"

/* ---- setters ---------------------------------------------------------------- */

#define PX__MAX_FRAC_DIGITS 6

/* A decimal "12", "1.5", "0.25": integer part, fraction digits (trailing zeros
 * dropped) and their count. Returns NULL or why it is no number it can use. */
static const char *px__decimal(const char **p, uint64_t *ip, uint64_t *frac, int *fdig)
{
    const char *s = *p;
    uint64_t v = 0;
    int digits = 0;
    for (; isdigit((unsigned char)*s); s++, digits++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return "is too large";
        v = v * 10 + d;
    }
    uint64_t f = 0;
    int fd = 0, zeros = 0;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s) || digits == 0)
            return NULL; /* "5." or ".5": reported as malformed by the caller */
        for (; isdigit((unsigned char)*s); s++) {
            if (*s == '0') { /* defer zeros: trailing ones are dropped */
                zeros++;
                continue;
            }
            if (fd + zeros + 1 > PX__MAX_FRAC_DIGITS)
                return "has more than 6 decimal places";
            for (; zeros > 0; zeros--, fd++)
                f *= 10;
            f = f * 10 + (uint64_t)(*s - '0');
            fd++;
        }
    }
    if (digits == 0)
        return NULL;
    *ip = v;
    *frac = f;
    *fdig = fd;
    *p = s;
    return NULL;
}

static uint64_t px__pow10(int n)
{
    uint64_t r = 1;
    while (n-- > 0)
        r *= 10;
    return r;
}

/* ip.frac * mult, exact; "whole" names the unit a fraction may not split. */
static const char *px__scale(uint64_t ip, uint64_t frac, int fdig, uint64_t mult,
                             uint64_t limit, const char *whole, uint64_t *out)
{
    uint64_t den = px__pow10(fdig);
    /* frac < 10^6 and mult <= 2^40 (TiB) or 8.64e10 (d): the product fits 64 bits. */
    uint64_t fnum = frac * mult;
    if (fnum % den != 0)
        return whole;
    uint64_t fpart = fnum / den;
    if (ip > (limit - fpart) / mult)
        return "is too large";
    *out = ip * mult + fpart;
    return NULL;
}

typedef struct px__unit {
    const char *name;
    uint64_t mult;
} px__unit;

/* Longest names first so "ms" is not read as "m" followed by "s". */
static const px__unit px__duration_units[] = {
    {"us", 1ull},         {"ms", 1000ull},       {"s", 1000000ull},
    {"m", 60000000ull},   {"h", 3600000000ull},  {"d", 86400000000ull},
    {NULL, 0},
};

static const px__unit px__size_units[] = {
    {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}, {"TiB", 1ull << 40},
    {"KB", 1000ull},     {"kB", 1000ull},     {"MB", 1000000ull},  {"GB", 1000000000ull},
    {"TB", 1000000000000ull}, {"B", 1ull},    {NULL, 0},
};

static const px__unit *px__unit_at(const px__unit *units, const char **p)
{
    for (const px__unit *u = units; u->name; u++) {
        size_t n = strlen(u->name);
        if (strncmp(*p, u->name, n) == 0) {
            *p += n;
            return u;
        }
    }
    return NULL;
}

#define PX__NOT_DURATION "is not a duration (use e.g. 250ms, 5s)"

const char *px_parse_duration(const char *text, int64_t *us)
{
    if (text == NULL || *text == '\0')
        return PX__NOT_DURATION;
    if (text[0] == '-')
        return "is negative (durations are 0 or more, e.g. 250ms)";
    if (strcmp(text, "0") == 0) {
        *us = 0;
        return NULL;
    }
    const char *p = text;
    uint64_t total = 0;
    while (*p) {
        uint64_t ip, frac, part;
        int fdig;
        const char *num = p;
        const char *why = px__decimal(&p, &ip, &frac, &fdig);
        if (why)
            return why;
        if (p == num)
            return PX__NOT_DURATION;
        const px__unit *u = px__unit_at(px__duration_units, &p);
        if (u == NULL)
            return *p == '\0' ? "has no unit (use us, ms, s, m, h or d, e.g. 250ms)"
                              : PX__NOT_DURATION;
        why = px__scale(ip, frac, fdig, u->mult, INT64_MAX, "is finer than 1us", &part);
        if (why)
            return why;
        if (part > (uint64_t)INT64_MAX - total)
            return "is too large";
        total += part;
    }
    *us = (int64_t)total;
    return NULL;
}

const char *px_parse_size(const char *text, uint64_t *bytes)
{
    static const char *const bad = "is not a size (use e.g. 1024, 64KB, 512KiB, 4MiB, 1GiB)";
    if (text == NULL || *text == '\0')
        return bad;
    if (text[0] == '-')
        return "is negative (sizes are 0 or more, e.g. 4MiB)";
    const char *p = text;
    uint64_t ip, frac;
    int fdig;
    const char *why = px__decimal(&p, &ip, &frac, &fdig);
    if (why)
        return why;
    if (p == text)
        return bad;
    static const px__unit plain_bytes = {"B", 1};
    const px__unit *u = *p ? px__unit_at(px__size_units, &p) : &plain_bytes;
    if (u == NULL || *p != '\0')
        return bad;
    return px__scale(ip, frac, fdig, u->mult, UINT64_MAX, "is not a whole number of bytes",
                     bytes);
}

const char *px_parse_bool(const char *text, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", NULL};
    static const char *const no[] = {"false", "no", "off", NULL};
    for (int i = 0; yes[i]; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = 1;
            return NULL;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = 0;
            return NULL;
        }
    }
    return "is not a boolean (use true or false)";
}

const char *px_parse_int(const char *text, int64_t *out)
{
    const char *p = text + (text[0] == '-' || text[0] == '+');
    if (!isdigit((unsigned char)*p))
        return "is not an integer";
    for (; *p; p++)
        if (!isdigit((unsigned char)*p))
            return "is not an integer";
    errno = 0;
    long long v = strtoll(text, NULL, 10);
    if (errno == ERANGE)
        return "is outside the 64-bit integer range";
    *out = v;
    return NULL;
}

const char *px_parse_double(const char *text, double *out)
{
    /* strtod alone would also take "inf", "nan", hex and leading blanks. */
    if (*text == '\0' || strspn(text, "0123456789+-.eE") != strlen(text))
        return "is not a number";
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0')
        return "is not a number";
    if (errno == ERANGE && fabs(v) > 1.0)
        return "is too large";
    if (!isfinite(v))
        return "is not a finite number";
    *out = v;
    return NULL;
}

const char *px_parse_enum(const char *text, const char *const *values, int *out)
{
    for (int i = 0; values && values[i]; i++) {
        if (strcmp(text, values[i]) == 0) {
            *out = i;
            return NULL;
        }
    }
    return "is not one of the accepted values";
}

const char *px_dir_type_name(px_dir_type type)
{
    switch (type) {
    case PX_DIR_BOOL: return "bool";
    case PX_DIR_INT: return "int";
    case PX_DIR_DOUBLE: return "double";
    case PX_DIR_DURATION: return "duration";
    case PX_DIR_SIZE: return "size";
    case PX_DIR_STRING: return "string";
    case PX_DIR_ENUM: return "enum";
    case PX_DIR_LIST: return "list";
    }
    return "unknown";
}

/* ---- the directive engine ----------------------------------------------------- */

typedef union px__val {
    int b;
    int64_t i;
    double d;
    uint64_t u;
    int e;
} px__val;

static int px__known_type(px_dir_type t)
{
    return t >= PX_DIR_BOOL && t <= PX_DIR_LIST;
}

static int px__numeric(px_dir_type t)
{
    return t == PX_DIR_INT || t == PX_DIR_DOUBLE || t == PX_DIR_DURATION || t == PX_DIR_SIZE;
}

/* "a, b, c" of an enum's values into buf. */
static void px__join(char *buf, size_t n, const char *const *values)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; values && values[i] && at < n; i++)
        at += (size_t)snprintf(buf + at, n - at, "%s%s", i ? ", " : "", values[i]);
}

/* What a value of d's type looks like, for "expected ..." messages. */
static const char *px__expected(const px_directive *d, char *buf, size_t n)
{
    switch (d->type) {
    case PX_DIR_BOOL: return "a boolean (true or false)";
    case PX_DIR_INT: return "an integer";
    case PX_DIR_DOUBLE: return "a number";
    case PX_DIR_DURATION: return "a duration (e.g. 250ms, 5s)";
    case PX_DIR_SIZE: return "a size (e.g. 64KiB, 4MiB)";
    case PX_DIR_STRING: return "a string";
    case PX_DIR_LIST: return "a list of strings";
    case PX_DIR_ENUM: {
        char list[300];
        px__join(list, sizeof list, d->enum_values);
        snprintf(buf, n, "one of: %s", list);
        return buf;
    }
    }
    return "a value";
}

/* Runs d's setter; returns NULL or the phrase after the quoted text. */
static const char *px__parse(const px_directive *d, const char *text, px__val *v, char *buf,
                             size_t n)
{
    switch (d->type) {
    case PX_DIR_BOOL: return px_parse_bool(text, &v->b);
    case PX_DIR_INT: return px_parse_int(text, &v->i);
    case PX_DIR_DOUBLE: return px_parse_double(text, &v->d);
    case PX_DIR_DURATION: return px_parse_duration(text, &v->i);
    case PX_DIR_SIZE: return px_parse_size(text, &v->u);
    case PX_DIR_ENUM:
        if (px_parse_enum(text, d->enum_values, &v->e) == NULL)
            return NULL;
        char list[300];
        px__join(list, sizeof list, d->enum_values);
        snprintf(buf, n, "is not one of: %s", list);
        return buf;
    case PX_DIR_STRING:
    case PX_DIR_LIST: return NULL;
    }
    return "has a type the core does not know";
}

/* -1, 0, 1 comparing two values of a numeric type. */
static int px__cmp(px_dir_type t, const px__val *a, const px__val *b)
{
    switch (t) {
    case PX_DIR_INT:
    case PX_DIR_DURATION: return (a->i > b->i) - (a->i < b->i);
    case PX_DIR_SIZE: return (a->u > b->u) - (a->u < b->u);
    case PX_DIR_DOUBLE: return (a->d > b->d) - (a->d < b->d);
    default: return 0;
    }
}

/* NULL when v lies within d's bounds, else the phrase after the value. Bounds were
 * parsed by px_conf_check_table already; a bound that fails here is ignored only
 * if that check was skipped, and then the table is reported as broken. */
static const char *px__range(const px_directive *d, const px__val *v, char *buf, size_t n)
{
    if (!px__numeric(d->type))
        return NULL;
    px__val lo, hi;
    char tmp[16];
    int has_lo = d->min != NULL, has_hi = d->max != NULL;
    if ((has_lo && px__parse(d, d->min, &lo, tmp, sizeof tmp)) ||
        (has_hi && px__parse(d, d->max, &hi, tmp, sizeof tmp)))
        return "cannot be checked: the directive's min/max do not parse";
    if ((!has_lo || px__cmp(d->type, v, &lo) >= 0) && (!has_hi || px__cmp(d->type, v, &hi) <= 0))
        return NULL;
    if (has_lo && has_hi)
        snprintf(buf, n, "is out of range (%s..%s)", d->min, d->max);
    else if (has_lo)
        snprintf(buf, n, "is out of range (at least %s)", d->min);
    else
        snprintf(buf, n, "is out of range (at most %s)", d->max);
    return buf;
}

static void px__store(const px_directive *d, void *conf, const px__val *v)
{
    char *at = (char *)conf + d->offset;
    switch (d->type) {
    case PX_DIR_BOOL: memcpy(at, &v->b, sizeof(int)); break;
    case PX_DIR_ENUM: memcpy(at, &v->e, sizeof(int)); break;
    case PX_DIR_INT:
    case PX_DIR_DURATION: memcpy(at, &v->i, sizeof(int64_t)); break;
    case PX_DIR_SIZE: memcpy(at, &v->u, sizeof(uint64_t)); break;
    case PX_DIR_DOUBLE: memcpy(at, &v->d, sizeof(double)); break;
    case PX_DIR_STRING:
    case PX_DIR_LIST: break;
    }
}

/* Replaces the string at d's slot (NULL clears it). Returns -1 on OOM. */
static int px__store_string(const px_directive *d, void *conf, const char *s)
{
    char **slot = (char **)((char *)conf + d->offset);
    char *copy = NULL;
    if (s != NULL && (copy = strdup(s)) == NULL)
        return -1;
    free(*slot);
    *slot = copy;
    return 0;
}

/* A scalar a string or list directive can take: not null, no NUL inside. NULL or why. */
static const char *px__text_ok(const px_ynode *v)
{
    if (v->kind != PX_YSCALAR)
        return NULL;
    if (px_ynode_is_null(v))
        return "has no value";
    if (strlen(v->str) != v->len)
        return "contains a NUL character";
    return NULL;
}

/* Replaces the list at d's slot: one block holding the items, their text and the file
 * name, so the module reads it with no allocation of its own and the core frees it once. */
static px_status px__set_list(const px_directive *d, void *conf, const px_ynode *value,
                              const char *name, const char *file, px_err *err)
{
    const px_ynode *const *items = value->kind == PX_YSEQ ? (const px_ynode *const *)value->items
                                                          : &value;
    size_t n = value->kind == PX_YSEQ ? value->n : 1, text = strlen(file) + 1;
    for (size_t i = 0; i < n; i++) {
        const px_ynode *v = items[i];
        const char *why = v->kind != PX_YSCALAR ? "is not a string" : px__text_ok(v);
        if (why)
            return px_err_set(err, PX_INVALID_ARGUMENT, "%s:%d:%d: %s: item %zu %s%s%s", file,
                              v->line, v->col, name, i + 1, why,
                              v->kind != PX_YSCALAR ? ", a " : "",
                              v->kind != PX_YSCALAR ? px_ynode_kind_name(v->kind) : "");
        text += v->len + 1;
    }
    px_dir_list *l = malloc(sizeof *l + n * sizeof l->items[0] + text);
    if (l == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "%s: out of memory", file);
    char *at = (char *)&l->items[n];
    l->file = memcpy(at, file, strlen(file) + 1);
    at += strlen(file) + 1;
    l->n = n;
    for (size_t i = 0; i < n; i++) {
        l->items[i] = (px_dir_item){.str = memcpy(at, items[i]->str, items[i]->len + 1),
                                    .line = items[i]->line, .col = items[i]->col};
        at += items[i]->len + 1;
    }
    px_dir_list **slot = (px_dir_list **)((char *)conf + d->offset);
    free(*slot);
    *slot = l;
    return PX_OK;
}

/* "scope.name" or "name" into buf. */
static const char *px__qname(const char *scope, const char *name, char *buf, size_t n)
{
    if (scope == NULL || *scope == '\0')
        return name;
    snprintf(buf, n, "%s.%s", scope, name);
    return buf;
}

px_status px_conf_set(const px_directive *d, void *conf, const px_ynode *value,
                      const char *scope, const char *file, px_err *err)
{
    char qn[160], ex[320], why_buf[320];
    const char *name = px__qname(scope, d->name, qn, sizeof qn);
    if (d->type == PX_DIR_LIST && value->kind != PX_YMAP && !px_ynode_is_null(value))
        return px__set_list(d, conf, value, name, file, err);
    if (value->kind != PX_YSCALAR)
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s:%d:%d: %s: expected %s, got a %s", file,
                          value->line, value->col, name, px__expected(d, ex, sizeof ex),
                          px_ynode_kind_name(value->kind));
    if (px_ynode_is_null(value))
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s:%d:%d: %s: has no value (expected %s)",
                          file, value->line, value->col, name, px__expected(d, ex, sizeof ex));
    if (strlen(value->str) != value->len)
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s:%d:%d: %s: contains a NUL character",
                          file, value->line, value->col, name);
    if (d->type == PX_DIR_STRING) {
        if (px__store_string(d, conf, value->str) != 0)
            return px_err_set(err, PX_RESOURCE_EXHAUSTED, "%s: out of memory", file);
        return PX_OK;
    }
    px__val v;
    const char *why = px__parse(d, value->str, &v, why_buf, sizeof why_buf);
    if (why)
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s:%d:%d: %s: '%s' %s", file, value->line,
                          value->col, name, value->str, why);
    why = px__range(d, &v, why_buf, sizeof why_buf);
    if (why)
        return px_err_set(err, PX_OUT_OF_RANGE, "%s:%d:%d: %s: %s %s", file, value->line,
                          value->col, name, value->str, why);
    px__store(d, conf, &v);
    return PX_OK;
}

px_status px_conf_set_default(const px_directive *d, void *conf, px_err *err)
{
    if (d->type == PX_DIR_STRING) {
        if (px__store_string(d, conf, d->def) != 0)
            return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
        return PX_OK;
    }
    if (d->type == PX_DIR_LIST) {
        px__store_string(d, conf, NULL); /* frees the list: one block, like a string */
        return PX_OK;
    }
    px__val v;
    memset(&v, 0, sizeof v);
    char buf[320];
    if (d->def != NULL) {
        const char *why = px__parse(d, d->def, &v, buf, sizeof buf);
        if (why)
            return px_err_set(err, PX_INTERNAL, "directive '%s': default '%s' %s", d->name,
                              d->def, why);
    }
    px__store(d, conf, &v);
    return PX_OK;
}

void px_conf_release(const px_directive *dirs, void *conf)
{
    if (dirs == NULL || conf == NULL)
        return;
    for (const px_directive *d = dirs; d->name; d++) {
        if (d->type == PX_DIR_STRING || d->type == PX_DIR_LIST) {
            char **slot = (char **)((char *)conf + d->offset);
            free(*slot);
            *slot = NULL;
        }
    }
}

static int px__in(const char *const *list, const char *s)
{
    for (int i = 0; list && list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

static const px_directive *px__find(const px_directive *dirs, const char *name)
{
    for (const px_directive *d = dirs; d && d->name; d++)
        if (strcmp(d->name, name) == 0)
            return d;
    return NULL;
}

/* "(accepted: module, connect, call)": the caller's keys first, then the table's. */
static void px__accepted(char *buf, size_t n, const px_directive *dirs,
                         const char *const *skip_keys)
{
    size_t at = (size_t)snprintf(buf, n, "accepted: ");
    int any = 0;
    for (int i = 0; skip_keys && skip_keys[i] && at < n; i++, any = 1)
        at += (size_t)snprintf(buf + at, n - at, "%s%s", any ? ", " : "", skip_keys[i]);
    for (const px_directive *d = dirs; d && d->name && at < n; d++, any = 1)
        at += (size_t)snprintf(buf + at, n - at, "%s%s", any ? ", " : "", d->name);
    if (!any)
        snprintf(buf, n, "no keys are accepted here");
}

static px_status px__apply(const px_directive *dirs, void *conf, const px_ynode *map,
                           const char *const *skip_keys, const char *scope, const char *file,
                           px_err *err)
{
    char qn[160];
    /* `limits:` with every child commented out is YAML null: read it as no keys. */
    int empty = map == NULL || px_ynode_is_null(map);
    if (!empty && map->kind != PX_YMAP) {
        const char *what = scope && *scope ? scope : "value";
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s:%d:%d: %s: expected a mapping, got a %s",
                          file, map->line, map->col, what, px_ynode_kind_name(map->kind));
    }
    for (size_t i = 0; !empty && i < map->n; i++) {
        const px_ynode *key = map->pairs[i].key;
        if (px__in(skip_keys, key->str))
            continue;
        const px_directive *d = px__find(dirs, key->str);
        if (d == NULL) {
            char acc[360];
            px__accepted(acc, sizeof acc, dirs, skip_keys);
            if (scope && *scope)
                return px_err_set(err, PX_INVALID_ARGUMENT,
                                  "%s:%d:%d: %s: unknown key '%s' (%s)", file, key->line,
                                  key->col, scope, key->str, acc);
            return px_err_set(err, PX_INVALID_ARGUMENT, "%s:%d:%d: unknown key '%s' (%s)", file,
                              key->line, key->col, key->str, acc);
        }
        px_status st = px_conf_set(d, conf, map->pairs[i].value, scope, file, err);
        if (st != PX_OK)
            return st;
    }
    for (const px_directive *d = dirs; d && d->name; d++) {
        if (px_ymap_get(map, d->name) != NULL)
            continue;
        if (d->required) {
            const char *where = scope && *scope ? scope : NULL;
            if (map == NULL)
                return px_err_set(err, PX_INVALID_ARGUMENT, "%s: %s%smissing required key '%s'",
                                  file, where ? where : "", where ? ": " : "", d->name);
            return px_err_set(err, PX_INVALID_ARGUMENT, "%s:%d:%d: %s%smissing required key '%s'",
                              file, map->line, map->col, where ? where : "", where ? ": " : "",
                              d->name);
        }
        px_err derr;
        px_status st = px_conf_set_default(d, conf, &derr);
        if (st != PX_OK)
            return px_err_set(err, st, "%s: %s: %s", file,
                              px__qname(scope, d->name, qn, sizeof qn), derr.msg);
    }
    return PX_OK;
}

px_status px_conf_apply_scoped(const px_directive *dirs, void *conf, const px_ynode *map,
                               const char *const *skip_keys, const char *scope,
                               const char *file, px_err *err)
{
    px_status st = px__apply(dirs, conf, map, skip_keys, scope, file, err);
    if (st != PX_OK)
        px_conf_release(dirs, conf);
    return st;
}

px_status px_conf_apply(const px_directive *dirs, void *conf, const px_ynode *map,
                        const char *const *skip_keys, const char *file, px_err *err)
{
    return px_conf_apply_scoped(dirs, conf, map, skip_keys, NULL, file, err);
}

/* ---- table check (for the loader) ------------------------------------------------ */

static px_status px__check_one(const px_directive *d, px_err *err)
{
    char buf[320];
    px__val lo, hi, def;
    if (!px__known_type(d->type))
        return px_err_set(err, PX_INVALID_ARGUMENT, "directive '%s': unknown type %d", d->name,
                          (int)d->type);
    if (d->type == PX_DIR_ENUM) {
        if (d->enum_values == NULL || d->enum_values[0] == NULL)
            return px_err_set(err, PX_INVALID_ARGUMENT, "directive '%s': enum without values",
                              d->name);
        for (int i = 0; d->enum_values[i]; i++) {
            if (d->enum_values[i][0] == '\0')
                return px_err_set(err, PX_INVALID_ARGUMENT,
                                  "directive '%s': enum value %d is empty", d->name, i);
            for (int j = 0; j < i; j++)
                if (strcmp(d->enum_values[i], d->enum_values[j]) == 0)
                    return px_err_set(err, PX_INVALID_ARGUMENT,
                                      "directive '%s': enum value '%s' is listed twice",
                                      d->name, d->enum_values[i]);
        }
    } else if (d->enum_values != NULL) {
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "directive '%s': enum_values set on a directive of type %s", d->name,
                          px_dir_type_name(d->type));
    }
    if ((d->min || d->max) && !px__numeric(d->type))
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "directive '%s': min/max do not apply to type %s", d->name,
                          px_dir_type_name(d->type));
    const char *why;
    if (d->min && (why = px__parse(d, d->min, &lo, buf, sizeof buf)))
        return px_err_set(err, PX_INVALID_ARGUMENT, "directive '%s': min '%s' %s", d->name,
                          d->min, why);
    if (d->max && (why = px__parse(d, d->max, &hi, buf, sizeof buf)))
        return px_err_set(err, PX_INVALID_ARGUMENT, "directive '%s': max '%s' %s", d->name,
                          d->max, why);
    if (d->min && d->max && px__cmp(d->type, &lo, &hi) > 0)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "directive '%s': min %s is greater than max %s", d->name, d->min,
                          d->max);
    if (d->type == PX_DIR_LIST && d->def)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "directive '%s': a list has no default (absent: NULL)", d->name);
    if (d->required && d->def)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "directive '%s': is required and also has a default", d->name);
    if (d->def && d->type != PX_DIR_STRING && d->type != PX_DIR_LIST) {
        if ((why = px__parse(d, d->def, &def, buf, sizeof buf)))
            return px_err_set(err, PX_INVALID_ARGUMENT, "directive '%s': default '%s' %s",
                              d->name, d->def, why);
        if ((why = px__range(d, &def, buf, sizeof buf)))
            return px_err_set(err, PX_INVALID_ARGUMENT, "directive '%s': default %s %s",
                              d->name, d->def, why);
    }
    return PX_OK;
}

px_status px_conf_check_table(const px_directive *dirs, px_err *err)
{
    for (const px_directive *d = dirs; d && d->name; d++) {
        if (d->name[0] == '\0')
            return px_err_set(err, PX_INVALID_ARGUMENT, "directive %d has an empty name",
                              (int)(d - dirs));
        for (const px_directive *e = dirs; e < d; e++)
            if (strcmp(e->name, d->name) == 0)
                return px_err_set(err, PX_INVALID_ARGUMENT, "directive '%s' is listed twice",
                                  d->name);
        px_status st = px__check_one(d, err);
        if (st != PX_OK)
            return st;
    }
    return PX_OK;
}
