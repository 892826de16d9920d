#!/usr/bin/env bash
# Installs (Debian packages) and starts the real parts the tests use, runs the given command with their addresses
# in the environment, and stops them afterwards whatever the command's status:
#   - PostgreSQL (the log store's multi-machine backend)      -> VOUCH_TEST_PG_URL
#   - the CNCF distribution registry (plain HTTP and TLS) + skopeo, by .ci/oci-services.sh -> VOUCH_TEST_REGISTRY*
#   - binutils (as, ld with its PE emulations) and osslsigncode, which build and sign the PE files of test/pe/
# Usage: bash .ci/services.sh CMD [ARGS...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state=$(mktemp -d /tmp/vouch-ci.XXXXXX)
chmod 755 "$state"

need=()
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
command -v registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
{ command -v as && command -v ld; } >/dev/null 2>&1 || need+=(binutils)
command -v osslsigncode >/dev/null 2>&1 || need+=(osslsigncode)
# The shells the completion scripts are run in, and `script` for the terminal prompt of `trust import`: without
# them those tests skip, so CI installs them rather than let the tests pass for want of a shell.
command -v zsh >/dev/null 2>&1 || need+=(zsh)
command -v fish >/dev/null 2>&1 || need+=(fish)
command -v script >/dev/null 2>&1 || need+=(bsdutils)
if [ ${#need[@]} -gt 0 ]; then
  echo "services: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

cleanup() {
  status=$?
  if [ -n "${PGBIN:-}" ] && [ -d "$state/pg" ]; then
    su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $state/pg -m immediate stop" >/dev/null 2>&1 || true
  fi
  if declare -F oci_services_stop >/dev/null; then oci_services_stop || true; fi
  rm -rf "$state"
  exit $status
}
trap cleanup EXIT INT TERM

# PostgreSQL: a throwaway cluster in the state folder, on a free loopback port, owned by the postgres user.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$state/pg" && chown postgres "$state/pg"
su postgres -s /bin/sh -c "$PGBIN/initdb -D $state/pg -A trust -U vouch >/dev/null"
su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $state/pg -o '-h 127.0.0.1 -p $pgport -k $state/pg' -l $state/pg/log -w start >/dev/null"
su postgres -s /bin/sh -c "$PGBIN/createdb -h 127.0.0.1 -p $pgport -U vouch vouch_test"
export VOUCH_TEST_PG_URL="postgres://vouch@127.0.0.1:$pgport/vouch_test"
echo "services: PostgreSQL at $VOUCH_TEST_PG_URL"

if [ -f "$here/oci-services.sh" ]; then
  # shellcheck source=/dev/null
  source "$here/oci-services.sh"
fi

"$@"
