-- LiveVox Find Matching Agents (count=100, offset=0), by $LV_FIELD:
-- "lastName" (a 5-letter piece from $TERMS, comma-separated), "loginId"
-- (6 characters of a random agent's "AG" + 7-digit loginId: 100 agents share
-- them) or "phone" (a random agent's whole number).
local h = { ["LV-Session"] = env("LV_SESSION", ""), ["Content-Type"] = "application/json" }
local terms = {}
for t in string.gmatch(env("TERMS", "son"), "[^,]+") do terms[#terms + 1] = t end
local field = env("LV_FIELD", "lastName")
request = function()
  local x = string.format("%07d", math.random(1, COUNT))
  local body
  if field == "loginId" then
    body = '{"loginId":"' .. string.sub("AG" .. x, 2, 7) .. '"}'
  elseif field == "phone" then
    body = '{"phone":"555' .. x .. '"}'
  else
    body = '{"lastName":"' .. terms[math.random(1, #terms)] .. '"}'
  end
  return wrk.format("POST", "/configuration/agents/search?count=100&offset=0", h, body)
end
