#!/usr/bin/env bash
# Builds the example filter plugins/filter_tenant out of tree against a staged install
# of the current build, then serves calc through it with the staged plexusd and calls
# it with the staged plexus CLI: a call without the tenant metadata, and one with a
# tenant not allowed, are refused PERMISSION_DENIED before calc runs; an allowed
# tenant's call is answered, with the filter's response metadata.
# Usage: out_of_tree_filter.sh BUILD_DIR SOURCE_DIR [SANITIZE]
set -euo pipefail
oot_name=out_of_tree_filter
# shellcheck source=out_of_tree_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/out_of_tree_lib.sh"

oot_init "$@"
oot_stage
oot_cmake_build filter_tenant "$src/plugins/filter_tenant"
so=$tmp/filter_tenant/filter_tenant.so
[ -f "$so" ] || fail "no filter_tenant.so in $tmp/filter_tenant"
oot_check_headers "$(find "$tmp/filter_tenant" -name 'filter_tenant.c.o.d' | head -n 1)" \
  filter_tenant.c
oot_check_exports "$so"

# A free port on 127.0.0.1: bind to port 0 and read what the kernel gave.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mods=$stage/lib/plexus/modules
cat > "$tmp/server.yaml" <<YAML
modules:
  path: [$mods, $tmp/filter_tenant]
server:
  listen: 127.0.0.1:$port
  filters:
    - {module: access_log, path: $tmp/access.log}
    - {module: tenant, allow: "acme,globex"}
  services:
    - module: calc
YAML
cat > "$tmp/client.yaml" <<YAML
modules:
  path: [$mods]
client:
  descriptors: [calc]
  upstreams:
    calc:
      endpoints: [127.0.0.1:$port]
YAML
# calc comes from the build (the stage installs the SDK and the standard modules).
cp "$build/plugins/calc/service_calc.so" "$mods/" 2>/dev/null ||
  cp "$(find "$build" -name service_calc.so -type f | head -n 1)" "$mods/"

step "serving calc through filter_tenant with the staged plexusd on 127.0.0.1:$port"
"$stage/bin/plexusd" -c "$tmp/server.yaml" > "$tmp/plexusd.log" 2>&1 &
pid=$!
# shellcheck disable=SC2064 # expand now
trap "kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf '$tmp'" EXIT
for _ in $(seq 100); do
  grep -q "listening" "$tmp/plexusd.log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/plexusd.log" >&2; fail "plexusd exited"; }
  sleep 0.05
done
grep -q "listening" "$tmp/plexusd.log" || { cat "$tmp/plexusd.log" >&2; fail "plexusd did not listen"; }

cli=$stage/bin/plexus
call() { "$cli" call -c "$tmp/client.yaml" "$@" calc.Calculator/Add '{"a":20,"b":22}'; }

out=$(call 2>&1) && fail "a call without x-tenant was let through: $out"
grep -q "PERMISSION_DENIED: calc.Calculator/Add: no 'x-tenant' in the request metadata" <<< "$out" ||
  fail "a call without x-tenant: unexpected answer: $out"
out=$(call -H x-tenant=initech 2>&1) && fail "tenant initech was let through: $out"
grep -q "PERMISSION_DENIED: calc.Calculator/Add: tenant 'initech' is not allowed" <<< "$out" ||
  fail "tenant initech: unexpected answer: $out"
out=$(call -H x-tenant=globex 2>&1) || fail "tenant globex was refused: $out"
grep -q '"sum": *"\?42' <<< "$out" || fail "tenant globex: no sum 42 in: $out"
grep -q "x-tenant-seen: globex" <<< "$out" || fail "no x-tenant-seen response metadata in: $out"

# The access log, before the tenant filter in the chain, saw the outcome of all three
# calls: the two the tenant filter refused, and the one calc answered.
kill "$pid"; wait "$pid" 2>/dev/null || true
lines=$(wc -l < "$tmp/access.log")
[ "$lines" = 3 ] || { cat "$tmp/access.log" >&2; fail "expected 3 access log lines, got $lines"; }
grep -c ' PERMISSION_DENIED ' "$tmp/access.log" | grep -qx 2 ||
  { cat "$tmp/access.log" >&2; fail "expected 2 refused calls in the access log"; }
step "OK: filter_tenant built against the installed SDK refuses and admits calls by metadata"
