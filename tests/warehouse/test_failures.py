"""The failure classification every loader path uses: each code it names means what it says
in the engine itself, real refusals are recognised as such and real transient failures are not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.failures import REFUSAL_CODES, TRANSIENT_EXAMPLES, error_code, is_refusal


@pytest.fixture
def wh(tmp_folder: Path) -> Iterator[Warehouse]:
    w = Warehouse(parse_dsn(f"chdb://{tmp_folder / 'ch'}", "vitrina"))
    w.command("CREATE TABLE vitrina.narrow (x UInt8, d Date) ENGINE = MergeTree ORDER BY x")
    yield w
    w.close()


def test_every_named_code_is_the_engines_name_for_it(wh: Warehouse) -> None:
    codes = {**REFUSAL_CODES, **TRANSIENT_EXAMPLES}
    names = dict(
        wh.query(
            "SELECT number, errorCodeToName(number) FROM numbers(1000) WHERE number IN {c:Array(UInt32)}", parameters={"c": list(codes)}
        ).result_rows
    )
    assert {code: names.get(code) for code in codes} == codes
    assert not set(REFUSAL_CODES) & set(TRANSIENT_EXAMPLES)


@pytest.mark.parametrize("row", [b'{"x":"seven"}', b'{"x":1,"d":"not a date"}', b'{"x":1,"y":2}', b'{"x":[1]}'])
def test_rows_clickhouse_cannot_store_are_refusals(wh: Warehouse, row: bytes) -> None:
    with pytest.raises(Exception) as caught:
        wh.insert_json_rows("narrow", row + b"\n")
    assert is_refusal(caught.value), f"code {error_code(caught.value)}: {caught.value}"


def test_limits_missing_tables_and_python_errors_are_transient(wh: Warehouse) -> None:
    failures: list[BaseException] = [ConnectionError("refused"), TimeoutError(), RuntimeError("Code: 394. Query was cancelled")]
    for sql in (
        "SELECT count() FROM numbers(10000000) GROUP BY number % 1000000 SETTINGS max_memory_usage = 1000000",
        "SELECT sleepEachRow(0.5) FROM numbers(3) SETTINGS max_block_size = 1, max_execution_time = 0.2",
        "SELECT * FROM vitrina.no_such_table",
    ):
        with pytest.raises(Exception) as caught:
            wh.query(sql)
        failures.append(caught.value)
    assert [error_code(f) for f in failures[2:]] == [394, 241, 159, 60]
    assert not any(is_refusal(f) for f in failures)
