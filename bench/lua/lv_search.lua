-- LiveVox Find Matching Agents by lastName substring (count=100, offset=0);
-- terms: $TERMS, comma-separated.
local h = { ["LV-Session"] = env("LV_SESSION", ""), ["Content-Type"] = "application/json" }
local terms = {}
for t in string.gmatch(env("TERMS", "son"), "[^,]+") do terms[#terms + 1] = t end
request = function()
  local t = terms[math.random(1, #terms)]
  return wrk.format("POST", "/configuration/agents/search?count=100&offset=0", h, '{"lastName":"' .. t .. '"}')
end
