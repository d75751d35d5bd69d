"""The dashboard's panel session after a failed panel: the next panel answers its own rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from vitrina.serve.dashboards.data import PanelRunner
from vitrina.warehouse.client import Warehouse, parse_dsn

# Answers 300 blocks, then fails: chdb keeps what it had written for the next query.
FAILS_MIDWAY = "SELECT number, throwIf(number = 300000) FROM numbers(1000000) SETTINGS max_block_size = 1000"


def test_a_failed_panel_leaves_nothing_for_the_next(tmp_folder: Path) -> None:
    wh = Warehouse(parse_dsn(f"chdb://{tmp_folder / 'ch'}", "vitrina"))
    runner = PanelRunner(wh.client, "vitrina")
    try:
        with pytest.raises(Exception, match="throwIf"):
            runner.query(FAILS_MIDWAY, {})
        assert runner.query("SELECT 42 AS x", {}) == (["x"], [(42,)])
    finally:
        wh.close()
