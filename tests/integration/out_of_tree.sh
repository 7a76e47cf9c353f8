#!/usr/bin/env bash
# Installs the current build into a staging prefix, then builds plugins/calc out of
# tree against it (find_package(plexus), px_protobuf_generate), a program with its own
# .proto (px_protobuf_generate with IMPORT_DIRS) and an SDK program through plexus.pc:
# proof that a plugin author needs only the installed SDK.
# Usage: out_of_tree.sh BUILD_DIR SOURCE_DIR [SANITIZE]
# SANITIZE is the build's PX_SANITIZE: the consumers are built with the same runtime.
set -euo pipefail
oot_name=out_of_tree
# shellcheck source=out_of_tree_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/out_of_tree_lib.sh"

oot_init "$@"
oot_stage

oot_cmake_build calc "$src/plugins/calc"
so=$(find "$tmp/calc" -name service_calc.so -type f | head -n 1)
[ -n "$so" ] || fail "no service_calc.so under $tmp/calc"
oot_check_headers "$(find "$tmp/calc" -name 'calc_service.c.o.d' | head -n 1)" calc_service.c
oot_check_exports "$so"

# A program of one's own with its own .proto in a subfolder: px_protobuf_generate with
# IMPORT_DIRS, the generated header found through the target, plexus::protobuf-c linked.
step "building a program with px_protobuf_generate against $stage"
mkdir -p "$tmp/greet/proto/greet"
cat > "$tmp/greet/proto/greet/greet.proto" <<'PROTO'
syntax = "proto3";
package greet;
message Hello { string name = 1; int32 times = 2; }
PROTO
cat > "$tmp/greet/main.c" <<'C'
#include <string.h>
#include <plexus/plexus.h>
#include "greet/greet.pb-c.h"
int main(void)
{
    Greet__Hello h = GREET__HELLO__INIT;
    h.name = "plexus";
    h.times = 3;
    uint8_t buf[64];
    size_t n = greet__hello__pack(&h, buf);
    Greet__Hello *back = greet__hello__unpack(NULL, n, buf);
    int ok = back != NULL && back->times == 3 && strcmp(back->name, "plexus") == 0;
    greet__hello__free_unpacked(back, NULL);
    return ok && strcmp(px_status_name(PX_OK), "OK") == 0 ? 0 : 1;
}
C
cat > "$tmp/greet/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.18)
project(greet C)
find_package(plexus REQUIRED)
add_library(greet_proto STATIC)
px_protobuf_generate(TARGET greet_proto PROTOS proto/greet/greet.proto IMPORT_DIRS proto)
add_executable(greet main.c)
target_link_libraries(greet PRIVATE greet_proto plexus::plexus)
CMAKE
oot_cmake_build greet-build "$tmp/greet"
[ -f "$tmp/greet-build/gen/greet/greet.pb-c.h" ] ||
  fail "px_protobuf_generate did not write gen/greet/greet.pb-c.h"
"$tmp/greet-build/greet" || fail "the px_protobuf_generate program returned $?"

step "compiling an SDK program with pkg-config plexus"
export PKG_CONFIG_PATH="$stage/lib/pkgconfig"
moduledir=$(pkg-config --variable=moduledir plexus)
[ -e "$moduledir/codec_protobuf.so" ] || fail "pkg-config moduledir '$moduledir' has no codec_protobuf.so"
cat > "$tmp/use_sdk.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <plexus/plexus.h>
int main(void)
{
    px_status st;
    if (px_status_from_name("DEADLINE_EXCEEDED", &st) != 0 || st != PX_DEADLINE_EXCEEDED)
        return 1;
    return strcmp(px_status_name(PX_UNAVAILABLE), "UNAVAILABLE") != 0;
}
C
# shellcheck disable=SC2046 # pkg-config output is a list of flags
cc -std=gnu11 -Wall -Werror ${san[@]+"${san[@]}"} -o "$tmp/use_sdk" "$tmp/use_sdk.c" $(pkg-config --cflags --libs plexus) ||
  fail "compiling against the installed SDK with pkg-config plexus failed"
LD_LIBRARY_PATH="$stage/lib" "$tmp/use_sdk" || fail "the pkg-config built SDK program returned $?"

step "OK: $so built against the installed SDK, exports plexus_module"
