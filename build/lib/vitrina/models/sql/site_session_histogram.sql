-- name: site_session_histogram
-- description: Sessions per day by duration bucket (bucket_s is the lower edge, in seconds).
-- depends: site_sessions
-- cadence: 60s
-- time: day
-- order_by: day, bucket_s
SELECT
    toDate(session_start) AS day,
    arrayMax(arrayFilter(e -> e <= duration_s, [0, 10, 30, 60, 120, 300, 600, 1800, 3600])) AS bucket_s,
    count() AS sessions
FROM $db.site_sessions
WHERE session_start >= $start AND session_start < $end
GROUP BY day, bucket_s
