-- name: probes_stability_daily
-- description: Per day, location and target: availability, uptime and p50/p95/p99 response time.
-- cadence: 60s
-- time: day
-- order_by: location, target, day
-- availability = successful probes / probes; uptime = minutes with a successful probe / minutes
-- with any probe (a minute nobody probed says nothing). Quantiles are exact, interpolated
-- between neighbours (numpy's default).
SELECT
    toDate(time) AS day,
    location,
    target,
    count() AS probes,
    countIf(ok = 1) AS successes,
    successes / probes AS availability,
    uniqExact(toStartOfMinute(time)) AS minutes,
    uniqExactIf(toStartOfMinute(time), ok = 1) AS ok_minutes,
    ok_minutes / minutes AS uptime,
    quantileExactInclusive(0.5)(response_time_ms) AS p50_ms,
    quantileExactInclusive(0.95)(response_time_ms) AS p95_ms,
    quantileExactInclusive(0.99)(response_time_ms) AS p99_ms
FROM $db.probes
WHERE time >= $start AND time < $end
GROUP BY day, location, target
