# Part of tools/bench/run.sh (sourced before the targets table): HTTP/1.1 + JSON under wrk
# (Debian's wrk; `make bench PEERS=1` installs it) against plexusd's proto_http, beside the
# native protocol with the same JSON body on the same server. wrk keeps one request in
# flight per connection, so the native client runs 8 connections x 1 in flight too.
# Expects BIN, MODS, OUT, SERVER_CPU, CLIENT_CPU, TCK, REPS, DURATION, WARMUP, REQ_JSON,
# say, note, start_server-style helpers (free_port, wait_port, cpu_ticks, stop_server, jnum).
http_bench() {
  if ! command -v wrk >/dev/null; then
    say "HTTP/1.1 + JSON: skipped (no wrk: 'make bench PEERS=1' installs it)"
    say ""
    return 0
  fi
  if [ ! -e "$MODS/proto_http.so" ] || [ ! -e "$MODS/codec_json.so" ]; then
    say "HTTP/1.1 + JSON: skipped ($MODS/proto_http.so or codec_json.so is not built)"
    say ""
    return 0
  fi
  local port conns=8
  port=$(free_port)
  cat > "$OUT/server-http-$port.yaml" <<YAML
# plexusd for the HTTP comparison: one IO thread, calc on it, native and http on one port.
modules:
  path: [$MODS]
server:
  listen: 127.0.0.1:$port
  io_threads: 1
  codecs: [json, protobuf]
  protocols: [native, http]
  services:
    - module: calc
YAML
  write_client_conf "$port" json
  cat > "$OUT/wrk-post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$REQ_JSON'
wrk.headers["Content-Type"] = "application/json"
LUA
  taskset -c "$SERVER_CPU" "$BIN/plexusd" -c "$OUT/server-http-$port.yaml" \
    > "$OUT/server-http-$port.log" 2>&1 &
  local spid=$!
  if ! wait_port "$port" 120 "$spid"; then
    say "HTTP/1.1 + JSON: plexusd did not start: $(tail -3 "$OUT/server-http-$port.log")"
    return 1
  fi
  local rep who c0 c1 out calls rate us
  : > "$OUT/http-runs.txt"
  for rep in $(seq 1 "$REPS"); do
    for who in http native; do
      c0=$(cpu_ticks "$spid")
      if [ $who = http ]; then
        out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c$conns -d"${DURATION}s" -s "$OUT/wrk-post.lua" \
                "http://127.0.0.1:$port/calc.Calculator/Add" 2>&1)
        if grep -q 'Non-2xx' <<<"$out"; then
          note "rpc_http: wrk saw failed answers: $out"
          continue
        fi
        calls=$(awk '/requests in/ { print $1 }' <<<"$out")
        rate=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
      else
        out=$(taskset -c "$CLIENT_CPU" "$BIN/plexus" bench -c "$OUT/client-json-$port.yaml" \
                calc.Calculator/Add "$REQ_JSON" --connections $conns --inflight 1 \
                --duration "$DURATION" --warmup 0 --json 2>&1) || { note "rpc_http: $out"; continue; }
        calls=$(jnum "$out" calls_total)
        rate=$(jnum "$out" calls_per_s)
      fi
      c1=$(cpu_ticks "$spid")
      us=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" -v n="$calls" 'BEGIN { split(a, x, " ");
             split(b, y, " "); if (n > 0) printf "%.2f", ((y[1] - x[1]) + (y[2] - x[2])) * 1e6 / t / n }')
      echo "$who $rep $(printf '%.0f' "${rate:-0}") $us" >> "$OUT/http-runs.txt"
    done
  done
  stop_server "$spid"
  med() { awk -v w="$1" -v f="$2" '$1 == w { print $f }' "$OUT/http-runs.txt" | sort -g |
          awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
  HTTP_RATE=$(med http 3); HTTP_US=$(med http 4)
  NATIVE_JSON_RATE=$(med native 3); NATIVE_JSON_US=$(med native 4)
  say "### HTTP/1.1 + JSON (proto_http) under wrk"
  say ""
  say "wrk -t1 -c$conns (one request in flight per connection, keep-alive) POSTing $REQ_JSON to"
  say "calc.Calculator/Add, beside \`plexus bench\` with the json codec at $conns × 1 on the same"
  say "plexusd (one IO thread, \`protocols: [native, http]\`); medians of $REPS runs of ${DURATION} s;"
  say "server CPU = user + system ticks over the run ÷ its calls."
  say ""
  say "| client | calls/s | server CPU per call |"
  say "|---|---|---|"
  say "| wrk → proto_http | ${HTTP_RATE:-–} | ${HTTP_US:-–} µs |"
  say "| plexus bench (native, json) | ${NATIVE_JSON_RATE:-–} | ${NATIVE_JSON_US:-–} µs |"
  say ""
}
