"""`vitrina ddl kafka-engine`: ClickHouse Kafka-engine tables and materialized views, for a
ClickHouse server that consumes the topics itself (the quotes seed's way).

Caveat, printed with the DDL: the Kafka engine is at-least-once. It commits offsets after
the block reached the materialized views, and a rebalance or a server restart between the
insert and the commit inserts the block again; nothing deduplicates it. vitrina's own loader
(`vitrina load`) is exactly-once in effect and is the default; chdb cannot run the Kafka
engine at all (creating one breaks the data folder), so this DDL is for servers only.
"""

from __future__ import annotations

from vitrina.config import TransportSettings
from vitrina.core import REJECTED_TABLE
from vitrina.log.naming import routes
from vitrina.streams.declare import Stream
from vitrina.streams.rejected import REJECTED
from vitrina.warehouse.engine import EnginePolicy

CAVEAT = """-- vitrina: Kafka-engine tables for a ClickHouse SERVER (not chdb) that consumes the topics itself.
-- AT-LEAST-ONCE: the Kafka engine commits offsets after inserting, so a rebalance or a restart
-- between the two inserts a block again, and nothing deduplicates it. Prefer `vitrina load`
-- (exactly-once in effect: insert_deduplication_token from topic/partition/offsets).
-- Bad messages are kept in `rejected` (kafka_handle_error_mode = 'stream').
"""


# As intake writes them to the rejected topic, with the API key that sent each.
_REJECTED_COLUMNS = tuple((c.name, c.wire_type) for c in REJECTED.written)


def _quote(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def kafka_engine_ddl(
    transport: TransportSettings,
    streams: dict[str, Stream],
    database: str,
    group: str = "vitrina-clickhouse",
    policy: EnginePolicy | None = None,
) -> str:
    """On a cluster (`policy`), every node consumes a share of the partitions and its views
    insert through the `_all` tables, so rows land on the shard their key picks."""
    policy = policy or EnginePolicy(database)
    out = [CAVEAT]
    for topic, route in sorted(routes(transport, streams).items()):
        name = "".join(c if c.isalnum() else "_" for c in topic)
        queue = f"{database}.`kafka_{name}`"
        if route.stream == REJECTED_TABLE:
            columns = list(_REJECTED_COLUMNS)
            target, label = REJECTED_TABLE, "the rejected table (intake's rejects)"
        else:
            stream = streams[route.stream]
            columns = [(f.name, f.clickhouse_type()) for f in stream.fields]
            target, label = stream.table, f"stream {stream.name}{' (foreign format)' if route.foreign else ''}"
        cols = ",\n".join(f"    `{n}` {t}" for n, t in columns)
        names = ", ".join(f"`{n}`" for n, _ in columns)
        settings = (
            f"    kafka_broker_list = {_quote(transport.kafka)},\n"
            f"    kafka_topic_list = {_quote(topic)},\n"
            f"    kafka_group_name = {_quote(group)},\n"
            "    kafka_format = 'JSONEachRow',\n"
            f"    kafka_num_consumers = {max(1, min(transport.partitions, 4))},\n"
            "    kafka_handle_error_mode = 'stream'"
        )
        out.append(f"-- topic {topic} -> {label}\n" + policy.kafka_queue(f"kafka_{name}", cols, settings) + ";\n")
        select = f"SELECT {names}\nFROM {queue}\nWHERE length(_error) = 0"
        out.append(policy.kafka_view(f"kafka_{name}_mv", target, select) + ";\n")
        errors = (
            f"SELECT {_quote(route.stream)} AS stream, 'kafka-engine' AS source,\n"
            "    concat(_topic, '/', toString(_partition), '/', toString(_offset)) AS position,\n"
            "    _error AS reason, _raw_message AS raw\n"
            f"FROM {queue}\nWHERE length(_error) > 0"
        )
        out.append(policy.kafka_view(f"kafka_{name}_errors_mv", REJECTED_TABLE, errors) + ";\n")
    return "\n".join(out)
