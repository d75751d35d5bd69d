"""The built-in dashboards: the seed systems' figures over the rollups and raw tables of the
built-in streams (docs/STREAMS.md), and the Overview of every stream. Time series read rollups;
only top-N tables, histograms and the latest quote read raw rows.

Every figure comes from a declaration: rollup aggregates and figures from the streams
(`ctx.merge`, `ctx.measure`), expressions from streams/builtin.py, limits from the alert rules
(`ctx.limits`). A figure shown on several pages is one `Measure`, so it is coloured alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from vitrina.serve.dashboards.panels import ControlLimits, Dashboard, Panel, Threshold, Variable
from vitrina.serve.dashboards.sources import Context, Measure, RollupSource
from vitrina.streams.builtin import ITEM_FAILURE_RATE, LIVE, QUOTE_LEVELS, SEGMENT, attempt_seconds, item_rows

_UPLOAD_TIME = "toDateTime(ts_ns / 1000000000)"  # raw uploads keep ns; no comma: plugin macro args split on commas
AVAILABILITY_TARGET = 0.99  # the stability page's own target (no alert rule watches availability)


def counted(ctx: Context) -> Iterator[tuple[str, RollupSource, str]]:
    """Every stream whose rollup counts its events: (stream, rollup, count column)."""
    for name, stream in ctx.streams.items():
        for rollup in stream.rollups:
            source = RollupSource(stream, rollup)
            if (count := source.first_count()) is not None:
                yield name, source, count
                break


def _all_events(ctx: Context) -> str:
    parts = [
        f"SELECT t, '{name}' AS stream, {src.merge(col)} AS n FROM $__rollup({src.ref}) WHERE $__timeFilter(t) GROUP BY t"
        for name, src, col in counted(ctx)
    ]
    return "\nUNION ALL\n".join(parts) or "SELECT toDateTime(0) AS t, '' AS stream, toUInt64(0) AS n WHERE 0"


def _streams_table(ctx: Context) -> str:
    """One row per stream: events in range, per second over the time with data, the last bucket."""
    parts = [
        f"SELECT '{name}' AS stream, {src.merge(col)} AS events, min(t) AS first, max(t) AS last, $__rollup_s AS step\n"
        f"FROM $__rollup({src.ref}) WHERE $__timeFilter(t)"
        for name, src, col in counted(ctx)
    ]
    union = "\nUNION ALL\n".join(parts) or "SELECT '' AS stream, toUInt64(0) AS events, now() AS first, now() AS last, 1 AS step WHERE 0"
    return (
        "SELECT stream, events, if(events = 0, 0, events / greatest(1, toUInt32(last) - toUInt32(first) + step)) AS per_s,\n"
        f"  if(events = 0, NULL, last) AS last_seen FROM (\n{union}\n)\nORDER BY stream"
    )


# The items first seen in the range (their attempts read back an hour before it as well).
_RANGE_ITEMS = item_rows(
    "$__table(uploads)",
    "toUInt64(toUnixTimestamp($__fromTime)) * 1000000000",
    "(toUInt64(toUnixTimestamp($__toTime)) + 1) * 1000000000",
)
FAILURE_FIGURE = "uploads:failure_rate"


def failure_stat(ctx: Context, panel_id: str, title: str, width: int = 6) -> Panel:
    """The upload monitor's failure rate over the range: per item, not per attempt."""
    return Panel(
        panel_id,
        title,
        "stat",
        f"SELECT {ITEM_FAILURE_RATE} AS failure_rate FROM (\n{_RANGE_ITEMS}\n) HAVING count() > 0",
        ("failure_rate",),
        "percentunit",
        thresholds=ctx.limits("UploadFailureRateHigh"),
        width=width,
        description="Share of the items first seen in the range that no attempt created.",
        figure=FAILURE_FIGURE,
    )


def failure_series(ctx: Context, panel_id: str, title: str) -> Panel:
    """Per bucket: of the items first seen in it, the share not created."""
    return Panel(
        panel_id,
        title,
        "timeseries",
        f"SELECT $__timeInterval(first_s) AS time, {ITEM_FAILURE_RATE} AS failure_rate\n"
        f"FROM (SELECT *, intDiv(first_ns, 1000000000) AS first_s FROM (\n{_RANGE_ITEMS}\n))\nGROUP BY time ORDER BY time",
        ("time", "failure_rate"),
        "percentunit",
        thresholds=ctx.limits("UploadFailureRateHigh"),
        width=12,
        description="Of the items first seen in each bucket, the share that no attempt created.",
        figure=FAILURE_FIGURE,
    )


def availability(ctx: Context) -> Measure:
    target = (Threshold(AVAILABILITY_TARGET, "red", f"target: {AVAILABILITY_TARGET:.0%}", above=False),)
    return ctx.measure("probes", "availability", "percentunit", target, always=False)


def overview(ctx: Context) -> Dashboard:
    events = _all_events(ctx)
    stats = [Panel("events", "Events in range", "stat", f"SELECT sum(n) AS events FROM (\n{events}\n)", ("events",), width=4)]
    stats.append(
        Panel(
            "rejected",
            "Rejected in range",
            "stat",
            "SELECT count() AS rejected FROM $__table(rejected) WHERE $__timeFilter(time)",
            ("rejected",),
            thresholds=(Threshold(1, "orange"),),
            width=4,
        )
    )
    if "uploads" in ctx.streams:
        stats.append(failure_stat(ctx, "failure", "Upload failure rate", width=4))
    if "probes" in ctx.streams:
        stats.append(availability(ctx).stat("availability", "Availability", width=4))
    return Dashboard(
        "overview",
        "Overview",
        description="Pipeline health: what every stream takes in, what was rejected, the warehouse.",
        panels=(
            *stats,
            Panel(
                "parts",
                "Active parts",
                "stat",
                "SELECT count() AS parts FROM system.parts WHERE database = $__database AND active",
                ("parts",),
                width=4,
            ),
            Panel(
                "disk",
                "Bytes on disk",
                "stat",
                "SELECT sum(bytes_on_disk) AS bytes FROM system.parts WHERE database = $__database AND active",
                ("bytes",),
                "bytes",
                width=4,
            ),
            Panel(
                "throughput",
                "Events per second by stream",
                "timeseries",
                f"SELECT $__timeInterval(t) AS time, stream, sum(n) / $__interval_s AS events_per_s\nFROM (\n{events}\n)\n"
                "GROUP BY time, stream\nORDER BY time, stream",
                ("time", "stream", "events_per_s"),
                "reqps",
                series="stream",
                width=16,
            ),
            Panel(
                "rejected_reasons",
                "Rejected events by reason",
                "table",
                "SELECT stream, reason, count() AS events, max(time) AS last_seen FROM $__table(rejected)\n"
                "WHERE $__timeFilter(time) GROUP BY stream, reason ORDER BY events DESC LIMIT 20",
                ("stream", "reason", "events", "last_seen"),
                width=8,
            ),
            Panel(
                "streams",
                "Streams",
                "table",
                _streams_table(ctx),
                ("stream", "events", "per_s", "last_seen"),
                width=12,
                description="Every stream: events in range, per second over the time with data, the last bucket with data.",
            ),
            Panel(
                "by_stream",
                "Events by stream",
                "bar",
                f"SELECT stream, sum(n) AS events FROM (\n{events}\n)\nGROUP BY stream ORDER BY stream",
                ("stream", "events"),
                width=12,
            ),
            Panel(
                "rejected_series",
                "Rejected per second by stream",
                "timeseries",
                # The raw table's own `time` column is renamed first: `... AS time` over it would be cyclic.
                "SELECT $__timeInterval(at) AS time, stream, count() / $__interval_s AS rejected_per_s\n"
                "FROM (SELECT time AS at, stream FROM $__table(rejected) WHERE $__timeFilter(time))\n"
                "GROUP BY time, stream ORDER BY time, stream",
                ("time", "stream", "rejected_per_s"),
                "reqps",
                series="stream",
                width=24,
            ),
        ),
    )


def _sellers_today(ctx: Context, width: int) -> Panel:
    """What UploadSellersFew watches: sellers since midnight UTC, at the end of each bucket
    (read from midnight of the range's first day, so the first bucket counts the whole day)."""
    src = ctx.source("uploads", "sellers")
    inner = (
        f"SELECT $__timeInterval(t) AS time, uniqMergeState(`sellers`) AS s FROM $__rollup({src.ref})\n"
        "WHERE t >= toStartOfDay($__fromTime) AND t <= $__toTime GROUP BY time"
    )
    running = "uniqMerge(s) OVER (PARTITION BY toStartOfDay(time) ORDER BY time ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    assert src.rollup.aggregate("sellers").function == "uniq"  # the running merge above is uniq's
    return Panel(
        "sellers_today",
        "Sellers since midnight UTC",
        "timeseries",
        f"SELECT time, sellers_today FROM (\nSELECT time, {running} AS sellers_today FROM (\n{inner}\n)\n)\n"
        "WHERE time >= $__fromTime ORDER BY time",
        ("time", "sellers_today"),
        thresholds=ctx.limits("UploadSellersFew"),
        width=width,
        description="The figure the sellers alert watches: distinct sellers since midnight UTC.",
        figure="uploads:sellers_today",
    )


def _attempt_control(ctx: Context) -> Panel:
    src = ctx.source("uploads", "attempt_avg")
    return Panel(
        "attempt_control",
        "Attempt-to-live time: control chart (mean ± 3σ)",
        "timeseries",
        src.bucketed(f"{src.merge('attempt_avg')} AS attempt_s", having="NOT isNaN(attempt_s)"),
        ("time", "attempt_s"),
        unit="s",
        control=ControlLimits("attempt_s", 3.0),
        width=12,
        description="Mean seconds from attempt to live per bucket; points beyond the limits are marked.",
    )


def uploads(ctx: Context) -> Dashboard:
    src = ctx.source("uploads", "attempts")
    m = src.merge
    mean = ctx.measure("uploads", "attempt_avg", "s", ctx.limits("UploadAttemptTimeHigh"), always=False, alias="attempt_s")
    return Dashboard(
        "uploads",
        "Uploads",
        description="Product-card uploads: throughput, failure rate, attempt times and their control chart, sellers.",
        streams=("uploads",),
        panels=(
            failure_stat(ctx, "failure", "Failure rate"),
            ctx.measure("uploads", "attempts").stat("attempts", "Attempts"),
            ctx.measure("uploads", "sellers").stat("sellers", "Unique sellers"),
            mean.stat("attempt_mean", "Mean attempt time"),
            Panel(
                "throughput",
                "Attempts, created and errors per second",
                "timeseries",
                src.bucketed(
                    f"{m('attempts')} / $__interval_s AS attempts, {m('created')} / $__interval_s AS created, "
                    f"{m('errors')} / $__interval_s AS errors"
                ),
                ("time", "attempts", "created", "errors"),
                "reqps",
                width=12,
            ),
            failure_series(ctx, "failure_rate", "Upload failure rate"),
            _attempt_control(ctx),
            Panel(
                "attempt_quantiles",
                "Attempt time p50 / p90 / p99",
                "timeseries",
                src.quantiles("attempt_quantiles", ("p50", "p90", "p99")),
                ("time", "p50", "p90", "p99"),
                "s",
                width=12,
            ),
            Panel(
                "top_sellers",
                "Top sellers",
                "table",
                "SELECT toString(company_id) AS seller, sum(attempts) AS attempts, count() AS items,\n"
                f"  countIf(created = 1) AS created_items, round({ITEM_FAILURE_RATE}, 3) AS failure_rate\n"
                f"FROM (\n{_RANGE_ITEMS}\n)\nGROUP BY seller ORDER BY items DESC LIMIT 10",
                ("seller", "attempts", "items", "created_items", "failure_rate"),
                width=6,
            ),
            Panel(
                "attempt_histogram",
                "Attempt time distribution",
                "histogram",
                f"SELECT least(floor({attempt_seconds()}), 120) AS attempt_s, count() AS items\n"
                f"FROM $__table(uploads) WHERE $__timeFilter({_UPLOAD_TIME}) AND {LIVE}\n"
                "GROUP BY attempt_s ORDER BY attempt_s",
                ("attempt_s", "items"),
                width=6,
            ),
            Panel(
                "created_by_segment",
                "Created by segment (RU and the rest)",
                "bar",
                f"SELECT {SEGMENT} AS segment, countIf(is_created = 1) AS created\n"
                f"FROM $__table(uploads) WHERE $__timeFilter({_UPLOAD_TIME})\nGROUP BY segment ORDER BY segment",
                ("segment", "created"),
                width=6,
            ),
            ctx.measure("uploads", "sellers").series("sellers_series", "Unique sellers per bucket", width=6),
            _sellers_today(ctx, 24),
        ),
    )


_METRIC = "metric_name = ${metric:sqlstring}"


def metrics(ctx: Context) -> Dashboard:
    src = ctx.source("metrics", "count")
    m = src.merge
    mean = f"{m('sum')} / {m('count')}"
    return Dashboard(
        "metrics",
        "Metrics",
        description="Named service metrics: pick one; its value statistics, quantiles and control chart.",
        streams=("metrics",),
        variables=(
            Variable("metric", "Metric", f"SELECT DISTINCT metric_name FROM $__table({src.table('1m')}) ORDER BY metric_name LIMIT 1000"),
        ),
        panels=(
            Panel("count", "Samples", "stat", src.total(f"{m('count')} AS samples", _METRIC), ("samples",), width=6),
            Panel("mean", "Mean value", "stat", src.total(f"{mean} AS mean", _METRIC, "count() > 0"), ("mean",), width=6),
            Panel("min", "Minimum", "stat", src.total(f"{m('min')} AS min", _METRIC, "count() > 0"), ("min",), width=6),
            Panel("max", "Maximum", "stat", src.total(f"{m('max')} AS max", _METRIC, "count() > 0"), ("max",), width=6),
            Panel(
                "value",
                "Mean, min and max per bucket",
                "timeseries",
                src.bucketed(f"{mean} AS mean, {m('min')} AS min, {m('max')} AS max", _METRIC),
                ("time", "mean", "min", "max"),
                width=12,
            ),
            Panel(
                "control",
                "Mean value: control chart (mean ± 3σ)",
                "timeseries",
                src.bucketed(f"{mean} AS mean", _METRIC),
                ("time", "mean"),
                control=ControlLimits("mean"),
                width=12,
            ),
            Panel(
                "quantiles",
                "p50 / p90 / p99",
                "timeseries",
                src.quantiles("quantiles", ("p50", "p90", "p99"), _METRIC),
                ("time", "p50", "p90", "p99"),
                width=12,
            ),
            Panel(
                "all_metrics",
                "All metrics in range",
                "table",
                f"SELECT metric_name, {m('count')} AS samples, round({m('sum')} / samples, 3) AS mean,\n"
                f"  {m('min')} AS min, {m('max')} AS max\n"
                f"FROM $__rollup({src.ref}) WHERE $__timeFilter(t)\nGROUP BY metric_name ORDER BY metric_name LIMIT 100",
                ("metric_name", "samples", "mean", "min", "max"),
                width=12,
            ),
        ),
    )


def last_mid(ctx: Context) -> Measure:
    """What QuotesMidPriceHigh watches: the level-1 mid price of the last report."""
    return ctx.measure("quotes", "mid1_last", thresholds=ctx.limits("QuotesMidPriceHigh"), always=False, alias="mid")


def _quote_share_above(ctx: Context) -> list[Panel]:
    rule = ctx.rule("QuotesMidPriceHigh")
    if rule is None:
        return []
    src = ctx.source("quotes", "mid1_last")
    return [
        Panel(
            "above",
            f"Share of seconds with the last mid {rule.op} {rule.value:g}",
            "stat",
            f"SELECT if(count() = 0, 0, countIf(last {rule.op} {rule.value!r}) / count()) AS above FROM (\n"
            f"SELECT t, {src.merge('mid1_last')} AS last FROM $__table({src.table('1s')}) WHERE $__timeFilter(t) GROUP BY t)",
            ("above",),
            "percentunit",
            width=6,
            description=f"Seconds whose last report's level-1 mid price was beyond the {rule.name} alert's limit.",
        )
    ]


def _levels_panel() -> Panel:
    bids = ", ".join(f"bid_{i}" for i in QUOTE_LEVELS)
    asks = ", ".join(f"ask_{i}" for i in QUOTE_LEVELS)
    levels = f"range({QUOTE_LEVELS.start}, {QUOTE_LEVELS.stop})"
    return Panel(
        "levels",
        "Mid price by level (latest report)",
        "bar",
        "SELECT level, (asks[level] + bids[level]) / 2 AS mid FROM (\n"
        f"  SELECT [{bids}] AS bids,\n         [{asks}] AS asks\n"
        "  FROM $__table(quotes) WHERE $__timeFilter(timestamp) ORDER BY timestamp DESC LIMIT 1\n"
        f") ARRAY JOIN {levels} AS level ORDER BY level",
        ("level", "mid"),
        width=8,
    )


def quotes(ctx: Context) -> Dashboard:
    src = ctx.source("quotes", "reports")
    m = src.merge
    return Dashboard(
        "quotes",
        "Quotes",
        description="Order-book reports: the level-1 mid price against its alert threshold.",
        streams=("quotes",),
        panels=(
            last_mid(ctx).stat("last_mid", "Last level-1 mid price"),
            Panel("reports_rate", "Reports per second", "stat", src.per_second(m("reports"), "per_s"), ("per_s",), "reqps", width=6),
            *_quote_share_above(ctx),
            Panel("max_mid", "Highest mid price", "stat", src.total(f"{m('mid1_max')} AS mid", having="count() > 0"), ("mid",), width=6),
            Panel(
                "mid",
                "Level-1 mid price (last, mean, min, max)",
                "timeseries",
                src.bucketed(f"{m('mid1_last')} AS last, {m('mid1_avg')} AS mean, {m('mid1_min')} AS min, {m('mid1_max')} AS max"),
                ("time", "last", "mean", "min", "max"),
                thresholds=last_mid(ctx).thresholds,
                width=16,
                description="The alert's limit applies to `last`, the figure it watches.",
                figure=last_mid(ctx).figure,
            ),
            _levels_panel(),
            Panel(
                "mid_control",
                "Mean mid price: control chart (mean ± 3σ)",
                "timeseries",
                src.bucketed(f"{m('mid1_avg')} AS mean"),
                ("time", "mean"),
                control=ControlLimits("mean"),
                width=12,
            ),
            Panel(
                "reports",
                "Reports per second",
                "timeseries",
                src.bucketed(f"{m('reports')} / $__interval_s AS reports"),
                ("time", "reports"),
                "reqps",
                width=12,
            ),
        ),
    )


def site(ctx: Context) -> Dashboard:
    src = ctx.source("site_events", "events")
    m = src.merge
    return Dashboard(
        "site",
        "Site",
        description="The shop clickstream: events by kind, users, amounts and pages.",
        streams=("site_events",),
        panels=(
            ctx.measure("site_events", "events").stat("events", "Events", width=8),
            ctx.measure("site_events", "users").stat("users", "Users", width=8),
            ctx.measure("site_events", "amount", "currencyUSD").stat("amount", "Amount", width=8),
            Panel(
                "by_type",
                "Events per second by kind",
                "timeseries",
                src.bucketed(f"event_type, {m('events')} / $__interval_s AS events", group="event_type"),
                ("time", "event_type", "events"),
                "reqps",
                series="event_type",
                width=16,
            ),
            Panel(
                "funnel",
                "Events by kind",
                "bar",
                f"SELECT event_type, {m('events')} AS events FROM $__rollup({src.ref})\n"
                "WHERE $__timeFilter(t) GROUP BY event_type ORDER BY events DESC",
                ("event_type", "events"),
                width=8,
            ),
            ctx.measure("site_events", "users").series("users_series", "Users per bucket"),
            Panel(
                "pages",
                "Top pages",
                "table",
                "SELECT url, count() AS views, uniq(user_id) AS users FROM $__table(site_events)\n"
                "WHERE $__timeFilter(dt) AND event_type = 'view_page' GROUP BY url ORDER BY views DESC LIMIT 10",
                ("url", "views", "users"),
                width=12,
            ),
        ),
    )


def store(ctx: Context) -> Dashboard:
    src = ctx.source("store_events", "events")
    m = src.merge
    revenue = ctx.measure("store_events", "revenue", "currencyUSD")
    return Dashboard(
        "store",
        "Store",
        description="Multi-region commerce: requests per datacenter, event mix, revenue and the best sellers.",
        streams=("store_events",),
        panels=(
            revenue.stat("revenue", "Revenue", width=8),
            Panel("purchases", "Purchases", "stat", src.total(f"{m('events')} AS purchases", "type = 'purchase'"), ("purchases",), width=8),
            Panel(
                "conversion",
                "Conversion (purchases / views)",
                "stat",
                "SELECT if(views = 0, 0, purchases / views) AS conversion FROM (\n"
                "SELECT sumIf(n, type = 'purchase') AS purchases, sumIf(n, type = 'view') AS views FROM (\n"
                f"SELECT type, {m('events')} AS n FROM $__rollup({src.ref}) WHERE $__timeFilter(t) GROUP BY type))",
                ("conversion",),
                "percentunit",
                width=8,
            ),
            Panel(
                "requests",
                "Requests per minute by datacenter",
                "timeseries",
                src.bucketed(f"datacenter, {m('events')} * 60 / $__interval_s AS per_min", group="datacenter"),
                ("time", "datacenter", "per_min"),
                series="datacenter",
                width=12,
            ),
            revenue.series("revenue_series", "Revenue per bucket"),
            Panel(
                "mix",
                "Event mix",
                "bar",
                f"SELECT type, {m('events')} AS events FROM $__rollup({src.ref})\n"
                "WHERE $__timeFilter(t) GROUP BY type ORDER BY events DESC",
                ("type", "events"),
                width=8,
            ),
            Panel(
                "products",
                "Top products by revenue",
                "table",
                "SELECT product_id, sumIf(price, type = 'purchase') AS revenue, countIf(type = 'view') AS views,\n"
                "  countIf(type = 'purchase') AS purchases FROM $__table(store_events)\n"
                "WHERE $__timeFilter(time) GROUP BY product_id ORDER BY revenue DESC, views DESC LIMIT 10",
                ("product_id", "revenue", "views", "purchases"),
                width=8,
            ),
            Panel(
                "categories",
                "Top categories by revenue",
                "table",
                "SELECT ifNull(category_code, toString(category_id)) AS category, sumIf(price, type = 'purchase') AS revenue,\n"
                "  count() AS events FROM $__table(store_events)\n"
                "WHERE $__timeFilter(time) GROUP BY category ORDER BY revenue DESC, events DESC LIMIT 10",
                ("category", "revenue", "events"),
                width=8,
            ),
        ),
    )


def stability(ctx: Context) -> Dashboard:
    src = ctx.source("probes", "probes")
    m = src.merge
    p = m("response_quantiles")
    avail = availability(ctx)
    return Dashboard(
        "stability",
        "Stability",
        description="Availability probes: uptime and response times by location.",
        streams=("probes",),
        panels=(
            avail.stat("availability", "Availability", width=8),
            ctx.measure("probes", "probes").stat("probes", "Probes", width=8),
            Panel("p95", "p95 response time", "stat", src.total(f"{p}[2] AS p95_ms", having="count() > 0"), ("p95_ms",), "ms", width=8),
            Panel(
                "availability_series",
                "Availability by location",
                "timeseries",
                src.bucketed(f"location, {avail.expr} AS availability", group="location"),
                ("time", "location", "availability"),
                "percentunit",
                thresholds=avail.thresholds,
                series="location",
                width=12,
                figure=avail.figure,
            ),
            Panel(
                "p95_series",
                "p95 response time by location",
                "timeseries",
                src.bucketed(f"location, {p}[2] AS p95_ms", group="location"),
                ("time", "location", "p95_ms"),
                "ms",
                series="location",
                width=12,
            ),
            Panel(
                "locations",
                "By location",
                "table",
                f"SELECT location, {m('probes')} AS checks, round({avail.expr}, 4) AS availability,\n"
                f"  round({p}[1], 1) AS p50_ms, round({p}[2], 1) AS p95_ms, round({p}[3], 1) AS p99_ms\n"
                f"FROM $__rollup({src.ref}) WHERE $__timeFilter(t) GROUP BY location ORDER BY location",
                ("location", "checks", "availability", "p50_ms", "p95_ms", "p99_ms"),
                width=14,
            ),
            Panel(
                "response_histogram",
                "Response time distribution",
                "histogram",
                "SELECT floor(response_time_ms / 25) * 25 AS response_ms, count() AS probes FROM $__table(probes)\n"
                "WHERE $__timeFilter(time) AND status_code != 0 GROUP BY response_ms ORDER BY response_ms",
                ("response_ms", "probes"),
                width=10,
            ),
        ),
    )


def alerts(ctx: Context) -> Dashboard:
    """The alert list and, beside it, the figures the shipped rules watch with their limits."""
    return Dashboard(
        "alerts",
        "Alerts",
        description="Alert rules with their states, and the figures the seed rules watch.",
        panels=(
            Panel("alert_list", "Alert rules", "alerts", width=24, height=6),
            failure_series(ctx, "failure_rate", "Upload failure rate"),
            _attempt_control(ctx),
            _sellers_today(ctx, 12),
            last_mid(ctx).series("mid", "Level-1 mid price (last report)"),
        ),
    )


def builtin_dashboards(ctx: Context) -> tuple[Dashboard, ...]:
    """The built-in pages; a page whose streams are not all declared is left out."""
    return (overview(ctx), *_stream_pages(ctx))


def _stream_pages(ctx: Context) -> Iterator[Dashboard]:
    needs: dict[Callable[[Context], Dashboard], tuple[str, ...]] = {uploads: ("uploads",), metrics: ("metrics",)}
    needs |= {quotes: ("quotes",), site: ("site_events",)}
    needs |= {store: ("store_events",), stability: ("probes",), alerts: ("uploads", "quotes")}
    for build, streams in needs.items():
        if all(s in ctx.streams for s in streams):
            yield build(ctx)
