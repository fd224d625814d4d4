-- LiveVox skill assignment: PUT /configuration/agents/{a}/skills/{s}?proficiency=n
-- and DELETE of the pair assigned LAG pairs earlier (long done by then), so
-- every request is a write that succeeds. Pairs spread over all agents.
local h = { ["LV-Session"] = env("LV_SESSION", "") }
local SF, SC, LAG = envn("SKILL_FIRST", 1), envn("SKILL_COUNT", 3), 1000
local function pair(j) return FIRST + (j * 7919) % COUNT, SF + j % SC end
request = function()
  local k = counter
  counter = counter + 1
  local j = math.floor(k / 2)
  if k % 2 == 0 then
    local a, s = pair(j)
    return wrk.format("PUT", string.format("/configuration/agents/%d/skills/%d?proficiency=%d", a, s, 1 + j % 5), h)
  elseif j >= LAG then
    local a, s = pair(j - LAG)
    return wrk.format("DELETE", string.format("/configuration/agents/%d/skills/%d", a, s), h)
  else
    -- warm-up: another assignment (upsert), never removed
    local a, s = pair(j + 500000)
    return wrk.format("PUT", string.format("/configuration/agents/%d/skills/%d?proficiency=3", a, s), h)
  end
end
