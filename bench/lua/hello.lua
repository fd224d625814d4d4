-- The ceiling: GET /healthz (same router and middleware, no store).
request = function() return wrk.format("GET", "/healthz") end
