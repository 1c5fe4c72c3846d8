-- wrk script: POST pre-signed bodies, each thread its own share, so no two requests
-- carry the same body (a repeat would be answered by the dedupe key, cheaply).
-- Reads BENCH_REQUESTS: one "signature<TAB>body" per line; starts BENCH_OFFSET lines in.
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  requests = {}
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local signature, body = line:match("^([^\t]+)\t(.*)$")
    table.insert(requests, {signature, body})
  end
  step = tonumber(os.getenv("BENCH_THREADS"))
  index = id - step + tonumber(os.getenv("BENCH_OFFSET") or "0")
end

function request()
  index = index + step
  local r = requests[(index - 1) % #requests + 1]
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-Hub-Signature-256"] = r[1],
  }, r[2])
end
