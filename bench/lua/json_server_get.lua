-- Peer: json-server GET /agents/{random id}.
request = function() return wrk.format("GET", "/agents/" .. random_agent()) end
