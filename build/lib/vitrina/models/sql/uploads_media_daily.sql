-- name: uploads_media_daily
-- description: Media URLs per day and host, the host's class (ours / external / bad) and its share of the day.
-- cadence: 60s
-- time: day
-- order_by: day, host
-- Classes are "ours" (a host in [models] our_media_hosts), "bad" (no host, localhost, an IP address or a .invalid name) and "external".
SELECT *, urls / sum(urls) OVER (PARTITION BY day) AS share
FROM (
    SELECT
        toDate(fromUnixTimestamp64Milli(toInt64(intDiv(ts_ns, 1000000)), 'UTC')) AS day,
        domain(substring(key, position(key, ':') + 1)) AS host,
        multiIf(
            has($our_hosts, host), 'ours',
            host = '' OR host = 'localhost' OR isIPv4String(host) OR endsWith(host, '.invalid'), 'bad',
            'external') AS host_class,
        count() AS urls
    FROM $db.uploads
    ARRAY JOIN mapKeys(url_by_media) AS key
    WHERE ts_ns >= $start_ns AND ts_ns < $end_ns
    GROUP BY day, host, host_class
)
