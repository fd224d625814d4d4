-- Shared by every scenario (bench/run.sh prepends it): parameters from the
-- environment, one random stream per wrk thread, and a done() that writes
-- the figures as one JSON line to $WRK_OUT (latencies in microseconds).
function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end
function envn(name, default) return tonumber(env(name, default)) end

FIRST = envn("AGENT_FIRST", 1)
COUNT = envn("AGENT_COUNT", 1)
counter = 0

function init(args)
  math.randomseed(os.time() + envn("WRK_SEED", 0))
  if setup_thread then setup_thread() end
end

function random_agent() return FIRST + math.random(0, COUNT - 1) end

function done(summary, latency, requests)
  local e = summary.errors
  local f = io.open(env("WRK_OUT", "/dev/stdout"), "w")
  f:write(string.format(
    '{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
  f:close()
end
