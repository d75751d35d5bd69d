-- name: site_user_daily
-- description: Per user and day: first and last seen, events, and counts and amounts per funnel step.
-- cadence: 60s
-- time: day
-- order_by: day, user_id
SELECT
    toDate(dt) AS day,
    user_id,
    min(dt) AS first_seen,
    max(dt) AS last_seen,
    count() AS events,
    countIf(event_type = 'view_page') AS views,
    countIf(event_type = 'click_url') AS clicks,
    countIf(event_type = 'add_to_cart') AS add_to_cart,
    countIf(event_type = 'checkout') AS checkouts,
    countIf(event_type = 'register') AS registers,
    sumIf(amount, event_type = 'add_to_cart') AS add_to_cart_amount,
    sumIf(amount, event_type = 'checkout') AS checkout_amount
FROM $db.site_events
WHERE dt >= $start AND dt < $end
GROUP BY day, user_id
