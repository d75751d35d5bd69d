"""The six built-in streams, with the field names and types the seed systems send
(docs/STREAMS.md), their storage policy and their per-second rollups."""

from __future__ import annotations

from vitrina.streams.declare import Aggregate, Rollup, Stream
from vitrina.streams.fields import Field

QUANTILES = (0.5, 0.9, 0.99)
# No whitespace in a URL, by both regex dialects: Python's \s (the validator's) also takes
# \x1c-\x1f and \x85, ECMAScript's (the OpenAPI document's) also \ufeff; naming them makes
# the two agree.
_NOT_SPACE = r"[^\s\x1c-\x1f\x85\ufeff"
URL_PATTERN = rf"^https?://{_NOT_SPACE}/$.?#]{_NOT_SPACE}]*$"

METRICS = Stream(
    name="metrics",
    description="Named service metrics: the seed's POST /upload/metrics/ body, with optional time and tags.",
    fields=(
        Field("time", "timestamp", required=False, description="Event time; the arrival time when absent."),
        Field("metric_name", "string", max_length=256, low_cardinality=True),
        Field("metric_value", "float", description="Any finite number; integers are valid."),
        Field("tags", "map_string", required=False),
    ),
    time_field="time",
    order_by=("metric_name", "time"),
    rollups=(
        Rollup(
            name="",
            keys=(("metric_name", "metric_name"),),
            aggregates=(
                Aggregate("count", "count"),
                Aggregate("sum", "sum", ("metric_value",)),
                Aggregate("min", "min", ("metric_value",)),
                Aggregate("max", "max", ("metric_value",)),
                Aggregate("quantiles", "quantiles", ("metric_value",), levels=QUANTILES),
            ),
            description="Per metric name: count, sum, min, max and p50/p90/p99 of the value.",
        ),
    ),
    builtin=True,
)


def attempt_seconds(live_at: str = "up_ts", attempted_at: str = "ts_ns") -> str:
    """Seconds from an upload attempt to the card going live (both in epoch ns): per attempt as
    declared, or per item with aggregates of the two, e.g. max(up_ts) and min(ts_ns)."""
    return f"(toInt64({live_at}) - toInt64({attempted_at})) / 1e9"


LIVE = "is_created = 1 AND up_ts > ts_ns"  # an attempt that made its card go live
# The upload monitor's failure rate: of the items first seen in a window, the share that no
# attempt created, sum(if(is_created, 0, 1)) / count() over its per-item table (one row per
# item, is_created true once any attempt created it). Not a share of attempts: an item is
# retried until created, and each UPDATE before that is normal.
ITEM_FAILURE_RATE = "sum(if(created, 0, 1)) / count()"  # over item_rows (or uploads_items)
ITEM_CONTEXT_NS = 3_600 * 10**9  # an item's earlier attempts are looked for this far back


def item_rows(table: str, start_ns: str, end_ns: str) -> str:
    """One row per item first seen in [start_ns, end_ns) (UInt64 ns expressions): its seller,
    first attempt (`first_ns`), whether any attempt before `end_ns` created it (`created`) and
    its `attempts`.
    Attempts up to ITEM_CONTEXT_NS before the window tell an item seen earlier from a new one."""
    since = f"toUInt64(greatest(toInt64({start_ns}) - {ITEM_CONTEXT_NS}, 0))"
    return (
        "SELECT item_id, argMin(company_id, ts_ns) AS company_id, min(ts_ns) AS first_ns, max(is_created) AS created, "
        "count() AS attempts "
        f"FROM {table} WHERE ts_ns >= {since} AND ts_ns < {end_ns} GROUP BY item_id HAVING first_ns >= {start_ns}"
    )


# The upload monitor's segments: Russia and the rest (no country is the rest).
SEGMENTS = ("RU", "rest")
SEGMENT = "if(ifNull(country, '') = 'RU', 'RU', 'rest')"
ATTEMPT_SECONDS = attempt_seconds()

UPLOADS = Stream(
    name="uploads",
    description="Product-card upload attempts: the upload monitor's Kafka `item_events` format.",
    fields=(
        Field("ts_ns", "timestamp", required=False, unit="ns", storage="epoch_ns", description="Attempt time, ns since the epoch."),
        Field("item_id", "uint"),
        Field("company_id", "uint", description="The seller."),
        Field("category_id", "uint"),
        Field("origin", "string", max_length=64, low_cardinality=True, description="upload/ui, upload/api, update/manual."),
        Field("media", "map_uint", required=False),
        Field("country", "string", required=False, nullable=True, max_length=16, low_cardinality=True),
        Field("url_by_media", "map_uint", required=False),
        Field("event", "enum", values=("SAVE", "UPDATE", "ERROR"), description="SAVE when the card was created."),
        Field("attempt_id", "id", required=False, default=""),
        Field("request_id", "id", required=False, default=""),
        Field("up_ts", "uint", required=False, default=0, description="ns when the card went live; 0 if not."),
        Field("is_created", "uint", required=False, default=0, le=1),
        Field("origin_id", "uint", required=False, default=0, le=65535),
        Field("data", "json", required=False, description="Any JSON value, kept as text."),
    ),
    time_field="ts_ns",
    order_by=("company_id", "item_id", "ts_ns"),
    # An item's attempts stay on one shard (uploads_items, attempt-to-live times are per item);
    # item ids are many and even, unlike sellers, a few of whom upload most of the cards.
    shard_key="intHash64(item_id)",
    rollups=(
        Rollup(
            name="",
            keys=(),
            aggregates=(
                Aggregate("attempts", "count"),
                Aggregate("created", "count", where="is_created = 1"),
                Aggregate("errors", "count", where="event = 'ERROR'"),
                Aggregate("sellers", "uniq", ("company_id",)),
                Aggregate("attempt_avg", "avg", (ATTEMPT_SECONDS,), where=LIVE),
                Aggregate("attempt_quantiles", "quantiles", (ATTEMPT_SECONDS,), where=LIVE, levels=QUANTILES),
            ),
            # Per attempt, under its own name: the failure rate is per item (ITEM_FAILURE_RATE).
            figures=(("failed_attempt_share", "if(attempts = 0, 0, 1 - created / attempts)"),),
            description="Throughput, created and failed attempts, sellers, attempt-to-live seconds.",
        ),
    ),
    builtin=True,
)

QUOTE_LEVELS = range(1, 51)  # the order book's levels: bid_1..bid_50, ask_1..ask_50


def mid_price(level: int) -> str:
    """The mid price of one order-book level."""
    return f"(ask_{level} + bid_{level}) / 2"


QUOTES = Stream(
    name="quotes",
    description="Order-book reports, 50 bid and 50 ask levels: the quotes pipeline's Kafka `metrics_raw` format.",
    fields=(
        Field("timestamp", "timestamp", required=False, precision=6, description="Float seconds since the epoch."),
        *(Field(f"bid_{i}", "float") for i in QUOTE_LEVELS),
        *(Field(f"ask_{i}", "float") for i in QUOTE_LEVELS),
        Field("stats", "array_float", required=False, description="[bid_avg, ask_avg]."),
    ),
    time_field="timestamp",
    order_by=("timestamp",),
    rollups=(
        Rollup(
            name="",
            keys=(),
            aggregates=(
                Aggregate("reports", "count"),
                Aggregate("mid1_avg", "avg", (mid_price(1),)),
                Aggregate("mid1_min", "min", (mid_price(1),)),
                Aggregate("mid1_max", "max", (mid_price(1),)),
                Aggregate("mid1_last", "argMax", (mid_price(1), "timestamp")),
            ),
            description="Level-1 mid price (ask_1 + bid_1) / 2: mean, min, max and last.",
        ),
    ),
    builtin=True,
)

SITE_EVENTS = Stream(
    name="site_events",
    description="The shop clickstream of the seed's POST /events/.",
    fields=(
        Field("dt", "timestamp", description="Event time."),
        Field("name", "string", max_length=64, low_cardinality=True, description="view or click."),
        Field("user_id", "uint"),
        Field("url", "string", max_length=2048, pattern=URL_PATTERN, description="An http(s) URL.", example="https://shop.example/"),
        Field("obj", "string", max_length=64, low_cardinality=True, description="page, url or button."),
        Field("obj_id", "string", required=False, default="", max_length=256),
        Field("product_id", "uint", required=False, default=0),
        Field("amount", "float", required=False, default=0.0, ge=0),
        Field("exp", "map_string", required=False, description="Experiment assignments."),
    ),
    time_field="dt",
    order_by=("user_id", "dt"),
    shard_key="intHash64(user_id)",  # a user's sessions and funnel steps stay on one shard
    # The seed's event kinds: view_page, click_url, and for button clicks the button
    # (add_to_cart, checkout, register).
    derived=(("event_type", "LowCardinality(String)", "if(obj = 'button', obj_id, concat(name, '_', obj))"),),
    rollups=(
        Rollup(
            name="",
            keys=(("event_type", "event_type"),),
            aggregates=(
                Aggregate("events", "count"),
                Aggregate("users", "uniq", ("user_id",)),
                Aggregate("amount", "sum", ("amount",)),
            ),
            description="Events, users and amount per event type.",
        ),
    ),
    builtin=True,
)

STORE_EVENTS = Stream(
    name="store_events",
    description="Multi-region commerce events (the public e-commerce behaviour schema plus the datacenter).",
    fields=(
        Field("time", "timestamp", required=False),
        Field("type", "enum", values=("view", "cart", "purchase", "remove_from_cart")),
        Field("product_id", "uint"),
        Field("category_id", "uint"),
        Field("category_code", "string", required=False, nullable=True, max_length=256, low_cardinality=True),
        Field("brand", "string", required=False, nullable=True, max_length=256, low_cardinality=True),
        Field("price", "float", ge=0),
        Field("user_id", "uint"),
        Field("user_session", "string", max_length=128),
        Field("datacenter", "string", max_length=32, low_cardinality=True, description="eu, usa, asia."),
    ),
    time_field="time",
    order_by=("datacenter", "type", "time"),
    shard_key="intHash64(user_id)",  # a user's session, not the three datacenters, picks the shard
    rollups=(
        Rollup(
            name="",
            keys=(("datacenter", "datacenter"), ("type", "type")),
            aggregates=(
                Aggregate("events", "count"),
                Aggregate("revenue", "sum", ("price",), where="type = 'purchase'"),
                Aggregate("users", "uniq", ("user_id",)),
            ),
            description="Requests, revenue and users per datacenter and event type.",
        ),
    ),
    builtin=True,
)

PROBES = Stream(
    name="probes",
    description="Availability checks: from a location, a target answered with a status in some time.",
    fields=(
        Field("time", "timestamp", required=False),
        Field("location", "string", max_length=64, low_cardinality=True),
        Field("target", "string", max_length=2048, low_cardinality=True),
        Field("status_code", "uint", le=999, description="0 when the check got no answer."),
        Field("response_time_ms", "float", ge=0),
    ),
    time_field="time",
    order_by=("location", "target", "time"),
    shard_key="cityHash64(location, target)",  # each check's availability and uptime on one shard
    derived=(("ok", "UInt8", "status_code BETWEEN 200 AND 399"),),
    rollups=(
        Rollup(
            name="",
            keys=(("location", "location"), ("target", "target")),
            aggregates=(
                Aggregate("probes", "count"),
                Aggregate("successes", "count", where="ok = 1"),
                Aggregate("response_quantiles", "quantiles", ("response_time_ms",), levels=(0.5, 0.95, 0.99)),
            ),
            figures=(("availability", "if(probes = 0, 0, successes / probes)"),),
            description="Probes, successes and p50/p95/p99 response time per location and target.",
        ),
    ),
    builtin=True,
)

BUILTIN = (METRICS, UPLOADS, QUOTES, SITE_EVENTS, STORE_EVENTS, PROBES)
