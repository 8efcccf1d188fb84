-- wrk calls done() once, after the run. It prints one line, WRK_RESULT and a JSON
-- object, that benchmarks/load.py reads: the fields of a measurement as run.py saves
-- it. Defining only done() keeps wrk on its fast path: no Lua runs per request.
done = function(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'WRK_RESULT {"rps": %.1f, "requests": %d, "seconds": %.3f, '
    .. '"p50_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "error_total": %d, '
    .. '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d}}\n',
    summary.requests / seconds, summary.requests, seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.connect + e.read + e.write + e.timeout + e.status,
    e.connect, e.read, e.write, e.timeout, e.status))
end
