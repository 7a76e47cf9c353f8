#!/usr/bin/env bash
# Runs the demo: three plexusd (conf/demo-s{1,2,3}.yaml on 127.0.0.1:7101-7103),
# plexus-demo against them, then a few `plexus call`s, a gRPC and a curl call; the
# servers are stopped with SIGTERM whatever happens. Exits with plexus-demo's status
# (1 also when a CLI, gRPC or curl call that should succeed did not).
#   tools/run-demo.sh              (after `make`; BUILD=dir picks another build dir)
# Ports 7101-7103 on 127.0.0.1 must be free.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BIN=$BUILD/bin
PORTS=(7101 7102 7103)
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/plexus-demo.XXXXXX") || exit 1
PIDS=()
# The configs name ../build/modules; a BUILD elsewhere is found through the env path
# (searched first; a PLEXUS_MODULE_PATH already set keeps precedence).
export PLEXUS_MODULE_PATH=${PLEXUS_MODULE_PATH:+$PLEXUS_MODULE_PATH:}$BUILD/modules

for exe in plexusd plexus plexus-demo; do
    if [[ ! -x $BIN/$exe ]]; then
        echo "run-demo: $BIN/$exe is missing: build first (make, or BUILD=your/build/dir)" >&2
        exit 1
    fi
done

# Stops every server we started (SIGTERM: they finish in-flight calls) and checks it exited 0.
stop_servers() {
    local rc=0 i
    for i in "${!PIDS[@]}"; do
        kill -TERM "${PIDS[$i]}" 2>/dev/null
    done
    for i in "${!PIDS[@]}"; do
        if ! wait "${PIDS[$i]}"; then
            echo "run-demo: plexusd s$((i + 1)) did not exit cleanly; its log:" >&2
            cat "$LOGDIR/s$((i + 1)).log" >&2
            rc=1
        fi
    done
    PIDS=()
    rm -rf "$LOGDIR"
    return $rc
}
trap stop_servers EXIT
trap 'exit 130' INT TERM

port_answers() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A port already taken would make our plexusd fail while the readiness check passes.
for port in "${PORTS[@]}"; do
    if port_answers "$port"; then
        echo "run-demo: something already listens on 127.0.0.1:$port; stop it first" >&2
        exit 1
    fi
done

cd "$ROOT" || exit 1
for n in 1 2 3; do
    "$BIN/plexusd" -c "conf/demo-s$n.yaml" 2>"$LOGDIR/s$n.log" &
    PIDS+=($!)
done

# Bounded readiness poll (about 10s per server): fail early if a server died.
for i in 0 1 2; do
    port=${PORTS[$i]}
    tries=0
    until port_answers "$port"; do
        if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
            echo "run-demo: plexusd s$((i + 1)) exited before listening on $port" >&2
            exit 1 # stop_servers shows its log
        fi
        if ((++tries > 200)); then
            echo "run-demo: plexusd s$((i + 1)) is not listening on $port after 10s" >&2
            exit 1
        fi
        sleep 0.05
    done
    echo "run-demo: plexusd s$((i + 1)) (pid ${PIDS[$i]}) listens on 127.0.0.1:$port"
done

echo
echo "\$ build/bin/plexus-demo -c conf/demo-client.yaml"
"$BIN/plexus-demo" -c conf/demo-client.yaml
status=$?

# The command-line tool: JSON in, JSON out (the reply's int64 prints as a string).
# Shows the command as it would be typed (JSON quoted); its stderr goes with stdout, in order.
cli() {
    local shown="" a
    for a in "$@"; do
        if [[ $a =~ ^[A-Za-z0-9./_:-]+$ ]]; then shown+=" $a"; else shown+=" '$a'"; fi
    done
    echo
    echo "\$ build/bin/plexus call -c conf/client.yaml$shown"
    "$BIN/plexus" call -c conf/client.yaml "$@" 2>&1
}
cli_failed=0
cli calc.Calculator/Add '{"a":2,"b":3}' || cli_failed=1
cli calc.Calculator/Whoami || cli_failed=1
# Expected to fail: prints "INVALID_ARGUMENT: division by zero" and exits 1.
cli calc.Calculator/Div '{"a":1,"b":0}'
[[ $? -eq 1 ]] || cli_failed=1

# A client Plexus did not write: python3-grpcio on s1's port, which also serves gRPC.
echo
echo "\$ /usr/bin/python3 tools/demo/grpc_demo.py 127.0.0.1:7101"
/usr/bin/python3 tools/demo/grpc_demo.py 127.0.0.1:7101 2>&1 || cli_failed=1

# And curl, on the same port, which serves HTTP/1.1 + JSON too (-f: a 4xx/5xx fails).
echo
echo "\$ curl -H 'Content-Type: application/json' -d '{\"a\":2,\"b\":3}' http://127.0.0.1:7101/calc.Calculator/Add"
curl -sS -f --max-time 5 -H 'Content-Type: application/json' -d '{"a":2,"b":3}' \
    http://127.0.0.1:7101/calc.Calculator/Add 2>&1 || cli_failed=1
echo

echo
if ((status == 0 && cli_failed)); then
    echo "run-demo: a plexus, gRPC or HTTP call did not answer as expected" >&2
    status=1
fi
echo "run-demo: stopping the servers (SIGTERM)"
stop_servers || { ((status == 0)) && status=1; }
trap - EXIT
exit $status
