/* Test helper: sample calc.EchoMsg values covering every field kind and its limits. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "px_test_calc.h"

static char long_string[10001];
static uint8_t long_bytes[4096];
static int32_t long_ints[1000];
static uint8_t nul_bytes[] = { 0, 1, 0, 0xff, 0x80, 0 };
static char *strings[] = { "", "a", "", "héllo wörld ✓ 日本語 🎉", long_string };
static Calc__Color colors[] = { CALC__COLOR__RED, CALC__COLOR__BLUE, 99, CALC__COLOR__COLOR_UNSPECIFIED };

static Calc__Inner leaf = CALC__INNER__INIT, mid = CALC__INNER__INIT, top = CALC__INNER__INIT;
static Calc__Inner *mid_children[] = { &leaf, &leaf };
static Calc__Inner *top_children[] = { &mid };
static Calc__Inner empty_inner = CALC__INNER__INIT;
static Calc__Inner *r_inner[] = { &top, &empty_inner, &leaf };

static Calc__EchoMsg__AttrsEntry attrs[4] = {
    CALC__ECHO_MSG__ATTRS_ENTRY__INIT, CALC__ECHO_MSG__ATTRS_ENTRY__INIT,
    CALC__ECHO_MSG__ATTRS_ENTRY__INIT, CALC__ECHO_MSG__ATTRS_ENTRY__INIT,
};
static Calc__EchoMsg__AttrsEntry *attr_ptrs[] = { &attrs[0], &attrs[1], &attrs[2], &attrs[3] };

static void init_static(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    for (size_t i = 0; i < sizeof long_string - 1; i++)
        long_string[i] = (char)('a' + i % 26);
    for (size_t i = 0; i < sizeof long_bytes; i++)
        long_bytes[i] = (uint8_t)(i * 7);
    for (size_t i = 0; i < 1000; i++)
        long_ints[i] = (int32_t)(i * 2654435761u);
    leaf.id = -1;
    leaf.name = "leaf";
    mid.id = 2;
    mid.name = "";
    mid.n_children = 2;
    mid.children = mid_children;
    top.id = INT32_MAX;
    top.name = "top";
    top.n_children = 1;
    top.children = top_children;
    attrs[0].key = "one";
    attrs[0].value = 1;
    attrs[1].key = "";
    attrs[1].value = INT32_MIN;
    attrs[2].key = "ключ";
    attrs[2].value = 0;
    attrs[3].key = "with \"quotes\" and \\";
    attrs[3].value = 7;
}

static const char *const descriptions[] = {
    "all defaults",
    "integer limits (max)",
    "integer limits (min), negative subnormal double",
    "NaN double, -inf float, oneof empty text",
    "+inf double, NaN float, oneof INT64_MIN",
    "doubles needing 17 digits, tiny float",
    "strings: empty, UTF-8, long; bytes with NULs",
    "repeated: long, empty strings, unknown enum value",
    "nested messages, oneof message, map",
};

size_t px_test_echo_sample_count(void)
{
    return sizeof descriptions / sizeof descriptions[0];
}

const char *px_test_echo_sample(size_t i, Calc__EchoMsg *m)
{
    init_static();
    calc__echo_msg__init(m);
    switch (i) {
    case 0:
        break;
    case 1:
        m->f_double = DBL_MAX;
        m->f_float = FLT_MAX;
        m->f_int32 = INT32_MAX;
        m->f_int64 = INT64_MAX;
        m->f_uint32 = UINT32_MAX;
        m->f_uint64 = UINT64_MAX;
        m->f_sint32 = INT32_MAX;
        m->f_sint64 = INT64_MAX;
        m->f_fixed32 = UINT32_MAX;
        m->f_fixed64 = UINT64_MAX;
        m->f_sfixed32 = INT32_MAX;
        m->f_sfixed64 = INT64_MAX;
        m->f_bool = 1;
        m->color = CALC__COLOR__BLUE;
        break;
    case 2:
        m->f_double = -DBL_TRUE_MIN; /* (-0.0 is not here: libprotobuf-c drops it as zero) */
        m->f_float = -FLT_MAX;
        m->f_int32 = INT32_MIN;
        m->f_int64 = INT64_MIN;
        m->f_uint32 = 1;
        m->f_uint64 = 1;
        m->f_sint32 = INT32_MIN;
        m->f_sint64 = INT64_MIN;
        m->f_fixed32 = 1;
        m->f_fixed64 = 1;
        m->f_sfixed32 = INT32_MIN;
        m->f_sfixed64 = INT64_MIN;
        m->color = -5; /* proto3 enums are open */
        break;
    case 3:
        m->f_double = NAN;
        m->f_float = -INFINITY;
        m->choice_case = CALC__ECHO_MSG__CHOICE_C_TEXT;
        m->c_text = "";
        break;
    case 4:
        m->f_double = INFINITY;
        m->f_float = NAN;
        m->choice_case = CALC__ECHO_MSG__CHOICE_C_NUMBER;
        m->c_number = INT64_MIN;
        break;
    case 5:
        m->f_double = 0.1 + 0.2;
        m->f_float = FLT_MIN / 4; /* subnormal */
        m->f_int64 = -1;
        break;
    case 6:
        m->f_string = strings[3];
        m->f_bytes.data = nul_bytes;
        m->f_bytes.len = sizeof nul_bytes;
        m->n_r_string = 5;
        m->r_string = strings;
        m->choice_case = CALC__ECHO_MSG__CHOICE_C_TEXT;
        m->c_text = long_string;
        break;
    case 7:
        m->n_r_int32 = 1000;
        m->r_int32 = long_ints;
        m->n_r_string = 3;
        m->r_string = strings;
        m->n_r_color = 4;
        m->r_color = colors;
        m->f_bytes.data = long_bytes;
        m->f_bytes.len = sizeof long_bytes;
        break;
    case 8:
        m->inner = &top;
        m->n_r_inner = 3;
        m->r_inner = r_inner;
        m->choice_case = CALC__ECHO_MSG__CHOICE_C_INNER;
        m->c_inner = &mid;
        m->n_attrs = 4;
        m->attrs = attr_ptrs;
        m->color = CALC__COLOR__GREEN;
        break;
    default:
        return NULL;
    }
    return descriptions[i];
}

void px_test_echo_deep(size_t levels, Calc__EchoMsg *m)
{
    static Calc__Inner chain[128];
    static Calc__Inner *child_of[128];
    calc__echo_msg__init(m);
    if (levels == 0 || levels > 128)
        return;
    for (size_t i = 0; i < levels; i++) {
        calc__inner__init(&chain[i]);
        chain[i].id = (int32_t)i;
        if (i + 1 < levels) {
            child_of[i] = &chain[i + 1];
            chain[i].n_children = 1;
            chain[i].children = &child_of[i];
        }
    }
    m->inner = &chain[0];
}
