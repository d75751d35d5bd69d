-- name: site_sessions_daily
-- description: Per day of session start: sessions, users, mean duration, funnel view → add_to_cart → checkout.
-- depends: site_sessions
-- cadence: 60s
-- time: day
-- order_by: day
-- Conversions are NULL when the step before had no sessions (nothing to convert).
SELECT
    toDate(session_start) AS day,
    count() AS sessions,
    uniqExact(user_id) AS users,
    avg(duration_s) AS mean_duration_s,
    countIf(funnel_step >= 1) AS viewed,
    countIf(funnel_step >= 2) AS added_to_cart,
    countIf(funnel_step >= 3) AS checked_out,
    if(viewed = 0, NULL, added_to_cart / viewed) AS view_to_cart,
    if(added_to_cart = 0, NULL, checked_out / added_to_cart) AS cart_to_checkout,
    if(viewed = 0, NULL, checked_out / viewed) AS view_to_checkout
FROM $db.site_sessions
WHERE session_start >= $start AND session_start < $end
GROUP BY day
