# Shared by the out-of-tree tests (sourced, not run): arguments, a staged
# `cmake --install` of the build under test, and the checks that a plugin built
# against that stage used only the installed SDK and exports only plexus_module.
# After `oot_init "$@"`: $build, $src, $tmp (removed on exit), $stage, and san (the
# compile and link flags of the build's sanitizer, an array, maybe empty).

oot_name=${oot_name:-out_of_tree}
fail() { echo "$oot_name: FAIL: $*" >&2; exit 1; }
step() { echo "$oot_name: $*"; }

# oot_init BUILD_DIR SOURCE_DIR [SANITIZE]: SANITIZE is the build's PX_SANITIZE, so
# the consumers are built with the same runtime as the library they load.
oot_init() {
  build=${1:?usage: $oot_name BUILD_DIR SOURCE_DIR [SANITIZE]}
  src=${2:?usage: $oot_name BUILD_DIR SOURCE_DIR [SANITIZE]}
  build=$(cd "$build" && pwd)
  src=$(cd "$src" && pwd)
  local sanitize=${3:-}
  case ${sanitize,,} in
    "" | off | 0 | false | no) san=() ;;
    address) san=("-fsanitize=address,undefined") ;;
    thread) san=(-fsanitize=thread) ;;
    *) fail "unknown sanitizer '$sanitize' (expected address or thread)" ;;
  esac
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/px-oot.XXXXXX")
  # shellcheck disable=SC2064 # expand $tmp now: it is set once
  trap "rm -rf '$tmp'" EXIT
  stage=$tmp/stage
}

# Installs $build into $stage and checks the SDK's files are all there.
oot_stage() {
  step "installing $build into $stage"
  cmake --install "$build" --prefix "$stage" > "$tmp/install.log" ||
    { cat "$tmp/install.log" >&2; fail "cmake --install of $build failed"; }
  local f
  for f in lib/libplexus.so lib/cmake/plexus/plexusConfig.cmake \
           lib/cmake/plexus/plexusConfigVersion.cmake lib/cmake/plexus/plexusTargets.cmake \
           lib/cmake/plexus/PlexusModule.cmake lib/cmake/plexus/PlexusProtobuf.cmake \
           lib/pkgconfig/plexus.pc include/plexus/plexus.h \
           bin/plexusd bin/plexus bin/plexus-codec-bench; do
    [ -e "$stage/$f" ] || fail "the install has no $f"
  done
  local soname
  soname=$(readelf -d "$stage/lib/libplexus.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  [ "$soname" = libplexus.so.1 ] || fail "libplexus.so has SONAME '$soname', expected libplexus.so.1"
  ls "$stage"/lib/plexus/modules/codec_protobuf.so > /dev/null ||
    fail "the standard modules are not installed in lib/plexus/modules"
}

# oot_cmake_build NAME SOURCE_DIR: configures and builds a plugin with
# find_package(plexus) against $stage, in $tmp/NAME.
oot_cmake_build() {
  local name=$1 dir=$2
  step "building $dir out of tree with find_package(plexus) against $stage"
  cmake -S "$dir" -B "$tmp/$name" -DCMAKE_PREFIX_PATH="$stage" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS="${san[*]:-}" \
        -DCMAKE_MODULE_LINKER_FLAGS="${san[*]:-}" -DCMAKE_EXE_LINKER_FLAGS="${san[*]:-}" \
        > "$tmp/$name-configure.log" 2>&1 ||
    { cat "$tmp/$name-configure.log" >&2; fail "configuring $dir with find_package(plexus) failed"; }
  cmake --build "$tmp/$name" > "$tmp/$name-build.log" 2>&1 ||
    { cat "$tmp/$name-build.log" >&2; fail "building $dir out of tree failed"; }
  if grep -q 'warning:' "$tmp/$name-build.log"; then
    grep 'warning:' "$tmp/$name-build.log" >&2
    fail "building $dir out of tree gave compiler warnings"
  fi
}

# oot_check_headers DEPFILE WHAT: the compiler's dependency file lists every header
# it read; each plexus header must come from $stage, none from the source tree's core/.
oot_check_headers() {
  local deps=$1 what=$2
  [ -n "$deps" ] && [ -e "$deps" ] || fail "no dependency file for $what (cannot check the headers used)"
  grep -q "$stage/[^ ]*include/plexus/plexus.h" "$deps" ||
    fail "$what did not include plexus.h from the installed SDK ($deps)"
  if grep -q "$src/core" "$deps"; then
    fail "$what read headers from the source tree: $(grep -o "$src/core[^ ]*" "$deps" | head -n 3)"
  fi
}

# oot_check_exports SO: a module exports exactly one symbol, the plexus_module
# descriptor (ASan adds its own __odr_asan.* markers, which are not the module's),
# and is linked against libplexus.so.1.
oot_check_exports() {
  local so=$1 exports
  exports=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^__odr_asan' || true)
  echo "$exports" | grep -qx plexus_module || fail "$so does not export plexus_module (exports: $exports)"
  [ "$(echo "$exports" | wc -l)" -eq 1 ] || fail "$so exports more than plexus_module: $exports"
  readelf -d "$so" | grep -q 'NEEDED.*libplexus.so.1' || fail "$so is not linked against libplexus.so.1"
}
