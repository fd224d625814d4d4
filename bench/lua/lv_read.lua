-- LiveVox Read Agent: GET /configuration/agents/{random id}, LV-Session.
local h = { ["LV-Session"] = env("LV_SESSION", "") }
request = function() return wrk.format("GET", "/configuration/agents/" .. random_agent(), h) end
