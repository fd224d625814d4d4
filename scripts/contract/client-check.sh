#!/usr/bin/env bash
# Generates a Python client from the served OpenAPI document with
# openapi-python-client (PyPI) and runs scripts/contract/client_check.py with
# it against the server: the proof that a generator accepts the document and
# that the client it makes works. The generated code is not committed.
#   scripts/contract/client-check.sh <base URL> <API key>
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
base="$1"
key="$2"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
curl -fsS "$base/api/v1/openapi.json" -o "$out/openapi.json"
echo "== contract: openapi-python-client generate"
(cd "$out" && openapi-python-client generate --path openapi.json --meta none --output-path switchboard_client --overwrite)
echo "== contract: generated client against the server"
PYTHONPATH="$out" python3 "$here/client_check.py" "$base" "$key"
