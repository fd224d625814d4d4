#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for a bounded time each.
#   scripts/fuzz.sh [seconds per target, default 60]
# Needs cargo-fuzz (cargo install cargo-fuzz). libFuzzer's instrumentation
# needs unstable rustc flags; RUSTC_BOOTSTRAP=1 allows them on the stable
# toolchain this project builds with.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
for t in livevox_body deepcall_body ozonetel_body native_body; do
  echo "== $t (${secs}s)"
  cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -max_len=65536 2>&1 | grep -E "^#[0-9]+ +DONE|Done [0-9]+ runs|ERROR|panicked|SUMMARY" || true
  test -z "$(ls artifacts/$t 2>/dev/null)" || { echo "crash found in $t: fuzz/artifacts/$t"; exit 1; }
done
