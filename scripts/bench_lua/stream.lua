-- wrk: a streaming chat request (include_usage) to sim/gpt-small; checks every body is complete
-- (HTTP 200, a usage chunk, and data: [DONE]). Latency is time to the last byte.
wrk.method = "POST"
wrk.body = '{"model":"sim/gpt-small","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Hello, how are you today?"}],"max_tokens":20,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "none")

local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0 end
function response(status, headers, body)
  if not (status == 200 and body:find('"usage"', 1, true) and body:find("data: [DONE]", 1, true)) then
    bad = bad + 1
  end
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
