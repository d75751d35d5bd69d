-- name: uploads_items
-- description: Per item: first seen (date_create), attempts, attempt time and full time in seconds.
-- cadence: 60s
-- time: date_create
-- order_by: company_id, item_id
-- context: 1d
-- attempt_s = (last up_ts > 0 − first attempt) / 1e9; full_time_s = (last up_ts of a created
-- attempt − first created attempt) / 1e9; NULL while the item never went live / was never created.
-- An item belongs to the day it was first seen; its later attempts within a day of context are
-- read with it.
SELECT
    item_id,
    argMin(company_id, ts_ns) AS company_id,
    argMin(country, ts_ns) AS country,
    argMin(origin, ts_ns) AS origin,
    fromUnixTimestamp64Milli(toInt64(intDiv(min(ts_ns), 1000000)), 'UTC') AS date_create,
    count() AS attempts,
    max(is_created) AS created,
    if(max(up_ts) > 0, (toInt64(max(up_ts)) - toInt64(min(ts_ns))) / 1e9, NULL) AS attempt_s,
    if(countIf(is_created = 1) > 0, (toInt64(maxIf(up_ts, is_created = 1)) - toInt64(minIf(ts_ns, is_created = 1))) / 1e9, NULL) AS full_time_s
FROM $db.uploads
WHERE ts_ns >= $ctx_start_ns AND ts_ns < $end_ns
GROUP BY item_id
HAVING min(ts_ns) >= $start_ns
