-- name: uploads_minute
-- description: Per minute: attempts, items first seen, failure rate, sellers, items created by segment (RU / rest), attempt-time control chart.
-- depends: uploads_items
-- cadence: 60s
-- time: minute
-- order_by: minute
-- failure_rate = the upload monitor's: of the items first seen in the minute, the share that no
-- attempt created (uploads_items); failed_attempt_share = share of the minute's attempts that
-- did not create their item (retries included: not a failure rate). The control chart is over the
-- attempt times of the items first seen in the minute: mean, population sigma, UCL = mean + 3
-- sigma and the share of those items above the UCL (NULL when no such item went live).
WITH
    attempts AS (
        SELECT
            toStartOfMinute(fromUnixTimestamp64Milli(toInt64(intDiv(ts_ns, 1000000)), 'UTC')) AS minute,
            count() AS attempts,
            countIf(is_created = 1) AS created_attempts,
            1 - created_attempts / attempts AS failed_attempt_share,
            uniqExact(company_id) AS sellers,
            uniqExactIf(item_id, is_created = 1 AND country = 'RU') AS created_items_ru,
            uniqExactIf(item_id, is_created = 1 AND (country IS NULL OR country != 'RU')) AS created_items_rest
        FROM $db.uploads
        WHERE ts_ns >= $start_ns AND ts_ns < $end_ns
        GROUP BY minute
    ),
    items AS (
        SELECT toStartOfMinute(date_create) AS minute, count() AS items, $item_failure_rate AS failure_rate
        FROM $db.uploads_items
        WHERE date_create >= $start AND date_create < $end
        GROUP BY minute
    ),
    chart AS (
        SELECT
            toStartOfMinute(date_create) AS minute,
            count() AS live_items,
            avg(attempt_s) AS attempt_mean_s,
            stddevPop(attempt_s) AS attempt_sigma_s,
            attempt_mean_s + 3 * attempt_sigma_s AS attempt_ucl_s,
            arrayCount(x -> x > attempt_ucl_s, groupArray(attempt_s)) / live_items AS beyond_ucl_share
        FROM $db.uploads_items
        WHERE date_create >= $start AND date_create < $end AND attempt_s IS NOT NULL
        GROUP BY minute
    )
SELECT
    a.minute AS minute,
    a.attempts AS attempts,
    a.created_attempts AS created_attempts,
    a.failed_attempt_share AS failed_attempt_share,
    i.items AS items,
    toNullable(i.failure_rate) AS failure_rate,
    a.sellers AS sellers,
    a.created_items_ru AS created_items_ru,
    a.created_items_rest AS created_items_rest,
    c.live_items AS live_items,
    toNullable(c.attempt_mean_s) AS attempt_mean_s,
    toNullable(c.attempt_sigma_s) AS attempt_sigma_s,
    toNullable(c.attempt_ucl_s) AS attempt_ucl_s,
    toNullable(c.beyond_ucl_share) AS beyond_ucl_share
FROM attempts AS a
LEFT JOIN items AS i ON a.minute = i.minute
LEFT JOIN chart AS c ON a.minute = c.minute
SETTINGS join_use_nulls = 0
