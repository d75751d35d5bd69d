-- name: uploads_seller_anomalies
-- description: Per day and seller: items against the mean and population sigma of the 30 days before (days without uploads count 0).
-- depends: uploads_sellers_daily
-- cadence: 60s
-- time: day
-- order_by: day, company_id
-- anomaly = items > mean + 2 sigma, only for a seller with at least one active day in the
-- baseline (a seller's first day has no baseline to be unusual against).
WITH baseline AS (
    SELECT company_id, day + k AS target, sum(items) AS s, sum(items * items) AS s2, count() AS active_days
    FROM $db.uploads_sellers_daily
    ARRAY JOIN range(1, 31) AS k
    WHERE day + 30 >= $start_day  -- (not $start_day - 30: Date would wrap below 1970)
    GROUP BY company_id, target
)
SELECT
    t.day AS day,
    t.company_id AS company_id,
    t.items AS items,
    b.active_days AS baseline_days,
    b.s / 30 AS baseline_mean,
    sqrt(greatest(b.s2 / 30 - baseline_mean * baseline_mean, 0)) AS baseline_sigma,
    baseline_mean + 2 * baseline_sigma AS threshold,
    toBool(baseline_days > 0 AND items > threshold) AS anomaly
FROM $db.uploads_sellers_daily AS t
LEFT JOIN baseline AS b ON b.company_id = t.company_id AND b.target = t.day
WHERE t.day >= $start_day
SETTINGS join_use_nulls = 0
