-- name: uploads_country_daily
-- description: Per day (first seen) and country: items, items created, p50/p95 of full time, mean attempt time.
-- depends: uploads_items
-- cadence: 60s
-- time: day
-- order_by: day, country
-- An unknown country is ''. Quantiles are exact, interpolated (numpy's default).
SELECT
    toDate(date_create) AS day,
    ifNull(country, '') AS country,
    count() AS items,
    countIf(created = 1) AS created_items,
    quantileExactInclusive(0.5)(full_time_s) AS full_p50_s,
    quantileExactInclusive(0.95)(full_time_s) AS full_p95_s,
    avg(attempt_s) AS attempt_mean_s
FROM $db.uploads_items
WHERE date_create >= $start AND date_create < $end
GROUP BY day, country
