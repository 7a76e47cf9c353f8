# The comparison table of tools/bench/run.sh: medians (min-max) of the repetitions and
# ratios against raw and gRPC, from runs.tsv lines:
#   target scenario rep calls_per_s p50_us p99_us client_us_per_call errors server_user_us
#   server_sys_us   (CPU per call) server_sleeps_per_1000_calls
# Prints a markdown table, then "key value" lines (medians) for the verdicts, after a
# line "--".

function median(list, n,    v, i, j, t, k) {
    n = split(list, v, " ")
    for (i = 2; i <= n; i++) {            # insertion sort: a handful of repetitions
        t = v[i] + 0
        for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j + 1] = v[j]
        v[j + 1] = t
    }
    lo = v[1]; hi = v[n]
    k = int((n + 1) / 2)
    return n % 2 ? v[k] + 0 : (v[k] + v[k + 1]) / 2
}

function fmt_rate(x) {
    if (x >= 1e6) return sprintf("%.2fM", x / 1e6)
    if (x >= 1e3) return sprintf("%.1fk", x / 1e3)
    return sprintf("%.0f", x)
}

function fmt_us(x) {
    if (x >= 1000) return sprintf("%.2f ms", x / 1000)
    return sprintf("%.1f µs", x)
}

function label(t) {
    if (t == "plexus-protobuf") return "Plexus, codec_protobuf"
    if (t == "plexus-binary") return "Plexus, codec_binary"
    if (t == "plexus-tls") return "Plexus, codec_protobuf, TLS 1.3"
    if (t == "raw") return "raw libev, 4-byte frames"
    if (t == "grpc") return "gRPC C++ async"
    if (t == "plexus-grpc") return "Plexus, proto_grpc (gRPC C++ client)"
    return t
}

{
    key = $1 SUBSEP $2
    if (!(key in rate)) {
        if (!($2 in seen_s)) { seen_s[$2] = 1; scen[++ns] = $2 }
        if (!($1 in seen_t)) { seen_t[$1] = 1; targ[++nt] = $1 }
    }
    rate[key] = rate[key] " " $4
    p50[key] = p50[key] " " $5
    p99[key] = p99[key] " " $6
    cli[key] = cli[key] " " $7
    err[key] += $8
    su[key] = su[key] " " $9
    ss[key] = ss[key] " " $10
    srv[key] = srv[key] " " ($9 + $10)
    slp[key] = slp[key] " " $11
}

END {
    order = "plexus-protobuf plexus-binary plexus-tls raw grpc plexus-grpc"
    n = split(order, ord, " ")
    k = 0
    for (i = 1; i <= n; i++) if (ord[i] in seen_t) shown[++k] = ord[i]
    for (i = 1; i <= nt; i++) if (index(" " order " ", " " targ[i] " ") == 0) shown[++k] = targ[i]
    print "| scenario (conns × in flight) | implementation | calls/s, median (min–max) | p50 | p99 | server CPU / call (user + sys) | server sleeps / 1000 calls | client CPU / call | calls/s ÷ raw | calls/s ÷ gRPC | p50 ÷ raw | errors |"
    print "|---|---|---|---|---|---|---|---|---|---|---|---|"
    for (s = 1; s <= ns; s++) {
        sc = scen[s]
        rr = ("raw" SUBSEP sc) in rate ? median(rate["raw" SUBSEP sc]) : 0
        rp = ("raw" SUBSEP sc) in rate ? median(p50["raw" SUBSEP sc]) : 0
        gr = ("grpc" SUBSEP sc) in rate ? median(rate["grpc" SUBSEP sc]) : 0
        for (t = 1; t <= k; t++) {
            key = shown[t] SUBSEP sc
            if (!(key in rate)) continue
            m = median(rate[key]); mlo = lo; mhi = hi
            q50 = median(p50[key]); q99 = median(p99[key])
            sv = median(srv[key]); cv = median(cli[key]); svu = median(su[key]); svs = median(ss[key])
            sl = median(slp[key])
            printf "| %s | %s | %s (%s–%s) | %s | %s | %.2f µs (%.2f + %.2f) | %.1f | %.2f µs | %s | %s | %s | %d |\n", \
                sc, label(shown[t]), fmt_rate(m), fmt_rate(mlo), fmt_rate(mhi), fmt_us(q50), \
                fmt_us(q99), sv, svu, svs, sl, cv, (rr > 0 ? sprintf("%.2f×", m / rr) : "–"), \
                (gr > 0 ? sprintf("%.1f×", m / gr) : "–"), \
                (rp > 0 ? sprintf("%.2f×", q50 / rp) : "–"), err[key]
            verdict[shown[t] " " sc " rate"] = m
            verdict[shown[t] " " sc " p50"] = q50
            verdict[shown[t] " " sc " server_us"] = sv
        }
    }
    print "--"
    for (v in verdict) print v, verdict[v]
}
