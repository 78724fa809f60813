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
mkdir -p .local
umask 077
cat > .local/credentials.json <<JSON
{
  "postgres": {"url": "$DATABASE_ADMIN_URL", "note": "superuser of the local cluster"},
  "aws_emulator": {"endpoint": "$AWS_ENDPOINT_URL", "region": "$AWS_REGION",
                   "access_key_id": "$AWS_ACCESS_KEY_ID", "secret_access_key": "$AWS_SECRET_ACCESS_KEY"}
}
JSON
umask 022
echo "local credentials: .local/credentials.json"
echo "logs: .local/logs/ (postgres.log, moto.log); functions log to this terminal"
"${CARGO_TARGET_DIR:-target}/debug/local-platform" dev "$@"
