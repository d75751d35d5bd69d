"""What a crash of the embedded engine leaves in ClickHouse's deduplication logs, put right
before the engine opens the folder again.

Exactly-once rests on deduplication: a batch replayed after a crash carries the token of its
first attempt, and a MergeTree table drops a block it already has
(`non_replicated_deduplication_window`). But ClickHouse writes a new block's id to the table's
deduplication log *before* it renames the block's part into place (MergeTreeSink::commitPart:
`deduplication_log->addPart(...)`, then `renameTempPartAndAdd(...)`). On the embedded engine a
SIGKILL of vitrina is a crash of ClickHouse too. Killed between the two steps, the log holds
the id of a part that was never committed (its temporary folder is removed when the table is
loaded), and the replay of that batch is dropped as a duplicate: acknowledged events lost
without a word. It was seen about once in 150 kills that land in an insert
(bench/crash_dedup.py measures it).

So before chdb opens a folder this process holds, every table's log is read and a DROP
record (the log's own operation, which ClickHouse writes when it drops a part) is appended
for each id whose part is on disk neither as itself nor inside a merged part. The replay then
stores the batch. Ids whose part exists are untouched, so a replay of a stored batch is still
dropped. A record cut short by the kill (the last line, without its newline) is removed: its
write never finished, so its part was never renamed.

The format (a record a line: operation, part name, block id, tab-separated; 1 adds, 2 drops)
is ClickHouse's own (src/Storages/MergeTree/MergeTreeDeduplicationLog.cpp); no library reads
it. tests/warehouse/test_crash.py checks it against the pinned chdb. A ClickHouse server has
the same window when the server itself crashes; a cluster's Replicated tables commit block ids
in Keeper together with the part (docs/DEPLOYMENT.md).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

LOGS_DIR = "deduplication_logs"
_ADD, _DROP = "1", "2"
# partition_min_max_level[_mutation]: a partition id holds no underscore (MergeTreePartInfo)
_PART = re.compile(r"^([^_]+)_(\d+)_(\d+)_(\d+)(?:_(\d+))?$")


@dataclass(frozen=True)
class PartRange:
    partition: str
    first: int
    last: int

    def covers(self, other: PartRange) -> bool:
        return self.partition == other.partition and self.first <= other.first and other.last <= self.last


def part_range(name: str) -> PartRange | None:
    found = _PART.match(name)
    return PartRange(found.group(1), int(found.group(2)), int(found.group(3))) if found else None


def repair(data_path: Path) -> int:
    """Drop, in every table's deduplication log under `data_path` (a chdb folder no running
    engine has open), the ids of parts that are not on disk. Returns how many were dropped."""
    return sum(_repair_table(logs, table) for table, logs in _log_folders(data_path).items())


def _log_folders(data_path: Path) -> dict[str, Path]:
    """Each table's log folder, by `database.table`: data/DB/TABLE is the table's folder, or
    (Atomic databases) a link to it under store/."""
    return {f"{logs.parent.parent.name}.{logs.parent.name}": logs for logs in sorted(data_path.glob(f"data/*/*/{LOGS_DIR}"))}


def _repair_table(logs: Path, table: str) -> int:
    files = sorted(logs.glob("deduplication_log_*.txt"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    if not files:
        return 0
    _cut_torn_record(files[-1])
    live: dict[str, str] = {}  # block id -> part name, as ClickHouse loads them
    for path in files:
        for line in path.read_text().splitlines():
            op, part, block = line.split("\t")
            if op == _DROP:
                live.pop(block, None)
            else:
                live[block] = part
    on_disk = [r for r in (part_range(p.name) for p in logs.parent.iterdir() if p.is_dir()) if r is not None]
    orphans = [(block, part) for block, part in live.items() if not _stored(part, on_disk)]
    if orphans:
        with open(files[-1], "a") as out:
            out.writelines(f"{_DROP}\t{part}\t{block}\n" for block, part in orphans)
            out.flush()
            os.fsync(out.fileno())
        log.warning(
            "%s: %d deduplication ids named parts a crash never committed (%s); dropped, so their batches are stored when replayed",
            table,
            len(orphans),
            ", ".join(sorted(p for _, p in orphans)),
        )
    return len(orphans)


def _stored(part: str, on_disk: list[PartRange]) -> bool:
    wanted = part_range(part)
    return wanted is None or any(r.covers(wanted) for r in on_disk)  # a name not understood is left alone


def _cut_torn_record(path: Path) -> None:
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)
            os.fsync(f.fileno())
