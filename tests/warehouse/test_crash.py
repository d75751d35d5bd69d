"""A crash of the embedded engine between writing a block's id to the deduplication log and
committing its part (a SIGKILL of vitrina) must not make the replay of that batch a duplicate:
warehouse/crash.py drops such ids before the engine opens the folder. Real chdb folders,
written and read by real processes; the crash's state is made by removing the parts a crash
never committed (bench/crash_dedup.py gets it by SIGKILL)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from vitrina.warehouse.crash import part_range, repair


def insert(path: Path, owner: bool, first: int, last: int, *extra: str) -> dict[str, int]:
    """Batches first..last-1 inserted by a process of their own; what the tables then hold."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.warehouse.insert_child", str(path), "owner" if owner else "plain", str(first), str(last), *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def metrics_log(path: Path) -> Path:
    return path / "data" / "vitrina" / "metrics" / "deduplication_logs" / "deduplication_log_1.txt"


def lose_last_batch(path: Path) -> list[str]:
    """What a SIGKILL after the log's write and before the rename leaves: the ids of the last
    batch (three partitions: three parts) in the log, its parts not in the table."""
    parts = [line.split("\t")[1] for line in metrics_log(path).read_text().splitlines()[-3:]]
    for name in parts:
        shutil.rmtree(path / "data" / "vitrina" / "metrics" / name)
    return parts


def test_a_batch_a_crash_lost_is_stored_when_replayed(tmp_path: Path) -> None:
    folder = tmp_path / "ch"
    assert insert(folder, False, 0, 2) == {"raw": 600, "rollup": 600}
    lost = lose_last_batch(folder)
    # Without the repair this chdb drops the replay as a duplicate: the loss the repair prevents.
    unrepaired = tmp_path / "unrepaired"
    shutil.copytree(folder, unrepaired, symlinks=True)
    assert insert(unrepaired, False, 1, 2) == {"raw": 300, "rollup": 600}
    # Repaired: the replay stores the raw rows; the rollups, whose parts the crash did not
    # lose, still drop the batch they already have.
    assert insert(folder, True, 1, 2) == {"raw": 600, "rollup": 600}
    drops = [line for line in metrics_log(folder).read_text().splitlines() if line.startswith("2\t")]
    assert sorted(d.split("\t")[1] for d in drops) == sorted(lost)
    # Ids of stored parts are kept: a replay of a stored batch is still a duplicate.
    assert insert(folder, True, 0, 2) == {"raw": 600, "rollup": 600}


def test_ids_of_merged_parts_are_kept(tmp_path: Path) -> None:
    folder = tmp_path / "ch"
    assert insert(folder, False, 0, 2, "merge") == {"raw": 600, "rollup": 600}
    table = folder / "data" / "vitrina" / "metrics"
    level0 = [p for p in table.iterdir() if p.is_dir() and p.name.endswith("_0")]
    assert len(level0) == 6 and any(p.name.endswith("_1") for p in table.iterdir())  # merged, one part per day
    for p in level0:  # the merged-away parts, as ClickHouse removes them
        shutil.rmtree(p)
    assert insert(folder, True, 0, 2) == {"raw": 600, "rollup": 600}
    assert not [line for line in metrics_log(folder).read_text().splitlines() if line.startswith("2\t")]


def test_a_record_cut_short_by_the_kill_is_removed(tmp_path: Path) -> None:
    folder = tmp_path / "ch"
    insert(folder, False, 0, 1)
    log = metrics_log(folder)
    whole = log.read_text()
    log.write_text(whole + "1\t20250101_7_7_0\t20250101_98564")  # the kill came mid-write
    assert repair(folder) == 0
    assert log.read_text() == whole
    assert insert(folder, True, 1, 3) == {"raw": 900, "rollup": 900}


def test_part_names_and_covering() -> None:
    merged, part = part_range("20250101_1_4_1"), part_range("20250101_4_4_0")
    assert merged is not None and part is not None and merged.covers(part) and not part.covers(merged)
    other_day = part_range("20250102_4_4_0")
    assert other_day is not None and not merged.covers(other_day)
    mutated = part_range("all_1_9_2_12")
    assert mutated is not None and mutated.covers(part_range("all_3_3_0"))  # type: ignore[arg-type]
    assert part_range("tmp_insert_all_1_1_0") is None and part_range("detached") is None
