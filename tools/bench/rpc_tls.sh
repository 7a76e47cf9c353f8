# Part of tools/bench/run.sh (sourced): TLS handshakes per second against the TLS plexusd
# of the comparison (plexus-tls), one connection after another, by plexus-rpc-handshake
# (OpenSSL itself as the client): BENCH_HANDSHAKES full handshakes (no session offered),
# then as many resumed ones (each offers the session of one untimed first connection and
# must come back resumed), REPS times alternating. Server CPU per handshake is its
# user + system ticks over a run ÷ the run's handshakes (the resumed run's untimed first
# connection included: one full handshake in BENCH_HANDSHAKES).
# Expects what run.sh's other sections do (BIN, OUT, CERTS, HANDSHAKES, REPS, TCK,
# CLIENT_CPU, start_server, cleanup, cpu_ticks, jnum, say, note, SERVERS).
tls_handshake_bench() {
  local port pid rep mode json c0 c1 srv args
  port=$(free_port)
  start_server plexus-tls "$port" || return 1
  pid=$SPID
  SERVERS+=("$pid")
  : > "$OUT/handshakes.tsv"
  for rep in $(seq 1 "$REPS"); do
    for mode in full resumed; do
      args=()
      [ "$mode" = resumed ] && args=(--resume)
      c0=$(cpu_ticks "$pid")
      if ! json=$(taskset -c "$CLIENT_CPU" "$BIN/plexus-rpc-handshake" "$port" \
                    --ca "$CERTS/ca.pem" --count "$HANDSHAKES" "${args[@]}"); then
        note "run.sh: $mode handshakes failed: $json"
        continue
      fi
      c1=$(cpu_ticks "$pid")
      echo "$json" >> "$OUT/handshakes.jsonl"
      srv=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" -v n="$(jnum "$json" handshakes)" 'BEGIN {
        split(a, x, " "); split(b, y, " "); if (n <= 0) n = 1e300
        printf "%.1f", (y[1] + y[2] - x[1] - x[2]) / t * 1e6 / n }')
      printf '%s %s %s %s %s %s\n' "$mode" "$(jnum "$json" per_s)" "$srv" \
        "$(jnum "$json" client_cpu_us)" "$(jnum "$json" resumed)" "$(jnum "$json" handshakes)" \
        >> "$OUT/handshakes.tsv"
      note "  handshakes rep $rep/$REPS $mode: $(jnum "$json" per_s)/s, server $srv µs each"
    done
  done
  cleanup
  say "### TLS 1.3 handshakes, one connection at a time (plexus-rpc-handshake → plexusd)"
  say ""
  say "| handshake | handshakes/s, median (min–max) | server CPU / handshake | client CPU / handshake | resumed / made |"
  say "|---|---|---|---|---|"
  awk '
    function med(s,   v, n, i, j, t) { n = split(s, v, " "); for (i = 2; i <= n; i++) { t = v[i] + 0; for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j + 1] = v[j]; v[j + 1] = t } lo = v[1]; hi = v[n]; return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
    { k = $1; if (!(k in r)) ord[++n] = k; r[k] = r[k] " " $2; s[k] = s[k] " " $3; c[k] = c[k] " " $4; ru[k] += $5; hs[k] += $6 }
    END { for (i = 1; i <= n; i++) { k = ord[i]; m = med(r[k]); l = lo; h = hi
      printf "| %s | %.0f (%.0f–%.0f) | %.0f µs | %.0f µs | %d / %d |\n", k, m, l, h, med(s[k]), med(c[k]), ru[k], hs[k]
      rate[k] = m; cpu[k] = med(s[k]) }
      if (rate["full"] > 0 && cpu["resumed"] > 0)
        printf "\nResumed ÷ full: %.2f× the handshakes/s, %.2f× the server CPU per handshake.\n", rate["resumed"] / rate["full"], cpu["resumed"] / cpu["full"] }' \
    "$OUT/handshakes.tsv" | tee -a "$REPORT"
  say ""
}
