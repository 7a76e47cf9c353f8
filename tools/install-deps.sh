#!/usr/bin/env bash
# Installs the Debian packages Plexus needs to build, test and run.
# Does nothing (and needs no network) when every package is already present.
set -euo pipefail

PKGS=(
  build-essential binutils cmake pkg-config
  libev-dev libyaml-dev libcmocka-dev
  libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
  libjansson-dev libxml2-dev libxml2-utils
  libmsgpack-dev
  valgrind
  groff-base              # tests/integration/man_pages.sh: formats docs/man/* with warnings on
  iptables                # test_partition: cuts a server off inside its own network namespace
  clang libclang-rt-dev   # tools/fuzz.sh: libFuzzer and the sanitizer runtimes for clang
  libnghttp2-dev          # proto_grpc: HTTP/2 framing, HPACK and flow control
  libhttp-parser-dev      # proto_http: the HTTP/1.1 request parser
  libc-ares-dev           # naming_dns: DNS queries on the client's naming thread
  python3-grpcio python3-protobuf  # gRPC interop tests: a client and a server Plexus did not write
  curl                    # HTTP/1.1 tests: a client Plexus did not write
  libssl-dev              # TLS 1.3 and mutual TLS (OpenSSL 3)
  openssl                 # tests make their certificates at run time (tests/support/px_certs.c)
  libsystemd-dev          # plexusd: sd_notify (Type=notify: READY=1, RELOADING=1, STOPPING=1)
  libmicrohttpd-dev       # the admin listener (core/admin): HTTP parsing and serving
  libcurl4-openssl-dev    # plexus stats: fetches an admin port's /metrics
  libzookeeper-mt-dev     # naming_zookeeper, registry_zookeeper: the multi-threaded ZooKeeper C client
  zookeeper               # ZooKeeper tests: a real standalone server (tests/support/px_zk.c)
  socat                   # test_naming_zk: a TCP relay cut to part a client from ZooKeeper
  prometheus              # promtool check metrics (test_metrics_e2e, test_admin); test_admin
                          # runs a real Prometheus server scraping plexusd
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
