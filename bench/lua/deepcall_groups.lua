-- DeepCall updateAgentGroupMapping of 10 groups (userId + token in the body).
local GF, GC = envn("GROUP_FIRST", 1), envn("GROUP_COUNT", 10)
local prefix = string.format('{"userId":"%s","token":"%s","agentId":', env("USER_ID", "1"), env("API_KEY", ""))
request = function()
  counter = counter + 1
  local start = math.random(0, GC - 1)
  local g = {}
  for i = 0, 9 do
    g[#g + 1] = string.format('"%d":{"receive_call":"%s"}', GF + (start + i) % GC, (counter + i) % 3 == 0 and "N" or "Y")
  end
  local body = prefix .. random_agent() .. ',"group":{' .. table.concat(g, ",") .. '}}'
  return wrk.format("POST", "/api/v2/Agent/updateAgentGroupMapping", { ["Content-Type"] = "application/json" }, body)
end
