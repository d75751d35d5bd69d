-- name: uploads_origin_daily
-- description: Per day (first seen) and origin: items, items created, failure rate, mean and population sigma of attempt time.
-- depends: uploads_items
-- cadence: 60s
-- time: day
-- order_by: day, origin
-- The upload monitor's per-origin figures: mean and sigma of attempt_s over the items that went
-- live (NULL when none did); failure_rate the per-item share not created.
SELECT
    toDate(date_create) AS day,
    origin,
    count() AS items,
    countIf(created = 1) AS created_items,
    $item_failure_rate AS failure_rate,
    avgOrNull(attempt_s) AS attempt_mean_s,
    stddevPopOrNull(attempt_s) AS attempt_sigma_s
FROM $db.uploads_items
WHERE date_create >= $start AND date_create < $end
GROUP BY day, origin
