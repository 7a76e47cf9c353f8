#!/usr/bin/env bash
# make bench PEERS=1: installs the optional peers of the RPC comparison from Debian:
# gRPC C++ (libgrpc++-dev, protobuf-compiler-grpc), perf for the server profile and wrk
# for the HTTP/1.1 comparison.
set -euo pipefail
PKGS=(g++ libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc linux-perf wrk)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-peers: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
