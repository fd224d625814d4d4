#!/usr/bin/env bash
# SCIM 2.0 conformance with real tooling: scim2-tester (PyPI) runs its checks
# (discovery endpoints, CRUD, filters, PATCH, /.search) against a live server
# on a fresh SQLite tenant with a key of scope scim; fails on any check that
# does not succeed (scripts/scim-check.py). Run by .ci/run after the tests.
#   scripts/scim-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${SCIM_CHECK_VENV:-$PWD/target/scim-check-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'scim2-tester==0.5.2' 'scim2-client[httpx2]==0.13.2'
fi
cargo build -q --locked -p switchboard
bin="$PWD/target/debug/switchboard"
work="$(mktemp -d)"
trap 'if [ -n "${pid:-}" ]; then kill "$pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
"$bin" admin create-tenant --name scim --database-url "$work/scim.db" >/dev/null 2>&1
# DELETE removes the user (the tester checks a deleted resource is gone);
# the default, deactivate, is tested by tests/it/scim.rs.
"$bin" admin set-setting --tenant scim scimDeleteMode delete --database-url "$work/scim.db" >/dev/null
api_key="$("$bin" admin create-api-key --tenant scim --username admin --name scim-check --database-url "$work/scim.db" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')"
key="$("$bin" admin create-api-key --tenant scim --username admin --name scim2-tester --scope scim --database-url "$work/scim.db" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')"
"$bin" serve --listen 127.0.0.1:0 --database-url "$work/scim.db" 2>"$work/serve.log" &
pid=$!
for _ in $(seq 1 100); do grep -qs "listening on" "$work/serve.log" && break; sleep 0.1; done
base="$(grep -o 'listening on http://[0-9.:]*' "$work/serve.log" | head -1 | sed 's/listening on //')"
"$venv/bin/python" scripts/scim-check.py "$base/scim/v2" "$key" "$base" "$api_key"
