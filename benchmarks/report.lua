-- wrk calls done() once, after the run. We print one machine-readable line that
-- benchmarks/run.py looks for. Durations and latencies are in microseconds.
-- Defining only done() keeps wrk on its fast path: no Lua runs per request.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, '
    .. '"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d, '
    .. '"p50_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max, latency.mean))
end
