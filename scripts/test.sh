#!/usr/bin/env bash
# `make test`: every unit and integration test, with PostgreSQL and the AWS emulator running
# (see with-services.sh). Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/with-services.sh cargo test --workspace --all-targets "$@"
