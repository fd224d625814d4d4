#!/usr/bin/env bash
# Webhook signatures checked with the Standard Webhooks reference library
# (PyPI `standardwebhooks`) against a live server on a fresh SQLite tenant
# (issue 28; the Rust tests verify them from the specification). Run by
# .ci/run after the tests.
#   scripts/webhook-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${WEBHOOK_CHECK_VENV:-$PWD/target/webhook-check-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'standardwebhooks==1.1.0'
fi
cargo build -q --locked -p switchboard
bin="$PWD/target/debug/switchboard"
work="$(mktemp -d)"
trap 'if [ -n "${pid:-}" ]; then kill "$pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
key="$("$bin" admin create-tenant --name hooks --database-url "$work/hooks.db" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')"
"$bin" serve --listen 127.0.0.1:0 --database-url "$work/hooks.db" --webhook-allow-networks 127.0.0.0/8 \
  --webhook-retry-schedule 200ms 2>"$work/serve.log" &
pid=$!
for _ in $(seq 1 100); do grep -qs "listening on" "$work/serve.log" && break; sleep 0.1; done
base="$(grep -o 'listening on http://[0-9.:]*' "$work/serve.log" | head -1 | sed 's/listening on //')"
"$venv/bin/python" scripts/webhook-check.py "$base" "$key"
