#!/usr/bin/env bash
# `make sam-build`: `sam build` of infra/template.yaml (cargo-lambda, release), non-interactive.
# Builds for arm64 (Graviton, the template's default) when the aarch64-unknown-linux-gnu Rust
# target is installed or can be added; where it cannot (an offline machine), or with
# ARCH=x86_64, for x86_64. Deploy a build with the same `Architecture` parameter (samconfig.toml),
# or its functions will not start.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${ARCH:-}
if [ -z "$arch" ]; then
  if rustup target list --installed | grep -qx aarch64-unknown-linux-gnu ||
    rustup target add aarch64-unknown-linux-gnu; then
    arch=arm64
  else
    echo "sam-build: the aarch64-unknown-linux-gnu Rust target cannot be added here;" \
      "building for x86_64 (deploy it with Architecture=x86_64)" >&2
    arch=x86_64
  fi
fi
PATH="$PWD/.venv/bin:$PATH" SAM_CLI_TELEMETRY=0 \
  exec .venv-sam/bin/sam build --config-env dev --parameter-overrides "Architecture=$arch"
