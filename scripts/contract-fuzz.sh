#!/usr/bin/env bash
# Contract fuzzing of the native API with schemathesis (PyPI) against the
# OpenAPI document the server serves: no 5xx, every status, content type,
# header and body matches the document. Run by .ci/run after the test suite.
#   scripts/contract-fuzz.sh [max-examples per operation, default 30]
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-30}"
command -v schemathesis >/dev/null || python3 -m pip install -q --disable-pip-version-check 'schemathesis==4.32.5'
cargo build -q --locked -p switchboard
bin="$PWD/target/debug/switchboard"
work="$(mktemp -d)"
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
key="$("$bin" admin create-tenant --name fuzz --database-url "$work/fuzz.db" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')"
"$bin" serve --listen 127.0.0.1:0 --database-url "$work/fuzz.db" 2>"$work/serve.log" &
pid=$!
for _ in $(seq 1 100); do grep -q "listening on" "$work/serve.log" && break; sleep 0.1; done
base="$(grep -o 'listening on http://[0-9.:]*' "$work/serve.log" | head -1 | sed 's/listening on //')"
schemathesis run "$base/api/v1/openapi.json" \
  -H "Authorization: Bearer $key" \
  --max-examples "$examples" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance,response_headers_conformance
