-- name: uploads_daily
-- description: Per day: attempts, items, items created, unique sellers, failure rate.
-- cadence: 60s
-- time: day
-- order_by: day
SELECT
    toDate(fromUnixTimestamp64Milli(toInt64(intDiv(ts_ns, 1000000)), 'UTC')) AS day,
    count() AS attempts,
    uniqExact(item_id) AS items,
    uniqExactIf(item_id, is_created = 1) AS created_items,
    uniqExact(company_id) AS unique_sellers,
    1 - countIf(is_created = 1) / attempts AS failure_rate
FROM $db.uploads
WHERE ts_ns >= $start_ns AND ts_ns < $end_ns
GROUP BY day
