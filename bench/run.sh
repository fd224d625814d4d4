#!/usr/bin/env bash
# Switchboard benchmark: builds release, bulk-loads synthetic data, starts the
# server, drives every scenario of issue 8 with wrk on loopback and writes
# bench/results/<date>-<commit>.md. See bench/README.md.
#
#   bench/run.sh [sqlite|postgres|all] [--agents 1000,100000,1000000] [--duration 10] [--conns 64] [--no-peer]
#                [--only scenario,scenario…] [--no-pin]
#
# The server (and the bare ceiling, and the peer) run pinned to one core and
# wrk to another (taskset; BENCH_SERVER_CPU, default 0, BENCH_DRIVER_CPU,
# default 1) where the machine has two cores or more; --no-pin shares them.
#
# Environment: CARGO_TARGET_DIR (default ./target), SWITCHBOARD_BENCH_PG_URL
# (default postgres://postgres@127.0.0.1:5432/test; a schema of its own, dropped
# at the end), BENCH_WORK (scratch directory, default /tmp/switchboard-bench).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BACKENDS=all
AGENTS=1000,100000,1000000
DURATION=10
CONNS=64
PEER=1
ONLY=
PIN=1
while [ $# -gt 0 ]; do
  case "$1" in
    sqlite|postgres|all) BACKENDS=$1 ;;
    --agents) AGENTS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --conns) CONNS=$2; shift ;;
    --no-peer) PEER=0 ;;
    --only) ONLY=,$2,; shift ;;
    --no-pin) PIN=0 ;;
    *) echo "usage: $0 [sqlite|postgres|all] [--agents 1000,100000,1000000] [--duration 10] [--conns 64] [--no-peer] [--only a,b] [--no-pin]" >&2; exit 2 ;;
  esac
  shift
done
[ "$BACKENDS" = all ] && BACKENDS="sqlite postgres"

TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
# Plain TCP, as the results so far were measured: the binary speaks TLS
# since issue 25, and sslmode's default (prefer) would use it on a server
# with ssl = on (Debian's default).
PG_URL=${SWITCHBOARD_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
WORK=${BENCH_WORK:-/tmp/switchboard-bench}
PORT=${BENCH_PORT:-18471}
PEER_PORT=$((PORT + 1))
BASE=http://127.0.0.1:$PORT
TOOLS=$ROOT/bench/.tools
JSON_SERVER_VERSION=0.17.4
RESULTS=$WORK/results.jsonl
mkdir -p "$WORK" "$ROOT/bench/results"
: > "$RESULTS"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }

# Pinning: the server on one core, the driver on another.
PIN_SERVER=()
PIN_DRIVER=()
if [ "$PIN" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN_SERVER=(taskset -c "${BENCH_SERVER_CPU:-0}")
  PIN_DRIVER=(taskset -c "${BENCH_DRIVER_CPU:-1}")
fi
PINNED=$([ ${#PIN_SERVER[@]} -gt 0 ] && echo "server on CPU ${BENCH_SERVER_CPU:-0}, wrk on CPU ${BENCH_DRIVER_CPU:-1}" || echo "not pinned")
BARE_PORT=$((PORT + 2))
BARE_PID=

# wanted SCENARIO: whether --only (if given) names it.
wanted() { [ -z "$ONLY" ] || [[ "$ONLY" == *",$1,"* ]]; }

SERVER_PID=
PEER_PID=
SCHEMAS=()
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  [ -n "$PEER_PID" ] && kill "$PEER_PID" 2>/dev/null && wait "$PEER_PID" 2>/dev/null || true
  [ -n "$BARE_PID" ] && kill "$BARE_PID" 2>/dev/null && wait "$BARE_PID" 2>/dev/null || true
  for s in "${SCHEMAS[@]}"; do psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

echo "== building release" >&2
(cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release -p switchboard -p switchboard-bench-gen >&2)
SB=$TARGET/release/switchboard
GEN=$TARGET/release/bench-gen
# The bare ceiling: a project of its own (bench/ceiling), same axum.
echo "== building the bare ceiling (bench/ceiling)" >&2
(cd "$ROOT/bench/ceiling" && CARGO_TARGET_DIR=$TARGET cargo build --release >&2)
BARE=$TARGET/release/bench-ceiling

json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {'d': d}))" "$@"; }
now_ns() { date +%s%N; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
# Anonymous memory only: SQLite's memory-mapped database file counts in VmRSS
# once per connection that touched a page, though it is page cache.
anon_kb() { awk '/^RssAnon/ {print $2}' "/proc/$1/status"; }
# CPU time (user + system) the process has used, in clock ticks: its change
# over a run, divided by the requests, is the server's CPU a request, a
# steadier figure than req/s for comparing builds (no share of the driver's
# core or of the kernel's wake-ups of it).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# run_wrk BACKEND AGENTS SCENARIO LUA URL PID [VAR=value …]: one bounded wrk run.
run_wrk() {
  local backend=$1 agents=$2 scenario=$3 lua=$4 url=$5 pid=$6
  shift 6
  local script=$WORK/$scenario.lua out=$WORK/$scenario.out
  wanted "$scenario" || return 0
  cat "$ROOT/bench/lua/common.lua" "$ROOT/bench/lua/$lua" > "$script"
  echo "-- $backend $agents $scenario" >&2
  local ticks
  ticks=$(cpu_ticks "$pid")
  env "$@" WRK_OUT="$out" "${PIN_DRIVER[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 10s -s "$script" "$url" > "$WORK/$scenario.wrk" 2>&1 || true
  ticks=$(( $(cpu_ticks "$pid") - ticks ))
  if [ ! -s "$out" ]; then cat "$WORK/$scenario.wrk" >&2; echo "wrk produced no figures" >&2; return 1; fi
  python3 - "$out" "$backend" "$agents" "$scenario" "$(rss_kb "$pid")" "$(hwm_kb "$pid")" "$CONNS" "$(anon_kb "$pid")" "$((ticks * TICK_US))" >> "$RESULTS" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
r.update(kind="wrk", backend=sys.argv[2], agents=int(sys.argv[3]), scenario=sys.argv[4], rss_kb=int(sys.argv[5]), hwm_kb=int(sys.argv[6]), conns=int(sys.argv[7]), anon_kb=int(sys.argv[8]), server_cpu_us=int(sys.argv[9]))
print(json.dumps(r))
EOF
  tail -n1 "$RESULTS" >&2
}

# warm LUA [VAR=value …]: 3 s of load, not recorded: the first touches of
# a freshly mapped database file (page faults) and cold page caches are not
# what is measured.
warm() {
  local lua=$1
  shift
  cat "$ROOT/bench/lua/common.lua" "$ROOT/bench/lua/$lua" > "$WORK/warm.lua"
  env "$@" WRK_OUT=/dev/null "${PIN_DRIVER[@]}" wrk -t1 -c"$CONNS" -d3s --timeout 10s -s "$WORK/warm.lua" "$BASE" > /dev/null 2>&1 || true
}

# start_server BACKEND AGENTS DB-ARGS…: starts, times the start, records idle
# RSS (RECORD=0: does not record). It first waits until the agent cache is
# preloaded (the server answers meanwhile; idle means after it).
start_server() {
  local backend=$1 agents=$2
  shift 2
  local t0 t1 preload=0
  if curl -s -o /dev/null "$BASE/healthz"; then echo "port $PORT is taken: set BENCH_PORT" >&2; exit 1; fi
  t0=$(now_ns)
  # Without the per-request lines (switchboard::access): millions of them
  # would fill the disk and measure the log writer.
  "${PIN_SERVER[@]}" "$SB" serve --listen "127.0.0.1:$PORT" --rate-limit-override 1000000000 --log-level info,switchboard::access=warn "$@" 2> "$WORK/server-$backend-$agents.log" &
  SERVER_PID=$!
  until curl -fs -o /dev/null "$BASE/healthz"; do
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server-$backend-$agents.log" >&2; exit 1; }
  done
  t1=$(now_ns)
  until grep -Eq "agent cache (preloaded|: preload stopped|: not preloaded)" "$WORK/server-$backend-$agents.log" \
    && grep -Eq "search index (built|: )" "$WORK/server-$backend-$agents.log"; do
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server-$backend-$agents.log" >&2; exit 1; }
    sleep 0.5
  done
  preload=$(python3 -c "print(($(now_ns) - $t1) / 1e9)")
  echo "   agent cache: $(grep -o "agent cache.*" "$WORK/server-$backend-$agents.log" | tail -n1)" >&2
  echo "   search index: $(grep -o "search index.*" "$WORK/server-$backend-$agents.log" | tail -n1)" >&2
  sleep 1
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server-$backend-$agents.log" >&2; exit 1; }
  [ "${RECORD:-1}" = 0 ] && return
  printf '{"kind":"start","backend":"%s","agents":%d,"start_s":%s,"rss_kb":%d,"anon_kb":%d,"preload_s":%s,"cache":"%s"}\n' "$backend" "$agents" \
    "$(python3 -c "print(($t1 - $t0) / 1e9)")" "$(rss_kb "$SERVER_PID")" "$(anon_kb "$SERVER_PID")" "$preload" "${CACHE_NOTE:-default}" >> "$RESULTS"
  tail -n1 "$RESULTS" >&2
}

# bench_bare BACKEND AGENTS: the bare ceiling (bench/ceiling), pinned as the
# server is, measured next to each server run: hello world and a fixed agent.
bench_bare() {
  local backend=$1 agents=$2
  wanted bare_hello || wanted bare_agent || return 0
  "${PIN_SERVER[@]}" "$BARE" "127.0.0.1:$BARE_PORT" &
  BARE_PID=$!
  until curl -fs -o /dev/null "http://127.0.0.1:$BARE_PORT/"; do
    kill -0 "$BARE_PID" 2>/dev/null || { echo "bench-ceiling did not start" >&2; exit 1; }
    sleep 0.1
  done
  run_wrk "$backend" "$agents" bare_hello bare.lua "http://127.0.0.1:$BARE_PORT" "$BARE_PID" BARE_PATH=/
  run_wrk "$backend" "$agents" bare_agent bare.lua "http://127.0.0.1:$BARE_PORT" "$BARE_PID" BARE_PATH=/agent
  kill "$BARE_PID"; wait "$BARE_PID" 2>/dev/null || true
  BARE_PID=
}

# console_cookie REPORT: signs in to the console as the tenant's admin; the
# session cookie ("name=value").
console_cookie() {
  local report=$1 jar=$WORK/console.jar token
  rm -f "$jar"
  curl -fs -c "$jar" -o /dev/null "$BASE/login"
  token=$(awk '$6 == "sb_login_csrf" {print $7}' "$jar")
  curl -fs -b "$jar" -c "$jar" -o /dev/null --data-urlencode "_csrf=$token" \
    --data-urlencode "tenant=$(json "$report" "d['tenants'][0]['name']")" --data-urlencode "username=admin" \
    --data-urlencode "password=$(json "$report" "d['tenants'][0]['password']")" "$BASE/login"
  awk '$6 == "sb_console" {print $6 "=" $7}' "$jar"
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# Search terms: a 5-letter piece of each 10th last name (about 1 agent in 1,000 each, a few more).
terms() { json "$1" "','.join(n[1:6] for n in d['lastNames'][::10])"; }

bench_backend() {
  local backend=$1 n db_args report key user sid client first count
  for n in ${AGENTS//,/ }; do
    echo "== $backend, $n agents: generating" >&2
    report=$WORK/gen-$backend-$n.json
    if [ "$backend" = sqlite ]; then
      rm -f "$WORK/sb-$n.db" "$WORK/sb-$n.db-wal" "$WORK/sb-$n.db-shm"
      db_args=(--database-url "$WORK/sb-$n.db")
    else
      local schema=bench_$$_$n
      SCHEMAS+=("$schema")
      db_args=(--database-url "$PG_URL" --db-schema "$schema")
    fi
    "$GEN" "${db_args[@]}" --agents "$n" > "$report" 2> "$WORK/gen-$backend-$n.log"
    echo "   loaded in $(json "$report" "round(d['seconds'], 1)") s" >&2
    key=$(json "$report" "d['tenants'][0]['apiKey']")
    user=$(json "$report" "d['tenants'][0]['userId']")
    client=$(json "$report" "d['tenants'][0]['clientId']")
    first=$(json "$report" "d['tenants'][0]['agents']['first']")
    count=$(json "$report" "d['tenants'][0]['agents']['count']")
    bench_bare "$backend" "$n"
    start_server "$backend" "$n" "${db_args[@]}"
    if [ "$n" -gt 100000 ]; then
      # Start and idle RSS above are with the defaults (an agent cache of
      # 100,000); the load runs have the whole directory in the cache.
      stop_server
      # Recorded too: the anonymous RSS with the whole directory cached.
      CACHE_NOTE=all start_server "$backend" "$n" "${db_args[@]}" --agent-cache-entries "$n"
    fi
    sid=$(curl -fs -H "LV-Access: $key" -H 'Content-Type: application/json' \
      -d "{\"clientName\":\"$(json "$report" "d['tenants'][0]['name']")\",\"userName\":\"admin\",\"password\":\"$(json "$report" "d['tenants'][0]['password']")\"}" \
      "$BASE/session/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sessionId"])')
    local common=(AGENT_FIRST="$first" AGENT_COUNT="$count" API_KEY="$key" LV_SESSION="$sid" USER_ID="$user" CLIENT_ID="$client")
    run_wrk "$backend" "$n" hello hello.lua "$BASE" "$SERVER_PID"
    warm native_get.lua "${common[@]}"
    run_wrk "$backend" "$n" native_get native_get.lua "$BASE" "$SERVER_PID" "${common[@]}"
    run_wrk "$backend" "$n" lv_read lv_read.lua "$BASE" "$SERVER_PID" "${common[@]}"
    if [ "$n" -ge 100000 ]; then
      run_wrk "$backend" "$n" lv_search lv_search.lua "$BASE" "$SERVER_PID" "${common[@]}" TERMS="$(terms "$report")"
      # The same at 16 connections: at 64 a search's p99 is mostly queueing
      # (64 requests in flight at ~2,400/s on 2 shared cores).
      CONNS=16 run_wrk "$backend" "$n" lv_search_16 lv_search.lua "$BASE" "$SERVER_PID" "${common[@]}" TERMS="$(terms "$report")"
      # Every search surface and field (issue 26), at 64 and at 16 connections.
      local cookie
      cookie=$(console_cookie "$report")
      for c in 64 16; do
        local sfx=; [ "$c" = 16 ] && sfx=_16
        CONNS=$c run_wrk "$backend" "$n" "lv_search_login$sfx" lv_search.lua "$BASE" "$SERVER_PID" "${common[@]}" LV_FIELD=loginId
        CONNS=$c run_wrk "$backend" "$n" "lv_search_phone$sfx" lv_search.lua "$BASE" "$SERVER_PID" "${common[@]}" LV_FIELD=phone
        CONNS=$c run_wrk "$backend" "$n" "native_q_name$sfx" native_search.lua "$BASE" "$SERVER_PID" "${common[@]}" TERMS="$(terms "$report")" SEARCH=lastname
        CONNS=$c run_wrk "$backend" "$n" "native_q_phone$sfx" native_search.lua "$BASE" "$SERVER_PID" "${common[@]}" SEARCH=phone
        CONNS=$c run_wrk "$backend" "$n" "console_search$sfx" console_search.lua "$BASE" "$SERVER_PID" "${common[@]}" TERMS="$(terms "$report")" CONSOLE_COOKIE="$cookie"
      done
      CONNS=16 run_wrk "$backend" "$n" native_get_16 native_get.lua "$BASE" "$SERVER_PID" "${common[@]}"
    fi
    if [ "$n" = "${AGENTS##*,}" ]; then
      # The largest size: paging, then the writes (they change the data).
      [ "$n" -ge 1000 ] && run_wrk "$backend" "$n" lv_list lv_list.lua "$BASE" "$SERVER_PID" "${common[@]}"
      warm lv_update.lua "${common[@]}"
      run_wrk "$backend" "$n" lv_update lv_update.lua "$BASE" "$SERVER_PID" "${common[@]}"
      run_wrk "$backend" "$n" lv_skill lv_skill.lua "$BASE" "$SERVER_PID" "${common[@]}" \
        SKILL_FIRST="$(json "$report" "d['tenants'][0]['skills']['first']")" SKILL_COUNT="$(json "$report" "d['tenants'][0]['skills']['count']")"
      run_wrk "$backend" "$n" deepcall deepcall_groups.lua "$BASE" "$SERVER_PID" "${common[@]}" \
        GROUP_FIRST="$(json "$report" "d['tenants'][0]['groups']['first']")" GROUP_COUNT="$(json "$report" "d['tenants'][0]['groups']['count']")"
      run_wrk "$backend" "$n" lv_create lv_create.lua "$BASE" "$SERVER_PID" "${common[@]}" RUN_ID="$$$(date +%s)"
    fi
    stop_server
    if [ "$backend" = sqlite ] && [ "$n" != 100000 ]; then rm -f "$WORK/sb-$n.db"*; fi
    if [ "$backend" = postgres ]; then psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS bench_$$_$n CASCADE" >/dev/null; fi
  done
}

# The peer: json-server serving the same 100,000 agents (Read Agent's fields).
bench_peer() {
  local n=100000 db=$WORK/peer.db report=$WORK/gen-peer.json
  echo "== json-server $JSON_SERVER_VERSION, $n agents" >&2
  if [ ! -x "$TOOLS/json-server/node_modules/.bin/json-server" ]; then
    mkdir -p "$TOOLS/json-server"
    (cd "$TOOLS/json-server" && echo '{"private":true}' > package.json && npm install --no-audit --no-fund "json-server@$JSON_SERVER_VERSION" >&2)
  fi
  rm -f "$db"*
  "$GEN" --database-url "$db" --agents "$n" > "$report" 2>/dev/null
  python3 - "$db" "$WORK/peer.json" <<'EOF'
import json, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
skills, services = {}, {}
for a, s, p in c.execute("SELECT agent_id, skill_id, proficiency FROM agent_skills"):
    skills.setdefault(a, []).append({"id": s, "proficiency": p})
for a, s in c.execute("SELECT agent_id, service_id FROM agent_services"):
    services.setdefault(a, []).append({"id": s})
agents = []
for r in c.execute("SELECT id, login_id, first_name, last_name, phone, wrap_up_time, home_agent, active, locked FROM agents ORDER BY id"):
    agents.append({"id": r[0], "assignedService": services.get(r[0], []), "assignedAgentSkill": skills.get(r[0], []), "loginId": r[1],
                   "firstName": r[2], "lastName": r[3], "phone": r[4], "wrapUpTime": r[5], "homeAgent": bool(r[6]), "active": bool(r[7]), "locked": bool(r[8])})
json.dump({"agents": agents}, open(sys.argv[2], "w"))
EOF
  "${PIN_SERVER[@]}" node "$TOOLS/json-server/node_modules/.bin/json-server" --port "$PEER_PORT" --host 127.0.0.1 --quiet "$WORK/peer.json" > "$WORK/json-server.log" 2>&1 &
  PEER_PID=$!
  until curl -fs -o /dev/null "http://127.0.0.1:$PEER_PORT/agents/1"; do
    kill -0 "$PEER_PID" 2>/dev/null || { cat "$WORK/json-server.log" >&2; exit 1; }
    sleep 0.2
  done
  run_wrk json-server "$n" json_server_get json_server_get.lua "http://127.0.0.1:$PEER_PORT" "$PEER_PID" AGENT_FIRST=1 AGENT_COUNT="$n"
  run_wrk json-server "$n" json_server_search json_server_search.lua "http://127.0.0.1:$PEER_PORT" "$PEER_PID" TERMS="$(terms "$report")"
  kill "$PEER_PID"; wait "$PEER_PID" 2>/dev/null || true
  PEER_PID=
}

for b in $BACKENDS; do bench_backend "$b"; done
[ "$PEER" = 1 ] && bench_peer

COMMIT=$(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- . 2>/dev/null || echo "-dirty")
DATE=$(date -u +%Y-%m-%d)
python3 - "$WORK/meta.json" <<EOF
import json, os, platform, subprocess, sys
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
mem = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0].split(" [")[0]
node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
json.dump({"date": "$DATE", "commit": "$COMMIT", "pinned": "$PINNED", "cores": os.cpu_count(), "cpu": cpu, "mem_gb": mem, "kernel": platform.platform(),
           "wrk": wrk, "conns": $CONNS, "duration": $DURATION, "json_server": "$JSON_SERVER_VERSION", "node": node}, open(sys.argv[1], "w"))
EOF
OUT=$ROOT/bench/results/$DATE-$COMMIT.md
python3 "$ROOT/bench/report.py" "$RESULTS" "$WORK/meta.json" > "$OUT"
cp "$RESULTS" "${OUT%.md}.jsonl"
echo "== wrote $OUT" >&2
cat "$OUT"
