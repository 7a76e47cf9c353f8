#!/usr/bin/env bash
# Installs the current build into a staging prefix, then builds plugins/calc out of
# tree against it (find_package(plexus)) and an SDK program through plexus.pc:
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
