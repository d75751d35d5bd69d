-- name: store_categories_daily
-- description: Per day, datacenter and category: views, carts, purchases, revenue, conversion and their ranks.
-- depends: store_products_daily
-- cadence: 60s
-- time: day
-- order_by: day, datacenter, category_id
-- conversion = purchases / views; NULL when the category had no views, ranked last.
SELECT
    *,
    rank() OVER (PARTITION BY day, datacenter ORDER BY revenue DESC) AS revenue_rank,
    rank() OVER (PARTITION BY day, datacenter ORDER BY views DESC) AS views_rank,
    rank() OVER (PARTITION BY day, datacenter ORDER BY conversion DESC NULLS LAST) AS conversion_rank
FROM (
    SELECT
        p.day AS day,
        p.datacenter AS datacenter,
        p.category_id AS category_id,
        max(p.category_code) AS category_code,
        sum(p.views) AS views,
        sum(p.carts) AS carts,
        sum(p.purchases) AS purchases,
        sum(p.revenue) AS revenue,
        if(views = 0, NULL, purchases / views) AS conversion
    FROM $db.store_products_daily AS p
    WHERE p.day >= $start_day
    GROUP BY p.day, p.datacenter, p.category_id
)
