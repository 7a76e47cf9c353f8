#!/usr/bin/env bash
# Installs the current build into a staging prefix, then builds plugins/calc out of
# tree against it (find_package(plexus)) and an SDK program through plexus.pc:
# proof that a plugin author needs only the installed SDK.
# Usage: out_of_tree.sh BUILD_DIR SOURCE_DIR [SANITIZE]
# SANITIZE is the build's PX_SANITIZE: the consumers are built with the same runtime.
set -euo pipefail

build=${1:?usage: out_of_tree.sh BUILD_DIR SOURCE_DIR}
src=${2:?usage: out_of_tree.sh BUILD_DIR SOURCE_DIR}
build=$(cd "$build" && pwd)
src=$(cd "$src" && pwd)
sanitize=${3:-}
case ${sanitize,,} in
  "" | off | 0 | false | no) san=() ;;
  address) san=("-fsanitize=address,undefined") ;;
  thread) san=(-fsanitize=thread) ;;
  *) echo "out_of_tree: unknown sanitizer '$sanitize' (expected address or thread)" >&2; exit 1 ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/px-oot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
stage=$tmp/stage
fail() { echo "out_of_tree: FAIL: $*" >&2; exit 1; }
step() { echo "out_of_tree: $*"; }

step "installing $build into $stage"
cmake --install "$build" --prefix "$stage" > "$tmp/install.log" ||
  { cat "$tmp/install.log" >&2; fail "cmake --install of $build failed"; }
for f in lib/libplexus.so lib/cmake/plexus/plexusConfig.cmake \
         lib/cmake/plexus/plexusConfigVersion.cmake lib/cmake/plexus/plexusTargets.cmake \
         lib/cmake/plexus/PlexusModule.cmake lib/pkgconfig/plexus.pc include/plexus/plexus.h \
         bin/plexusd; do
  [ -e "$stage/$f" ] || fail "the install has no $f"
done
soname=$(readelf -d "$stage/lib/libplexus.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libplexus.so.1 ] || fail "libplexus.so has SONAME '$soname', expected libplexus.so.1"
ls "$stage"/lib/plexus/modules/codec_protobuf.so > /dev/null ||
  fail "the standard modules are not installed in lib/plexus/modules"

step "building plugins/calc out of tree against $stage"
cmake -S "$src/plugins/calc" -B "$tmp/calc" -DCMAKE_PREFIX_PATH="$stage" \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS="${san[*]:-}" \
      -DCMAKE_MODULE_LINKER_FLAGS="${san[*]:-}" > "$tmp/configure.log" 2>&1 ||
  { cat "$tmp/configure.log" >&2; fail "configuring plugins/calc with find_package(plexus) failed"; }
cmake --build "$tmp/calc" > "$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log" >&2; fail "building plugins/calc out of tree failed"; }

so=$(find "$tmp/calc" -name service_calc.so -type f | head -n 1)
[ -n "$so" ] || fail "no service_calc.so under $tmp/calc"

# The compiler's dependency files list every header it read: each plexus header must
# come from the staging prefix, none from the source tree's core/.
deps=$(find "$tmp/calc" -name 'calc_service.c.o.d' | head -n 1)
[ -n "$deps" ] || fail "no dependency file for calc_service.c (cannot check the headers used)"
grep -q "$stage/include/plexus/plexus.h" "$deps" ||
  fail "calc_service.c did not include plexus.h from the installed SDK ($deps)"
if grep -q "$src/core" "$deps"; then
  fail "calc_service.c read headers from the source tree: $(grep -o "$src/core[^ ]*" "$deps" | head -n 3)"
fi

# A module exports exactly one symbol: the plexus_module descriptor (ASan adds its
# own __odr_asan.* markers, which are not the module's).
exports=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^__odr_asan' || true)
echo "$exports" | grep -qx plexus_module || fail "$so does not export plexus_module (exports: $exports)"
[ "$(echo "$exports" | wc -l)" -eq 1 ] || fail "$so exports more than plexus_module: $exports"
readelf -d "$so" | grep -q 'NEEDED.*libplexus.so.1' || fail "$so is not linked against libplexus.so.1"

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
