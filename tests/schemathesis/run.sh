#!/usr/bin/env bash
# Bounded API fuzz: schemathesis against /openapi.json of a running demo service. Fails on any
# 5xx, on any response the document does not describe (status, content type, headers, schema),
# and if the service panicked or died on the way.
#
#   tests/schemathesis/run.sh            # builds the debug binary with cargo, then fuzzes
#   ONECARD_BIN=path/to/onecard tests/schemathesis/run.sh
#
# Needs python3 (3.9+) with venv and pip, and PyPI. Installs schemathesis, pinned, into a venv
# outside the clone (${ONECARD_CI_CACHE:-/var/cache/onecard-ci}/venv-schemathesis), reused while
# the pin is unchanged. The service runs on SQLite in a fresh temporary folder on a free
# loopback port and is stopped at the end, whatever happens. On a failure (or with
# ONECARD_FUZZ_KEEP=1) the reports (JUnit, NDJSON) and the service log stay in the folder the
# script prints; after a clean run it is removed.
#
# Bounds: schemathesis.toml beside this script (seed, examples per operation, stateful steps);
# ONECARD_FUZZ_EXAMPLES overrides the examples per operation; ONECARD_FUZZ_ARGS adds `st run`
# options (e.g. "--seed 7 --checks all" to explore); the whole run is cut off after
# ONECARD_FUZZ_TIMEOUT seconds (default 600), which counts as a failure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

SCHEMATHESIS_VERSION=4.32.5
cache=${ONECARD_CI_CACHE:-/var/cache/onecard-ci}
venv=$cache/venv-schemathesis
timeout_s=${ONECARD_FUZZ_TIMEOUT:-600}

log() { printf 'schemathesis: %s\n' "$*" >&2; }

# --- schemathesis, pinned, in a venv outside the clone --------------------------------------
if ! "$venv/bin/st" --version 2>/dev/null | grep -qx "st, version $SCHEMATHESIS_VERSION"; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  mkdir -p "$cache"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
"$venv/bin/st" --version

# --- the binary ------------------------------------------------------------------------------
if [ -z "${ONECARD_BIN:-}" ]; then
  (cd "$root" && cargo build --quiet --bin onecard)
  ONECARD_BIN=${CARGO_TARGET_DIR:-$root/target}/debug/onecard
fi
[ -x "$ONECARD_BIN" ] || { log "no binary at $ONECARD_BIN"; exit 1; }

# --- a demo service on a fresh SQLite database ------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/onecard-schemathesis.XXXXXX")
mkdir -p "$work/data" "$work/reports"
service_pid=
stop_service() {
  if [ -n "$service_pid" ] && kill -0 "$service_pid" 2>/dev/null; then
    kill -TERM "$service_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$service_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$service_pid" 2>/dev/null || true
    wait "$service_pid" 2>/dev/null || true
  fi
  service_pid=
}
trap stop_service EXIT

log "work folder $work"
(
  cd "$root"
  export ONECARD_DATABASE_URL="sqlite://$work/data/onecard.db"
  export ONECARD_KEY_DIR="$work/data/keys"
  export ONECARD_DATA_DIR="$work/data"
  export ONECARD_NIGHTLY_DIR="$work/data/nightly"
  export RUST_LOG=${RUST_LOG:-info}
  unset ONECARD_NIGHTLY_AT
  # One token per role sends every request here, as fast as the service answers: a per-token
  # rate limit (ONECARD_RATE_LIMIT_PER_MINUTE, where the service has one) guards against runaway
  # clients and is not what this fuzz is about, so it is off rather than a source of 429s.
  export ONECARD_RATE_LIMIT_PER_MINUTE=0
  # Port 0: the kernel picks a free port and the service prints the address it got.
  exec "$ONECARD_BIN" serve --demo --bind 127.0.0.1:0 --workers 2
) >"$work/tokens.txt" 2>"$work/service.log" &
service_pid=$!

base_url=
for _ in $(seq 1 300); do
  base_url=$(grep -o 'onecard listening on http://[0-9.:]*' "$work/service.log" 2>/dev/null | head -n 1 | sed 's/^onecard listening on //') || true
  [ -n "$base_url" ] && break
  kill -0 "$service_pid" 2>/dev/null || { log "the service did not start:"; cat "$work/service.log" >&2; exit 1; }
  sleep 0.2
done
[ -n "$base_url" ] || { log "the service did not say where it listens"; cat "$work/service.log" >&2; exit 1; }
log "service at $base_url (pid $service_pid)"

token() { awk -v r="$1" '$1 == r { print $2; exit }' "$work/tokens.txt"; }
export ONECARD_FUZZ_TOKEN_FINANCE=$(token finance)
export ONECARD_FUZZ_TOKEN_SUPERVISOR=$(token supervisor)
export ONECARD_FUZZ_TOKEN_CLERK=$(token clerk)
export ONECARD_FUZZ_TOKEN_ADMIN=$(token admin)
export ONECARD_FUZZ_TOKEN_TREASURY=$(token treasury)
# The treasury's HMAC secret is printed on the line after its token.
export ONECARD_FUZZ_TREASURY_SECRET=$(awk '$1 == "treasury" { getline; print $2; exit }' "$work/tokens.txt")
for v in FINANCE SUPERVISOR CLERK ADMIN TREASURY; do
  name=ONECARD_FUZZ_TOKEN_$v
  [ -n "${!name}" ] || { log "no $v token in the demo output"; exit 1; }
done
[ -n "$ONECARD_FUZZ_TREASURY_SECRET" ] || { log "no treasury secret in the demo output"; exit 1; }

# --- data to work on: the fixture files of 2026-11-24 imported and that day reconciled -----------
export ONECARD_FUZZ_BASE_URL=$base_url
seeded=$("$venv/bin/python" "$here/seed.py")
while IFS='=' read -r name value; do
  case "$name" in ONECARD_FUZZ_*) export "$name=$value" ;; esac
done <<<"$seeded"

# --- the fuzz ----------------------------------------------------------------------------------
extra=()
[ -n "${ONECARD_FUZZ_EXAMPLES:-}" ] && extra+=(--max-examples "$ONECARD_FUZZ_EXAMPLES")
# shellcheck disable=SC2206 # split on purpose: a list of options
[ -n "${ONECARD_FUZZ_ARGS:-}" ] && extra+=(${ONECARD_FUZZ_ARGS})
started=$(date +%s)
status=0
(
  cd "$work"   # schemathesis writes nothing into the clone
  export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
  export SCHEMATHESIS_HOOKS=hooks
  timeout --kill-after=10 "$timeout_s" "$venv/bin/st" --config-file "$here/schemathesis.toml" --no-color \
    run "$base_url/openapi.json" \
    --report junit,ndjson --report-dir "$work/reports" \
    "${extra[@]}"
) || status=$?
elapsed=$(( $(date +%s) - started ))
[ "$status" -eq 124 ] && log "cut off after ${timeout_s}s"

# --- the service must have survived without a panic -----------------------------------------
if ! kill -0 "$service_pid" 2>/dev/null; then
  log "the service died during the fuzz; its log: $work/service.log"
  tail -n 50 "$work/service.log" >&2
  status=1
fi
if grep -q 'panicked' "$work/service.log"; then
  log "the service panicked during the fuzz:"
  grep -n -A 3 'panicked' "$work/service.log" | head -n 40 >&2
  status=1
fi
stop_service

if [ "$status" -eq 0 ] && [ -z "${ONECARD_FUZZ_KEEP:-}" ]; then
  rm -rf "$work"
  log "passed in ${elapsed}s"
else
  log "finished in ${elapsed}s with status $status; reports and service log in $work"
fi
exit "$status"
