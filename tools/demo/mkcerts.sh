#!/usr/bin/env bash
# Makes the certificates of the TLS demo (conf/tls/*.yaml, `make run-tls`) with the
# openssl CLI: a CA, a server certificate for localhost, 127.0.0.1 and ::1, and a client
# certificate (CN alice) from the same CA, each NAME.pem with NAME.key (EC P-256, valid
# 30 days, keys mode 600). Never commit them: they are made where you run this, and the
# default folder, build/tls-demo, is under the ignored build/.
#   tools/demo/mkcerts.sh [DIR]      (default: build/tls-demo of this repository)
# Existing files in DIR are replaced.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${1:-$ROOT/build/tls-demo}
command -v openssl >/dev/null || { echo "mkcerts: openssl is not installed (Debian: openssl)" >&2; exit 1; }
umask 077 # the keys: readable by their owner only (plexusd refuses others-readable ones)
mkdir -p "$DIR"
cnf=$DIR/openssl.cnf
cat >"$cnf" <<'EOF'
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ server_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ client_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

# NAME SUBJECT EXTENSIONS [ISSUER]: a new key and its certificate (self-signed without
# an issuer), in one openssl run.
make_cert() {
    local name=$1 subj=$2 ext=$3 issuer=${4:-}
    local ca_args=()
    [[ -n $issuer ]] && ca_args=(-CA "$DIR/$issuer.pem" -CAkey "$DIR/$issuer.key")
    if ! out=$(openssl req -config "$cnf" -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -noenc -days 30 -subj "$subj" -extensions "$ext" -keyout "$DIR/$name.key" \
        -out "$DIR/$name.pem" "${ca_args[@]}" 2>&1); then
        echo "mkcerts: making $DIR/$name.pem failed: $out" >&2
        exit 1
    fi
    chmod 644 "$DIR/$name.pem"
}

make_cert ca "/O=Plexus Demo/CN=Plexus Demo CA" ca_ext
make_cert server "/CN=localhost" server_ext ca
make_cert client "/CN=alice" client_ext ca
rm -f "$cnf"
echo "mkcerts: $DIR: ca.pem, server.pem + server.key (localhost, 127.0.0.1, ::1)," \
     "client.pem + client.key (CN alice)"
