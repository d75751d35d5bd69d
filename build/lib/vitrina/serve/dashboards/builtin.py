"""The built-in dashboards: the seed systems' figures over the rollups and raw tables of the
built-in streams (docs/STREAMS.md). Time series read rollups; only top-N tables, histograms and
the latest quote read raw rows."""

from __future__ import annotations

from vitrina.serve.dashboards.panels import ControlLimits, Dashboard, Panel, Threshold, Variable
from vitrina.streams.builtin import BUILTIN
from vitrina.streams.declare import Stream

QUOTE_THRESHOLD = 9.9  # the quotes pipeline's alert level for the level-1 mid price
_STREAMS = {s.name: s for s in BUILTIN}


def merge(stream: str, aggregate: str) -> str:
    """`-Merge` of a rollup column, from the stream's declaration (so levels stay in sync)."""
    s: Stream = _STREAMS[stream]
    for a in s.rollups[0].aggregates:
        if a.name == aggregate:
            return a.merge_sql(f"`{aggregate}`")
    raise KeyError(f"{stream} rollup has no {aggregate!r}")


def _bucketed(select: str, stream: str, where: str = "", group: str = "", having: str = "") -> str:
    cond = f"$__timeFilter(t){f' AND {where}' if where else ''}"
    keys = f"time{f', {group}' if group else ''}"
    having = f"\nHAVING {having}" if having else ""
    return f"SELECT $__timeInterval(t) AS time, {select}\nFROM $__rollup({stream})\nWHERE {cond}\nGROUP BY {keys}{having}\nORDER BY {keys}"


def _quantiles(stream: str, aggregate: str, names: tuple[str, ...], where: str = "") -> str:
    """Quantile levels of a rollup column as one column each, buckets without values left out."""
    cols = ", ".join(f"q[{i}] AS {n}" for i, n in enumerate(names, 1))
    inner = _bucketed(f"{merge(stream, aggregate)} AS q", stream, where)
    return f"SELECT time, {cols} FROM (\n{inner}\n)\nWHERE NOT isNaN({names[0]})\nORDER BY time"


def _total(select: str, stream: str, where: str = "") -> str:
    return f"SELECT {select}\nFROM $__rollup({stream})\nWHERE $__timeFilter(t){f' AND {where}' if where else ''}"


# Events per stream: the first count() of each built-in rollup.
_COUNTS = {s.name: next(a.name for a in s.rollups[0].aggregates if a.function == "count") for s in BUILTIN}
_ALL_EVENTS = "\nUNION ALL\n".join(
    f"SELECT t, '{name}' AS stream, {merge(name, col)} AS n FROM $__rollup({name}) WHERE $__timeFilter(t) GROUP BY t"
    for name, col in _COUNTS.items()
)
_FAILURE = f"if({merge('uploads', 'attempts')} = 0, 0, 1 - {merge('uploads', 'created')} / {merge('uploads', 'attempts')})"
_AVAILABILITY = f"if({merge('probes', 'probes')} = 0, 0, {merge('probes', 'successes')} / {merge('probes', 'probes')})"
_UPLOAD_TIME = "toDateTime(ts_ns / 1000000000)"  # raw uploads keep ns; no comma: plugin macro args split on commas

_FAILURE_RATE = Panel(
    "failure_rate",
    "Upload failure rate",
    "timeseries",
    _bucketed(f"{_FAILURE} AS failure_rate", "uploads"),
    ("time", "failure_rate"),
    unit="percentunit",
    thresholds=(Threshold(0.5, "red", "critical: 50 %"),),
    width=12,
)
_ATTEMPT_CONTROL = Panel(
    "attempt_control",
    "Attempt-to-live time: control chart (mean ± 3σ)",
    "timeseries",
    _bucketed(f"{merge('uploads', 'attempt_avg')} AS attempt_s", "uploads", having="NOT isNaN(attempt_s)"),
    ("time", "attempt_s"),
    unit="s",
    control=ControlLimits("attempt_s", 3.0),
    width=12,
    description="Mean seconds from attempt to live per bucket; points beyond the limits are marked.",
)

OVERVIEW = Dashboard(
    "overview",
    "Overview",
    description="Pipeline health: what every stream takes in, what was rejected, the warehouse.",
    panels=(
        Panel("events", "Events in range", "stat", f"SELECT sum(n) AS events FROM (\n{_ALL_EVENTS}\n)", ("events",), width=4),
        Panel(
            "rejected",
            "Rejected in range",
            "stat",
            "SELECT count() AS rejected FROM $__table(rejected) WHERE $__timeFilter(time)",
            ("rejected",),
            thresholds=(Threshold(1, "orange"),),
            width=4,
        ),
        Panel(
            "failure",
            "Upload failure rate",
            "stat",
            _total(f"{_FAILURE} AS failure_rate", "uploads"),
            ("failure_rate",),
            "percentunit",
            width=4,
        ),
        Panel(
            "availability",
            "Availability",
            "stat",
            _total(f"{_AVAILABILITY} AS availability", "probes"),
            ("availability",),
            "percentunit",
            width=4,
        ),
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
            f"SELECT $__timeInterval(t) AS time, stream, sum(n) / $__interval_s AS events_per_s\nFROM (\n{_ALL_EVENTS}\n)\n"
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
            "by_stream",
            "Events by stream",
            "bar",
            f"SELECT stream, sum(n) AS events FROM (\n{_ALL_EVENTS}\n)\nGROUP BY stream ORDER BY stream",
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
            width=12,
        ),
    ),
)

UPLOADS = Dashboard(
    "uploads",
    "Uploads",
    description="Product-card uploads: throughput, failure rate, attempt times and their control chart, sellers.",
    panels=(
        Panel(
            "failure",
            "Failure rate",
            "stat",
            _total(f"{_FAILURE} AS failure_rate", "uploads"),
            ("failure_rate",),
            "percentunit",
            thresholds=(Threshold(0.5, "red"),),
            width=6,
        ),
        Panel("attempts", "Attempts", "stat", _total(f"{merge('uploads', 'attempts')} AS attempts", "uploads"), ("attempts",), width=6),
        Panel("sellers", "Unique sellers", "stat", _total(f"{merge('uploads', 'sellers')} AS sellers", "uploads"), ("sellers",), width=6),
        Panel(
            "attempt_mean",
            "Mean attempt time",
            "stat",
            _total(f"{merge('uploads', 'attempt_avg')} AS attempt_s", "uploads"),
            ("attempt_s",),
            "s",
            thresholds=(Threshold(30, "red"),),
            width=6,
        ),
        Panel(
            "throughput",
            "Attempts, created and errors per second",
            "timeseries",
            _bucketed(
                f"{merge('uploads', 'attempts')} / $__interval_s AS attempts, {merge('uploads', 'created')} / $__interval_s AS created, "
                f"{merge('uploads', 'errors')} / $__interval_s AS errors",
                "uploads",
            ),
            ("time", "attempts", "created", "errors"),
            "reqps",
            width=12,
        ),
        _FAILURE_RATE,
        _ATTEMPT_CONTROL,
        Panel(
            "attempt_quantiles",
            "Attempt time p50 / p90 / p99",
            "timeseries",
            _quantiles("uploads", "attempt_quantiles", ("p50", "p90", "p99")),
            ("time", "p50", "p90", "p99"),
            "s",
            width=12,
        ),
        Panel(
            "top_sellers",
            "Top sellers",
            "table",
            "SELECT toString(company_id) AS seller, count() AS attempts, countIf(is_created = 1) AS created,\n"
            "  round(1 - created / attempts, 3) AS failure_rate\n"
            f"FROM $__table(uploads) WHERE $__timeFilter({_UPLOAD_TIME})\nGROUP BY seller ORDER BY attempts DESC LIMIT 10",
            ("seller", "attempts", "created", "failure_rate"),
            width=6,
        ),
        Panel(
            "attempt_histogram",
            "Attempt time distribution",
            "histogram",
            "SELECT least(floor((toInt64(up_ts) - toInt64(ts_ns)) / 1e9), 120) AS attempt_s, count() AS items\n"
            f"FROM $__table(uploads) WHERE $__timeFilter({_UPLOAD_TIME}) AND is_created = 1 AND up_ts > ts_ns\n"
            "GROUP BY attempt_s ORDER BY attempt_s",
            ("attempt_s", "items"),
            width=6,
        ),
        Panel(
            "created_by_segment",
            "Created by segment (RU and the rest)",
            "bar",
            "SELECT if(country = 'RU', 'RU', 'rest') AS segment, countIf(is_created = 1) AS created\n"
            f"FROM $__table(uploads) WHERE $__timeFilter({_UPLOAD_TIME})\nGROUP BY segment ORDER BY segment",
            ("segment", "created"),
            width=6,
        ),
        Panel(
            "sellers_series",
            "Unique sellers per bucket",
            "timeseries",
            _bucketed(f"{merge('uploads', 'sellers')} AS sellers", "uploads"),
            ("time", "sellers"),
            width=6,
        ),
    ),
)

_METRIC = "metric_name = ${metric:sqlstring}"
METRICS = Dashboard(
    "metrics",
    "Metrics",
    description="Named service metrics: pick one; its value statistics, quantiles and control chart.",
    variables=(Variable("metric", "Metric", "SELECT DISTINCT metric_name FROM $__table(metrics_1m) ORDER BY metric_name LIMIT 1000"),),
    panels=(
        Panel("count", "Samples", "stat", _total(f"{merge('metrics', 'count')} AS samples", "metrics", _METRIC), ("samples",), width=6),
        Panel(
            "mean",
            "Mean value",
            "stat",
            _total(f"{merge('metrics', 'sum')} / {merge('metrics', 'count')} AS mean", "metrics", _METRIC),
            ("mean",),
            width=6,
        ),
        Panel("min", "Minimum", "stat", _total(f"{merge('metrics', 'min')} AS min", "metrics", _METRIC), ("min",), width=6),
        Panel("max", "Maximum", "stat", _total(f"{merge('metrics', 'max')} AS max", "metrics", _METRIC), ("max",), width=6),
        Panel(
            "value",
            "Mean, min and max per bucket",
            "timeseries",
            _bucketed(
                f"{merge('metrics', 'sum')} / {merge('metrics', 'count')} AS mean, {merge('metrics', 'min')} AS min, "
                f"{merge('metrics', 'max')} AS max",
                "metrics",
                _METRIC,
            ),
            ("time", "mean", "min", "max"),
            width=12,
        ),
        Panel(
            "control",
            "Mean value: control chart (mean ± 3σ)",
            "timeseries",
            _bucketed(f"{merge('metrics', 'sum')} / {merge('metrics', 'count')} AS mean", "metrics", _METRIC),
            ("time", "mean"),
            control=ControlLimits("mean"),
            width=12,
        ),
        Panel(
            "quantiles",
            "p50 / p90 / p99",
            "timeseries",
            _quantiles("metrics", "quantiles", ("p50", "p90", "p99"), _METRIC),
            ("time", "p50", "p90", "p99"),
            width=12,
        ),
        Panel(
            "all_metrics",
            "All metrics in range",
            "table",
            f"SELECT metric_name, {merge('metrics', 'count')} AS samples, round({merge('metrics', 'sum')} / samples, 3) AS mean,\n"
            f"  {merge('metrics', 'min')} AS min, {merge('metrics', 'max')} AS max\n"
            "FROM $__rollup(metrics) WHERE $__timeFilter(t)\nGROUP BY metric_name ORDER BY metric_name LIMIT 100",
            ("metric_name", "samples", "mean", "min", "max"),
            width=12,
        ),
    ),
)

_QUOTE_LINE = (Threshold(QUOTE_THRESHOLD, "red", f"alert: mid price > {QUOTE_THRESHOLD}"),)
QUOTES = Dashboard(
    "quotes",
    "Quotes",
    description="Order-book reports: the level-1 mid price against its alert threshold.",
    panels=(
        Panel(
            "last_mid",
            "Last level-1 mid price",
            "stat",
            _total(f"{merge('quotes', 'mid1_last')} AS mid", "quotes"),
            ("mid",),
            thresholds=_QUOTE_LINE,
            width=6,
        ),
        Panel(
            "reports_rate",
            "Reports per second",
            "stat",
            _total(f"{merge('quotes', 'reports')} / greatest(1, toUInt32($__toTime) - toUInt32($__fromTime)) AS per_s", "quotes"),
            ("per_s",),
            "reqps",
            width=6,
        ),
        Panel(
            "above",
            f"Share of seconds above {QUOTE_THRESHOLD}",
            "stat",
            f"SELECT if(count() = 0, 0, countIf(mx > {QUOTE_THRESHOLD}) / count()) AS above FROM (\n"
            f"SELECT t, {merge('quotes', 'mid1_max')} AS mx FROM $__table(quotes_1s) WHERE $__timeFilter(t) GROUP BY t)",
            ("above",),
            "percentunit",
            width=6,
        ),
        Panel(
            "max_mid",
            "Highest mid price",
            "stat",
            _total(f"{merge('quotes', 'mid1_max')} AS mid", "quotes"),
            ("mid",),
            thresholds=_QUOTE_LINE,
            width=6,
        ),
        Panel(
            "mid",
            "Level-1 mid price (mean, min, max)",
            "timeseries",
            _bucketed(
                f"{merge('quotes', 'mid1_avg')} AS mean, {merge('quotes', 'mid1_min')} AS min, {merge('quotes', 'mid1_max')} AS max",
                "quotes",
            ),
            ("time", "mean", "min", "max"),
            thresholds=_QUOTE_LINE,
            width=16,
        ),
        Panel(
            "levels",
            "Mid price by level (latest report)",
            "bar",
            "SELECT level, (asks[level] + bids[level]) / 2 AS mid FROM (\n"
            f"  SELECT [{', '.join(f'bid_{i}' for i in range(1, 51))}] AS bids,\n"
            f"         [{', '.join(f'ask_{i}' for i in range(1, 51))}] AS asks\n"
            "  FROM $__table(quotes) WHERE $__timeFilter(timestamp) ORDER BY timestamp DESC LIMIT 1\n"
            ") ARRAY JOIN range(1, 51) AS level ORDER BY level",
            ("level", "mid"),
            width=8,
        ),
        Panel(
            "mid_control",
            "Mean mid price: control chart (mean ± 3σ)",
            "timeseries",
            _bucketed(f"{merge('quotes', 'mid1_avg')} AS mean", "quotes"),
            ("time", "mean"),
            control=ControlLimits("mean"),
            thresholds=_QUOTE_LINE,
            width=12,
        ),
        Panel(
            "reports",
            "Reports per second",
            "timeseries",
            _bucketed(f"{merge('quotes', 'reports')} / $__interval_s AS reports", "quotes"),
            ("time", "reports"),
            "reqps",
            width=12,
        ),
    ),
)

SITE = Dashboard(
    "site",
    "Site",
    description="The shop clickstream: events by kind, users, amounts and pages.",
    panels=(
        Panel("events", "Events", "stat", _total(f"{merge('site_events', 'events')} AS events", "site_events"), ("events",), width=8),
        Panel("users", "Users", "stat", _total(f"{merge('site_events', 'users')} AS users", "site_events"), ("users",), width=8),
        Panel(
            "amount",
            "Amount",
            "stat",
            _total(f"{merge('site_events', 'amount')} AS amount", "site_events"),
            ("amount",),
            "currencyUSD",
            width=8,
        ),
        Panel(
            "by_type",
            "Events per second by kind",
            "timeseries",
            _bucketed(f"event_type, {merge('site_events', 'events')} / $__interval_s AS events", "site_events", group="event_type"),
            ("time", "event_type", "events"),
            "reqps",
            series="event_type",
            width=16,
        ),
        Panel(
            "funnel",
            "Events by kind",
            "bar",
            f"SELECT event_type, {merge('site_events', 'events')} AS events FROM $__rollup(site_events)\n"
            "WHERE $__timeFilter(t) GROUP BY event_type ORDER BY events DESC",
            ("event_type", "events"),
            width=8,
        ),
        Panel(
            "users_series",
            "Users per bucket",
            "timeseries",
            _bucketed(f"{merge('site_events', 'users')} AS users", "site_events"),
            ("time", "users"),
            width=12,
        ),
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

STORE = Dashboard(
    "store",
    "Store",
    description="Multi-region commerce: requests per datacenter, event mix, revenue and the best sellers.",
    panels=(
        Panel(
            "revenue",
            "Revenue",
            "stat",
            _total(f"{merge('store_events', 'revenue')} AS revenue", "store_events"),
            ("revenue",),
            "currencyUSD",
            width=8,
        ),
        Panel(
            "purchases",
            "Purchases",
            "stat",
            _total(f"{merge('store_events', 'events')} AS purchases", "store_events", "type = 'purchase'"),
            ("purchases",),
            width=8,
        ),
        Panel(
            "conversion",
            "Conversion (purchases / views)",
            "stat",
            "SELECT if(views = 0, 0, purchases / views) AS conversion FROM (\n"
            f"SELECT sumIf(n, type = 'purchase') AS purchases, sumIf(n, type = 'view') AS views FROM (\n"
            f"SELECT type, {merge('store_events', 'events')} AS n FROM $__rollup(store_events) WHERE $__timeFilter(t) GROUP BY type))",
            ("conversion",),
            "percentunit",
            width=8,
        ),
        Panel(
            "requests",
            "Requests per minute by datacenter",
            "timeseries",
            _bucketed(f"datacenter, {merge('store_events', 'events')} * 60 / $__interval_s AS per_min", "store_events", group="datacenter"),
            ("time", "datacenter", "per_min"),
            series="datacenter",
            width=12,
        ),
        Panel(
            "revenue_series",
            "Revenue per bucket",
            "timeseries",
            _bucketed(f"{merge('store_events', 'revenue')} AS revenue", "store_events"),
            ("time", "revenue"),
            "currencyUSD",
            width=12,
        ),
        Panel(
            "mix",
            "Event mix",
            "bar",
            f"SELECT type, {merge('store_events', 'events')} AS events FROM $__rollup(store_events)\n"
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

_P = merge("probes", "response_quantiles")
STABILITY = Dashboard(
    "stability",
    "Stability",
    description="Availability probes: uptime and response times by location.",
    panels=(
        Panel(
            "availability",
            "Availability",
            "stat",
            _total(f"{_AVAILABILITY} AS availability", "probes"),
            ("availability",),
            "percentunit",
            thresholds=(Threshold(0.99, "red", "target: 99 %", above=False),),
            width=8,
        ),
        Panel("probes", "Probes", "stat", _total(f"{merge('probes', 'probes')} AS probes", "probes"), ("probes",), width=8),
        Panel("p95", "p95 response time", "stat", _total(f"{_P}[2] AS p95_ms", "probes"), ("p95_ms",), "ms", width=8),
        Panel(
            "availability_series",
            "Availability by location",
            "timeseries",
            _bucketed(f"location, {_AVAILABILITY} AS availability", "probes", group="location"),
            ("time", "location", "availability"),
            "percentunit",
            series="location",
            width=12,
        ),
        Panel(
            "p95_series",
            "p95 response time by location",
            "timeseries",
            _bucketed(f"location, {_P}[2] AS p95_ms", "probes", group="location"),
            ("time", "location", "p95_ms"),
            "ms",
            series="location",
            width=12,
        ),
        Panel(
            "locations",
            "By location",
            "table",
            f"SELECT location, {merge('probes', 'probes')} AS checks, round({_AVAILABILITY}, 4) AS availability,\n"
            f"  round({_P}[1], 1) AS p50_ms, round({_P}[2], 1) AS p95_ms, round({_P}[3], 1) AS p99_ms\n"
            "FROM $__rollup(probes) WHERE $__timeFilter(t) GROUP BY location ORDER BY location",
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

ALERTS = Dashboard(
    "alerts",
    "Alerts",
    description="Alert rules with their states, and the figures the seed rules watch.",
    panels=(
        Panel("alert_list", "Alert rules", "alerts", width=24, height=6),
        _FAILURE_RATE,
        _ATTEMPT_CONTROL,
        Panel(
            "sellers",
            "Unique sellers per bucket",
            "timeseries",
            _bucketed(f"{merge('uploads', 'sellers')} AS sellers", "uploads"),
            ("time", "sellers"),
            thresholds=(Threshold(100, "orange", "warning: < 100 sellers", above=False),),
            width=12,
        ),
        Panel(
            "mid",
            "Level-1 mid price",
            "timeseries",
            _bucketed(f"{merge('quotes', 'mid1_max')} AS max", "quotes"),
            ("time", "max"),
            thresholds=_QUOTE_LINE,
            width=12,
        ),
    ),
)

DASHBOARDS: tuple[Dashboard, ...] = (OVERVIEW, UPLOADS, METRICS, QUOTES, SITE, STORE, STABILITY, ALERTS)
BY_NAME = {d.name: d for d in DASHBOARDS}
