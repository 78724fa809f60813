#!/usr/bin/env bash
# `make test`: installs what the tests need, starts PostgreSQL and the AWS emulator (unless
# already running, e.g. under `make dev`), runs every unit and integration test, and stops what
# it started. Extra arguments go to `cargo test`.
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
cargo test --workspace --all-targets "$@"
