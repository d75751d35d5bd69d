"""A write-ahead log that survives damage: after a flipped byte, a damaged stretch or a zeroed
page anywhere in its segments, every intact record is still loaded, exactly once, into a real
chdb; what was dropped is reported (an ERROR line, the counter callback) and its bytes are kept
in the quarantine folder. A data folder written by the previous framing still loads, with
the same positions and tokens. In-process, against a real chdb folder."""

from __future__ import annotations

import json
import logging
import random
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.log.services import metric
from vitrina.load.wal_loader import WalLoader
from vitrina.log.wal import QUARANTINE, State, WriteAheadLog, token
from vitrina.log.wal_format import SEGMENT_HEADER, Frame, parse
from vitrina.streams.builtin import METRICS
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.schema import migrate
from vitrina.warehouse.sink import WarehouseSink

RECORDS = 40
PER_RECORD = 5
SEGMENT_BYTES = 2_000  # several segments of about seven records
TRIALS = 50
DATA = Path(__file__).parent / "data"
ROW = b'{"time":"2025-01-01T00:00:00Z","metric_name":"%s","metric_value":%d}\n'


@pytest.fixture(scope="module")
def warehouse() -> Iterator[Warehouse]:
    folder = Path(__import__("tempfile").mkdtemp(prefix="vitrina-test-"))
    wh = Warehouse(parse_dsn(f"chdb://{folder / 'ch'}", "vitrina"))
    migrate(wh, [METRICS])
    yield wh
    wh.close()
    shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Written:
    """A log of RECORDS records, and where each one's bytes are on disk."""

    folder: Path
    name: str  # the trial's metric name
    places: list[tuple[Path, int, int, set[int]]] = field(default_factory=list)  # file, offset, size, ids

    def files(self) -> list[Path]:
        return sorted(self.folder.glob("*.wal"))


def write_log(folder: Path, trial: int) -> Written:
    """A fresh log whose positions start past every earlier trial's (distinct tokens in one
    warehouse), records of known ids."""
    folder.mkdir(parents=True)
    (folder / "state.json").write_text(json.dumps({"done": trial * 10**9, "inserting": None}))
    wal = WriteAheadLog(folder, durable=False, segment_bytes=SEGMENT_BYTES)
    written = Written(folder, f"trial-{trial}")
    for k in range(RECORDS):
        ids = set(range(k * PER_RECORD, (k + 1) * PER_RECORD))
        rows = b"".join(
            b'{"time":"2025-01-01T00:00:00Z","metric_name":"%s","metric_value":%d}\n' % (written.name.encode(), i) for i in sorted(ids)
        )
        (record,) = wal.append([("metrics", rows, PER_RECORD)])
        written.places.append(
            (wal._path(wal._segment_start), len(SEGMENT_HEADER) + record.start - wal._segment_start, record.end - record.start, ids)
        )
    wal.close()
    assert len(written.files()) >= 4
    return written


def load(folder: Path, wh: Warehouse) -> list[tuple[str, int, int]]:
    """Open the log and load it all, as a restart does; the drops reported."""
    drops: list[tuple[str, int, int]] = []
    wal = WriteAheadLog(folder, durable=False, segment_bytes=SEGMENT_BYTES, on_drop=lambda *d: drops.append(d))
    loader = WalLoader(wal, WarehouseSink(wh), interval_ms=10)
    loader.start()
    loader.close()
    assert wal.state() == State(wal.end, None)
    wal.close()
    return drops


def stored(wh: Warehouse, name: str) -> list[int]:
    rows = wh.query("SELECT metric_value FROM vitrina.metrics WHERE metric_name = {n:String}", parameters={"n": name}).result_rows
    return sorted(int(r[0]) for r in rows)


def rolled_up(wh: Warehouse, name: str) -> int:
    return int(
        wh.query("SELECT countMerge(count) FROM vitrina.metrics_1m WHERE metric_name = {n:String}", parameters={"n": name}).result_rows[0][
            0
        ]
    )


def damage(written: Written, offset: int, replace: bytes | None = None) -> tuple[Path, int, bytes]:
    """Flip the byte at a global offset across the segment files (or overwrite from there);
    returns the file, its offset and the file's bytes after the damage."""
    for path in written.files():
        size = path.stat().st_size
        if offset < size:
            data = bytearray(path.read_bytes())
            if replace is None:
                data[offset] ^= 1 << random.Random(offset).randrange(8)
            else:
                data[offset : offset + len(replace)] = replace
            path.write_bytes(bytes(data))
            return path, offset, bytes(data)
        offset -= size
    raise AssertionError("offset past the log")


def hit(written: Written, path: Path, start: int, end: int) -> list[tuple[Path, int, int, set[int]]]:
    """The records whose bytes overlap path[start:end]."""
    return [p for p in written.places if p[0] == path and p[1] < end and start < p[1] + p[2]]


def _global(written: Written, path: Path, offset: int) -> int:
    return sum(p.stat().st_size for p in written.files() if p < path) + offset


# Besides the random offsets: a segment's header, a record's magic, its length field, and
# the last byte of the log.
EDGES = [
    lambda w: _global(w, w.files()[2], 5),
    lambda w: _global(w, w.places[9][0], w.places[9][1]),
    lambda w: _global(w, w.places[17][0], w.places[17][1] + 5),
    lambda w: _global(w, w.places[-1][0], w.places[-1][1] + w.places[-1][2] - 1),
]


def test_a_flipped_byte_anywhere_loses_only_its_record(tmp_folder: Path, warehouse: Warehouse, caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(20251201)
    kinds: Counter[str] = Counter()
    caplog.set_level(logging.ERROR, "vitrina.log.wal")
    for trial in range(TRIALS + len(EDGES)):
        written = write_log(tmp_folder / f"wal-{trial}", trial)
        total = sum(p.stat().st_size for p in written.files())
        at = rng.randrange(total) if trial < TRIALS else EDGES[trial - TRIALS](written)
        path, offset, data = damage(written, at)
        lost = hit(written, path, offset, offset + 1)
        caplog.clear()
        drops = load(written.folder, warehouse)
        expected = sorted(set().union(*(p[3] for p in written.places if p not in lost)))
        where = f"trial {trial}: byte {offset} of {path.name}"
        assert stored(warehouse, written.name) == expected, where
        assert rolled_up(warehouse, written.name) == len(expected), where
        assert len(drops) == 1 and drops[0][0] == "damaged", f"{where}: {drops}"
        quarantined = list((written.folder / QUARANTINE).iterdir())
        assert len(quarantined) == 1, where
        if lost:  # a record's bytes: exactly that record's, damaged as they are
            (_, start, size, _) = lost[0]
            assert drops[0][1:] == (size, 1), where
            assert quarantined[0].read_bytes() == data[start : start + size], where
        else:  # the segment's header: no record lost
            start, size = 0, len(SEGMENT_HEADER)
            assert offset < size and drops[0][1:] == (size, 0), where
        assert quarantined[0].name == f"{path.stem}+{start}.bad", where
        errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        assert any(f"{size} damaged bytes" in e and f"segment {path.name} at byte {start} " in e for e in errors), f"{where}: {errors}"
        kinds[("header" if not lost else "last" if lost[0] == written.places[-1] else "record")] += 1
    print(kinds)
    assert kinds["record"] > 30, kinds


@pytest.mark.parametrize(("what", "size"), [("random bytes", 700), ("a zeroed page", 4096)])
def test_a_damaged_stretch_loses_only_the_records_it_covers(tmp_folder: Path, warehouse: Warehouse, what: str, size: int) -> None:
    written = write_log(tmp_folder / "wal", 100 + size)
    path = written.files()[1]
    fill = bytes(size) if what == "a zeroed page" else random.Random(size).randbytes(size)
    fill = fill[: path.stat().st_size - 100]  # inside the second segment, from byte 100 on
    offset = sum(p.stat().st_size for p in written.files()[:1]) + 100
    path, start, _ = damage(written, offset, fill)
    lost = hit(written, path, start, start + len(fill))
    assert len(lost) >= 2
    drops = load(written.folder, warehouse)
    expected = sorted(set().union(*(p[3] for p in written.places if p not in lost)))
    assert stored(warehouse, written.name) == expected
    assert rolled_up(warehouse, written.name) == len(expected)
    assert [d[0] for d in drops] == ["damaged"]
    assert drops[0][1] == sum(p[2] for p in lost) and drops[0][2] >= 1
    assert len(list((written.folder / QUARANTINE).iterdir())) == 1


def test_a_torn_tail_is_reported_as_never_acknowledged_and_cut(
    tmp_folder: Path, warehouse: Warehouse, caplog: pytest.LogCaptureFixture
) -> None:
    written = write_log(tmp_folder / "wal", 900)
    last = written.files()[-1]
    whole = last.read_bytes()
    torn = written.places[-1][1]
    last.write_bytes(whole[: torn + 30])  # the last record's write was cut short
    caplog.set_level(logging.ERROR, "vitrina.log.wal")
    drops = load(written.folder, warehouse)
    assert drops == [("torn", 30, 1)]
    assert stored(warehouse, written.name) == sorted(set().union(*(p[3] for p in written.places[:-1])))
    assert last.stat().st_size == torn  # cut off: the next append follows the last intact record
    assert any("never acknowledged" in r.getMessage() for r in caplog.records)
    assert (written.folder / QUARANTINE / f"{last.stem}+{torn}.bad").read_bytes() == whole[torn : torn + 30]


def test_quarantine_survives_trim(tmp_folder: Path, warehouse: Warehouse) -> None:
    written = write_log(tmp_folder / "wal", 901)
    path, _, _ = damage(written, written.places[3][1] + 25)  # the body of a record in the first segment
    load(written.folder, warehouse)
    assert not path.exists()  # loaded past, trimmed
    assert len(list((written.folder / QUARANTINE).iterdir())) == 1


def test_a_folder_written_by_the_previous_framing_loads_with_its_tokens(tmp_folder: Path, warehouse: Warehouse) -> None:
    """tests/log/data/wal-v1 was written by the previous WriteAheadLog (8 records of 4 ids,
    3 segments), which had loaded records 0-1 and died inserting records 2-3."""
    folder = tmp_folder / "wal"
    shutil.copytree(DATA / "wal-v1", folder)
    inserted: list[str] = []

    class Recording(WarehouseSink):
        def insert(self, table: str, rows: bytes, tok: str) -> None:
            inserted.append(tok)
            super().insert(table, rows, tok)

    # what the dying run had stored of the range it was inserting, under its token
    rows_2_3 = b"".join(ROW % (b"v1", i) for i in range(8, 16))
    warehouse.insert_json_rows("metrics", rows_2_3, token(586, 1178, "metrics"))
    wal = WriteAheadLog(folder, durable=False, segment_bytes=600)
    assert wal.end == 2366  # the positions of the previous version
    loader = WalLoader(wal, Recording(warehouse), interval_ms=10)
    loader.start()
    loader.add(wal.append([("metrics", ROW % (b"v1", 32), 1)]))
    loader.close()
    assert inserted[0] == token(586, 1178, "metrics")  # the interrupted range, replayed as it was
    assert stored(warehouse, "v1") == list(range(8, 33))  # records 2-7 and the new one, each once
    new = sorted(folder.glob("*.wal"))[-1]
    assert new.name == "00000000000000002366.wal" and new.read_bytes().startswith(SEGMENT_HEADER)
    wal.close()


def test_a_server_killed_with_a_damaged_log_loads_every_intact_record_and_says_what_it_dropped(make_vitrina: Any) -> None:
    """A real `vitrina up`: acknowledged requests only in the log, SIGKILL, a flipped byte in
    one record of a segment, start again."""
    v = make_vitrina('[writer]\nack = "wal"\nwal_interval_ms = 600000\n[models]\nenabled = false\n[alerts]\nenabled = false\n')
    with httpx.Client(timeout=30) as c:
        for i in range(30):  # one at a time: one record each
            resp = c.post(f"{v.url}/v1/streams/metrics", json=[{"metric_name": f"dmg-{i}", "metric_value": j} for j in range(3)])
            assert resp.status_code == 200
    v.kill()
    wal = v.data_dir / "wal"
    (segment,) = sorted(wal.glob("*.wal"))
    data = segment.read_bytes()
    frames = [f for f in parse(data, len(SEGMENT_HEADER), len(data)) if isinstance(f, Frame)]
    assert len(frames) == 30
    victim = frames[12]
    names = {json.loads(line)["metric_name"] for line in victim.rows.splitlines()}
    damaged = bytearray(data)
    damaged[victim.offset + victim.size // 2] ^= 0x10
    segment.write_bytes(bytes(damaged))
    v.start()
    counts = {r["metric_name"]: r["n"] for r in v.sql("SELECT metric_name, count() AS n FROM vitrina.metrics GROUP BY metric_name")}
    assert counts == {f"dmg-{i}": 3 for i in range(30) if f"dmg-{i}" not in names}
    text = httpx.get(f"{v.url}/metrics").text
    assert metric(text, "vitrina_wal_dropped_records_total", kind="damaged") == 1
    assert metric(text, "vitrina_wal_dropped_bytes_total", kind="damaged") == victim.size
    assert (wal / QUARANTINE / f"{segment.stem}+{victim.offset}.bad").read_bytes() == bytes(
        damaged[victim.offset : victim.offset + victim.size]
    )
    assert f"ERROR vitrina.log.wal: write-ahead log: dropped {victim.size} damaged bytes" in v.log_path.read_text()
