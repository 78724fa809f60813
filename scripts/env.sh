# Sourced by the Makefile's scripts: the environment the local platform and the tests share.
# Dummy AWS credentials: everything AWS goes to the emulator on loopback.
_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PG_PORT=${PG_PORT:-54329}
export MOTO_PORT=${MOTO_PORT:-4566}
export AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://127.0.0.1:$MOTO_PORT}
export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testing}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testing}
export AWS_EC2_METADATA_DISABLED=true
# The platform's database role (CREATEDB, CREATEROLE; not a superuser), made by services.sh.
if [ -f "$_root/.local/pg/platform-password" ]; then
  export DATABASE_ADMIN_URL=${DATABASE_ADMIN_URL:-postgres://taskifai_platform:$(cat "$_root/.local/pg/platform-password")@127.0.0.1:$PG_PORT/postgres}
fi
# The CA the local PostgreSQL's certificate is signed by (services.sh): connections verify it.
if [ -f "$_root/.local/tls/ca.pem" ]; then
  export DATABASE_CA_FILE=${DATABASE_CA_FILE:-$_root/.local/tls/ca.pem}
fi
export PATH="$_root/.venv/bin:$PATH"
unset _root
