#!/usr/bin/env bash
# Installs what the local platform and the tests need, only where it is missing:
# PostgreSQL and Chromium (Debian packages), the project venv (moto, cargo-lambda, cfn-lint) and the SAM venv.
# Idempotent: a second run checks and returns in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[bootstrap] %s\n' "$*"; }

# Debian packages: PostgreSQL, and Chromium with its WebDriver for the browser tests.
missing=()
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)}
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then missing+=(postgresql); fi
if [ "${BOOTSTRAP_BROWSER:-1}" = 1 ]; then
  command -v chromium >/dev/null || missing+=(chromium fonts-dejavu-core)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
fi
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# venv_sync DIR REQUIREMENTS: create DIR and install REQUIREMENTS unless already installed from
# exactly that file (a stamp holds its hash).
venv_sync() {
  local dir=$1 req=$2 stamp="$1/.requirements.sha256" want
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  log "installing $req into $dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install -q --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
}

venv_sync .venv scripts/requirements-dev.txt
if [ "${BOOTSTRAP_SAM:-0}" = 1 ]; then
  venv_sync .venv-sam scripts/requirements-sam.txt
fi

# cargo-lambda runs `python3 -m ziglang`; a zig shim on the venv PATH lets it cross-compile.
if [ ! -x .venv/bin/zig ]; then
  printf '#!/usr/bin/env bash\nexec "%s/.venv/bin/python3" -m ziglang "$@"\n' "$PWD" > .venv/bin/zig
  chmod +x .venv/bin/zig
fi
log "ready"
