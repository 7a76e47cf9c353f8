#!/usr/bin/env bash
# Runs the demo: three plexusd (conf/demo-s{1,2,3}.yaml on 127.0.0.1:7101-7103),
# plexus-demo against them, then a few `plexus call`s, a gRPC and a curl call; the
# servers are stopped with SIGTERM whatever happens. Exits with plexus-demo's status
# (1 also when a CLI, gRPC or curl call that should succeed did not).
#   tools/run-demo.sh              (after `make`; BUILD=dir picks another build dir)
# Ports 7101-7103 and 9901 (s1's admin page) on 127.0.0.1 must be free.
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

DEMO=run-demo
. "$ROOT/tools/demo/demo-lib.sh"
demo_need_binaries "$BIN" plexusd plexus plexus-demo

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

demo_ports_free "${PORTS[@]}" 9901

cd "$ROOT" || exit 1
for n in 1 2 3; do
    "$BIN/plexusd" -c "conf/demo-s$n.yaml" 2>"$LOGDIR/s$n.log" &
    PIDS+=($!)
done

for i in 0 1 2; do
    # a server that died or is not listening: stop_servers shows its log
    demo_wait_listening "${PIDS[$i]}" "${PORTS[$i]}" "plexusd s$((i + 1))" || exit 1
done

echo
echo "\$ build/bin/plexus-demo -c conf/demo-client.yaml"
"$BIN/plexus-demo" -c conf/demo-client.yaml
status=$?

# The command-line tool: JSON in, JSON out (the reply's int64 prints as a string).
# Shows the command as it would be typed (JSON quoted); its stderr goes with stdout, in order.
cli() {
    demo_show build/bin/plexus call -c conf/client.yaml "$@"
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
# What an operator sees: s1's admin page counts the calls above (its metrics filter).
echo
echo "s1's admin page: http://127.0.0.1:9901/status (also /metrics, /healthz, /readyz, /config)"
echo "\$ curl -s http://127.0.0.1:9901/metrics | grep '^plexus_server_calls_total'"
curl -sS -f --max-time 5 http://127.0.0.1:9901/metrics > "$LOGDIR/metrics" 2>&1 || cli_failed=1
grep '^plexus_server_calls_total' "$LOGDIR/metrics" || cli_failed=1
demo_show build/bin/plexus stats 127.0.0.1:9901
"$BIN/plexus" stats 127.0.0.1:9901 2>&1 || cli_failed=1

echo
if ((status == 0 && cli_failed)); then
    echo "run-demo: a plexus, gRPC or HTTP call did not answer as expected" >&2
    status=1
fi
echo "run-demo: stopping the servers (SIGTERM)"
stop_servers || { ((status == 0)) && status=1; }
trap - EXIT
exit $status
