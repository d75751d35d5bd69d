"""The warehouse's own session after a failed query: the next query answers its own rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from vitrina.warehouse.client import Warehouse, parse_dsn

# Answers 300 blocks, then fails: chdb keeps what it had written for the next query.
FAILS_MIDWAY = "SELECT number, throwIf(number = 300000) FROM numbers(1000000) SETTINGS max_block_size = 1000"


def test_a_failed_query_leaves_nothing_for_the_next(tmp_folder: Path) -> None:
    wh = Warehouse(parse_dsn(f"chdb://{tmp_folder / 'ch'}", "vitrina"))
    try:
        for run in (wh.query, wh.command):
            with pytest.raises(Exception, match="throwIf"):
                run(FAILS_MIDWAY)
            assert wh.query("SELECT 42 AS x").result_rows == [(42,)]
    finally:
        wh.close()
