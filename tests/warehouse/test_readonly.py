"""The reader pool: every type a query can return is answered as JSON, rows are capped
exactly, limits come from `[sql]`, and up to `concurrency` queries run at once. In-process,
on a real chdb folder."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest

from tests.conftest import wait_until
from vitrina.config import SqlSettings
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.readonly import QueryRefused, ReadOnlySql


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    wh = Warehouse(parse_dsn(f"chdb://{tmp_path_factory.mktemp('readonly') / 'ch'}", "vitrina"))
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def sql(warehouse: Warehouse) -> Iterator[ReadOnlySql]:
    reader = ReadOnlySql(warehouse, SqlSettings(max_rows=10, concurrency=4))
    yield reader
    reader.close()


def answer(sql: ReadOnlySql, query: str) -> dict[str, object]:
    body: dict[str, object] = json.loads(sql.run(query).body())  # the bytes /v1/sql answers
    return body


TYPES = {
    "ip6": ("toIPv6('2001:db8::1')", "IPv6", "2001:db8::1"),
    "ip4": ("toIPv4('10.1.2.3')", "IPv4", "10.1.2.3"),
    "uuid": ("toUUID('00000000-0000-0000-0000-000000000001')", "UUID", "00000000-0000-0000-0000-000000000001"),
    "dec": ("toDecimal64(1.25, 2)", "Decimal(18, 2)", 1.25),
    "dec256": ("toDecimal256('123456789012345678901234567890.125', 3)", "Decimal(76, 3)", 123456789012345678901234567890.125),
    "date": ("toDate('2024-01-02')", "Date", "2024-01-02"),
    "date32": ("toDate32('1900-01-01')", "Date32", "1900-01-01"),
    "dt": ("toDateTime('2024-05-01 04:00:00', 'UTC')", "DateTime('UTC')", "2024-05-01T04:00:00Z"),
    "dt64": ("toDateTime64('2024-05-01 04:00:00.5', 3, 'UTC')", "DateTime64(3, 'UTC')", "2024-05-01T04:00:00.500Z"),
    "map": ("map(1, 'a', 2, 'b')", "Map(UInt8, String)", {"1": "a", "2": "b"}),
    "tuple": ("tuple(1, 'a')", "Tuple(UInt8, String)", [1, "a"]),
    "named": ("CAST((1, 'a'), 'Tuple(x Int8, y String)')", "Tuple(x Int8, y String)", {"x": 1, "y": "a"}),
    "array": ("[[1], [2, 3]]", "Array(Array(UInt8))", [[1], [2, 3]]),
    "nested": ("CAST([(1, 'a')], 'Nested(x Int8, y String)')", "Nested(x Int8, y String)", [{"x": 1, "y": "a"}]),
    "lc": ("toLowCardinality('lc')", "LowCardinality(String)", "lc"),
    "null": ("CAST(NULL, 'Nullable(Int8)')", "Nullable(Int8)", None),
    "enum": ("CAST('b', 'Enum8(\\'a\\' = 1, \\'b\\' = 2)')", "Enum8('a' = 1, 'b' = 2)", "b"),
    "u64": ("toUInt64(18446744073709551615)", "UInt64", 18446744073709551615),
    "i64": ("toInt64(-9223372036854775808)", "Int64", -9223372036854775808),
    "u128": ("toUInt128('340282366920938463463374607431768211455')", "UInt128", 2**128 - 1),
    "u256": ("toUInt256('115792089237316195423570985008687907853269984665640564039457584007913129639935')", "UInt256", 2**256 - 1),
    "i256": ("toInt256('-57896044618658097711785492504343953926634992332820282019728792003956564819968')", "Int256", -(2**255)),
    "bool": ("true", "Bool", True),
    "nan": ("nan", "Float64", None),
    "inf": ("-inf", "Float64", None),
    "f32": ("toFloat32(0.1)", "Float32", 0.1),
    "bad_utf8": ("'a\\xFFb'", "String", "a\ufffdb"),
    "fixed": ("toFixedString('ab', 3)", "FixedString(3)", "ab\u0000"),
    "json": ("CAST('{\"a\": 1}', 'JSON')", "JSON", {"a": 1}),
    "point": ("CAST((1.5, 2), 'Point')", "Point", [1.5, 2]),
    "interval": ("INTERVAL 3 DAY", "IntervalDay", 3),
    "time": ("toTime('12:30:00')", "Time", "12:30:00"),
    "variant": ("CAST(CAST(7, 'Int8'), 'Variant(Int8, String)')", "Variant(Int8, String)", 7),
}


def test_every_type_is_answered_as_json(sql: ReadOnlySql) -> None:
    query = "SELECT " + ", ".join(f"{expr} AS {name}" for name, (expr, _, _) in TYPES.items())
    body = answer(sql, query)
    assert body["meta"] == [{"name": n, "type": t} for n, (_, t, _) in TYPES.items()]
    assert body["data"] == [{n: v for n, (_, _, v) in TYPES.items()}]
    state = answer(sql, "SELECT uniqState(1) AS s")  # an aggregate state's bytes, as valid UTF-8 text
    assert state["meta"] == [{"name": "s", "type": "AggregateFunction(uniq, UInt8)"}]


def test_the_row_cap_is_exact_and_said(sql: ReadOnlySql) -> None:
    capped = answer(sql, "SELECT number FROM numbers(1000000)")
    assert capped["rows"] == 10 and capped["truncated"] is True and capped["data"][-1] == {"number": 9}  # type: ignore[index]
    exact = answer(sql, "SELECT number FROM numbers(10)")
    assert exact["rows"] == 10 and exact["truncated"] is False
    # the cap is the answer's only: inner queries see all their rows
    assert answer(sql, "SELECT count() AS n FROM (SELECT number FROM numbers(1000))")["data"] == [{"n": 1000}]
    assert answer(sql, "SELECT number FROM numbers(100) LIMIT 3")["rows"] == 3


def test_explain_ast_shows_the_query_as_sent(sql: ReadOnlySql) -> None:
    """EXPLAIN AST runs without the answer's FORMAT (it would show up in the tree as the
    query's own); the row cap shows as an outer LIMIT, as ClickHouse applies it."""
    body = answer(sql, "EXPLAIN AST SELECT 1")
    rows = [r["explain"] for r in body["data"]]  # type: ignore[attr-defined]
    assert body["meta"] == [{"name": "explain", "type": "String"}]
    assert rows[0] == "SelectWithUnionQuery (children 1)" and body["truncated"] is True  # 15 rows, 10 answered
    assert not any("Identifier" in r for r in rows), rows


def test_the_current_database_is_vitrinas(sql: ReadOnlySql, warehouse: Warehouse) -> None:
    warehouse.command("CREATE TABLE IF NOT EXISTS vitrina.plain (x UInt8) ENGINE = MergeTree ORDER BY x")
    warehouse.command("INSERT INTO vitrina.plain VALUES (1), (2)")
    assert answer(sql, "SELECT count() AS n FROM plain")["data"] == [{"n": 2}]
    assert answer(sql, "SELECT count() AS n FROM vitrina.plain")["data"] == [{"n": 2}]


def test_clickhouse_errors_are_given_whole(sql: ReadOnlySql) -> None:
    with pytest.raises(QueryRefused) as caught:
        sql.run("SELECT count() FROM metrics WHERE")
    message = caught.value.message
    assert caught.value.status == 400 and caught.value.error == "syntax_error"
    assert "failed at position 34 (end of query)" in message and "Expected one of:" in message and "SYNTAX_ERROR" in message
    assert "formatQuery" not in message  # our own parse call is not the reader's business
    with pytest.raises(QueryRefused) as unknown:
        sql.run("SELECT nope FROM plain")
    assert "Unknown expression identifier `nope`" in unknown.value.message and "UNKNOWN_IDENTIFIER" in unknown.value.message


def test_limits_come_from_the_settings(warehouse: Warehouse) -> None:
    # The memory and result limits are checked with a generous time limit, so that a slow,
    # busy machine reaches them before the clock; the time limit alone with a short one.
    limits = SqlSettings(max_memory_mb=50, max_result_mb=1, max_threads=1, timeout_s=60, concurrency=1)
    reader, quick = ReadOnlySql(warehouse, limits), ReadOnlySql(warehouse, SqlSettings(timeout_s=1, concurrency=1))
    try:
        settings = answer(reader, "SELECT getSetting('max_memory_usage') AS m, getSetting('max_threads') AS t, getSetting('readonly') AS r")
        assert settings["data"] == [{"m": 50 * 1024 * 1024, "t": 1, "r": 1}]
        for on, query, error, why in (
            (reader, "SELECT uniqExact(number) FROM numbers(30000000)", "limit_exceeded", "memory limit of 50 MiB"),
            (reader, "SELECT groupArray(number) FROM numbers(1000000)", "limit_exceeded", "result limit of 1 MiB"),
            (quick, "SELECT count() FROM numbers(100000000000)", "timeout", "time limit of 1 s"),
        ):
            with pytest.raises(QueryRefused) as caught:
                on.run(query)
            assert caught.value.error == error and why in caught.value.message, caught.value.message
    finally:
        reader.close()
        quick.close()


def test_queries_run_side_by_side(warehouse: Warehouse) -> None:
    """Four one-second queries on a pool of four end in about one second, not four."""
    reader = ReadOnlySql(warehouse, SqlSettings(concurrency=4))
    took: list[float] = []
    try:

        def one() -> None:
            reader.run("SELECT sleep(1)")
            took.append(time.monotonic() - started)

        threads = [threading.Thread(target=one) for _ in range(4)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        reader.close()
    assert len(took) == 4 and max(took) < 2.5, took


def test_a_full_pool_answers_busy_after_the_wait(warehouse: Warehouse) -> None:
    reader = ReadOnlySql(warehouse, SqlSettings(concurrency=1, queue_timeout_s=0.3))
    refused: list[QueryRefused] = []
    try:
        first = threading.Thread(target=reader.run, args=("SELECT sleep(1.5)",))
        first.start()
        wait_until(reader._idle.empty, 5, "the first query holding the only session")
        try:
            reader.run("SELECT 1")
        except QueryRefused as exc:
            refused.append(exc)
        first.join()
        assert reader.run("SELECT 1").rows == 1  # free again
    finally:
        reader.close()
    assert refused and refused[0].status == 503 and refused[0].retry_after == 1 and "[sql] concurrency" in refused[0].message
