-- The bare ceiling (bench/ceiling: axum, no middleware): $BARE_PATH, "/"
-- (hello world) or "/agent" (a fixed agent as JSON).
local path = env("BARE_PATH", "/")
request = function() return wrk.format("GET", path) end
