#!/usr/bin/env bash
# make bench: the RPC comparison of issue 5. The same call (calc.AddRequest{a, b, 16-byte
# tag} -> AddReply) served by Plexus (codec_protobuf, codec_binary, and codec_protobuf over
# TLS 1.3: plexus-tls, issue 14; the metrics filter on both sides: plexus-metrics, issue 15),
# a raw libev server with 4-byte length frames (the
# limit) and gRPC C++ async (when built), and the gRPC C++
# client against plexusd's proto_grpc (plexus-grpc, with the gRPC peer); server on one CPU,
# client on the other; then deterministic counts (callgrind instructions, heap allocations,
# syscalls per call), TLS handshakes per second (full and resumed), 100k pending calls,
# and a profile of the Plexus server.
#
#   tools/bench/run.sh BUILD_DIR       (make bench builds BUILD_DIR in Release first)
#
# Environment (defaults in brackets):
#   BENCH_WARMUP [1] BENCH_DURATION [5]   seconds per run      BENCH_REPS [3] repetitions
#   BENCH_SCENARIOS ["1x1 1x64 8x16"]     connections x calls in flight
#   BENCH_COUNTS [1]   callgrind / malloc / syscall counts at 1x64, with BENCH_N1 [2000] and
#                      BENCH_N2 [10000] calls: per-call figures are (N2 run - N1 run) / (N2 - N1),
#                      so start-up costs cancel
#   BENCH_PENDING [100000]  pending calls of the timer test (0 skips it)
#   BENCH_HANDSHAKES [1000] TLS handshakes per run of the handshake test (0 skips it)
#   BENCH_PROFILE [1]  perf record + perf trace of plexusd at 8x16 (needs perf; native and,
#                      with the gRPC peer, proto_grpc)
#   BENCH_SERVER_CPU [0] BENCH_CLIENT_CPU [1]   BENCH_OUT [BUILD_DIR/bench-results/DATE]
#   BENCH_FILTERS []   a filter chain for the Plexus server and clients: "[deadline_floor]"
#   BENCH_TARGETS []   only these of the built targets, e.g. "plexus-protobuf plexus-tls"
set -euo pipefail

BUILD=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$BUILD/bin
MODS=$BUILD/modules
WARMUP=${BENCH_WARMUP:-1}
DURATION=${BENCH_DURATION:-5}
REPS=${BENCH_REPS:-3}
SCENARIOS=${BENCH_SCENARIOS:-"1x1 1x64 8x16"}
COUNTS=${BENCH_COUNTS:-1}
N1=${BENCH_N1:-2000}
N2=${BENCH_N2:-10000}
PENDING=${BENCH_PENDING:-100000}
HANDSHAKES=${BENCH_HANDSHAKES:-1000}
PROFILE=${BENCH_PROFILE:-1}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
OUT=${BENCH_OUT:-$BUILD/bench-results/$(date +%Y%m%d-%H%M%S)}
CERTS=$OUT/certs
REQ_JSON='{"a":1,"b":2,"tag":"0123456789abcdef"}'
SHIM=$BIN/libpx_malloc_count.so
TCK=$(getconf CLK_TCK)
CLIENT_ENV=()
CLIENT_WRAP=()
mkdir -p "$OUT"
# shellcheck source=tools/bench/rpc_lib.sh
. "$HERE/rpc_lib.sh"

for f in plexusd plexus plexus-rpc-raw-server plexus-rpc-raw-client plexus-rpc-hold \
         plexus-rpc-pending plexus-rpc-certs plexus-rpc-handshake libpx_malloc_count.so; do
  [ -e "$BIN/$f" ] || { echo "run.sh: $BIN/$f is missing: build target plexus_rpc_bench" >&2; exit 1; }
done
HAVE_BINARY=0
TARGETS=(plexus-protobuf)
if [ -e "$MODS/codec_binary.so" ]; then HAVE_BINARY=1; TARGETS+=(plexus-binary); fi
# TLS 1.3 on the native protocol: the same plexusd with a tls: block, the same client
# with its upstream's, certificates made for this run (server.pem: 127.0.0.1).
HAVE_TLS=0
if "$BIN/plexus-rpc-certs" "$CERTS" > "$OUT/certs.log" 2>&1; then
  HAVE_TLS=1
  TARGETS+=(plexus-tls)
else
  echo "run.sh: Plexus/TLS skipped: no certificates ($(tail -1 "$OUT/certs.log"))"
fi
# The metrics filter on the server's chain and the client's (issue 15): its cost per call.
if [ -e "$MODS/filter_metrics.so" ]; then TARGETS+=(plexus-metrics); fi
TARGETS+=(raw)
if [ -x "$BIN/plexus-rpc-grpc-server" ] && [ -x "$BIN/plexus-rpc-grpc-client" ]; then
  TARGETS+=(grpc)
  if [ -e "$MODS/proto_grpc.so" ]; then
    TARGETS+=(plexus-grpc)
  else
    echo "run.sh: Plexus/proto_grpc skipped: $MODS/proto_grpc.so is not built"
  fi
else
  echo "run.sh: gRPC peer skipped: not built (needs libgrpc++-dev and protobuf-compiler-grpc;" \
       "'make bench PEERS=1' installs them)"
fi
[ "$HAVE_BINARY" = 1 ] || echo "run.sh: Plexus/codec_binary skipped: $MODS/codec_binary.so is not built"
if [ -n "${BENCH_TARGETS:-}" ]; then
  kept=()
  for t in "${TARGETS[@]}"; do
    [[ " $BENCH_TARGETS " == *" $t "* ]] && kept+=("$t")
  done
  TARGETS=("${kept[@]}")
fi
HAVE_PERF=0
command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1 && HAVE_PERF=1

SERVERS=()
cleanup() { local p; for p in "${SERVERS[@]}"; do stop_server "$p"; done; SERVERS=(); }
trap cleanup EXIT

REPORT=$OUT/report.md
say() { printf '%s\n' "$*" | tee -a "$REPORT"; }
note() { printf '%s\n' "$*" >&2; }

# ---- the machine ---------------------------------------------------------------------
: > "$REPORT"
say "# RPC comparison, $(date -u '+%Y-%m-%d %H:%M UTC')"
say ""
say "- machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
    "$(uname -sr); $(gcc --version | head -1)"
say "- build: $(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt"), commit" \
    "$(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo unknown) plus the working tree"
say "- method: server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU (taskset), loopback TCP," \
    "closed loop; ${WARMUP} s warm-up + ${DURATION} s measured; $REPS repetitions interleaved" \
    "across implementations; medians (min–max); server CPU = /proc/PID/stat utime (user) and" \
    "stime (system) over the client's whole run ÷ the calls it made (warm-up included);" \
    "client CPU = the client's getrusage over the measured window ÷ its calls; server sleeps =" \
    "voluntary context switches of its threads (/proc/PID/task/*/status) per 1000 calls"
say "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
say ""

# ---- timed runs: every server up at once, repetitions interleaved ---------------------
declare -A PORT SPIDS
for t in "${TARGETS[@]}"; do
  if [ "$t" = plexus-binary ] && [ -n "${PORT[plexus-protobuf]:-}" ]; then # one plexusd, both codecs
    PORT[$t]=${PORT[plexus-protobuf]}
    SPIDS[$t]=${SPIDS[plexus-protobuf]}
    continue
  fi
  PORT[$t]=$(free_port)
  start_server "$t" "${PORT[$t]}"
  SERVERS+=("$SPID")
  SPIDS[$t]=$SPID
done

RUNS=$OUT/runs.tsv
: > "$RUNS"
for rep in $(seq 1 "$REPS"); do
  for sc in $SCENARIOS; do
    c=${sc%x*}
    d=${sc#*x}
    for t in "${TARGETS[@]}"; do
      pid=${SPIDS[$t]}
      c0=$(cpu_ticks "$pid")
      w0=$(sleeps "$pid")
      if ! json=$(client "$t" "${PORT[$t]}" "$c" "$d" --duration "$DURATION" --warmup "$WARMUP"); then
        note "run.sh: $t at $sc failed: $json"
        continue
      fi
      c1=$(cpu_ticks "$pid")
      w1=$(sleeps "$pid")
      echo "$t $sc $rep $json" >> "$OUT/runs.jsonl"
      total=$(jnum "$json" calls_total)
      srv_us=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" -v n="$total" 'BEGIN { split(a, x, " "); split(b, y, " ")
        if (n <= 0) n = 1e300; printf "%.3f %.3f", (y[1] - x[1]) / t * 1e6 / n, (y[2] - x[2]) / t * 1e6 / n }')
      printf '%s %s %s %s %s %s %s %s %s %s\n' "$t" "$sc" "$rep" "$(jnum "$json" calls_per_s)" \
        "$(jnum "$json" p50)" "$(jnum "$json" p99)" "$(jnum "$json" client_cpu_us_per_call)" \
        "$(jnum "$json" total)" "$srv_us" \
        "$(awk -v w=$((w1 - w0)) -v n="$total" 'BEGIN { printf "%.2f", (n > 0 ? w * 1000 / n : 0) }')" \
        >> "$RUNS"
      note "  rep $rep/$REPS $sc $t: $(jnum "$json" calls_per_s) calls/s, p50 $(jnum "$json" p50) us"
    done
  done
done
cleanup
say "load average after the timed runs: $(cut -d' ' -f1-3 /proc/loadavg)"
say ""
awk -f "$HERE/rpc_table.awk" "$RUNS" > "$OUT/table.txt"
sed '/^--$/,$d' "$OUT/table.txt" | tee -a "$REPORT"
sed '1,/^--$/d' "$OUT/table.txt" > "$OUT/medians.txt"
say ""

# ---- TLS handshakes per second, full and resumed ---------------------------------------
# shellcheck source=tools/bench/rpc_tls.sh
. "$HERE/rpc_tls.sh"
if [ "$HAVE_TLS" = 1 ] && [ "$HANDSHAKES" -gt 0 ]; then
  tls_handshake_bench || note "run.sh: the TLS handshake test failed"
fi

# ---- 100k pending calls with timers ----------------------------------------------------
if [ "$PENDING" -gt 0 ]; then
  hport=$(free_port)
  start_server hold "$hport"
  SERVERS+=("$SPID")
  cat > "$OUT/client-hold.yaml" <<EOF
# The pending-calls probe: plexus-rpc-hold answers Add and never answers Sleep.
modules:
  path: [$MODS]
client:
  io_threads: 1
  upstreams:
    calc:
      endpoints: [127.0.0.1:$hport]
      codec: protobuf
      timeout: { module: fixed, connect: 1s, call: 30s }
EOF
  : > "$OUT/pending.tsv"
  for rep in $(seq 1 "$REPS"); do
    for d in 1 16; do
      if ! json=$(taskset -c "$CLIENT_CPU" "$BIN/plexus-rpc-pending" -c "$OUT/client-hold.yaml" \
                    --pending "$PENDING" --inflight "$d" --duration "$DURATION"); then
        note "run.sh: the pending-calls probe failed: $json"
        continue
      fi
      echo "$json" >> "$OUT/pending.jsonl"
      before=${json%%\"with\":\{*}
      after=${json##*\"with\":\{}
      printf '1x%s %s %s %s %s %s %s\n' "$d" "$(jnum "$before" calls_per_s)" "$(jnum "$after" calls_per_s)" \
        "$(jnum "$before" p50_us)" "$(jnum "$after" p50_us)" "$(jnum "$json" armed_s)" \
        "$(jnum "$json" pending_cancelled_at_free)" >> "$OUT/pending.tsv"
      note "  pending rep $rep 1x$d: p50 $(jnum "$before" p50_us) -> $(jnum "$after" p50_us) us"
    done
  done
  # The same at 1x1 under callgrind: client instructions per fast call, without and with
  # the pending calls (each phase's window is dumped by the probe itself).
  cg_line=""
  if command -v valgrind >/dev/null; then
    rm -f "$OUT"/cg-pending.*
    if json=$(taskset -c "$CLIENT_CPU" valgrind --tool=callgrind \
                --callgrind-out-file="$OUT/cg-pending.%p" "$BIN/plexus-rpc-pending" \
                -c "$OUT/client-hold.yaml" --pending "$PENDING" --inflight 1 --duration 3 2>/dev/null); then
      before=${json%%\"with\":\{*}
      after=${json##*\"with\":\{}
      i0=$(grep -l 'Client Request: without' "$OUT"/cg-pending.* | xargs sed -n 's/^totals: //p')
      i1=$(grep -l 'Client Request: with$' "$OUT"/cg-pending.* | xargs sed -n 's/^totals: //p')
      cg_line=$(awk -v a="$i0" -v b="$i1" -v na="$(jnum "$before" calls)" -v nb="$(jnum "$after" calls)" \
        'BEGIN { if (na > 0 && nb > 0) printf "%.0f %.0f %.3f", a / na, b / nb, (b / nb) / (a / na) }')
    fi
  fi
  cleanup
  say "### $PENDING pending calls with timers on the client loop"
  say ""
  say "| fast stream | calls/s without → with | p50 without → with | p50 with ÷ without | time to post and arm $PENDING calls | cancelled at free |"
  say "|---|---|---|---|---|---|"
  awk '
    function med(s,   v, n, i, j, t) { n = split(s, v, " "); for (i = 2; i <= n; i++) { t = v[i] + 0; for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j + 1] = v[j]; v[j + 1] = t } return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
    { k = $1; if (!(k in r0)) ord[++n] = k; r0[k] = r0[k] " " $2; r1[k] = r1[k] " " $3; p0[k] = p0[k] " " $4; p1[k] = p1[k] " " $5; a[k] = a[k] " " $6; cn[k] = $7 }
    END { for (i = 1; i <= n; i++) { k = ord[i]
      printf "| %s | %.0f → %.0f | %.1f → %.1f µs | %.2f× | %.3f s | %d |\n", k, med(r0[k]), med(r1[k]), med(p0[k]), med(p1[k]), med(p1[k]) / med(p0[k]), med(a[k]), cn[k]
      printf "pending %s p50_ratio %.4f\npending %s rate_ratio %.4f\n", k, med(p1[k]) / med(p0[k]), k, med(r1[k]) / med(r0[k]) > "'"$OUT/pending-medians.txt"'" } }' \
    "$OUT/pending.tsv" | tee -a "$REPORT"
  say ""
  if [ -n "$cg_line" ]; then
    read -r ir0 ir1 irr <<<"$cg_line"
    say "Deterministic: client instructions per fast call at 1 × 1 (callgrind, the measured windows" \
        "only): $ir0 without, $ir1 with $PENDING pending calls (${irr}×)."
    echo "pending cg ir_ratio $irr" >> "$OUT/pending-medians.txt"
    say ""
  fi
fi

# ---- deterministic counts at 1x64 -------------------------------------------------------
# counts_run TARGET N WRAPPER...: a server under WRAPPER, N calls at 1x64, server stopped.
# Returns 1 when the client did not make its N calls.
counts_run() {
  local t=$1 n=$2 port json rc=0
  shift 2
  port=$(free_port)
  start_server "$t" "$port" "$@"
  local pid=$SPID
  SERVERS+=("$pid")
  json=$(client "$t" "$port" 1 64 --calls "$n" --warmup 0 --duration 600 2>>"$OUT/clients.log") ||
    true
  if [ "$(jnum "$json" calls)" != "$n" ]; then
    note "run.sh: counting run of $t ($n calls) failed: $json"
    rc=1
  fi
  stop_server "$pid"
  return $rc
}

# client_total FILE: a client run's instructions (callgrind) less what plexus bench spends
# counting its TCP connections at the end: it reads /proc/self/net/tcp, as long as the
# machine has sockets (other processes', TIME_WAIT ones of earlier runs), so that cost
# differs between the two runs and would not cancel.
client_total() {
  local all tcp
  all=$(sed -n 's/^totals: //p' "$1")
  tcp=$(callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
        awk '/:px_bench_tcp_count / { gsub(",", "", $1); print $1; exit }')
  echo $((all - ${tcp:-0}))
}

shim_field() { # shim_field FILE KEY: KEY=value of the last line the shim wrote
  tail -1 "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p"
}

if [ "$COUNTS" = 1 ]; then
  say "### Deterministic counts at 1 × 64 (per call: run of $N2 calls minus run of $N1, ÷ $((N2 - N1)))"
  say ""
  say "| implementation | server instructions / call | client instructions / call | server heap allocations / call (codec's share) | client heap allocations / call (codec's share) | server syscalls / call |"
  say "|---|---|---|---|---|---|"
  : > "$OUT/counts.txt"
  for t in "${TARGETS[@]}"; do
    ir="–"
    if command -v valgrind >/dev/null &&
       counts_run "$t" "$N1" valgrind --tool=callgrind --callgrind-out-file="$OUT/cg-$t-$N1.out" &&
       counts_run "$t" "$N2" valgrind --tool=callgrind --callgrind-out-file="$OUT/cg-$t-$N2.out"; then
      i1=$(sed -n 's/^totals: //p' "$OUT/cg-$t-$N1.out")
      i2=$(sed -n 's/^totals: //p' "$OUT/cg-$t-$N2.out")
      ir=$(( (i2 - i1) / (N2 - N1) ))
    fi
    cir="–"
    if command -v valgrind >/dev/null; then
      CLIENT_WRAP=(valgrind --tool=callgrind --callgrind-out-file="$OUT/cgc-$t-$N1.out")
      if counts_run "$t" "$N1"; then
        CLIENT_WRAP=(valgrind --tool=callgrind --callgrind-out-file="$OUT/cgc-$t-$N2.out")
        if counts_run "$t" "$N2"; then
          i1=$(client_total "$OUT/cgc-$t-$N1.out")
          i2=$(client_total "$OUT/cgc-$t-$N2.out")
          cir=$(( (i2 - i1) / (N2 - N1) ))
        fi
      fi
      CLIENT_WRAP=()
    fi
    ok=1
    for n in "$N1" "$N2"; do
      rm -f "$OUT/malloc-srv-$t-$n.txt" "$OUT/malloc-cli-$t-$n.txt"
      CLIENT_ENV=("LD_PRELOAD=$SHIM" "PX_MALLOC_CODEC=1" "PX_MALLOC_COUNT_OUT=$OUT/malloc-cli-$t-$n.txt")
      counts_run "$t" "$n" env "LD_PRELOAD=$SHIM" PX_MALLOC_CODEC=1 \
        "PX_MALLOC_COUNT_OUT=$OUT/malloc-srv-$t-$n.txt" || ok=0
      CLIENT_ENV=()
    done
    per() { # per SIDE KEY: allocations per call from the two runs
      local a b
      a=$(shim_field "$OUT/malloc-$1-$t-$N1.txt" "$2")
      b=$(shim_field "$OUT/malloc-$1-$t-$N2.txt" "$2")
      if [ "$ok" = 1 ] && [ -n "$a" ] && [ -n "$b" ]; then
        awk -v a="$a" -v b="$b" -v d=$((N2 - N1)) 'BEGIN { printf "%.2f", (b - a) / d }'
      else
        echo "–"
      fi
    }
    sa=$(per srv allocs); sc=$(per srv codec_allocs); ca=$(per cli allocs); cc=$(per cli codec_allocs)
    sys="–"
    if [ "$HAVE_PERF" = 1 ]; then
      port=$(free_port)
      start_server "$t" "$port"
      pid=$SPID
      SERVERS+=("$pid")
      perf stat -e raw_syscalls:sys_enter -x, -o "$OUT/syscalls-$t.txt" -p "$pid" &
      pp=$!
      sleep 0.5
      json=$(client "$t" "$port" 1 64 --calls "$N2" --warmup 0 --duration 600) || true
      kill -INT "$pp"; wait "$pp" || true
      stop_server "$pid"
      if [ "$(jnum "$json" calls)" = "$N2" ]; then
        sys=$(awk -F, -v n="$N2" '/raw_syscalls/ { printf "%.3f", $1 / n }' "$OUT/syscalls-$t.txt")
      fi
    fi
    echo "$t ir $ir cir $cir srv_allocs $sa srv_codec $sc cli_allocs $ca cli_codec $cc syscalls $sys" >> "$OUT/counts.txt"
    say "| $t | $ir | $cir | $sa ($sc) | $ca ($cc) | $sys |"
  done
  say ""
  # Where Plexus's instructions go: per-call self cost of each function, server and client.
  top_functions() { # top_functions PREFIX TARGET TITLE
    local n
    [ -e "$OUT/$1-$2-$N2.out" ] || return 0
    for n in "$N1" "$N2"; do
      callgrind_annotate --threshold=100 "$OUT/$1-$2-$n.out" > "$OUT/$1-$2-$n.txt" 2>/dev/null
    done
    say "$3, instructions per call (self cost, run of $N2 calls minus run of $N1):"
    say ""
    say '```'
    awk -v d=$((N2 - N1)) '
      /^ *[0-9,]+ +\(/ { n = $1; gsub(",", "", n); line = $0
        sub(/^ *[0-9,]+ +\([^)]*\) +/, "", line)
        if (line ~ /^\?\?\?:0x/) sub(/ \[.*\/|\[/, " [", line); else sub(/ \[.*\]$/, "", line)
        if (FILENAME == ARGV[1]) a[line] += n; else b[line] += n }
      END { for (f in b) { v = (b[f] - a[f]) / d; if (v >= 5) printf "%10.0f  %s\n", v, f } }' \
      "$OUT/$1-$2-$N1.txt" "$OUT/$1-$2-$N2.txt" | sort -rn | head -25 | tee -a "$REPORT"
    say '```'
    say ""
  }
  if command -v callgrind_annotate >/dev/null; then
    top_functions cg plexus-protobuf "Top functions of the Plexus server (plexusd, codec_protobuf) at 1 × 64"
    top_functions cgc plexus-protobuf "Top functions of the Plexus client (plexus bench, codec_protobuf) at 1 × 64"
    top_functions cg plexus-grpc "Top functions of plexusd serving proto_grpc to the gRPC C++ client at 1 × 64"
    top_functions cg plexus-tls "Top functions of the Plexus server over TLS 1.3 (plexusd, codec_protobuf) at 1 × 64"
    top_functions cgc plexus-tls "Top functions of the Plexus client over TLS 1.3 (plexus bench, codec_protobuf) at 1 × 64"
  fi
fi

# ---- where the Plexus server's time goes at 8x16 ---------------------------------------
# profile_target TARGET WHAT: perf record and perf trace of TARGET's plexusd at 8x16.
profile_target() {
  local t=$1 what=$2 port pid cpid
  port=$(free_port)
  start_server "$t" "$port"
  pid=$SPID
  SERVERS+=("$pid")
  client "$t" "$port" 8 16 --duration $((2 * DURATION + 4)) --warmup 0 \
    > "$OUT/profile-client-$t.json" &
  cpid=$!
  sleep 1
  perf record -q -e cpu-clock -F 1999 -g -p "$pid" -o "$OUT/perf-$t.data" -- sleep "$DURATION" \
    > /dev/null 2>&1 || true
  timeout -s INT "$DURATION" perf trace -s -p "$pid" -o "$OUT/perf-trace-$t.txt" \
    > /dev/null 2>&1 || true
  wait "$cpid" || true
  cleanup
  say "Profile of plexusd ($what) at 8 × 16 (perf record -e cpu-clock, self time by object, then top symbols):"
  say ""
  say '```'
  perf report -i "$OUT/perf-$t.data" --stdio --no-children --sort dso 2>/dev/null |
    grep -E '^ +[0-9.]+%' | head -8 | tee -a "$REPORT"
  say ""
  perf report -i "$OUT/perf-$t.data" --stdio --no-children --sort dso,sym --percent-limit 1.5 \
    2>/dev/null | grep -E '^ +[0-9.]+%' | head -30 | tee -a "$REPORT"
  say '```'
  say ""
  say "Syscalls of plexusd ($what) at 8 × 16 over ${DURATION} s (perf trace -s: calls, errors, total ms, ...):"
  say ""
  say '```'
  grep -E '^ +[a-z_0-9]+ +[0-9]+ ' "$OUT/perf-trace-$t.txt" | head -12 | tee -a "$REPORT"
  say '```'
  say "(the client made $(jnum "$(cat "$OUT/profile-client-$t.json")" calls_per_s) calls/s during the profile)"
  say ""
}
if [ "$PROFILE" = 1 ] && [ "$HAVE_PERF" = 1 ]; then
  profile_target plexus-protobuf "native protocol, codec_protobuf, plexus bench client"
  if [ "$HAVE_TLS" = 1 ]; then
    profile_target plexus-tls "native protocol over TLS 1.3, codec_protobuf, plexus bench client"
  fi
  if [[ " ${TARGETS[*]} " == *" plexus-grpc "* ]]; then
    profile_target plexus-grpc "proto_grpc, gRPC C++ client"
  fi
fi

# ---- HTTP/1.1 + JSON under wrk ------------------------------------------------------------
# shellcheck source=tools/bench/rpc_http.sh
. "$HERE/rpc_http.sh"
http_bench || note "run.sh: the HTTP comparison failed"

# ---- the issue's targets ---------------------------------------------------------------
m() { awk -v k="$1" '$1 " " $2 " " $3 == k { print $4 }' "$OUT/medians.txt"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print ""; else printf "%.2f", a / b }'; }
verdict() { awk -v v="$1" -v op="$2" -v lim="$3" 'BEGIN { if (v == "") print "not measured"; else if ((op == ">=" && v >= lim) || (op == "<=" && v <= lim)) print "met"; else print "MISSED" }'; }
say "### The issue's targets"
say ""
say "| target | measured | verdict |"
say "|---|---|---|"
r=$(ratio "$(m 'plexus-protobuf 8x16 rate')" "$(m 'grpc 8x16 rate')")
say "| ≥ 10× gRPC calls/s at 8 × 16 | ${r:-–}× | $(verdict "$r" '>=' 10) |"
r=$(ratio "$(m 'plexus-protobuf 1x64 rate')" "$(m 'grpc 1x64 rate')")
say "| ≥ 5× gRPC calls/s at 1 × 64 | ${r:-–}× | $(verdict "$r" '>=' 5) |"
r=$(ratio "$(m 'plexus-protobuf 1x1 p50')" "$(m 'raw 1x1 p50')")
say "| p50 at 1 × 1 within 1.1× raw | ${r:-–}× | $(verdict "$r" '<=' 1.1) |"
for sc in 1x64 8x16; do
  r=$(m "plexus-protobuf $sc server_us")
  say "| server CPU ≤ 1 µs per call at load ($sc) | ${r:-–} µs | $(verdict "$r" '<=' 1) |"
done
if [ "$HAVE_TLS" = 1 ]; then
  # Issue 14: TLS 1.3 against plaintext, the same plexusd and client otherwise.
  for sc in 1x64 8x16; do
    a=$(m "plexus-tls $sc server_us"); b=$(m "plexus-protobuf $sc server_us"); r=$(ratio "$a" "$b")
    if [ $sc = 8x16 ]; then v=$(verdict "$r" '<=' 1.5); else v="(no target)"; fi
    say "| TLS server CPU per call ≤ 1.5× plaintext ($sc) | ${r:-–}× (${a:-–} µs vs ${b:-–} µs) | $v |"
  done
fi
if [[ " ${TARGETS[*]} " == *" plexus-metrics "* ]]; then
  # Issue 15: the metrics filter on both sides against none, the same plexusd otherwise.
  r=$(ratio "$(m 'plexus-metrics 8x16 rate')" "$(m 'plexus-protobuf 8x16 rate')")
  say "| metrics filter on both sides: calls/s at 8 × 16 ≥ 0.95× without | ${r:-–}× | $(verdict "$r" '>=' 0.95) |"
fi
if [[ " ${TARGETS[*]} " == *" plexus-grpc "* ]]; then
  # Issue 13: the same gRPC C++ client against plexusd's proto_grpc and against gRPC's
  # own async server.
  r=$(ratio "$(m 'plexus-grpc 8x16 rate')" "$(m 'grpc 8x16 rate')")
  say "| gRPC C++ client at 8 × 16: proto_grpc ≥ 2× gRPC C++ async's calls/s | ${r:-–}× | $(verdict "$r" '>=' 2) |"
  a=$(m 'plexus-grpc 8x16 server_us'); b=$(m 'grpc 8x16 server_us'); r=$(ratio "$a" "$b")
  say "| gRPC C++ client at 8 × 16: proto_grpc's server CPU per call ≤ 1/3 of gRPC C++ async's | ${r:-–}× (${a:-–} µs vs ${b:-–} µs) | $(verdict "$r" '<=' 0.3334) |"
fi
if [ -s "$OUT/counts.txt" ]; then
  line=$(grep '^plexus-protobuf ' "$OUT/counts.txt" || true)
  f() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' <<<"$line"; }
  for side in srv cli; do
    beyond=$(awk -v a="$(f ${side}_allocs)" -v c="$(f ${side}_codec)" 'BEGIN { printf "%.2f", a - c }')
    name=$([ $side = srv ] && echo server || echo client)
    say "| ≤ 1 malloc per call beyond the codec ($name) | $beyond ($(f ${side}_allocs) in all, $(f ${side}_codec) by the codec) | $(verdict "$beyond" '<=' 1) |"
  done
fi
if [ -s "$OUT/pending-medians.txt" ]; then
  while read -r _ sc what v; do
    case $what in
      p50_ratio) say "| $PENDING pending calls do not slow the loop ($sc, p50 with ÷ without ≤ 1.1) | ${v}× | $(verdict "$v" '<=' 1.1) |" ;;
      rate_ratio) say "| $PENDING pending calls do not slow the loop ($sc, calls/s with ÷ without ≥ 0.9) | ${v}× | $(verdict "$v" '>=' 0.9) |" ;;
      ir_ratio) say "| $PENDING pending calls do not slow the loop (client instructions per call with ÷ without ≤ 1.1, callgrind) | ${v}× | $(verdict "$v" '<=' 1.1) |" ;;
    esac
  done < "$OUT/pending-medians.txt"
fi
say ""
say "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); raw data in $OUT"
