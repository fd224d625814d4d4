-- LiveVox Update Agent without a password: new first name and wrap-up time.
local h = { ["LV-Session"] = env("LV_SESSION", ""), ["Content-Type"] = "application/json" }
request = function()
  counter = counter + 1
  local body = string.format('{"firstName":"Bench%d","wrapUpTime":%d}', counter, counter % 60)
  return wrk.format("PUT", "/configuration/agents/" .. random_agent(), h, body)
end
