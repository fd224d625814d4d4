-- Native API: GET /api/v1/agents/{random id}, Bearer API key.
local h = { ["Authorization"] = "Bearer " .. env("API_KEY", "") }
request = function() return wrk.format("GET", "/api/v1/agents/" .. random_agent(), h) end
