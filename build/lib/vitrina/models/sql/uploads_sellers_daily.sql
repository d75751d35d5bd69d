-- name: uploads_sellers_daily
-- description: Per day and seller: attempts, items, items created; rank by items (top 10 flagged).
-- cadence: 60s
-- time: day
-- order_by: day, company_id
SELECT
    *,
    row_number() OVER (PARTITION BY day ORDER BY items DESC, company_id ASC) AS items_rank,
    toBool(items_rank <= 10) AS top10
FROM (
    SELECT
        toDate(fromUnixTimestamp64Milli(toInt64(intDiv(ts_ns, 1000000)), 'UTC')) AS day,
        company_id,
        count() AS attempts,
        uniqExact(item_id) AS items,
        uniqExactIf(item_id, is_created = 1) AS created_items
    FROM $db.uploads
    WHERE ts_ns >= $start_ns AND ts_ns < $end_ns
    GROUP BY day, company_id
)
