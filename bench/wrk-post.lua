-- wrk's script for the service benches (bench/wrk.ts): POSTs the bodies of a file, one per line,
-- each once, in order; counts the answers by status. Arguments: path, authorization, body file.
-- Globals (not locals) where the main state reads them from each thread (thread:get).
local threads = {}
local bodies = {}
local count = 0
local next_body = 0
local headers = {}
local path = "/"
created = 0
other = 0
exhausted = 0

function setup (thread)
  table.insert(threads, thread)
end

function init (args)
  path = args[1]
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = args[2]
  for line in io.lines(args[3]) do
    count = count + 1
    bodies[count] = line
  end
end

function request ()
  next_body = next_body + 1
  if next_body > count then
    exhausted = 1
    next_body = 1
  end
  return wrk.format("POST", path, headers, bodies[next_body])
end

function response (status, headers, body)
  if status == 201 then created = created + 1 else other = other + 1 end
end

function done (summary, latency, requests)
  local c, o, x = 0, 0, 0
  for _, thread in ipairs(threads) do
    c = c + thread:get("created")
    o = o + thread:get("other")
    x = math.max(x, thread:get("exhausted"))
  end
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT {\"durationMicros\":%d,\"created\":%d,\"other\":%d,\"exhausted\":%d,\"errors\":%d,\"timeouts\":%d,\"p50Micros\":%d,\"p99Micros\":%d}\n",
    summary.duration, c, o, x, e.connect + e.read + e.write, e.timeout, latency:percentile(50), latency:percentile(99)))
end
