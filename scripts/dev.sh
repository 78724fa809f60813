#!/usr/bin/env bash
# `make dev`: the whole platform on this machine. Installs what is missing, starts PostgreSQL and
# the AWS emulator, creates the template's resources, serves every function behind the local
# API gateway on :9000 and polls the processing queue. Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
STARTED_FILE=$(mktemp)
export STARTED_FILE
cleanup() {
  trap - EXIT INT TERM
  # shellcheck disable=SC2046
  [ -s "$STARTED_FILE" ] && scripts/services.sh stop $(cat "$STARTED_FILE")
  rm -f "$STARTED_FILE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
scripts/services.sh start
# shellcheck source=scripts/env.sh
. scripts/env.sh
cargo build --quiet -p local-platform
echo "logs: .local/logs/ (postgres.log, moto.log); functions log to this terminal"
"${CARGO_TARGET_DIR:-target}/debug/local-platform" dev "$@"
