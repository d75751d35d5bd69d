-- name: store_products_daily
-- description: Per day, datacenter and product: views, carts, purchases, revenue, conversion and their ranks.
-- cadence: 60s
-- time: day
-- order_by: day, datacenter, product_id
-- conversion = purchases / views; NULL when the product had no views (undefined, not 0), ranked last.
SELECT
    *,
    rank() OVER (PARTITION BY day, datacenter ORDER BY revenue DESC) AS revenue_rank,
    rank() OVER (PARTITION BY day, datacenter ORDER BY views DESC) AS views_rank,
    rank() OVER (PARTITION BY day, datacenter ORDER BY conversion DESC NULLS LAST) AS conversion_rank
FROM (
    SELECT
        toDate(time) AS day,
        datacenter,
        product_id,
        argMax(category_id, time) AS category_id,
        argMax(category_code, time) AS category_code,
        argMax(brand, time) AS brand,
        countIf(type = 'view') AS views,
        countIf(type = 'cart') AS carts,
        countIf(type = 'purchase') AS purchases,
        sumIf(price, type = 'purchase') AS revenue,
        if(views = 0, NULL, purchases / views) AS conversion
    FROM $db.store_events
    WHERE time >= $start AND time < $end
    GROUP BY day, datacenter, product_id
)
