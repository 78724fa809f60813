#!/usr/bin/env bash
# `make lint`: formatting, clippy (warnings are errors), unused dependencies (cargo-machete), and
# the SAM template through cfn-lint and `sam validate --lint`.
set -euo pipefail
cd "$(dirname "$0")/.."
BOOTSTRAP_SAM=1 scripts/bootstrap.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# Unused dependencies: every crate lists only what it uses.
command -v cargo-machete >/dev/null || cargo install --locked --quiet cargo-machete@0.9.2
cargo machete
.venv/bin/cfn-lint infra/template.yaml
SAM_CLI_TELEMETRY=0 .venv-sam/bin/sam validate --lint --template-file infra/template.yaml --region us-east-1
echo "lint: clean"
