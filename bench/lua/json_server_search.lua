-- Peer: json-server lastName substring filter, first 100.
local terms = {}
for t in string.gmatch(env("TERMS", "son"), "[^,]+") do terms[#terms + 1] = t end
request = function()
  return wrk.format("GET", "/agents?lastName_like=" .. terms[math.random(1, #terms)] .. "&_limit=100")
end
