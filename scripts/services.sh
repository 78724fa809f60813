#!/usr/bin/env bash
# PostgreSQL (project-local cluster) and the AWS emulator (moto server), on loopback.
#   scripts/services.sh start   start whichever is not running; names the ones it started in
#                               $STARTED_FILE (if set), so the caller stops only those
#   scripts/services.sh stop [postgres] [moto]   (default: both)
#   scripts/services.sh status
# Ports: PG_PORT (default 54329), MOTO_PORT (default 4566). State and logs under .local/.
# PostgreSQL runs with TLS on and refuses plaintext TCP connections, as RDS with rds.force_ssl
# does: a local CA and a server certificate for 127.0.0.1/localhost are made on first start;
# clients verify against .local/tls/ca.pem (DATABASE_CA_FILE, see env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LOCAL=$ROOT/.local
PG_PORT=${PG_PORT:-54329}
MOTO_PORT=${MOTO_PORT:-4566}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
mkdir -p "$LOCAL/logs"

log() { printf '[services] %s\n' "$*"; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# The cluster lives in .local/pg; when the checkout is not reachable by the postgres user
# (a home directory under root), it lives under /var/tmp and .local/pg links to it.
pg_dir() {
  if [ ! -e "$LOCAL/pg" ]; then
    if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$LOCAL"; then
      local outside="/var/tmp/taskifai-pg-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
      mkdir -p "$outside"
      ln -s "$outside" "$LOCAL/pg"
    else
      mkdir -p "$LOCAL/pg"
    fi
    [ "$(id -u)" = 0 ] && chown postgres: "$LOCAL/pg/"
  fi
  echo "$LOCAL/pg"
}

pg_running() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }
moto_running() { curl -fsS -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/" 2>/dev/null; }
started() { log "started $1"; [ -n "${STARTED_FILE:-}" ] && echo "$1" >> "$STARTED_FILE"; return 0; }

start_postgres() {
  if pg_running; then
    log "postgres already running on 127.0.0.1:$PG_PORT"
    ensure_platform_role "$(pg_dir)"
    return
  fi
  local dir; dir=$(pg_dir)
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    log "initialising the PostgreSQL cluster in $dir/data"
    # A random superuser password, kept beside the cluster; password auth on TCP, so tenant
    # roles' passwords are really checked.
    head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$dir/superuser-password"
    chmod 600 "$dir/superuser-password"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir/superuser-password"
    as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --pwfile="$dir/superuser-password" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale >"$LOCAL/logs/initdb.log"
  fi
  mkdir -p "$dir/run"; [ "$(id -u)" = 0 ] && chown postgres: "$dir/run"
  ensure_tls "$dir"
  as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start \
    -o "-p $PG_PORT -k $dir/run -c listen_addresses=127.0.0.1 -c max_connections=500 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c ssl=on -c ssl_cert_file=$dir/tls/server.crt -c ssl_key_file=$dir/tls/server.key -c ssl_min_protocol_version=TLSv1.2 -c hba_file=$dir/tls/pg_hba.conf" >/dev/null
  ln -sf "$dir/postgres.log" "$LOCAL/logs/postgres.log"
  ensure_platform_role "$dir"
  started postgres
}

# A local CA (.local/tls/ca.pem, what clients trust) and a server certificate signed by it for
# 127.0.0.1 and localhost (ECDSA P-256 with SHA-256, so SCRAM channel binding applies), and an
# hba file that admits TCP clients over TLS only (SCRAM), the Unix socket for this script.
ensure_tls() {
  local dir=$1 tls="$LOCAL/tls"
  mkdir -p "$tls" "$dir/tls"
  if [ ! -s "$tls/ca.pem" ] || [ ! -s "$dir/tls/server.crt" ]; then
    log "making a local CA and a server certificate in $tls"
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
      -days 3650 -subj "/CN=TaskifAI local database CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
      -subj "/CN=localhost" -keyout "$dir/tls/server.key" -out "$tls/server.csr" 2>/dev/null
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
      -CAcreateserial -days 825 -sha256 -out "$dir/tls/server.crt" \
      -extfile <(printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth") 2>/dev/null
    rm -f "$tls/server.csr"
    chmod 600 "$tls/ca.key" "$dir/tls/server.key"
  fi
  cat > "$dir/tls/pg_hba.conf" <<'HBA'
# TYPE     DATABASE USER ADDRESS        METHOD
local      all      all                 trust
hostssl    all      all  127.0.0.1/32   scram-sha-256
hostnossl  all      all  0.0.0.0/0      reject
HBA
  [ "$(id -u)" = 0 ] && chown -R postgres: "$dir/tls"
  return 0
}

# The platform's own database role, as in production: CREATEDB and CREATEROLE (and
# pg_signal_backend, to end sessions on a database it drops), not SUPERUSER, so the tests prove
# that is enough. Its password is kept beside the cluster. The stock
# databases are closed to PUBLIC (tenant roles), which only the cluster's owner can do.
ensure_platform_role() {
  local dir=$1
  if [ ! -s "$dir/platform-password" ]; then
    head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$dir/platform-password"
    chmod 600 "$dir/platform-password"
  fi
  local pw; pw=$(cat "$dir/platform-password")
  as_pg "$PG_BIN/psql" -q -h "$dir/run" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "DO \$\$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'taskifai_platform') THEN
            CREATE ROLE taskifai_platform LOGIN CREATEDB CREATEROLE;
          END IF;
        END \$\$;" \
    -c "ALTER ROLE taskifai_platform WITH LOGIN CREATEDB CREATEROLE NOSUPERUSER PASSWORD '$pw'" \
    -c "REVOKE CONNECT ON DATABASE postgres, template1 FROM PUBLIC" \
    -c "GRANT CONNECT ON DATABASE postgres TO taskifai_platform" \
    -c "GRANT pg_signal_backend TO taskifai_platform" >/dev/null
}

start_moto() {
  if moto_running; then log "moto already running on 127.0.0.1:$MOTO_PORT"; return; fi
  # scripts/emulator.py: moto_server with DynamoDB requests made atomic, as on AWS.
  nohup "$ROOT/.venv/bin/python" "$ROOT/scripts/emulator.py" -H 127.0.0.1 -p "$MOTO_PORT" >"$LOCAL/logs/moto.log" 2>&1 &
  echo $! > "$LOCAL/moto.pid"
  for _ in $(seq 1 100); do moto_running && { started moto; return; }; sleep 0.1; done
  log "moto did not start; see $LOCAL/logs/moto.log"; exit 1
}

stop_postgres() {
  local dir="$LOCAL/pg"
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null && log "stopped postgres"
  fi
}

stop_moto() {
  if [ -f "$LOCAL/moto.pid" ]; then
    kill "$(cat "$LOCAL/moto.pid")" 2>/dev/null && log "stopped moto"
    rm -f "$LOCAL/moto.pid"
  fi
}

case "${1:-}" in
  start) start_postgres; start_moto ;;
  stop) shift; for s in "${@:-postgres moto}"; do for n in $s; do "stop_$n"; done; done ;;
  status)
    pg_running && echo "postgres: up on 127.0.0.1:$PG_PORT" || echo "postgres: down"
    moto_running && echo "moto: up on 127.0.0.1:$MOTO_PORT" || echo "moto: down" ;;
  *) echo "usage: $0 start|stop [postgres] [moto]|status" >&2; exit 2 ;;
esac
