-- name: store_requests_minute
-- description: Requests (events) per minute and datacenter, by event type.
-- cadence: 60s
-- time: minute
-- order_by: datacenter, minute
SELECT
    toStartOfMinute(time) AS minute,
    datacenter,
    count() AS requests,
    countIf(type = 'view') AS views,
    countIf(type = 'cart') AS carts,
    countIf(type = 'purchase') AS purchases
FROM $db.store_events
WHERE time >= $start AND time < $end
GROUP BY minute, datacenter
