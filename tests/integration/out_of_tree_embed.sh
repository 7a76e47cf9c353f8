#!/usr/bin/env bash
# A program that embeds a server (tests/embed: its own Greeter service, a server built
# in code on port 0, px_server_run on its own thread, a px_client call to itself, a log
# hook), built out of tree against a staged install and run (under valgrind memcheck
# when there is one and no sanitizer). Then the staged plexusd: linked to libplexus.so
# with no copy of the core of its own, and its log lines carry timestamps.
# Usage: out_of_tree_embed.sh BUILD_DIR SOURCE_DIR [SANITIZE]
set -euo pipefail
oot_name=out_of_tree_embed
# shellcheck source=out_of_tree_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/out_of_tree_lib.sh"

oot_init "$@"
oot_stage
oot_cmake_build embed "$src/tests/embed"
exe=$tmp/embed/embed_greeter
[ -x "$exe" ] || fail "no embed_greeter in $tmp/embed"
oot_check_headers "$(find "$tmp/embed" -name 'embed_greeter.c.o.d' | head -n 1)" embed_greeter.c

# One core in the process: the program, plexusd, the CLI and the codec bench use
# libplexus.so, none carries its own.
for bin in "$exe" "$stage/bin/plexusd" "$stage/bin/plexus" "$stage/bin/plexus-codec-bench"; do
  readelf -d "$bin" | grep -q 'NEEDED.*libplexus.so.1' || fail "$bin is not linked against libplexus.so.1"
  if nm --defined-only "$bin" 2>/dev/null | grep -qw 'px_server_new\|px_config_load\|px_call_v2'; then
    fail "$bin carries a copy of the core"
  fi
done

mods=$stage/lib/plexus/modules
run=("$exe" "$mods")
if [ ${#san[@]} -eq 0 ] && command -v valgrind > /dev/null; then
  run=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 "${run[@]}")
fi
step "running ${run[*]}"
out=$("${run[@]}" 2>&1) || { echo "$out" >&2; fail "embed_greeter failed"; }
echo "$out"
grep -q '^embed_greeter: OK$' <<< "$out" || fail "embed_greeter did not finish its checks"
# The embedding program's logger got the core's and the program's lines.
grep -q '^myapp info plexus: listening on 127.0.0.1:0 = 127.0.0.1:' <<< "$out" ||
  fail "no 'listening' line through the hook"
grep -q '^myapp warn embed_greeter: a line of ours$' <<< "$out" ||
  fail "no line of the program through the hook"

step "plexusd's log lines: RFC 3339 UTC timestamp, level, [module]"
cat > "$tmp/server.yaml" <<YAML
modules:
  path: [$mods]
server:
  listen: 127.0.0.1:0
  id: s9
YAML
"$stage/bin/plexusd" -c "$tmp/server.yaml" > "$tmp/plexusd.log" 2>&1 &
pid=$!
# shellcheck disable=SC2064 # expand now
trap "kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf '$tmp'" EXIT
for _ in $(seq 200); do
  grep -q "listening" "$tmp/plexusd.log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/plexusd.log" >&2; fail "plexusd exited"; }
  sleep 0.05
done
kill -TERM "$pid"
wait "$pid" || { cat "$tmp/plexusd.log" >&2; fail "plexusd exited $? on SIGTERM"; }
cat "$tmp/plexusd.log"
ts='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
for line in "info \[plexusd s9\] listening on 127\.0\.0\.1:0 = 127\.0\.0\.1:[0-9]+ \(1 IO threads\)" \
            "info \[plexusd s9\] SIGTERM: finishing calls in flight, then exiting" \
            "info \[plexusd s9\] stopped"; do
  grep -Eq "^$ts $line\$" "$tmp/plexusd.log" || fail "no line '$line' with a timestamp"
done
step "OK: a server embedded in a program built against the installed SDK answers its own client"
