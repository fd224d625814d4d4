-- Native search: GET /api/v1/agents?q=<text>&limit=100, Bearer API key.
-- $SEARCH: "lastname" (a 5-letter piece of a last name, from $TERMS) or
-- "phone" (8 digits of a random agent's phone: bench-gen's phones are
-- "555" and the agent's number in its tenant, padded to 7 digits).
local h = { ["Authorization"] = "Bearer " .. env("API_KEY", "") }
local terms = {}
for t in string.gmatch(env("TERMS", "son"), "[^,]+") do terms[#terms + 1] = t end
local mode = env("SEARCH", "lastname")
request = function()
  local q
  if mode == "phone" then
    q = string.sub("555" .. string.format("%07d", math.random(1, COUNT)), 3, 10)
  else
    q = terms[math.random(1, #terms)]
  end
  return wrk.format("GET", "/api/v1/agents?q=" .. q .. "&limit=100", h)
end
