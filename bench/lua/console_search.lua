-- The console's search as you type: GET /agents?q=<5-letter piece of a last
-- name>&sort=loginId (the console's default order), as htmx sends it (the
-- results fragment only, 50 rows), with the session cookie $CONSOLE_COOKIE.
local h = { ["Cookie"] = env("CONSOLE_COOKIE", ""), ["HX-Request"] = "true", ["HX-Target"] = "agent-results" }
local terms = {}
for t in string.gmatch(env("TERMS", "son"), "[^,]+") do terms[#terms + 1] = t end
request = function()
  return wrk.format("GET", "/agents?q=" .. terms[math.random(1, #terms)] .. "&sort=loginId", h)
end
