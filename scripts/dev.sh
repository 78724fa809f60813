#!/usr/bin/env bash
# `make dev`: the whole platform on this machine. Installs what is missing, starts PostgreSQL and
# the AWS emulator (with-services.sh), creates the template's resources, provisions the demo
# tenant, serves every function behind the local API gateway on :9000 and polls the processing
# queue. Ctrl-C stops everything it started. Extra arguments go to `local-platform dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/with-services.sh bash -c '
  cargo build --quiet -p local-platform
  echo "logs: .local/logs/ (postgres.log, moto.log); functions log to this terminal"
  exec "${CARGO_TARGET_DIR:-target}/debug/local-platform" dev "$@"' local-platform "$@"
