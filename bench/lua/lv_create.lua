-- LiveVox Create Agent with a password (argon2id per request); unique loginIds per run.
local h = { ["LV-Session"] = env("LV_SESSION", ""), ["Content-Type"] = "application/json" }
local run, client = env("RUN_ID", "R"), env("CLIENT_ID", "1")
request = function()
  counter = counter + 1
  local body = string.format(
    '{"clientId":%s,"loginId":"N%s_%d","firstName":"New","lastName":"Agent%d","password":"Bench%dpw","phone":"5551234567","wrapUpTime":30,"homeAgent":false,"active":true}',
    client, run, counter, counter, counter)
  return wrk.format("POST", "/configuration/agents", h, body)
end
