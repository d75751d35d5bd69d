"""Nothing in vitrina builds DDL outside the engine policy (warehouse/): a grep of src/."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "vitrina"
# The statements that change what exists, in any case and spacing (a SQL keyword followed by
# what it acts on, so prose such as "drop it" is not taken for one).
DDL = re.compile(
    r"\b(?:create|alter|drop|truncate|optimize|rename|attach|detach)\s+"
    r"(?:table|view|materialized|database|dictionary|or\s+replace|temporary|partition)\b"
    r"|\breplace\s+partition\b|\bexchange\s+(?:tables|dictionaries)\b|\bsystem\s+(?:sync|drop|restart)\s+replica",
    re.IGNORECASE,
)


def ddl_outside_warehouse(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix in (".pyc",) or "warehouse" in path.relative_to(root).parts[:1]:
            continue
        text = path.read_text(errors="replace")
        for match in DDL.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(f"{path.relative_to(root)}:{line}: {match[0]}")
    return found


def test_no_ddl_outside_the_engine_policy() -> None:
    assert (SRC / "warehouse" / "engine.py").is_file()
    assert ddl_outside_warehouse(SRC) == []


def test_the_grep_finds_ddl(tmp_path: Path) -> None:
    (tmp_path / "load").mkdir()
    (tmp_path / "load" / "x.py").write_text("sql = f\"alter  TABLE {db}.t REPLACE PARTITION ID '1' FROM s\"\n")
    (tmp_path / "warehouse").mkdir()
    (tmp_path / "warehouse" / "engine.py").write_text('"CREATE TABLE t"\n')
    assert ddl_outside_warehouse(tmp_path) == ["load/x.py:1: alter  TABLE", "load/x.py:1: REPLACE PARTITION"]
