/* codec_xml: the text forms of scalar values (numbers, bools, enums) and what XML 1.0 can carry. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "xml_int.h"

/* The shortest "%.<p>g" text that reads back as exactly v (NaN and infinities as xs:double spells them). */
static void px__fmt_double(double v, char *buf)
{
    if (isnan(v)) {
        strcpy(buf, "NaN");
        return;
    }
    if (isinf(v)) {
        strcpy(buf, v > 0 ? "INF" : "-INF");
        return;
    }
    for (int p = 15; p <= 17; p++) { /* %g drops trailing zeros, so 15 covers every shorter form */
        snprintf(buf, PX__XML_NUM_CAP, "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static void px__fmt_float(float v, char *buf)
{
    if (isnan(v) || isinf(v)) {
        px__fmt_double(v, buf);
        return;
    }
    for (int p = 6; p <= 9; p++) {
        snprintf(buf, PX__XML_NUM_CAP, "%.*g", p, (double)v);
        if (strtof(buf, NULL) == v)
            return;
    }
}

void px__xml_format_scalar(const ProtobufCFieldDescriptor *f, const void *p, char buf[PX__XML_NUM_CAP])
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        snprintf(buf, PX__XML_NUM_CAP, "%" PRId32, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        snprintf(buf, PX__XML_NUM_CAP, "%" PRIu32, *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(buf, PX__XML_NUM_CAP, "%" PRId64, *(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(buf, PX__XML_NUM_CAP, "%" PRIu64, *(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        px__fmt_float(*(const float *)p, buf);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        px__fmt_double(*(const double *)p, buf);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        strcpy(buf, *(const protobuf_c_boolean *)p ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        if (ev != NULL && strlen(ev->name) < PX__XML_NUM_CAP)
            strcpy(buf, ev->name);
        else /* proto3 enums are open: a value without a name stays a number */
            snprintf(buf, PX__XML_NUM_CAP, "%d", v);
        break;
    }
    default:
        buf[0] = '\0';
        break;
    }
}

static int px__is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Writes why = fmt with the (quoted, at most 40 bytes of the) untrusted text in place of %s. */
static int px__why(char *why, size_t cap, const char *s, size_t len, const char *fmt)
{
    char q[64];
    size_t show = len > 40 ? 40 : len;
    snprintf(q, sizeof q, "'%.*s'%s", (int)show, s, show < len ? "..." : "");
    snprintf(why, cap, fmt, q);
    return -1;
}

/*
 * A decimal integer, the whole text: an optional sign, then digits (no hex, no
 * spaces inside). 0 with *neg and *mag; -1 when it is not one; -2 when the digits
 * overflow 64 bits. (strtoll would also take spaces and hex, and is slow.)
 */
static int px__parse_decimal(const char *s, size_t len, int *neg, uint64_t *mag)
{
    size_t i = 0;
    *neg = 0;
    if (len > 0 && (s[0] == '+' || s[0] == '-')) {
        *neg = s[0] == '-';
        i = 1;
    }
    if (i == len)
        return -1;
    uint64_t v = 0;
    int over = 0;
    for (; i < len; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9)
            return -1;
        if (v > (UINT64_MAX - d) / 10)
            over = 1; /* keep going: "99...9x" is not a number at all */
        v = v * 10 + d;
    }
    *mag = v;
    return over ? -2 : 0;
}

/* A signed decimal in [lo, hi]: 0, -1 (not a number) or -2 (out of range). */
static int px__parse_signed(const char *s, size_t len, int64_t lo, int64_t hi, int64_t *out)
{
    int neg;
    uint64_t mag;
    int rc = px__parse_decimal(s, len, &neg, &mag);
    if (rc != 0)
        return rc;
    if (neg ? mag > (uint64_t)-(lo + 1) + 1 : mag > (uint64_t)hi)
        return -2;
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag; /* two's complement: -2^63 fits */
    return 0;
}

/* 0, -1 when not a number, -2 when it overflows a double. */
static int px__parse_real(const char *s, double *out)
{
    if (strcmp(s, "NaN") == 0) {
        *out = NAN;
        return 0;
    }
    if (strcmp(s, "INF") == 0 || strcmp(s, "+INF") == 0 || strcmp(s, "Infinity") == 0) {
        *out = INFINITY;
        return 0;
    }
    if (strcmp(s, "-INF") == 0 || strcmp(s, "-Infinity") == 0) {
        *out = -INFINITY;
        return 0;
    }
    /* strtod alone would also take "inf", "nan" and hex: only plain decimals here. */
    if (*s == '\0' || strspn(s, "0123456789+-.eE") != strlen(s))
        return -1;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (*end != '\0' || end == s)
        return -1;
    if (errno == ERANGE && isinf(d))
        return -2; /* underflow still gives the nearest value; only overflow is refused */
    *out = d;
    return 0;
}

int px__xml_parse_scalar(const ProtobufCFieldDescriptor *f, const char *text, size_t len, void *p,
                         char *why, size_t why_cap)
{
    while (len > 0 && px__is_space(*text))
        text++, len--;
    while (len > 0 && px__is_space(text[len - 1]))
        len--;
    int wide = px_pb_value_size(f->type) == 8, rc, neg;
    int64_t i;
    uint64_t u;
    switch (f->type) { /* integers straight from the text: the common case, kept cheap */
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        rc = px__parse_signed(text, len, wide ? INT64_MIN : INT32_MIN, wide ? INT64_MAX : INT32_MAX, &i);
        if (rc == -1)
            return px__why(why, why_cap, text, len, wide ? "%s is not an int64" : "%s is not an int32");
        if (rc == -2)
            return px__why(why, why_cap, text, len,
                           wide ? "%s is out of range for int64" : "%s is out of range for int32");
        if (wide)
            *(int64_t *)p = i;
        else
            *(int32_t *)p = (int32_t)i;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        rc = px__parse_decimal(text, len, &neg, &u);
        if (rc == -1 || neg)
            return px__why(why, why_cap, text, len, wide ? "%s is not a uint64" : "%s is not a uint32");
        if (rc == -2 || (!wide && u > UINT32_MAX))
            return px__why(why, why_cap, text, len,
                           wide ? "%s is out of range for uint64" : "%s is out of range for uint32");
        if (wide)
            *(uint64_t *)p = u;
        else
            *(uint32_t *)p = (uint32_t)u;
        return 0;
    case PROTOBUF_C_TYPE_ENUM:
        /* A number: proto3 enums are open, any int32 is kept. */
        rc = px__parse_signed(text, len, INT32_MIN, INT32_MAX, &i);
        if (rc == 0) {
            *(int *)p = (int)i;
            return 0;
        }
        if (rc == -2)
            return px__why(why, why_cap, text, len, "%s is out of range for an enum (int32)");
        break;
    default:
        break;
    }
    /* Floats, bools and enum names need the text NUL-terminated. */
    char s[PX__XML_NUM_CAP + 24];
    if (len >= sizeof s)
        return px__why(why, why_cap, text, len, "%s is too long for a number, bool or enum");
    memcpy(s, text, len);
    s[len] = '\0';
    switch (f->type) {
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: {
        double d = 0;
        rc = px__parse_real(s, &d);
        if (rc == -1)
            return px__why(why, why_cap, s, len, "%s is not a number (decimal, NaN, INF or -INF)");
        if (f->type == PROTOBUF_C_TYPE_DOUBLE) {
            if (rc == -2)
                return px__why(why, why_cap, s, len, "%s is out of range for double");
            *(double *)p = d;
            return 0;
        }
        if (rc == -2 || (isfinite(d) && isinf((float)d)))
            return px__why(why, why_cap, s, len, "%s is out of range for float");
        *(float *)p = (float)d;
        return 0;
    }
    case PROTOBUF_C_TYPE_BOOL:
        if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
            *(protobuf_c_boolean *)p = 1;
        else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
            *(protobuf_c_boolean *)p = 0;
        else
            return px__why(why, why_cap, s, len, "%s is not a bool (true, false, 1 or 0)");
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, s);
        if (ev == NULL) {
            char fmt[160];
            snprintf(fmt, sizeof fmt, "%%s is not a value of enum %s", ed->name);
            return px__why(why, why_cap, s, len, fmt);
        }
        *(int *)p = ev->value;
        return 0;
    }
    default:
        snprintf(why, why_cap, "field type %d has no scalar text form", (int)f->type);
        return -1;
    }
}

int px__xml_check_text(const char *str, size_t len, size_t *bad_at, char *why, size_t why_cap)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if ((c >= 0x20 && c < 0x80) || c == '\t' || c == '\n' || c == '\r') {
            i++;
            continue;
        }
        if (c < 0x80) {
            *bad_at = i;
            snprintf(why, why_cap, "character U+%04X cannot be written in XML 1.0", c);
            return -1;
        }
        uint32_t cp = 0;
        size_t n = 0;
        if ((c & 0xE0) == 0xC0)
            cp = c & 0x1F, n = 2;
        else if ((c & 0xF0) == 0xE0)
            cp = c & 0x0F, n = 3;
        else if ((c & 0xF8) == 0xF0)
            cp = c & 0x07, n = 4;
        int ok = n != 0 && len - i >= n;
        for (size_t k = 1; ok && k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                ok = 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        /* Overlong forms, surrogates and code points past U+10FFFF are not UTF-8. */
        if (ok && ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
                   (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF))
            ok = 0;
        if (!ok) {
            *bad_at = i;
            snprintf(why, why_cap, "invalid UTF-8");
            return -1;
        }
        if (cp == 0xFFFE || cp == 0xFFFF) {
            *bad_at = i;
            snprintf(why, why_cap, "character U+%04X cannot be written in XML 1.0", (unsigned)cp);
            return -1;
        }
        i += n;
    }
    return 0;
}
