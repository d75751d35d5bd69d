-- name: uploads_daily
-- description: Per day: attempts, items, items created, unique sellers, failure rate.
-- depends: uploads_items
-- cadence: 60s
-- time: day
-- order_by: day
-- failure_rate = the upload monitor's: of the items first seen that day, the share that no
-- attempt created (uploads_items); failed_attempt_share = share of attempts not creating their item.
WITH
    attempts AS (
        SELECT
            toDate(fromUnixTimestamp64Milli(toInt64(intDiv(ts_ns, 1000000)), 'UTC')) AS day,
            count() AS attempts,
            uniqExact(item_id) AS items,
            uniqExactIf(item_id, is_created = 1) AS created_items,
            uniqExact(company_id) AS unique_sellers,
            1 - countIf(is_created = 1) / attempts AS failed_attempt_share
        FROM $db.uploads
        WHERE ts_ns >= $start_ns AND ts_ns < $end_ns
        GROUP BY day
    ),
    first_seen AS (
        SELECT toDate(date_create) AS day, count() AS new_items, $item_failure_rate AS failure_rate
        FROM $db.uploads_items
        WHERE date_create >= $start AND date_create < $end
        GROUP BY day
    )
SELECT
    a.day AS day,
    a.attempts AS attempts,
    a.items AS items,
    a.created_items AS created_items,
    a.unique_sellers AS unique_sellers,
    f.new_items AS new_items,
    toNullable(f.failure_rate) AS failure_rate,
    a.failed_attempt_share AS failed_attempt_share
FROM attempts AS a
LEFT JOIN first_seen AS f ON a.day = f.day
SETTINGS join_use_nulls = 0
