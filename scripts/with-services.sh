#!/usr/bin/env bash
# Runs a command with what the tests and benchmarks need: installs what is missing, starts
# PostgreSQL and the AWS emulator unless already running (e.g. under `make dev`), exports their
# environment (scripts/env.sh), and stops afterwards only what it started.
#   scripts/with-services.sh cargo test --workspace
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
# Ctrl-C / SIGTERM end the command, then the EXIT trap stops what was started here.
trap 'exit 130' INT TERM
scripts/services.sh start
# shellcheck source=scripts/env.sh
. scripts/env.sh
"$@"
