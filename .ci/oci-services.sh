#!/usr/bin/env bash
# Start the OCI registries the image tests need, idempotently:
#   - docker-registry (distribution 2.x, Debian package) on 127.0.0.1, plain HTTP
#   - the same on 127.0.0.1 over TLS with a throw-away test CA made with openssl
# and skopeo as the independent client. Sets VOUCH_TEST_REGISTRY (host:port, HTTP), VOUCH_TEST_REGISTRY_TLS
# (host:port, HTTPS) and VOUCH_TEST_REGISTRY_CA (PEM file of the test CA). Two ways to use it:
#   source .ci/oci-services.sh             # (as .ci/services.sh does) exports the env, defines oci_services_stop
#   eval "$(.ci/oci-services.sh)"          # executed: prints the export lines
#   .ci/oci-services.sh stop               # stop both registries
# State lives in $VOUCH_OCI_STATE (default: $state/oci when sourced by services.sh, else /tmp/vouch-oci).
set -euo pipefail
OCI_STATE="${VOUCH_OCI_STATE:-${state:+$state/oci}}"
OCI_STATE="${OCI_STATE:-/tmp/vouch-oci}"
STATE="$OCI_STATE"
mkdir -p "$STATE"

oci_services_stop() {
  local name
  for name in plain tls; do
    if [[ -f "$OCI_STATE/$name.pid" ]]; then
      kill "$(cat "$OCI_STATE/$name.pid")" 2>/dev/null || true
      rm -f "$OCI_STATE/$name.pid" "$OCI_STATE/$name.port"
    fi
  done
}

sourced=0
[[ "${BASH_SOURCE[0]}" != "$0" ]] && sourced=1
if [[ $sourced == 0 && "${1:-}" == "stop" ]]; then oci_services_stop; exit 0; fi

if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry skopeo; } >&2
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Test CA and a server certificate for 127.0.0.1 / localhost (never used outside these tests).
if [[ ! -f "$STATE/server.pem" ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=vouch test registry CA" \
    -keyout "$STATE/ca.key" -out "$STATE/ca.pem" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign >/dev/null 2>&1
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$STATE/server.key" -out "$STATE/server.csr" >/dev/null 2>&1
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$STATE/server.ext"
  openssl x509 -req -in "$STATE/server.csr" -CA "$STATE/ca.pem" -CAkey "$STATE/ca.key" -CAcreateserial -days 3650 \
    -extfile "$STATE/server.ext" -out "$STATE/server.pem" >/dev/null 2>&1
fi

alive() { # name -> 0 when the registry of that name runs and answers
  local name=$1
  [[ -f "$STATE/$name.pid" && -f "$STATE/$name.port" ]] || return 1
  kill -0 "$(cat "$STATE/$name.pid")" 2>/dev/null || return 1
  local scheme=http; [[ $name == tls ]] && scheme=https
  curl -s -o /dev/null --cacert "$STATE/ca.pem" "$scheme://127.0.0.1:$(cat "$STATE/$name.port")/v2/"
}

start() { # name
  local name=$1 port
  alive "$name" && return 0
  port=$(free_port)
  mkdir -p "$STATE/$name-data"
  {
    echo "version: 0.1"
    echo "log: {level: error, accesslog: {disabled: true}}"
    echo "storage: {filesystem: {rootdirectory: $STATE/$name-data}, delete: {enabled: true}}"
    echo "http:"
    echo "  addr: 127.0.0.1:$port"
    if [[ $name == tls ]]; then
      echo "  tls: {certificate: $STATE/server.pem, key: $STATE/server.key}"
    fi
  } >"$STATE/$name.yml"
  nohup docker-registry serve "$STATE/$name.yml" >"$STATE/$name.log" 2>&1 &
  echo $! >"$STATE/$name.pid"
  echo "$port" >"$STATE/$name.port"
  for _ in $(seq 1 50); do alive "$name" && return 0; sleep 0.1; done
  echo "docker-registry ($name) did not start; see $STATE/$name.log" >&2
  return 1
}

start plain
start tls
export VOUCH_TEST_REGISTRY="127.0.0.1:$(cat "$STATE/plain.port")"
export VOUCH_TEST_REGISTRY_TLS="127.0.0.1:$(cat "$STATE/tls.port")"
export VOUCH_TEST_REGISTRY_CA="$STATE/ca.pem"
if [[ $sourced == 1 ]]; then
  echo "services: registries at $VOUCH_TEST_REGISTRY (HTTP) and $VOUCH_TEST_REGISTRY_TLS (TLS)"
else
  echo "export VOUCH_TEST_REGISTRY=$VOUCH_TEST_REGISTRY"
  echo "export VOUCH_TEST_REGISTRY_TLS=$VOUCH_TEST_REGISTRY_TLS"
  echo "export VOUCH_TEST_REGISTRY_CA=$VOUCH_TEST_REGISTRY_CA"
fi
