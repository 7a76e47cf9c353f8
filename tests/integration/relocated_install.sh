#!/usr/bin/env bash
# Installs the current build into a fresh prefix, moves the prefix elsewhere, and runs
# it there with configs that have no modules.path: plexusd serves calc and `plexus
# call` reaches it, `plexus modules` shows the modules of the moved prefix, a program
# linked against the moved libplexus.so finds them too, and `plexus bench codec` runs
# from the install. Proof that an install finds its own modules wherever it lies.
# Usage: relocated_install.sh BUILD_DIR SOURCE_DIR [SANITIZE]
set -euo pipefail
oot_name=relocated_install
# shellcheck source=out_of_tree_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/out_of_tree_lib.sh"

oot_init "$@"
oot_stage
# Nothing may point the programs at the build's modules.
unset PX_MODULE_DIR PLEXUS_MODULE_PATH
moved=$tmp/elsewhere/deeper/plexus
mkdir -p "$(dirname "$moved")"
step "moving $stage to $moved"
mv "$stage" "$moved"
[ -e "$moved/lib/plexus/modules/service_calc.so" ] || fail "the install has no service_calc.so"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$tmp/conf"
cat > "$tmp/conf/server.yaml" <<YAML
server:
  listen: 127.0.0.1:$port
  services: [calc]
YAML
cat > "$tmp/conf/client.yaml" <<YAML
client:
  descriptors: [calc]
  upstreams:
    calc:
      endpoints: [127.0.0.1:$port]
YAML

step "plexus modules: every module comes from the moved prefix"
out=$("$moved/bin/plexus" modules -c "$tmp/conf/server.yaml" 2>&1) || fail "plexus modules failed: $out"
grep -q "$moved/lib/plexus/modules/service_calc.so" <<< "$out" ||
  fail "service_calc.so was not found in the moved prefix: $out"
if grep -q "$build" <<< "$out"; then fail "a module came from the build tree: $out"; fi

step "serving calc with the moved plexusd on 127.0.0.1:$port"
# From another folder: the configs' location, not the current directory, matters.
cd "$tmp"
"$moved/bin/plexusd" -c conf/server.yaml > "$tmp/plexusd.log" 2>&1 &
pid=$!
# shellcheck disable=SC2064 # expand now
trap "kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf '$tmp'" EXIT
for _ in $(seq 200); do
  grep -q "listening" "$tmp/plexusd.log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/plexusd.log" >&2; fail "plexusd exited"; }
  sleep 0.05
done
grep -q "listening" "$tmp/plexusd.log" || { cat "$tmp/plexusd.log" >&2; fail "plexusd did not listen"; }

out=$("$moved/bin/plexus" call -c conf/client.yaml calc.Calculator/Add '{"a":20,"b":22}' 2>&1) ||
  fail "plexus call failed: $out"
grep -q '"sum": *"\?42' <<< "$out" || fail "no sum 42 in: $out"

step "a program linked against the moved libplexus.so loads the client config"
cat > "$tmp/load.c" <<'C'
#include <stdio.h>
#include <plexus/plexus.h>
int main(int argc, char **argv)
{
    px_config *cfg;
    px_err err;
    if (argc != 2 || px_config_load(argv[1], &cfg, &err) != PX_OK) {
        fprintf(stderr, "%s\n", argc == 2 ? err.msg : "usage: load FILE");
        return 1;
    }
    px_config_free(cfg);
    return 0;
}
C
export PKG_CONFIG_PATH="$moved/lib/pkgconfig"
# shellcheck disable=SC2046 # pkg-config output is a list of flags
cc -std=gnu11 -Wall -Werror ${san[@]+"${san[@]}"} -o "$tmp/load" "$tmp/load.c" \
  $(pkg-config --cflags --libs plexus) -Wl,-rpath,"$moved/lib" ||
  fail "compiling against the moved install failed"
"$tmp/load" conf/client.yaml || fail "px_config_load in a program using libplexus.so failed"

step "plexus bench codec from the moved install"
out=$("$moved/bin/plexus" bench codec -n 5 -r 1 2>&1) || fail "plexus bench codec failed: $out"
for row in '| protobuf ' '| json ' '| protobuf-c (raw) '; do
  grep -qF -- "$row" <<< "$out" || fail "plexus bench codec printed no row '$row': $out"
done

kill "$pid"
wait "$pid" 2>/dev/null || true
step "OK: an install moved to $moved serves calc, calls it and benches its codecs with no modules.path"
