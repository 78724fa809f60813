#!/usr/bin/env bash
# `make bench`: the benchmarks (tools/bench, release build) with PostgreSQL and the AWS emulator
# running (see with-services.sh). BENCH_SCALE=1000 adds the scale run; extra arguments go to the
# bench (`scripts/bench.sh --tenants 50 --json /tmp/bench.json`, `scripts/bench.sh --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${BENCH_SCALE:-}" ]; then
  set -- --scale "$BENCH_SCALE" "$@"
fi
exec scripts/with-services.sh cargo run --release -p bench -- "$@"
