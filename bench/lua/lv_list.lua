-- LiveVox List Agents, count=100 at a random offset over the whole list (deep paging).
local h = { ["LV-Session"] = env("LV_SESSION", "") }
request = function()
  return wrk.format("GET", "/configuration/agents?count=100&offset=" .. math.random(0, COUNT - 100), h)
end
