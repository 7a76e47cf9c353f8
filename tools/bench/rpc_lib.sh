# Helpers of tools/bench/run.sh (sourced): ports, servers, clients, /proc CPU, JSON fields.
# Expects BIN, MODS, OUT, SERVER_CPU, CLIENT_CPU, REQ_JSON, HAVE_BINARY, CLIENT_ENV and
# CLIENT_WRAP set, and CERTS (the run's certificates, plexus-rpc-certs) for plexus-tls.

# A TCP port on 127.0.0.1 that nobody listens on (the first from a pid-derived start).
free_port() {
  # Below the kernel's ephemeral range: a port inside it can be held by one of the
  # bench's own client sockets, and then the server's bind fails (EADDRINUSE).
  local lo span p
  lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  span=$((lo > 12000 ? lo - 10000 : 2000))
  p=$((lo - span + ($$ * 7 + RANDOM) % span))
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}

# wait_port PORT SECONDS [PID]: until something accepts on 127.0.0.1:PORT; 1 on time-out
# or as soon as PID (the server meant to listen there) has exited.
wait_port() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null && return 1
    sleep 0.1
  done
  return 1
}

# The YAML of the Plexus server and of its clients (one per codec). BENCH_FILTERS, e.g.
# "[deadline_floor]", puts that filter chain on the server and on the clients.
# write_plexus_confs PORT tls: the same server with a tls: block ($OUT/server-tls-PORT.yaml)
# and one client (codec_protobuf) verifying it against the run's CA (client-tls-PORT.yaml).
# write_plexus_confs PORT metrics: the same server and one client (codec_protobuf), both
# with the metrics filter (server-metrics-PORT.yaml, client-metrics-PORT.yaml).
write_plexus_confs() {
  local port=$1 variant=${2:-} codecs="protobuf" extra="" filters=${BENCH_FILTERS:-}
  [ "$HAVE_BINARY" = 1 ] && codecs="protobuf, binary"
  [ "$variant" = tls ] && extra="  tls: { cert: $CERTS/server.pem, key: $CERTS/server.key }"
  [ "$variant" = metrics ] && filters="[metrics]"
  cat > "$OUT/server-${variant:+$variant-}$port.yaml" <<EOF
# plexusd for the RPC comparison: one IO thread, calc's handlers on it (workers: 0).
modules:
  path: [$MODS]
server:
  listen: 127.0.0.1:$port
  io_threads: 1
  codecs: [$codecs]
${filters:+  filters: $filters}
$extra
  services:
    - module: calc
EOF
  if [ "$variant" = tls ]; then
    write_client_conf "$port" protobuf tls "tls: { ca: $CERTS/ca.pem }"
    return
  fi
  if [ "$variant" = metrics ]; then
    BENCH_FILTERS="[metrics]" write_client_conf "$port" protobuf metrics
    return
  fi
  local codec
  for codec in protobuf binary; do
    write_client_conf "$port" "$codec"
  done
}

# write_client_conf PORT CODEC [NAME [UPSTREAM_KEY]]: $OUT/client-NAME-PORT.yaml (NAME
# defaults to CODEC), plexus bench's config; UPSTREAM_KEY is one more line of the upstream.
write_client_conf() {
  cat > "$OUT/client-${3:-$2}-$1.yaml" <<EOF
# plexus bench against the comparison's plexusd: the default strategy modules are on the
# path (balancer random, failover failfast, timeout fixed: one deadline timer per call).
modules:
  path: [$MODS]
client:
  io_threads: 1
  descriptors: [calc]
  upstreams:
    calc:
      endpoints: [127.0.0.1:$1]
      codec: $2
      timeout: { module: fixed, connect: 1s, call: 30s }
${BENCH_FILTERS:+      filters: $BENCH_FILTERS}
${4:+      $4}
EOF
}

# The YAML of plexusd for the plexus-grpc target: calc over proto_grpc alone on its own
# port (codec_protobuf for application/grpc), called by the gRPC C++ client.
write_plexus_grpc_conf() {
  cat > "$OUT/server-grpc-$1.yaml" <<EOF
# plexusd serving gRPC (h2c) for the RPC comparison: one IO thread, calc's handlers on it.
modules:
  path: [$MODS]
server:
  listen: 127.0.0.1:$1
  io_threads: 1
  codecs: [protobuf]
  protocols: [grpc]
${BENCH_FILTERS:+  filters: $BENCH_FILTERS}
  services:
    - module: calc
EOF
}

# start_server TARGET PORT [WRAPPER...]: starts TARGET's server on CPU SERVER_CPU and
# sets SPID. plexus-protobuf and plexus-binary share one plexusd (both codecs);
# plexus-grpc, plexus-tls (the same plexusd with a tls: block) and plexus-metrics (with
# the metrics filter) have one of their own.
start_server() {
  local target=$1 port=$2
  shift 2
  local cmd
  case $target in
    raw) cmd=("$BIN/plexus-rpc-raw-server" "$port") ;;
    grpc) cmd=("$BIN/plexus-rpc-grpc-server" "$port") ;;
    plexus-grpc) write_plexus_grpc_conf "$port"; cmd=("$BIN/plexusd" -c "$OUT/server-grpc-$port.yaml") ;;
    plexus-tls) write_plexus_confs "$port" tls; cmd=("$BIN/plexusd" -c "$OUT/server-tls-$port.yaml") ;;
    plexus-metrics) write_plexus_confs "$port" metrics; cmd=("$BIN/plexusd" -c "$OUT/server-metrics-$port.yaml") ;;
    plexus-*) write_plexus_confs "$port"; cmd=("$BIN/plexusd" -c "$OUT/server-$port.yaml") ;;
    hold) cmd=("$BIN/plexus-rpc-hold" "$port") ;;
  esac
  local log=$OUT/server-$target-$port.log
  taskset -c "$SERVER_CPU" "$@" "${cmd[@]}" > "$log" 2>&1 &
  SPID=$!
  if ! wait_port "$port" 120 "$SPID"; then
    echo "run.sh: the $target server did not start on port $port:" >&2
    tail -5 "$log" >&2
    return 1
  fi
}

# stop_server PID: SIGTERM, then SIGKILL after 60 s (valgrind needs time to write).
stop_server() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 600; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# client TARGET PORT CONNS INFLIGHT ARGS...: the target's load client on CPU CLIENT_CPU,
# printing one JSON line. ARGS: --duration/--warmup or --calls (the same for every client).
# CLIENT_ENV (an array, e.g. LD_PRELOAD=...) is put in the client's environment and
# CLIENT_WRAP (an array, e.g. valgrind ...) runs it.
client() {
  local target=$1 port=$2 c=$3 d=$4
  shift 4
  local run=(env "${CLIENT_ENV[@]}" taskset -c "$CLIENT_CPU" "${CLIENT_WRAP[@]}")
  case $target in
    raw) "${run[@]}" "$BIN/plexus-rpc-raw-client" "$port" --connections "$c" --inflight "$d" "$@" ;;
    grpc|plexus-grpc) "${run[@]}" "$BIN/plexus-rpc-grpc-client" "$port" --connections "$c" --inflight "$d" "$@" ;;
    plexus-*) "${run[@]}" "$BIN/plexus" bench -c "$OUT/client-${target#plexus-}-$port.yaml" \
                calc.Calculator/Add "$REQ_JSON" --connections "$c" --inflight "$d" "$@" --json ;;
  esac
}

# Voluntary context switches of every thread of PID so far: how often it went to sleep
# (and so had to be woken by the peer's next packet).
sleeps() {
  cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ { s += $2 } END { print s + 0 }'
}

# A number from our one-line JSON reports: jnum JSON KEY (first occurrence of "KEY":).
jnum() {
  sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" <<<"$1"
}

# User and system CPU of PID so far, in clock ticks: "UTIME STIME" (fields 14 and 15 of
# /proc/PID/stat; the text after the command's closing parenthesis starts at field 3).
cpu_ticks() {
  sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12, $13 }'
}
