-- wrk script for bench/soak.sh: a fixed, interleaved mix of the server's routes, cycled in
-- order by every connection. Arguments (after `--`):
--   1: the space for neighbours and analogies
--   2: the spaces for compare, comma-separated (two of them)
--   3: concept names of space 1, separated by '|' (URL-encoded here, JSON-escaped for POSTs)
--   4: the static file to fetch besides / (e.g. /js/app.js)
-- One cycle of 20 requests: 8 GET /api/neighbors (8 concepts, k 10), 4 POST /api/analogy
-- (a + b - c, k 10), 2 GET /api/compare (2 spaces), 3 GET /, 3 GET <static>.
-- Every request is formatted once in init(); request() only picks the next.

local requests = {}

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local function jsonstr(s)
  return '"' .. s:gsub('[\\"]', function(c) return "\\" .. c end) .. '"'
end

function init(args)
  local space, compare, names, static = args[1], args[2], args[3], args[4]
  local n = {}
  for name in string.gmatch(names, "[^|]+") do n[#n + 1] = name end
  assert(#n >= 3, "soak.lua: need at least 3 concept names")
  local function name(i) return n[(i - 1) % #n + 1] end

  local nb, an = {}, {}
  for i = 1, 8 do
    nb[#nb + 1] = wrk.format("GET", "/api/neighbors?space=" .. urlencode(space) .. "&k=10&concept=" .. urlencode(name(i * 7)))
  end
  for i = 1, 4 do
    local body = '{"space": ' .. jsonstr(space) .. ', "positive": [' .. jsonstr(name(i * 5)) .. ', ' ..
                 jsonstr(name(i * 5 + 1)) .. '], "negative": [' .. jsonstr(name(i * 5 + 2)) .. '], "k": 10}'
    an[#an + 1] = wrk.format("POST", "/api/analogy", { ["Content-Type"] = "application/json" }, body)
  end
  local cmp = wrk.format("GET", "/api/compare?spaces=" .. compare .. "&per_concept=5")
  local index = wrk.format("GET", "/")
  local file = wrk.format("GET", static)

  -- Interleaved so that no two compares (the costly request) are adjacent.
  local order = { nb[1], an[1], index, nb[2], file, cmp, nb[3], an[2], index, nb[4],
                  file, nb[5], an[3], cmp, nb[6], index, nb[7], an[4], file, nb[8] }
  for _, r in ipairs(order) do requests[#requests + 1] = r end
end

local i = 0
function request()
  i = i + 1
  return requests[(i - 1) % #requests + 1]
end
