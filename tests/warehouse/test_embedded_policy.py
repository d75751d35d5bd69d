"""The engine policy of one server sends the DDL vitrina sent before the policy existed, so the
data folders that version made keep upgrading (tests/warehouse/test_schema_upgrade.py runs
that upgrade)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.warehouse import ddl_scenario
from vitrina.warehouse.engine import created_object

SNAPSHOT = Path(__file__).parent / "snapshots" / "embedded_ddl.json"


def _without_repeated_creates(statements: list[str]) -> list[str]:
    """The old code sent some `CREATE ... IF NOT EXISTS` again for objects it had made (a no-op);
    the policy leaves those out. Everything else must come in the same order, byte for byte."""
    seen: set[str] = set()
    out = []
    for sql in statements:
        if created_object(sql) is not None and sql in seen:
            continue
        seen.add(sql)
        out.append(sql)
    return out


def test_the_embedded_policy_sends_the_ddl_of_the_previous_version(tmp_path: Path) -> None:
    before = json.loads(SNAPSHOT.read_text())
    now = ddl_scenario.run(tmp_path / "clickhouse")
    expected = _without_repeated_creates(before["statements"])
    assert len(expected) < len(before["statements"])  # the snapshot does hold repeated creates
    for i, (old, new) in enumerate(zip(expected, now["statements"], strict=False)):
        assert new == old, f"statement {i} differs"
    assert len(now["statements"]) == len(expected)
    assert now["kafka_engine"] == before["kafka_engine"]
