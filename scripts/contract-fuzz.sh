#!/usr/bin/env bash
# The native API against its OpenAPI document (issue 24), run by .ci/run:
#   1. openapi-spec-validator (PyPI) on the served document;
#   2. schemathesis (PyPI) with every check and every phase, stateful included
#      (the document's links carry created ids), on SQLite and on PostgreSQL;
#   3. scripts/contract/client-check.sh: a Python client generated from the
#      document by openapi-python-client, used against the server.
#   scripts/contract-fuzz.sh [max-examples per operation, default 100] [sqlite|postgres|both, default both]
# Configuration: scripts/contract/schemathesis.toml (why each status is
# accepted) and scripts/contract/hooks.py. PostgreSQL: SWITCHBOARD_TEST_PG_URL
# (default postgres://postgres@127.0.0.1:5432/test), in a schema of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-100}"
backends="${2:-both}"
root="$PWD"
python3 -m pip install -q --disable-pip-version-check -r scripts/contract/requirements.txt
cargo build -q --locked -p switchboard
bin="$root/target/debug/switchboard"
work="$(mktemp -d)"
pid=""
schema=""
pg="${SWITCHBOARD_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  [ -n "$schema" ] && psql -q "$pg" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Starts a server on a database (flags) with a new tenant; sets $pid, $base, $key.
start() {
  key="$("$bin" admin create-tenant --name fuzz "$@" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')"
  "$bin" serve --listen 127.0.0.1:0 "$@" 2>"$work/serve.log" &
  pid=$!
  for _ in $(seq 1 100); do grep -q "listening on" "$work/serve.log" && break; sleep 0.1; done
  base="$(grep -o 'listening on http://[0-9.:]*' "$work/serve.log" | head -1 | sed 's/listening on //')"
}

stop() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
}

fuzz() {
  local name="$1"
  echo "== contract: schemathesis --checks all, $examples examples per operation, $name"
  local me
  me="$(curl -fsS -H "Authorization: Bearer $key" "$base/api/v1/api-keys")"
  SWITCHBOARD_FUZZ_KEY="$key" \
    SWITCHBOARD_FUZZ_KEY_ID="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])' <<<"$me")" \
    SWITCHBOARD_FUZZ_USER_ID="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["userId"])' <<<"$me")" \
    SCHEMATHESIS_HOOKS="$root/scripts/contract/hooks.py" \
    schemathesis --config-file "$root/scripts/contract/schemathesis.toml" run "$base/api/v1/openapi.json" \
    --checks all --max-examples "$examples" --no-color ${SWITCHBOARD_FUZZ_SEED:+--seed "$SWITCHBOARD_FUZZ_SEED"} || {
    # What the server logged, to tell a server fault from a client one.
    echo "== contract: schemathesis failed on $name; the server's log (last 300 lines):"
    tail -n 300 "$work/serve.log"
    [ -n "${SWITCHBOARD_FUZZ_KEEP_LOG:-}" ] && cp "$work/serve.log" "$SWITCHBOARD_FUZZ_KEEP_LOG"
    return 1
  }
}

if [ "$backends" != postgres ]; then
  start --database-url "$work/fuzz.db"
  echo "== contract: openapi-spec-validator"
  curl -fsS "$base/api/v1/openapi.json" -o "$work/openapi.json"
  openapi-spec-validator "$work/openapi.json"
  fuzz SQLite
  stop
  start --database-url "$work/client.db"
  scripts/contract/client-check.sh "$base" "$key"
  stop
fi

if [ "$backends" != sqlite ]; then
  if [[ ",${SWITCHBOARD_TEST_SKIP:-}," == *",postgres,"* ]]; then
    echo "== contract: PostgreSQL skipped (SWITCHBOARD_TEST_SKIP)"
  else
    schema="contract_fuzz_$$"
    start --database-url "$pg" --db-schema "$schema"
    fuzz PostgreSQL
    stop
  fi
fi
