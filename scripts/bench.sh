#!/usr/bin/env bash
# `make bench`: the provisioning benchmark (tools/bench). Installs and starts what it needs
# (PostgreSQL, the AWS emulator) unless already running, runs a release build of the bench only,
# and stops what it started. BENCH_SCALE=1000 adds the scale run; extra arguments go to the bench
# (`scripts/bench.sh --tenants 50 --json /tmp/bench.json`, `-- --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
STARTED_FILE=$(mktemp)
export STARTED_FILE
cleanup() {
  # shellcheck disable=SC2046
  [ -s "$STARTED_FILE" ] && scripts/services.sh stop $(cat "$STARTED_FILE")
  rm -f "$STARTED_FILE"
}
trap cleanup EXIT
scripts/services.sh start
# shellcheck source=scripts/env.sh
. scripts/env.sh
if [ -n "${BENCH_SCALE:-}" ]; then
  set -- --scale "$BENCH_SCALE" "$@"
fi
cargo run --release -p bench -- "$@"
