#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang into BUILD (default build-fuzz)
# and runs each for SECONDS (default 60) from its checked-in seed corpus
# (tests/fuzz/corpus/<target>/, crashers found earlier included, so every run is also
# a regression pass). Exits non-zero when a target crashes, leaks or times out; the
# input that did it is left in BUILD/artifacts/.
#
#   tools/fuzz.sh [SECONDS] [TARGET...]      e.g. tools/fuzz.sh 10 fuzz_frame
#   tools/fuzz.sh --seeds                    regenerate the generated seeds (sample-*,
#                                            frame streams, TLS ClientHellos) after a
#                                            codec format change
#   env: BUILD, JOBS, CC (default clang), FUZZ_ARGS (extra libFuzzer flags)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODE=run
if [ "${1:-}" = --seeds ]; then MODE=seeds; shift; fi
SECONDS_EACH=${1:-60}
shift || true
BUILD=${BUILD:-$ROOT/build-fuzz}
JOBS=${JOBS:-2}
CC=${CC:-clang}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac

if ! command -v "$CC" >/dev/null; then
  echo "fuzz: $CC not found; run tools/install-deps.sh (it installs clang)" >&2
  exit 1
fi
cmake -S "$ROOT/tests/fuzz" -B "$BUILD" -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

if [ "$MODE" = seeds ]; then
  cmake --build "$BUILD" -j"$JOBS" --target fuzz_seeds
  C=$ROOT/tests/fuzz/corpus
  for codec in $(tr ';' '\n' < "$BUILD/fuzz_targets.txt" | sed -n 's/^fuzz_codec_//p'); do
    mkdir -p "$C/fuzz_codec_$codec"
    ASAN_OPTIONS=detect_leaks=0 "$BUILD/bin/fuzz_seeds" codec "$codec" "$C/fuzz_codec_$codec"
  done
  mkdir -p "$C/fuzz_frame"
  "$BUILD/bin/fuzz_seeds" frame "$C/fuzz_frame"
  mkdir -p "$C/fuzz_reflect"
  "$BUILD/bin/fuzz_seeds" reflect "$C/fuzz_reflect"
  mkdir -p "$C/fuzz_tls"
  "$BUILD/bin/fuzz_seeds" tls "$C/fuzz_tls"
  find "$C" -name 'sample-*' -size +8k -delete # keep the checked-in corpus small
  exit 0
fi
cmake --build "$BUILD" -j"$JOBS" --target fuzz_all

if [ $# -gt 0 ]; then
  TARGETS=("$@")
else
  read -r -a TARGETS < <(tr ';' ' ' < "$BUILD/fuzz_targets.txt")
fi

mkdir -p "$BUILD/artifacts" "$BUILD/work"
rm -f "$BUILD"/*.failed

# One target's run; a failure leaves BUILD/<target>.failed behind.
run_one() {
  local t=$1
  local seeds=$ROOT/tests/fuzz/corpus/$t
  local corpus=$BUILD/corpus/$t # what the fuzzer adds stays out of the source tree
  mkdir -p "$corpus"
  # -max_len 16 KiB: room for several frames or a sizeable document, still fast.
  # halt_on_error + abort: a UBSan finding is a crash, not a warning.
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
       "$BUILD/bin/$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
         -max_len=16384 -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$t-" \
         ${FUZZ_ARGS:-} "$corpus" "$seeds" >"$BUILD/$t.log" 2>&1; then
    touch "$BUILD/$t.failed"
  fi
}

# JOBS targets at a time (each fuzzer is one process on one core).
running=0
for t in "${TARGETS[@]}"; do
  [ -d "$ROOT/tests/fuzz/corpus/$t" ] || { echo "fuzz: no seed corpus for $t" >&2; exit 1; }
  echo "== $t: ${SECONDS_EACH}s"
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true

failed=()
for t in "${TARGETS[@]}"; do
  if [ -e "$BUILD/$t.failed" ]; then
    failed+=("$t")
    echo "fuzz: $t FAILED; the end of $BUILD/$t.log:" >&2
    tail -n 60 "$BUILD/$t.log" >&2
  else
    echo "-- $t"
    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::new_units_added)' \
      "$BUILD/$t.log" || true
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]} (inputs in $BUILD/artifacts/)" >&2
  exit 1
fi
echo "fuzz: ${#TARGETS[@]} targets, ${SECONDS_EACH}s each, no crash"
