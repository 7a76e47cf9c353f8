#!/usr/bin/env bash
# docs/WRITING-SERVICES.md, run as written: examples/kv copied into an empty folder,
# built against a staged install with find_package(plexus), its own test (ctest: kv_test)
# run, then served by the staged plexusd with the guide's server.yaml (on a free port)
# and called with the guide's plexus call commands and with kv_client, checking each
# answer: Put, Get, List, Delete, Get -> NOT_FOUND, a bad key -> INVALID_ARGUMENT, the
# request-id metadata echoed, Wait woken by a Put, Wait past its deadline.
# Usage: out_of_tree_kv.sh BUILD_DIR SOURCE_DIR [SANITIZE]
set -euo pipefail
oot_name=out_of_tree_kv
# shellcheck source=out_of_tree_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/out_of_tree_lib.sh"

oot_init "$@"

# The guide shows the example's code: every line of its c, cmake, proto and yaml blocks
# must be a line of examples/kv, so that what it shows is what this test builds.
guide=$src/docs/WRITING-SERVICES.md
awk '/^```(c|cmake|proto|yaml)$/ {on = 1; next} /^```/ {on = 0} on && NF' "$guide" > "$tmp/shown"
[ -s "$tmp/shown" ] || fail "no code blocks in $guide"
cat "$src"/examples/kv/* > "$tmp/sources"
if missing=$(grep -vxF -f "$tmp/sources" "$tmp/shown"); then
  fail "WRITING-SERVICES.md shows lines examples/kv does not have:
$missing"
fi
step "the guide's $(wc -l < "$tmp/shown") lines of code are those of examples/kv"

oot_stage
export PATH="$stage/bin:$PATH"

# The guide's folder, without anything a build in the source tree left there.
mkdir "$tmp/kv"
for f in CMakeLists.txt kv.proto kv_table.h kv_table.c kv_service.c kv_client.c kv_test.c \
         server.yaml client.yaml; do
  cp "$src/examples/kv/$f" "$tmp/kv/" || fail "examples/kv/$f is missing"
done
oot_cmake_build kv/build "$tmp/kv"   # cmake -S . -B build -DCMAKE_PREFIX_PATH=<prefix>
so=$tmp/kv/build/service_kv.so
[ -f "$so" ] || fail "no service_kv.so in $tmp/kv/build"
oot_check_headers "$(find "$tmp/kv/build" -name 'kv_service.c.o.d' | head -n 1)" kv_service.c
oot_check_exports "$so"

step "ctest --test-dir build (kv_test)"
ctest --test-dir "$tmp/kv/build" --output-on-failure > "$tmp/ctest.log" 2>&1 ||
  { cat "$tmp/ctest.log" >&2; fail "the example's own test failed"; }
grep -q '100% tests passed' "$tmp/ctest.log" || { cat "$tmp/ctest.log" >&2; fail "kv_test did not pass"; }

# The guide's configs, on a free port instead of 7201.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s/127\.0\.0\.1:7201/127.0.0.1:$port/" "$tmp/kv/server.yaml" "$tmp/kv/client.yaml"
cd "$tmp/kv"
out=$(plexusd -c server.yaml -t 2>&1) || fail "plexusd -t: $out"
[ "$out" = "configuration ok" ] || fail "plexusd -t said: $out"

step "serving kv.Store with the staged plexusd on 127.0.0.1:$port"
plexusd -c server.yaml > "$tmp/plexusd.log" 2>&1 &
pid=$!
# shellcheck disable=SC2064 # expand now
trap "kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf '$tmp'" EXIT
for _ in $(seq 200); do
  grep -q "listening" "$tmp/plexusd.log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/plexusd.log" >&2; fail "plexusd exited"; }
  sleep 0.05
done
grep -q "listening" "$tmp/plexusd.log" || { cat "$tmp/plexusd.log" >&2; fail "plexusd did not listen"; }
grep -q 'info \[kv\] server 127.0.0.1:'"$port"': max_keys 1000, max_wait 5000 ms' "$tmp/plexusd.log" ||
  { cat "$tmp/plexusd.log" >&2; fail "no log line of the kv module with its directives"; }

# expect WANT_RC WANT_OUT ARGS...: plexus call -c client.yaml ARGS, stdout and stderr together.
expect() {
  local want_rc=$1 want=$2 got rc=0
  shift 2
  got=$(plexus call -c client.yaml "$@" 2>&1) || rc=$?
  [ "$rc" = "$want_rc" ] || fail "plexus call $*: exit $rc, expected $want_rc ($got)"
  [ "$got" = "$want" ] || fail "plexus call $*: got '$got', expected '$want'"
  echo "\$ plexus call -c client.yaml $*"
  echo "$got"
}
expect 0 '{"created":true}' kv.Store/Put '{"key":"greeting","value":"hello"}'
expect 0 '{}' kv.Store/Put '{"key":"greeting","value":"hello"}'
expect 0 '{"created":true}' kv.Store/Put '{"key":"colour","value":"blue"}'
expect 0 '{"value":"hello"}' kv.Store/Get '{"key":"greeting"}'
expect 0 '{"keys":["colour","greeting"]}' kv.Store/List '{}'
expect 0 '{}' kv.Store/Delete '{"key":"colour"}'
expect 1 "NOT_FOUND: kv.Store/Get: no key 'colour'" kv.Store/Get '{"key":"colour"}'
expect 1 "NOT_FOUND: kv.Store/Delete: no key 'colour'" kv.Store/Delete '{"key":"colour"}'
expect 1 'INVALID_ARGUMENT: kv.Store/Put: key of 0 bytes (1 to 256)' kv.Store/Put '{"value":"x"}'
expect 0 $'request-id: r-7\n{"value":"hello"}' -H request-id=r-7 kv.Store/Get '{"key":"greeting"}'
expect 1 $'request-id: r-8\nNOT_FOUND: kv.Store/Get: no key \'nope\'' -H request-id=r-8 kv.Store/Get '{"key":"nope"}'
# The client's timer or the handler, whichever comes first, ends it DEADLINE_EXCEEDED.
rc=0
out=$(plexus call -c client.yaml -t 300ms kv.Store/Wait '{"key":"later"}' 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "Wait for 'later' in 300ms: exit $rc ($out)"
case $out in
  "DEADLINE_EXCEEDED: kv.Store/Wait: deadline exceeded waiting for 127.0.0.1:$port" | \
  "DEADLINE_EXCEEDED: kv.Store/Wait: no key 'later' before the deadline") echo "$out" ;;
  *) fail "Wait for 'later' in 300ms: $out" ;;
esac

# Wait blocks on a worker until a Put from elsewhere gives it its key.
plexus call -c client.yaml kv.Store/Wait '{"key":"ready"}' > "$tmp/wait.out" 2>&1 &
wpid=$!
expect 0 '{"created":true}' kv.Store/Put '{"key":"ready","value":"yes"}'
wait "$wpid" || { cat "$tmp/wait.out" >&2; fail "Wait for 'ready' failed"; }
[ "$(cat "$tmp/wait.out")" = '{"value":"yes"}' ] || fail "Wait for 'ready' answered: $(cat "$tmp/wait.out")"
echo '$ plexus call -c client.yaml kv.Store/Wait '"'"'{"key":"ready"}'"'"'   # woken by the Put'
cat "$tmp/wait.out"

step "build/kv_client client.yaml"
out=$(build/kv_client client.yaml 2>&1) || { echo "$out" >&2; fail "kv_client failed"; }
echo "$out"
want="put from-c: created (request-id c-1)
stub get from-c: hello
put signal: created (request-id c-2)
async wait signal: yes
get missing: NOT_FOUND: kv.Store/Get: no key 'missing'
delete from-c: done
delete signal: done
kv_client: OK"
[ "$out" = "$want" ] || fail "kv_client printed something else than expected"
# It cleaned up after itself: the keys of the CLI session are what is left.
expect 0 '{"keys":["greeting","ready"]}' kv.Store/List '{}'

kill -TERM "$pid"
wait "$pid" || { cat "$tmp/plexusd.log" >&2; fail "plexusd exited $? on SIGTERM"; }
step "OK: the kv.Store of docs/WRITING-SERVICES.md builds against the installed SDK, passes its test and answers as the guide says"
