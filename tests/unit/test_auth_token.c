/* auth_token's token file and lookup: lines parsed or refused at FILE:LINE, the line
 * `plexus token-hash` writes found again, and the lookup doing the same work whatever
 * the token: every entry's hash computed and compared over its whole length through
 * CRYPTO_memcmp, whether an earlier entry matched, a later one does, or none, or only a
 * prefix of a hash does. Checked by construction (a counting comparison), not by time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>

#include "auth_token.h"

/* ---- parsing ----------------------------------------------------------------------- */

static void test_parse(void **state)
{
    (void)state;
    static const char text[] =
        "# comment\n"
        "   \t\n"
        "alice admin,dev 000102030405060708090A0B0C0D0E0F "
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\r\n"
        "  bob\t-  0f0e0d0c0b0a09080706050403020100 "
        "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
    at_table t;
    px_err err;
    assert_int_equal(at_table_parse(text, sizeof text - 1, "tok", &t, &err), PX_OK);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.e[0].principal, "alice");
    assert_string_equal(t.e[0].groups, "admin,dev");
    assert_int_equal(t.e[0].salt[10], 0x0a);
    assert_int_equal(t.e[0].hash[31], 0xff);
    assert_string_equal(t.e[1].principal, "bob");
    assert_string_equal(t.e[1].groups, "");
    assert_int_equal(t.e[1].hash[0], 0xff);
    at_table_free(&t);

    static const struct {
        const char *text, *want;
    } bad[] = {
        {"", "tok: no entries (one line per token: PRINCIPAL GROUPS SALT_HEX SHA256_HEX)"},
        {"a - 00 11\n", "tok:1: the salt must be 32 hex digits (16 bytes)"},
        {"a - 000102030405060708090a0b0c0d0e0g "
         "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
         "tok:1: the salt must be 32 hex digits (16 bytes)"},
        {"#\na,b - 000102030405060708090a0b0c0d0e0f "
         "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
         "tok:2: the principal must be printable ASCII without a comma"},
        {"group:x - 000102030405060708090a0b0c0d0e0f "
         "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
         "tok:1: the principal 'anonymous' and principals beginning 'group:' are reserved"},
        {"a , 000102030405060708090a0b0c0d0e0f "
         "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
         "tok:1: groups must be '-' or names separated by commas (printable ASCII)"},
        {"a - 000102030405060708090a0b0c0d0e0f "
         "00112233445566778899aabbccddeeff00112233445566778899aabbccddeef",
         "tok:1: the hash must be 64 hex digits (SHA-256)"},
        {"\n\na\n", "tok:3: expected 4 fields: PRINCIPAL GROUPS SALT_HEX SHA256_HEX (make one "
                    "with 'plexus token-hash')"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        px_err_clear(&err);
        assert_int_equal(at_table_parse(bad[i].text, strlen(bad[i].text), "tok", &t, &err),
                         PX_INVALID_ARGUMENT);
        assert_string_equal(err.msg, bad[i].want);
        assert_null(t.e);
    }
    static const char nul[] = "# a\0b\n";
    assert_int_equal(at_table_parse(nul, sizeof nul - 1, "tok", &t, &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "tok:1: contains a NUL byte");
}

/* ---- what token-hash writes is what the lookup finds --------------------------------- */

static char lines[4][AT_LINE_MAX + 2];
static const char *const tokens[4] = {
    "a7c1f0e2d3b4a5968778695a4b3c2d1e0f",
    "a7c1f0e2d3b4a5968778695a4b3c2d1e0e", /* the first one's prefix, last byte off */
    "3333333333333333333333333333333333",
    "tok-of-dave-0123456789",
};
static const char *const names[4] = {"alice", "bob", "carol", "dave"};

static void make_table(at_table *t)
{
    char text[4 * (AT_LINE_MAX + 2)] = "";
    px_err err;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(at_line(lines[i], names[i], i == 0 ? "admin" : NULL, tokens[i],
                                 strlen(tokens[i]), &err),
                         PX_OK);
        strcat(text, lines[i]);
        strcat(text, "\n");
    }
    assert_int_equal(at_table_parse(text, strlen(text), "tok", t, &err), PX_OK);
    assert_int_equal(t->n, 4);
}

static void test_line_and_find(void **state)
{
    (void)state;
    at_table t;
    make_table(&t);
    assert_int_equal(strncmp(lines[0], "alice admin ", 12), 0);
    assert_int_equal(strncmp(lines[1], "bob - ", 6), 0);
    for (int i = 0; i < 4; i++) {
        const at_entry *e = at_table_find(&t, tokens[i], strlen(tokens[i]));
        assert_non_null(e);
        assert_string_equal(e->principal, names[i]);
    }
    assert_null(at_table_find(&t, "nope", 4));
    assert_null(at_table_find(&t, tokens[0], strlen(tokens[0]) - 1)); /* a prefix */
    assert_null(at_table_find(&t, "", 0));
    /* Two salts: the same token makes two different lines. */
    char again[AT_LINE_MAX + 1];
    px_err err;
    assert_int_equal(at_line(again, "alice", "admin", tokens[0], strlen(tokens[0]), &err), PX_OK);
    assert_string_not_equal(again, lines[0]);
    assert_int_equal(at_line(again, "dave", NULL, "0123456789abcde", 15, &err),
                     PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "the token must be 16 to 4096 bytes (a short one is easy to "
                                 "find from its hash: use --generate)");
    assert_int_equal(at_line(again, "anonymous", NULL, "x", 1, &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "'anonymous': the principal 'anonymous' and principals "
                                 "beginning 'group:' are reserved");
    at_table_free(&t);
}

/* ---- the same work whatever matched ------------------------------------------------- */

static struct {
    size_t calls, bytes, short_calls;
    const void *seen[8];
} work;

/* CRYPTO_memcmp, counted: which entry's hash it got, over how many bytes. */
static int counting_cmp(const void *a, const void *b, size_t len)
{
    if (work.calls < 8)
        work.seen[work.calls] = b;
    work.calls++;
    work.bytes += len;
    work.short_calls += len != AT_HASH_LEN;
    return CRYPTO_memcmp(a, b, len);
}

static void test_same_work(void **state)
{
    (void)state;
    at_table t;
    make_table(&t);
    t.cmp = counting_cmp;
    /* The first entry, the last, one sharing all but a byte with the first, none at all,
     * an empty one, a long one. */
    const char *probe[] = {tokens[0], tokens[3], tokens[1], "zzzz", "",
                           "0123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof probe / sizeof probe[0]; i++) {
        memset(&work, 0, sizeof work);
        at_table_find(&t, probe[i], strlen(probe[i]));
        assert_int_equal(work.calls, t.n);         /* every entry, no early exit */
        assert_int_equal(work.bytes, t.n * AT_HASH_LEN); /* every byte of every hash */
        assert_int_equal(work.short_calls, 0);
        for (size_t k = 0; k < t.n; k++)
            assert_ptr_equal(work.seen[k], t.e[k].hash); /* each entry once, in order */
    }
    /* Without a test hook the lookup compares with CRYPTO_memcmp itself. */
    t.cmp = NULL;
    assert_non_null(at_table_find(&t, tokens[2], strlen(tokens[2])));
    at_table_free(&t);
}

static void test_token_clean(void **state)
{
    (void)state;
    const char *t = "  abc.DEF-1\r\n";
    size_t len = strlen(t);
    assert_null(at_token_clean(&t, &len));
    assert_int_equal(len, 9);
    assert_memory_equal(t, "abc.DEF-1", 9);
    t = "a b";
    len = 3;
    assert_string_equal(at_token_clean(&t, &len),
                        "the token must be one line of printable ASCII without blanks");
    t = "\n";
    len = 1;
    assert_string_equal(at_token_clean(&t, &len), "the token is empty");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_line_and_find),
        cmocka_unit_test(test_same_work),
        cmocka_unit_test(test_token_clean),
    };
    return cmocka_run_group_tests_name("auth_token", tests, NULL, NULL);
}
