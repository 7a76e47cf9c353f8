#!/usr/bin/env bash
# The TLS demo (`make run-tls`): makes a CA, a server and a client certificate
# (tools/demo/mkcerts.sh, into build/tls-demo), starts plexusd with mTLS
# (conf/tls/server.yaml on 127.0.0.1:7443), calls it with `plexus call -c
# conf/tls/client.yaml`, curl and python3-grpcio, each showing the client certificate,
# shows two refusals (a client without TLS, one without a certificate) and a
# certificate reload on SIGHUP, then stops the server by its pid (SIGTERM). Exits 1
# when an answer is not the one expected.
#   tools/run-tls-demo.sh           (after `make`; BUILD=dir picks another build dir)
# Port 7443 on 127.0.0.1 must be free.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BIN=$BUILD/bin
PORT=7443
CERTS=build/tls-demo # where conf/tls/*.yaml look, relative to the repository root
LOG=$(mktemp "${TMPDIR:-/tmp}/plexus-tls-demo.XXXXXX") || exit 1
PID=
export PLEXUS_MODULE_PATH=${PLEXUS_MODULE_PATH:+$PLEXUS_MODULE_PATH:}$BUILD/modules

DEMO=run-tls-demo
. "$ROOT/tools/demo/demo-lib.sh"
demo_need_binaries "$BIN" plexusd plexus

stop_server() {
    local rc=0
    if [[ -n $PID ]]; then
        kill -TERM "$PID" 2>/dev/null
        if ! wait "$PID"; then
            echo "$DEMO: plexusd did not exit cleanly; its log:" >&2
            cat "$LOG" >&2
            rc=1
        fi
        PID=
    fi
    rm -f "$LOG"
    return $rc
}
trap stop_server EXIT
trap 'exit 130' INT TERM

demo_ports_free $PORT
cd "$ROOT" || exit 1
demo_show tools/demo/mkcerts.sh
tools/demo/mkcerts.sh "$ROOT/$CERTS" || exit 1

demo_show build/bin/plexusd -c conf/tls/server.yaml
"$BIN/plexusd" -c conf/tls/server.yaml 2>"$LOG" &
PID=$!
demo_wait_listening "$PID" $PORT plexusd || exit 1

failed=0
# run EXPECTED-STATUS ARG...: shows the command, runs it (stderr with stdout, in order).
run() {
    local want=$1 rc
    shift
    demo_show "$@"
    [[ $1 == build/bin/* ]] && set -- "$BUILD/bin/${1#build/bin/}" "${@:2}"
    "$@" 2>&1
    rc=$?
    if ((rc != want)); then
        echo "$DEMO: exit status $rc, expected $want" >&2
        failed=1
    fi
}

# Plexus's own client: the upstream's tls: block names the CA and the client certificate.
run 0 build/bin/plexus call -c conf/tls/client.yaml calc.Calculator/Add '{"a":2,"b":3}'
run 0 build/bin/plexus call -c conf/tls/client.yaml calc.Calculator/Whoami
# Without TLS the port says what it speaks (expected to fail, exit 1).
run 1 build/bin/plexus call 127.0.0.1:$PORT calc.Calculator/Add '{"a":2,"b":3}'

# curl over https (ALPN picks HTTP/1.1), with the client certificate ...
URL=https://127.0.0.1:$PORT/calc.Calculator/Add
run 0 curl -sS --max-time 5 --cacert $CERTS/ca.pem --cert $CERTS/client.pem \
    --key $CERTS/client.key -H 'Content-Type: application/json' -d '{"a":2,"b":3}' "$URL"
echo
# ... and without: the server refuses the handshake (expected to fail, exit 56).
run 56 curl -sS --max-time 5 --cacert $CERTS/ca.pem -H 'Content-Type: application/json' \
    -d '{"a":2,"b":3}' "$URL"

# python3-grpcio over TLS (ALPN picks h2), with the client certificate.
run 0 /usr/bin/python3 tools/demo/grpc_demo.py 127.0.0.1:$PORT $CERTS/ca.pem \
    $CERTS/client.pem $CERTS/client.key

# A renewed certificate is taken without a restart: SIGHUP reloads the whole file (a new
# server generation on the same sockets), or the timer takes it within reload_check.
demo_show kill -HUP "$PID"
kill -HUP "$PID"
for _ in $(seq 100); do # bounded: 5 s
    grep -q 'generation 2 serves' "$LOG" && break
    sleep 0.05
done
grep 'SIGHUP\|generation 2 serves' "$LOG" || { echo "$DEMO: no reload logged" >&2; failed=1; }
run 0 build/bin/plexus call -c conf/tls/client.yaml calc.Calculator/Add '{"a":40,"b":2}'

echo
echo "$DEMO: stopping plexusd (SIGTERM to pid $PID)"
status=$failed
stop_server || status=1
trap - EXIT
((status == 0)) && echo "$DEMO: every call answered as expected"
exit $status
