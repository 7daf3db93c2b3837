-- wrk: a small non-streaming chat request to sim/gpt-small with the key in BENCH_KEY.
-- Prints "RESULT_JSON {...}" (latencies in microseconds) for scripts/bench.py.
wrk.method = "POST"
wrk.body = '{"model":"sim/gpt-small","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Hello, how are you today?"}],"max_tokens":20,"temperature":0}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "none")

local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0 end
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end
function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + t:get("bad") end
  local e = summary.errors
  io.write(string.format(
    'RESULT_JSON {"requests":%d,"duration_us":%d,"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
    '"lat_p50_us":%d,"lat_p99_us":%d,"incomplete":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), b))
end
