-- name: site_active_users
-- description: DAU, WAU and MAU over exact 1, 7 and 30 day windows ending on the day, and stickiness DAU / MAU.
-- depends: site_user_daily
-- cadence: 60s
-- time: day
-- order_by: day
-- Each active user-day counts for the 30 days it falls in (k = 0 is the day itself); days after
-- the last active day are not written.
SELECT
    target AS day,
    uniqExactIf(user_id, k = 0) AS dau,
    uniqExactIf(user_id, k < 7) AS wau,
    uniqExact(user_id) AS mau,
    if(mau = 0, 0, dau / mau) AS stickiness
FROM (
    SELECT user_id, day + k AS target, k
    FROM $db.site_user_daily
    ARRAY JOIN range(30) AS k
    WHERE day + 29 >= $start_day  -- (not $start_day - 29: Date would wrap below 1970)
)
WHERE target >= $start_day AND target <= (SELECT max(day) FROM $db.site_user_daily)
GROUP BY target
