#!/usr/bin/env python3
"""Renders bench/run.sh's results (one JSON object a line) as a Markdown table.

Usage: report.py RESULTS.jsonl META.json > OUT.md
"""
import json
import sys

FLOOR_READ_RATIO = 0.40
FLOOR_READ_P99_MS = 5.0
FLOOR_SEARCH_P99_MS = 20.0
FLOOR_WRITES_RPS = 3000
FLOOR_IDLE_RSS_MB = 150
FLOOR_START_S = 1.0

NAMES = {
    "hello": "ceiling: GET /healthz (no store)",
    "native_get": "native GET /api/v1/agents/{id}",
    "lv_read": "LiveVox Read Agent",
    "lv_list": "LiveVox List Agents count=100, random offset",
    "lv_search": "LiveVox search lastName substring, count=100",
    "lv_search_16": "LiveVox search lastName substring, count=100, 16 connections",
    "lv_update": "LiveVox Update Agent (no password)",
    "lv_skill": "LiveVox skill assign/remove",
    "deepcall": "DeepCall group mapping, 10 groups",
    "lv_create": "LiveVox Create Agent with password (argon2id)",
    "native_get_16": "native GET /api/v1/agents/{id}, 16 connections",
    "lv_search_login": "LiveVox search loginId piece (100 match), count=100",
    "lv_search_login_16": "LiveVox search loginId piece, count=100, 16 connections",
    "lv_search_phone": "LiveVox search phone (whole number)",
    "lv_search_phone_16": "LiveVox search phone, 16 connections",
    "native_q_name": "native ?q=<5-letter piece of a last name>&limit=100",
    "native_q_name_16": "native ?q=<last-name piece>&limit=100, 16 connections",
    "native_q_phone": "native ?q=<8 digits of a phone>&limit=100",
    "native_q_phone_16": "native ?q=<8 phone digits>&limit=100, 16 connections",
    "console_search": "console search as you type (q=<last-name piece>, loginId order, 50 rows)",
    "console_search_16": "console search, 16 connections",
    "bare_hello": "bare ceiling: axum hello world (bench/ceiling, no middleware)",
    "bare_agent": "bare ceiling: axum, a fixed agent as JSON",
    "json_server_get": "json-server GET /agents/{id}",
    "json_server_search": "json-server ?lastName_like=…&_limit=100",
}
READS = ("native_get", "lv_read")
# Issue 26: every search surface at 1M agents.
SEARCHES = ("lv_search", "lv_search_login", "lv_search_phone", "native_q_name", "native_q_phone", "console_search")
FLOOR_SEARCH_RPS = 4000
FLOOR_SEARCH_P99_64_MS = 25.0
FLOOR_SEARCH_P99_16_MS = 10.0
FLOOR_BARE_READ_RATIO = 0.6
FLOOR_BARE_READ_P99_MS = 3.0
FLOOR_ANON_ALL_MB = 250
WRITES = ("lv_update", "lv_skill", "deepcall")


def ms(us):
    return us / 1000.0


def errors(r):
    return r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]


def anon(r):
    return f"{r['anon_kb'] / 1024:.0f}" if "anon_kb" in r else "–"


def rps(r):
    return r["requests"] / (r["duration_us"] / 1e6)


def cpu(r):
    """Server CPU (user + system) a request, in µs; runs before it was recorded show –."""
    if "server_cpu_us" not in r or not r["requests"]:
        return "–"
    return f"{r['server_cpu_us'] / r['requests']:.1f}"


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    meta = json.load(open(sys.argv[2]))
    runs = [r for r in rows if r.get("kind") == "wrk"]
    starts = [r for r in rows if r.get("kind") == "start"]
    ceilings = {(r["backend"], r["agents"]): r for r in runs if r["scenario"] == "hello"}
    bares = {(r["backend"], r["agents"]): r for r in runs if r["scenario"] == "bare_hello"}
    out = []
    w = out.append
    w(f"# Switchboard benchmark — {meta['date']}")
    w("")
    w(f"- commit `{meta['commit']}`; {meta['cores']} cores ({meta['cpu']}), {meta['mem_gb']} GB RAM, {meta['kernel']}")
    w(f"- driver: {meta['wrk']}, 1 thread, {meta['conns']} connections, {meta['duration']} s per scenario, loopback; "
      f"{meta.get('pinned', 'server and driver share the same cores')}")
    w(f"- peer: json-server {meta['json_server']} on Node {meta['node']}")
    w("- ×bare: the figure divided by the bare ceiling (bench/ceiling: axum hello world, no middleware, same pinning, "
      "measured just before the server at each size); ×ceil: divided by the project's own GET /healthz (the whole middleware stack)")
    w("- ×ceil: the figure divided by the ceiling (GET /healthz) measured on the same server instance in the same run; "
      "latencies in ms; RSS: VmRSS after the scenario (VmHWM) / RssAnon — on SQLite VmRSS includes the memory-mapped "
      "database file once per connection that touched a page (page cache, not heap); RssAnon is the process's own memory")
    w("- server CPU µs/req: the server process's user + system CPU over the run (/proc/PID/stat) divided by the requests "
      "answered; with the server's core near 100 % it is the cost of a request, steadier than req/s between builds "
      "(the bare ceiling's row is the bare server's)")
    w("- agent cache (`docs/design.md`): the load runs have the whole directory in it (the default of 100,000 agents up to "
      "100k; `--agent-cache-entries 1000000` at 1M), preloaded before measuring, so reads by id come from memory; "
      "last-name searches are answered by the name index (trigram bitmaps, rows from the cache); lists and writes go "
      "to the database; the start and idle RSS rows are with the defaults, idle meaning once the default cache is "
      "preloaded and the name index built")
    w("")
    for backend in [b for b in ("sqlite", "postgres") if any(r["backend"] == b for r in runs)]:
        w(f"## {backend}")
        w("")
        w("| scenario | agents | req/s | ×bare | ×ceil | server CPU µs/req | p50 | p99 | p99.9 | p99 ×ceil | errors | RSS MB (peak) / anon |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in [r for r in runs if r["backend"] == backend]:
            c = ceilings.get((backend, r["agents"]))
            b = bares.get((backend, r["agents"]))
            ratio = f"{rps(r) / rps(c):.2f}" if c else "–"
            bare = f"{rps(r) / rps(b):.2f}" if b else "–"
            p99r = f"{r['p99'] / c['p99']:.1f}" if c and c["p99"] else "–"
            w(f"| {NAMES.get(r['scenario'], r['scenario'])} | {r['agents']:,} | {rps(r):,.0f} | {bare} | {ratio} | {cpu(r)} | {ms(r['p50']):.2f} | "
              f"{ms(r['p99']):.2f} | {ms(r['p999']):.2f} | {p99r} | {errors(r)} | {r['rss_kb'] / 1024:.0f} ({r['hwm_kb'] / 1024:.0f}) / {anon(r)} |")
        creates = [r for r in runs if r["backend"] == backend and r["scenario"] == "lv_create"]
        for r in creates:
            w("")
            w(f"argon2id (m=19456 KiB, t=2, p=1): {rps(r):,.1f} creates/s on {meta['cores']} cores = "
              f"**{rps(r) / meta['cores']:,.1f} hashes/s/core** (one hash per create; the driver shares the cores)")
        w("")
        w("| start (fork → first /healthz answer) | agents | agent cache | seconds | idle RSS MB / anon | agent cache preloaded, search index built after (s) |")
        w("|---|---:|---|---:|---:|---:|")
        for s in [s for s in starts if s["backend"] == backend]:
            pre = f"{s['preload_s']:.1f}" if s.get("preload_s") else "–"
            cache = "whole directory" if s.get("cache") == "all" else "default (100,000)"
            w(f"| {backend} | {s['agents']:,} | {cache} | {s['start_s']:.3f} | {s['rss_kb'] / 1024:.0f} / {anon(s)} | {pre} |")
        w("")
    peers = [r for r in runs if r["backend"] == "json-server"]
    if peers:
        w("## peer: json-server")
        w("")
        w("| scenario | agents | req/s | p50 | p99 | p99.9 | errors | RSS MB | Switchboard sqlite ÷ peer (req/s) | Switchboard postgres ÷ peer |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        twin = {"json_server_get": "lv_read", "json_server_search": "lv_search"}
        for r in peers:
            cells = []
            for b in ("sqlite", "postgres"):
                m = [x for x in runs if x["backend"] == b and x["scenario"] == twin[r["scenario"]] and x["agents"] == r["agents"]]
                cells.append(f"{rps(m[0]) / rps(r):,.1f}×" if m and rps(r) > 0 else "–")
            w(f"| {NAMES[r['scenario']]} | {r['agents']:,} | {rps(r):,.0f} | {ms(r['p50']):.2f} | {ms(r['p99']):.2f} | "
              f"{ms(r['p999']):.2f} | {errors(r)} | {r['rss_kb'] / 1024:.0f} ({r['hwm_kb'] / 1024:.0f}) | {cells[0]} | {cells[1]} |")
        w("")
    # Floors of issues 8 and 26.
    w("## floors (issues 8 and 26)")
    w("")
    w("| floor | backend | agents | measured | met |")
    w("|---|---|---:|---|---|")
    for r in runs:
        b, n, sc = r["backend"], r["agents"], r["scenario"]
        c = ceilings.get((b, n))
        if sc in READS and c:
            ok = rps(r) / rps(c) >= FLOOR_READ_RATIO and ms(r["p99"]) < FLOOR_READ_P99_MS and errors(r) == 0
            w(f"| {sc}: ≥ 40% of ceiling, p99 < 5 ms | {b} | {n:,} | {rps(r) / rps(c):.0%}, p99 {ms(r['p99']):.2f} ms | {'yes' if ok else '**no**'} |")
        if sc in ("lv_search", "lv_search_16") and n >= 1_000_000:
            ok = ms(r["p99"]) < FLOOR_SEARCH_P99_MS and errors(r) == 0
            w(f"| search at 1M: p99 < 20 ms ({r['conns']} connections) | {b} | {n:,} | p99 {ms(r['p99']):.2f} ms, {rps(r):,.0f}/s | {'yes' if ok else '**no**'} |")
        base = sc.removesuffix("_16")
        if base in SEARCHES and n >= 1_000_000:
            limit = FLOOR_SEARCH_P99_16_MS if sc.endswith("_16") else FLOOR_SEARCH_P99_64_MS
            ok = rps(r) >= FLOOR_SEARCH_RPS and ms(r["p99"]) < limit and errors(r) == 0
            w(f"| {sc}: ≥ 4,000/s, p99 < {limit:.0f} ms ({r['conns']} connections, issue 26) | {b} | {n:,} | {rps(r):,.0f}/s, p99 {ms(r['p99']):.2f} ms | {'yes' if ok else '**no**'} |")
        bare = bares.get((b, n))
        if sc in ("native_get", "lv_read", "native_get_16") and bare and n >= 1_000_000:
            ok = rps(r) / rps(bare) >= FLOOR_BARE_READ_RATIO and ms(r["p99"]) < FLOOR_BARE_READ_P99_MS and errors(r) == 0
            w(f"| {sc}: ≥ 0.6× bare ceiling, p99 < 3 ms (issue 26) | {b} | {n:,} | {rps(r) / rps(bare):.2f}×, p99 {ms(r['p99']):.2f} ms | {'yes' if ok else '**no**'} |")
        if sc in WRITES and b == "sqlite":
            ok = rps(r) >= FLOOR_WRITES_RPS and errors(r) == 0
            w(f"| {sc}: ≥ 3,000/s, no error (SQLite) | {b} | {n:,} | {rps(r):,.0f}/s, {errors(r)} errors | {'yes' if ok else '**no**'} |")
    for s in starts:
        if s["agents"] >= 1_000_000 and s.get("cache") == "all" and "anon_kb" in s:
            ok = s["anon_kb"] / 1024 < FLOOR_ANON_ALL_MB
            w(f"| anon RSS < 250 MB at 1M, whole directory cached (issue 26) | {s['backend']} | {s['agents']:,} | {s['anon_kb'] / 1024:.0f} MB | {'yes' if ok else '**no**'} |")
            continue
        if s["agents"] >= 1_000_000 and "anon_kb" in s:
            ok = s["anon_kb"] / 1024 < FLOOR_IDLE_RSS_MB
            w(f"| idle anon RSS < 150 MB at 1M, defaults (issue 26) | {s['backend']} | {s['agents']:,} | {s['anon_kb'] / 1024:.0f} MB | {'yes' if ok else '**no**'} |")
        if s["agents"] >= 1_000_000:
            ok = s["rss_kb"] / 1024 < FLOOR_IDLE_RSS_MB
            w(f"| idle RSS < 150 MB at 1M | {s['backend']} | {s['agents']:,} | {s['rss_kb'] / 1024:.0f} MB | {'yes' if ok else '**no**'} |")
            ok = s["start_s"] < FLOOR_START_S
            w(f"| start < 1 s at 1M | {s['backend']} | {s['agents']:,} | {s['start_s']:.3f} s | {'yes' if ok else '**no**'} |")
    w("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
