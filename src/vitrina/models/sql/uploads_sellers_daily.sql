-- name: uploads_sellers_daily
-- description: Per day and seller: attempts, items, items created, failure rate; rank by items (top 10 flagged).
-- depends: uploads_items
-- cadence: 60s
-- time: day
-- order_by: day, company_id
-- failure_rate = the upload monitor's, per seller: of the seller's items first seen that day,
-- the share that no attempt created (uploads_items); NULL on a day with no new item.
WITH
    per_seller AS (
        SELECT
            toDate(fromUnixTimestamp64Milli(toInt64(intDiv(ts_ns, 1000000)), 'UTC')) AS day,
            company_id,
            count() AS attempts,
            uniqExact(item_id) AS items,
            uniqExactIf(item_id, is_created = 1) AS created_items
        FROM $db.uploads
        WHERE ts_ns >= $start_ns AND ts_ns < $end_ns
        GROUP BY day, company_id
    ),
    first_seen AS (
        SELECT toDate(date_create) AS day, company_id, count() AS new_items, $item_failure_rate AS failure_rate
        FROM $db.uploads_items
        WHERE date_create >= $start AND date_create < $end
        GROUP BY day, company_id
    )
SELECT
    *,
    row_number() OVER (PARTITION BY day ORDER BY items DESC, company_id ASC) AS items_rank,
    toBool(items_rank <= 10) AS top10
FROM (
    SELECT
        s.day AS day,
        s.company_id AS company_id,
        s.attempts AS attempts,
        s.items AS items,
        s.created_items AS created_items,
        f.new_items AS new_items,
        if(f.new_items = 0, NULL, toNullable(f.failure_rate)) AS failure_rate
    FROM per_seller AS s
    LEFT JOIN first_seen AS f ON s.day = f.day AND s.company_id = f.company_id
    SETTINGS join_use_nulls = 0
)
