#!/usr/bin/env bash
# Change events (issue 28) on SQLite: the write-throughput cost of the outbox
# (LiveVox Update Agent and skill assign/remove, wrk as in bench/run.sh,
# against a release build without the outbox, --base-bin) and the rate at
# which one webhook subscription's deliveries follow those writes.
#
#   bench/events.sh [--agents 100000] [--duration 10] [--rounds 3] [--base-bin PATH] [--bin PATH --gen PATH]
#
# With --base-bin, the base and the outbox runs alternate --rounds times (each
# on a fresh copy of the data), so that a drift of the machine shows in both.
#
# --base-bin: `switchboard` built (release) from the commit before issue 28,
# e.g. git archive 44d454e | tar -x -C /tmp/base && (cd /tmp/base &&
# CARGO_TARGET_DIR=$PWD/target cargo build --release -p switchboard).
# BASE_SAME_SCHEMA=1: the base binary knows this schema (an A/B of one
# commit, e.g. a build with the outbox's statements taken out), so its copy
# keeps every table.
# Environment: CARGO_TARGET_DIR, BENCH_WORK (default /tmp/switchboard-bench-events),
# BENCH_PORT (default 18571; the receiver takes the next port).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
AGENTS=100000
DURATION=10
CONNS=64
ROUNDS=3
BASE_BIN=
SB=
GEN=
while [ $# -gt 0 ]; do
  case "$1" in
    --agents) AGENTS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --base-bin) BASE_BIN=$2; shift ;;
    --bin) SB=$2; shift ;;
    --gen) GEN=$2; shift ;;
    *) echo "usage: $0 [--agents N] [--duration S] [--rounds N] [--base-bin PATH] [--bin PATH --gen PATH]" >&2; exit 2 ;;
  esac
  shift
done
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=${BENCH_WORK:-/tmp/switchboard-bench-events}
PORT=${BENCH_PORT:-18571}
HOOK_PORT=$((PORT + 1))
BASE=http://127.0.0.1:$PORT
mkdir -p "$WORK"
if [ -z "$SB" ]; then
  (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release -p switchboard -p switchboard-bench-gen >&2)
  SB=$TARGET/release/switchboard
  GEN=$TARGET/release/bench-gen
fi
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {'d': d}))" "$@"; }
SERVER_PID=
RECV_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$RECV_PID" ] && kill "$RECV_PID" 2>/dev/null || true
}
trap cleanup EXIT

echo "== generating $AGENTS agents" >&2
rm -f "$WORK"/gen.db*
"$GEN" --database-url "$WORK/gen.db" --agents "$AGENTS" > "$WORK/gen.json" 2> "$WORK/gen.log"
key=$(json "$WORK/gen.json" "d['tenants'][0]['apiKey']")
common=(AGENT_FIRST="$(json "$WORK/gen.json" "d['tenants'][0]['agents']['first']")"
  AGENT_COUNT="$(json "$WORK/gen.json" "d['tenants'][0]['agents']['count']")"
  SKILL_FIRST="$(json "$WORK/gen.json" "d['tenants'][0]['skills']['first']")"
  SKILL_COUNT="$(json "$WORK/gen.json" "d['tenants'][0]['skills']['count']")")

# wrk_rate SCENARIO VAR=value…: requests per second of one bounded run (non-2xx counted apart).
wrk_rate() {
  local scenario=$1; shift
  cat "$ROOT/bench/lua/common.lua" "$ROOT/bench/lua/$scenario.lua" > "$WORK/$scenario.lua"
  env "$@" WRK_OUT="$WORK/$scenario.json" wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 10s -s "$WORK/$scenario.lua" "$BASE" > /dev/null 2>&1 || true
  python3 -c "import json; r=json.load(open('$WORK/$scenario.json')); print(round(r['requests']/(r['duration_us']/1e6)), r['status'], r['p99'])"
}

# run LABEL BINARY [serve flags…]: one fresh copy of the data, the two write scenarios.
run() {
  local label=$1 bin=$2; shift 2
  cp "$WORK/gen.db" "$WORK/run.db"
  rm -f "$WORK/run.db-wal" "$WORK/run.db-shm"
  if [ "$label" = base ] && [ "${BASE_SAME_SCHEMA:-0}" != 1 ]; then
    # The build before issue 28 does not know migration 0011: take it out.
    python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript('DROP TABLE webhook_deliveries; DROP TABLE webhooks; DROP TABLE events; DROP TABLE event_seqs; DELETE FROM _sqlx_migrations WHERE version >= 11;'); c.commit()" "$WORK/run.db"
  fi
  "$bin" serve --listen "127.0.0.1:$PORT" --database-url "$WORK/run.db" --rate-limit-override 1000000000 \
    --log-level info,switchboard::access=warn "$@" 2> "$WORK/server-$label.log" &
  SERVER_PID=$!
  until curl -fs -o /dev/null "$BASE/healthz"; do kill -0 "$SERVER_PID" || exit 1; sleep 0.1; done
  until grep -Eq "agent cache (preloaded|: )" "$WORK/server-$label.log"; do kill -0 "$SERVER_PID" || exit 1; sleep 0.2; done
  local sid
  sid=$(curl -fs -H "LV-Access: $key" -H 'Content-Type: application/json' \
    -d "{\"clientName\":\"$(json "$WORK/gen.json" "d['tenants'][0]['name']")\",\"userName\":\"admin\",\"password\":\"$(json "$WORK/gen.json" "d['tenants'][0]['password']")\"}" \
    "$BASE/session/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sessionId"])')
  if [ "${HOOK:-0}" = 1 ]; then
    curl -fs -o /dev/null -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
      -d "{\"url\":\"http://127.0.0.1:$HOOK_PORT/hook\"}" "$BASE/api/v1/webhooks"
  fi
  DURATION=3 wrk_rate lv_update "${common[@]}" LV_SESSION="$sid" > /dev/null
  echo "$label lv_update $(wrk_rate lv_update "${common[@]}" LV_SESSION="$sid")"
  echo "$label lv_skill $(wrk_rate lv_skill "${common[@]}" LV_SESSION="$sid")"
  [ "${KEEP:-0}" = 1 ] && return
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
}

echo "# label scenario req/s non-2xx p99_us"
for _ in $(seq "$ROUNDS"); do
  [ -n "$BASE_BIN" ] && run base "$BASE_BIN"
  run outbox "$SB" --webhook-workers 0
done
python3 "$ROOT/bench/receiver.py" "$HOOK_PORT" & RECV_PID=$!
count() { curl -fs "http://127.0.0.1:$HOOK_PORT/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])'; }
t0=$(date +%s.%N)
HOOK=1 KEEP=1 run webhook "$SB" --webhook-allow-networks 127.0.0.0/8
t1=$(date +%s.%N)
c1=$(count)
# The writes are over: the deliveries go on, alone, for 20 s.
sleep 20
c2=$(count)
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
python3 -c "
t0, t1, c1, c2 = $t0, $t1, $c1, $c2
print('webhook delivered', c1, 'events while the writes ran:', round(c1 / (t1 - t0)), 'deliveries/s (one subscription, in order)')
print('webhook delivered', c2 - c1, 'events in the 20 s after:', round((c2 - c1) / 20), 'deliveries/s (one subscription, in order, no writes)')"
