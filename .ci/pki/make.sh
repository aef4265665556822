#!/usr/bin/env bash
# Makes a throw-away public key infrastructure for mqtt5's TLS tests and example, with openssl and
# elliptic-curve keys (prime256v1). Never use its keys for anything else.
#
# Usage: .ci/pki/make.sh [--negative] [--days N] [--client-cn NAME] OUT_DIR
#
# Always writes into OUT_DIR (created if missing):
#   ca.crt, ca.key             a CA ("mqtt5 throw-away CA")
#   server.crt, server.key     the server: CN localhost, SAN DNS:localhost and IP:127.0.0.1
#   client.crt, client.key     a client: CN NAME (default mqtt5-client), the broker's user name
#                              with use_identity_as_username
# With --negative, also the certificates of the failure tests:
#   expired-server.crt/.key    like server.crt, signed by ca.key, but valid only on 2020-01-01
#   expired-client.crt/.key    like client.crt, signed by ca.key, but valid only on 2020-01-01
#   wrong-name-server.crt/.key a server certificate signed by ca.key for mqtt.example.com only
#   other-ca.crt, other-ca.key a second CA that nobody trusts
#   other-client.crt/.key      like client.crt, but signed by other-ca.key
#
# The valid certificates last N days from now (default 3650). Private keys are PKCS#8 PEM, mode 600.
set -euo pipefail

usage() {
  sed -n '5p' "${BASH_SOURCE[0]}" | sed 's/^# //' >&2
  exit 2
}

negative=false
days=3650
client_cn=mqtt5-client
out=""
while (($#)); do
  case "$1" in
    --negative) negative=true ;;
    --days) days="${2:?--days needs a number}"; shift ;;
    --client-cn) client_cn="${2:?--client-cn needs a name}"; shift ;;
    -h | --help) usage ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) [[ -z "$out" ]] || usage; out="$1" ;;
  esac
  shift
done
[[ -n "$out" ]] || usage
command -v openssl >/dev/null || {
  echo "openssl not found: apt-get install openssl (see README)" >&2
  exit 1
}

mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
umask 077

# openssl ca (unlike openssl x509 -req of OpenSSL 3.0) takes explicit start and end dates, which
# the expired certificates need; every certificate is signed the same way.
cat >"$work/ca.cnf" <<'EOF'
[ca]
default_ca = throwaway
[throwaway]
database = $ENV::PKI_WORK/index.txt
new_certs_dir = $ENV::PKI_WORK
serial = $ENV::PKI_WORK/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[anything]
commonName = supplied
organizationName = optional
[ca_ext]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[wrong_name_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:mqtt.example.com
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
export PKI_WORK="$work"

key() { # key NAME
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$out/$1.key" 2>/dev/null
}

# sign NAME CN EXTENSIONS ISSUER [START END]: a certificate for NAME.key, signed by ISSUER.key;
# ISSUER = NAME makes it self-signed.
sign() {
  local name="$1" cn="$2" ext="$3" issuer="$4" start="${5:-}" end="${6:-}"
  : >"$work/index.txt"
  [[ -f "$work/serial" ]] || openssl rand -hex 16 >"$work/serial"
  openssl req -new -key "$out/$name.key" -subj "/O=mqtt5 throw-away/CN=$cn" \
    -out "$work/$name.csr" 2>/dev/null
  local args=(-batch -config "$work/ca.cnf" -extensions "$ext" -in "$work/$name.csr"
    -out "$out/$name.crt" -notext)
  if [[ "$issuer" == "$name" ]]; then
    args+=(-selfsign -keyfile "$out/$name.key")
  else
    args+=(-cert "$out/$issuer.crt" -keyfile "$out/$issuer.key")
  fi
  if [[ -n "$start" ]]; then args+=(-startdate "$start" -enddate "$end"); else args+=(-days "$days"); fi
  openssl ca "${args[@]}" 2>"$work/ca.log" || {
    cat "$work/ca.log" >&2
    exit 1
  }
}

for name in ca server client; do key "$name"; done
sign ca "mqtt5 throw-away CA" ca_ext ca
sign server localhost server_ext ca
sign client "$client_cn" client_ext ca

if $negative; then
  for name in expired-server expired-client wrong-name-server other-ca other-client; do
    key "$name"
  done
  sign expired-server localhost server_ext ca 20200101000000Z 20200102000000Z
  sign expired-client "$client_cn" client_ext ca 20200101000000Z 20200102000000Z
  sign other-ca "mqtt5 untrusted throw-away CA" ca_ext other-ca
  sign wrong-name-server mqtt.example.com wrong_name_ext ca
  sign other-client "$client_cn" client_ext other-ca
fi
chmod 644 "$out"/*.crt
