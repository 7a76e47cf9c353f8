/* Test helper: field-by-field equality of two protobuf-c messages, walking their descriptors. */
#ifndef PX_TEST_MSG_H
#define PX_TEST_MSG_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

/**
 * Returns 1 when a and b have the same type and every field is equal (floats equal
 * bit for bit, any NaN equals any NaN; unknown fields ignored). Otherwise returns 0
 * and writes the first difference ("r_inner[1].name: \"a\" != \"b\"") to why.
 */
int px_test_msg_equal(const ProtobufCMessage *a, const ProtobufCMessage *b, char *why, size_t cap);

/** cmocka assertion: fails the test with the first difference. */
#define px_assert_msg_equal(a, b)                                                     \
    do {                                                                              \
        char px__why[512];                                                            \
        if (!px_test_msg_equal((const ProtobufCMessage *)(a),                         \
                               (const ProtobufCMessage *)(b), px__why, sizeof px__why)) \
            fail_msg("messages differ: %s", px__why);                                 \
    } while (0)

#endif
