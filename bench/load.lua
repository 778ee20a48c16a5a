-- wrk script for the API benchmark: replays a file of requests, one per line,
--   METHOD <TAB> PATH <TAB> TOKEN-or-"-" <TAB> BODY-or-"-"
-- each thread starting at its own offset, and prints a JSON summary when done.
--   wrk -t2 -c16 -d10s -s bench/load.lua http://127.0.0.1:5101 -- requests.tsv
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

local lines = {}
local position = 1

function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    local method, path, token, body = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t(.*)$")
    local headers = {}
    if token ~= "-" then headers["Authorization"] = "Bearer " .. token end
    if body ~= "-" then headers["Content-Type"] = "application/json" else body = nil end
    table.insert(lines, wrk.format(method, path, headers, body))
  end
  file:close()
  -- threads interleave over the file so they never send the same request at once
  local share = math.floor(#lines / 8)
  position = (id * share) % #lines + 1
end

function request()
  local r = lines[position]
  position = position % #lines + 1
  return r
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
