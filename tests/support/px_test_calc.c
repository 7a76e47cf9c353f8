/* Test helper: sample calc.EchoMsg values covering every field kind and its limits. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
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

/* Storage of the larger samples (9 and up). */
#define BIG (100 * 1024)
static char big_string[BIG + 1];
static uint8_t big_bytes[BIG];
static char markup[] = "  <a href=\"x\">&amp; 'q' ]]> </a>\r\n\t ";
static char *odd_strings[] = { " ", "\n", "\r\n", "]]>", "&lt;", "\t x \t", "" };
static Calc__Color odd_colors[] = { CALC__COLOR__COLOR_UNSPECIFIED, -1, INT32_MAX, INT32_MIN };
static int32_t int_limits[] = { 0, INT32_MIN, INT32_MAX, -1, 1 };
static char *one_empty[] = { "" };
static Calc__EchoMsg__AttrsEntry empty_attr = CALC__ECHO_MSG__ATTRS_ENTRY__INIT;
static Calc__EchoMsg__AttrsEntry *empty_attr_ptr[] = { &empty_attr };
#define N_INTS 10000
#define N_STRS 1000
#define N_INNERS 300
#define N_ATTRS 500
#define N_COLORS 1000
static int32_t many_ints[N_INTS];
static char *many_strings[N_STRS];
static Calc__Inner *many_inners[N_INNERS];
static char attr_keys[N_ATTRS][8];
static Calc__EchoMsg__AttrsEntry many_attrs[N_ATTRS];
static Calc__EchoMsg__AttrsEntry *many_attr_ptrs[N_ATTRS];
static Calc__Color many_colors[N_COLORS];

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

    /* 100 KiB of text cycling through 1-, 2-, 3- and 4-byte UTF-8 characters. */
    static const char *const pieces[] = { "abc ", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x8e\x89", "<&>" };
    size_t at = 0;
    for (size_t k = 0;; k++) {
        const char *piece = pieces[k % 5];
        size_t n = strlen(piece);
        if (at + n > BIG)
            break;
        memcpy(big_string + at, piece, n);
        at += n;
    }
    memset(big_string + at, 'z', BIG - at);
    big_string[BIG] = '\0';
    for (size_t i = 0; i < BIG; i++)
        big_bytes[i] = (uint8_t)(i % 256 == 0 ? 0 : i * 131 + i / 256); /* every byte value, NULs too */
    for (size_t i = 0; i < N_INTS; i++)
        many_ints[i] = (int32_t)(i * 2246822519u);
    for (size_t i = 0; i < N_STRS; i++)
        many_strings[i] = strings[i % 4]; /* the short ones */
    Calc__Inner *kinds[] = { &leaf, &mid, &top, &empty_inner };
    for (size_t i = 0; i < N_INNERS; i++)
        many_inners[i] = kinds[i % 4];
    for (size_t i = 0; i < N_ATTRS; i++) {
        calc__echo_msg__attrs_entry__init(&many_attrs[i]);
        snprintf(attr_keys[i], sizeof attr_keys[i], "k%03zu", i);
        many_attrs[i].key = attr_keys[i];
        many_attrs[i].value = (int32_t)(i * 40503u) - 1000;
        many_attr_ptrs[i] = &many_attrs[i];
    }
    for (size_t i = 0; i < N_COLORS; i++)
        many_colors[i] = (Calc__Color)(i % 5);
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
    "large: 100 KiB UTF-8 string, 100 KiB bytes with every byte value",
    "markup and whitespace in strings: <>&\"' CR LF tab, whitespace-only elements",
    "-inf double, +inf float, -1 in every signed type, 1 in every unsigned type",
    "-DBL_MAX, smallest subnormal float, oneof set to its default (c_number 0)",
    "empty messages: inner and c_inner set but empty, map entry all defaults",
    "repeated limits: int32 and enum extremes, unknown enums, one empty string",
    "long repeated: 10000 int32, 1000 strings, 300 messages, 500 map entries, 1000 enums",
    "nesting at the limit: 63 Inner levels under EchoMsg (depth 64)",
    "everything at once",
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
    case 9:
        m->f_string = big_string;
        m->f_bytes.data = big_bytes;
        m->f_bytes.len = sizeof big_bytes;
        break;
    case 10:
        m->f_string = markup;
        m->n_r_string = sizeof odd_strings / sizeof odd_strings[0];
        m->r_string = odd_strings;
        m->choice_case = CALC__ECHO_MSG__CHOICE_C_TEXT;
        m->c_text = "\t";
        break;
    case 11:
        m->f_double = -INFINITY;
        m->f_float = INFINITY;
        m->f_int32 = -1;
        m->f_int64 = -1;
        m->f_sint32 = -1;
        m->f_sint64 = -1;
        m->f_sfixed32 = -1;
        m->f_sfixed64 = -1;
        m->f_uint32 = 1;
        m->f_uint64 = 1;
        m->f_fixed32 = 1;
        m->f_fixed64 = 1;
        m->color = CALC__COLOR__RED;
        break;
    case 12:
        m->f_double = -DBL_MAX;
        m->f_float = FLT_TRUE_MIN;
        m->choice_case = CALC__ECHO_MSG__CHOICE_C_NUMBER;
        m->c_number = 0;
        break;
    case 13:
        m->inner = &empty_inner;
        m->choice_case = CALC__ECHO_MSG__CHOICE_C_INNER;
        m->c_inner = &empty_inner;
        m->n_attrs = 1;
        m->attrs = empty_attr_ptr;
        break;
    case 14:
        m->n_r_int32 = sizeof int_limits / sizeof int_limits[0];
        m->r_int32 = int_limits;
        m->n_r_color = sizeof odd_colors / sizeof odd_colors[0];
        m->r_color = odd_colors;
        m->n_r_string = 1;
        m->r_string = one_empty;
        m->color = INT32_MIN;
        break;
    case 15:
        m->n_r_int32 = N_INTS;
        m->r_int32 = many_ints;
        m->n_r_string = N_STRS;
        m->r_string = many_strings;
        m->n_r_inner = N_INNERS;
        m->r_inner = many_inners;
        m->n_attrs = N_ATTRS;
        m->attrs = many_attr_ptrs;
        m->n_r_color = N_COLORS;
        m->r_color = many_colors;
        break;
    case 16:
        px_test_echo_deep(63, m);
        break;
    case 17:
        m->f_double = -2.5e-300;
        m->f_float = 3.25f;
        m->f_int32 = -123456;
        m->f_int64 = INT64_MIN + 1;
        m->f_uint32 = 4000000000u;
        m->f_uint64 = UINT64_MAX - 1;
        m->f_sint32 = -7;
        m->f_sint64 = INT64_MAX;
        m->f_fixed32 = 0x80000000u;
        m->f_fixed64 = 0x8000000000000000ull;
        m->f_sfixed32 = INT32_MIN + 1;
        m->f_sfixed64 = -2;
        m->f_bool = 1;
        m->f_string = strings[3];
        m->f_bytes.data = nul_bytes;
        m->f_bytes.len = sizeof nul_bytes;
        m->n_r_int32 = sizeof int_limits / sizeof int_limits[0];
        m->r_int32 = int_limits;
        m->n_r_string = 4; /* not the 10000-byte one: this sample stays small */
        m->r_string = strings;
        m->inner = &top;
        m->n_r_inner = 3;
        m->r_inner = r_inner;
        m->color = CALC__COLOR__BLUE;
        m->n_r_color = 4;
        m->r_color = colors;
        m->choice_case = CALC__ECHO_MSG__CHOICE_C_TEXT;
        m->c_text = "<choice & text>";
        m->n_attrs = 4;
        m->attrs = attr_ptrs;
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
