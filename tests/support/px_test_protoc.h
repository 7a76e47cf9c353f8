/* Test helper: run protoc --decode / --encode over calc.proto, to check bytes against protobuf itself. */
#ifndef PX_TEST_PROTOC_H
#define PX_TEST_PROTOC_H

#include <stddef.h>
#include <stdint.h>

/** 1 when protoc runs (it comes with protobuf-compiler, tools/install-deps.sh). */
int px_test_have_protoc(void);

/**
 * Runs `protoc MODE=TYPE -I$PX_SOURCE_DIR/plugins/calc calc.proto` (MODE "--decode"
 * or "--encode") with in[0..len) on its stdin; without PX_SOURCE_DIR, the source tree
 * this helper was compiled from. Returns protoc's exit status (0: ok)
 * with its stdout in a malloc'd, NUL-terminated *out of *out_len bytes; or -1 with
 * the reason printed and *out NULL.
 */
int px_test_protoc(const char *mode, const char *type, const uint8_t *in, size_t len, uint8_t **out,
                   size_t *out_len);

#endif
