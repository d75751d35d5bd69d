-- name: site_sessions
-- description: Sessions: a gap of more than 1800 s without events starts a new one (1800 s exactly does not).
-- cadence: 60s
-- time: session_start
-- order_by: user_id, session_start
-- context: 1d
-- Events from a day before the window are read so a session that began before midnight is
-- not split; sessions starting before the window belong to earlier partitions and are dropped.
WITH
    marked AS (
        SELECT
            user_id, dt, event_type, amount,
            if(row_number() OVER w = 1 OR toUnixTimestamp64Milli(dt) - toUnixTimestamp64Milli(lagInFrame(dt) OVER w) > 1800000, 1, 0) AS is_new
        FROM $db.site_events
        WHERE dt >= $ctx_start AND dt < $end
        WINDOW w AS (PARTITION BY user_id ORDER BY dt ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    ),
    numbered AS (
        SELECT *, sum(is_new) OVER (PARTITION BY user_id ORDER BY dt ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS seq
        FROM marked
    ),
    sessions AS (
        SELECT
            user_id,
            min(dt) AS session_start,
            max(dt) AS session_end,
            count() AS events,
            countIf(event_type = 'view_page') AS pages,
            countIf(event_type = 'add_to_cart') AS add_to_cart,
            countIf(event_type = 'checkout') AS checkouts,
            sumIf(amount, event_type = 'checkout') AS checkout_amount,
            -- the furthest step reached in order: 1 view, 2 view then cart, 3 view, cart, checkout
            -- (over epoch milliseconds, as windowFunnel takes no DateTime64; the window fits any session)
            windowFunnel(31536000000)(toUInt64(toUnixTimestamp64Milli(dt)), event_type = 'view_page', event_type = 'add_to_cart', event_type = 'checkout') AS funnel_step
        FROM numbered
        GROUP BY user_id, seq
    )
SELECT
    -- the ordinal counts the user's sessions of that day, so the id does not depend on the window
    cityHash64(user_id, session_start, ordinal) AS session_id,
    user_id,
    session_start,
    session_end,
    (toUnixTimestamp64Milli(session_end) - toUnixTimestamp64Milli(session_start)) / 1000 AS duration_s,
    pages,
    events,
    add_to_cart,
    checkouts,
    checkout_amount,
    funnel_step,
    ordinal
FROM (
    SELECT *, row_number() OVER (PARTITION BY user_id, toDate(session_start) ORDER BY session_start) AS ordinal
    FROM sessions
    WHERE session_start >= $start
)
