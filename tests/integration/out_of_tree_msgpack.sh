#!/usr/bin/env bash
# Builds the example codec plugins/codec_msgpack out of tree against a staged install
# of the current build, twice: with CMake (find_package(plexus)) and with its plain
# Makefile (pkg-config plexus). Then runs the codec conformance driver on both .so files.
# Usage: out_of_tree_msgpack.sh BUILD_DIR SOURCE_DIR [SANITIZE]
set -euo pipefail
oot_name=out_of_tree_msgpack
# shellcheck source=out_of_tree_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/out_of_tree_lib.sh"

oot_init "$@"
plugin=$src/plugins/codec_msgpack
conformance=$build/tests/test_conformance
[ -x "$conformance" ] || fail "no conformance driver at $conformance (build the whole tree first)"
pkg-config --exists msgpack-c || pkg-config --exists msgpack ||
  fail "pkg-config finds no msgpack-c: install libmsgpack-dev (tools/install-deps.sh)"
oot_stage

# 1. CMake: find_package(plexus) + px_add_module.
oot_cmake_build codec_msgpack "$plugin"
so_cmake=$tmp/codec_msgpack/codec_msgpack.so
[ -f "$so_cmake" ] || fail "no codec_msgpack.so in $tmp/codec_msgpack"
oot_check_headers "$(find "$tmp/codec_msgpack" -name 'codec_msgpack.c.o.d' | head -n 1)" \
  "codec_msgpack.c (CMake build)"
oot_check_exports "$so_cmake"

# 2. The plain Makefile: pkg-config plexus only, objects out of the source tree.
step "building $plugin with its Makefile and pkg-config plexus"
export PKG_CONFIG_PATH="$stage/lib/pkgconfig"
make -C "$plugin" O="$tmp/make" CFLAGS="-O2 -g -Werror ${san[*]:-}" LDFLAGS="${san[*]:-}" \
  > "$tmp/make.log" 2>&1 || { cat "$tmp/make.log" >&2; fail "make in $plugin failed"; }
so_make=$tmp/make/codec_msgpack.so
[ -f "$so_make" ] || fail "make left no codec_msgpack.so in $tmp/make"
oot_check_headers "$tmp/make/codec_msgpack.d" "codec_msgpack.c (Makefile build)"
oot_check_exports "$so_make"
make -C "$plugin" O="$tmp/make" DESTDIR="$tmp/destdir" install > "$tmp/make-install.log" 2>&1 ||
  { cat "$tmp/make-install.log" >&2; fail "make install failed"; }
moduledir=$(pkg-config --variable=moduledir plexus)
[ -f "$tmp/destdir$moduledir/codec_msgpack.so" ] ||
  fail "make install did not put codec_msgpack.so into plexus.pc's moduledir ($moduledir)"
if [ -n "$(find "$plugin" -name '*.o' -o -name '*.so' -o -name '*.d')" ]; then
  fail "the Makefile build wrote into the source tree $plugin"
fi

# 3. The same conformance suite every standard codec passes, once per build.
for so in "$so_cmake" "$so_make"; do
  step "running $conformance $so"
  "$conformance" "$so" || fail "the conformance driver failed on $so"
done

step "OK: codec_msgpack built with CMake and with make against the installed SDK, conformant"
