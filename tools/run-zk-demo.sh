#!/usr/bin/env bash
# The ZooKeeper variant of the demo (`make run CONF=zk`): a standalone ZooKeeper on
# 127.0.0.1:2181 (Debian's zookeeper package, its own temp dir), three plexusd
# (conf/zk/s{1,2,3}.yaml) that register themselves in it, and clients
# (conf/zk/client.yaml) that find them there: no endpoint list anywhere. Then s3 stops
# (deregistered first: the client stops picking it) and comes back (it takes calls
# again). Everything started is stopped by pid whatever happens. Exits 0 when every
# step answered as expected.
#   tools/run-zk-demo.sh            (after `make`; BUILD=dir picks another build dir)
# Ports 2181 and 7101-7103 on 127.0.0.1 must be free.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BIN=$BUILD/bin
PORTS=(7101 7102 7103)
ZK_PORT=2181
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/plexus-zk-demo.XXXXXX") || exit 1
declare -A PIDS=()
ZK_PID=
export PLEXUS_MODULE_PATH=${PLEXUS_MODULE_PATH:+$PLEXUS_MODULE_PATH:}$BUILD/modules

DEMO=run-zk-demo
. "$ROOT/tools/demo/demo-lib.sh"
demo_need_binaries "$BIN" plexusd plexus plexus-demo
for f in naming_zookeeper.so registry_zookeeper.so; do
    if [[ ! -e $BUILD/modules/$f ]]; then
        echo "$DEMO: $BUILD/modules/$f is missing (libzookeeper-mt-dev was not installed at build time?)" >&2
        exit 1
    fi
done
ZK_JAR=/usr/share/java/zookeeper.jar
if [[ ! -r $ZK_JAR ]] || ! command -v java > /dev/null; then
    echo "$DEMO: ZooKeeper is not installed (apt-get install zookeeper; make deps does it)" >&2
    exit 1
fi

stop_all() {
    local rc=0 n
    for n in "${!PIDS[@]}"; do kill -TERM "${PIDS[$n]}" 2>/dev/null; done
    for n in "${!PIDS[@]}"; do
        if ! wait "${PIDS[$n]}"; then
            echo "$DEMO: plexusd $n did not exit cleanly; its log:" >&2
            cat "$LOGDIR/$n.log" >&2
            rc=1
        fi
    done
    PIDS=()
    if [[ -n $ZK_PID ]]; then
        kill -TERM "$ZK_PID" 2>/dev/null
        wait "$ZK_PID" 2>/dev/null
        ZK_PID=
    fi
    rm -rf "$LOGDIR"
    return $rc
}
trap stop_all EXIT
trap 'exit 130' INT TERM

demo_ports_free "${PORTS[@]}" "$ZK_PORT"
cd "$ROOT" || exit 1

# ZooKeeper, standalone, as `zkServer.sh start-foreground` would run it but with its
# data and log in our temp dir (Debian's zkEnv.sh pins the log to /var/log/zookeeper).
mkdir -p "$LOGDIR/zk-data"
cat > "$LOGDIR/zoo.cfg" <<EOF
tickTime=500
dataDir=$LOGDIR/zk-data
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=srvr,ruok
EOF
CP=/etc/zookeeper/conf:$ZK_JAR
[[ -r /usr/share/java/slf4j-simple.jar ]] && CP+=:/usr/share/java/slf4j-simple.jar
echo "$DEMO: starting ZooKeeper on 127.0.0.1:$ZK_PORT (log: $LOGDIR/zookeeper.log)"
java -Xmx128m -XX:+UseSerialGC -Dzookeeper.log.dir="$LOGDIR" -cp "$CP" \
    org.apache.zookeeper.server.ZooKeeperServerMain "$LOGDIR/zoo.cfg" > "$LOGDIR/zookeeper.log" 2>&1 &
ZK_PID=$!
demo_wait_listening "$ZK_PID" "$ZK_PORT" "ZooKeeper" || { cat "$LOGDIR/zookeeper.log" >&2; exit 1; }

start_server() {
    local n=$1
    "$BIN/plexusd" -c "conf/zk/$n.yaml" 2> "$LOGDIR/$n.log" &
    PIDS[$n]=$!
}

# ids_answering N: a bounded poll (about 10 s) until N distinct servers answer Whoami
# through the ZooKeeper-named upstream (12 calls a round, each a new client whose
# random balancer picks a server); prints the ids it saw.
ids_answering() {
    local want=$1 tries=0 seen
    while :; do
        seen=$(for _ in {1..12}; do
                   "$BIN/plexus" call -c conf/zk/client.yaml calc.Calculator/Whoami 2>/dev/null
               done | grep -o '"s[0-9]"' | sort -u | tr -d '"' | tr '\n' ' ')
        if [[ $(wc -w <<< "$seen") -eq $want ]]; then
            echo "$DEMO: calls answered by: $seen"
            return 0
        fi
        if ((++tries > 40)); then
            echo "$DEMO: expected $want servers to answer, saw: ${seen:-none}" >&2
            return 1
        fi
        sleep 0.25
    done
}

for n in s1 s2 s3; do start_server $n; done
for i in 0 1 2; do
    demo_wait_listening "${PIDS[s$((i + 1))]}" "${PORTS[$i]}" "plexusd s$((i + 1))" || exit 1
done

failed=0
echo
echo "$DEMO: the servers registered (ephemeral nodes under /plexus/calc/providers):"
ids_answering 3 || failed=1
for n in s1 s2 s3; do grep -h 'registered ' "$LOGDIR/$n.log" | sed "s/^/  $n: /"; done

echo
echo "\$ build/bin/plexus-demo -c conf/zk/client.yaml"
"$BIN/plexus-demo" -c conf/zk/client.yaml
status=$?

echo
echo "$DEMO: stopping s3 (SIGTERM: it deregisters first, then drains)"
kill -TERM "${PIDS[s3]}"
wait "${PIDS[s3]}" || { echo "$DEMO: s3 did not exit cleanly" >&2; failed=1; }
unset 'PIDS[s3]'
ids_answering 2 || failed=1

echo
echo "$DEMO: starting s3 again: it registers, and the clients' lists follow"
start_server s3
demo_wait_listening "${PIDS[s3]}" 7103 "plexusd s3" || exit 1
ids_answering 3 || failed=1

echo
if ((status == 0 && failed)); then
    echo "$DEMO: a step did not answer as expected" >&2
    status=1
fi
echo "$DEMO: stopping the servers and ZooKeeper"
stop_all || { ((status == 0)) && status=1; }
trap - EXIT
exit $status
