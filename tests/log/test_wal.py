"""The write-ahead log's file contract: records come back as appended across segments, a torn
tail is cut off on opening, a damaged record costs that record only, state survives
reopening, trimming keeps what is not yet loaded; and the WalLoader replays an interrupted
range with the same tokens. (Damage at random offsets, with a real warehouse:
test_wal_damage.py.)"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import wait_until
from vitrina.load.wal_loader import WalLoader
from vitrina.log.wal import State, WriteAheadLog, token
from vitrina.log.wal_format import SEGMENT_HEADER


def rows(name: str, n: int) -> bytes:
    return b"".join(b'{"metric_name":"%s","metric_value":%d}\n' % (name.encode(), i) for i in range(n))


def test_records_come_back_across_segments_and_reopening(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, segment_bytes=300)
    appended = []
    for i in range(10):
        appended += wal.append([("metrics", rows(f"m{i}", 3), 3), ("rejected", b'{"reason":"x"}\n', 1)])
    assert len(list(tmp_path.glob("*.wal"))) > 3  # rotated
    assert [r.start for r in appended[1:]] == [r.end for r in appended[:-1]]  # contiguous positions
    end = wal.end
    wal.close()
    again = WriteAheadLog(tmp_path, segment_bytes=300)
    assert again.end == end
    got = list(again.read(0, end))
    assert [(r.table, r.rows, r.count) for r in got] == [(r.table, r.rows, r.count) for r in appended]
    middle = appended[7].start
    assert [r.start for r in again.read(middle, end)] == [r.start for r in appended[7:]]
    again.close()


def test_a_torn_tail_is_cut_and_appends_continue_after_it(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    kept = wal.append([("metrics", rows("a", 2), 2)]) + wal.append([("metrics", rows("b", 2), 2)])
    wal.close()
    segment = next(tmp_path.glob("*.wal"))
    whole = segment.read_bytes()
    with open(segment, "ab") as f:  # a crash in the middle of the next append
        f.write(whole[kept[0].start + len(SEGMENT_HEADER) :][:30])
    wal = WriteAheadLog(tmp_path)
    assert wal.end == kept[-1].end
    assert segment.stat().st_size == len(whole)
    wal.append([("metrics", rows("c", 1), 1)])
    assert [r.rows for r in wal.read(0, wal.end)] == [rows("a", 2), rows("b", 2), rows("c", 1)]
    wal.close()


def test_a_corrupted_record_costs_that_record_only(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    first = wal.append([("metrics", rows("a", 2), 2)])[0]
    second = wal.append([("metrics", rows("b", 2), 2)])[0]
    third = wal.append([("metrics", rows("c", 2), 2)])[0]
    wal.close()
    segment = next(tmp_path.glob("*.wal"))
    data = bytearray(segment.read_bytes())
    data[len(SEGMENT_HEADER) + first.end + 30] ^= 0xFF  # a flipped byte in the second record's body
    segment.write_bytes(bytes(data))
    drops: list[tuple[str, int, int]] = []
    wal = WriteAheadLog(tmp_path, on_drop=lambda *d: drops.append(d))
    assert wal.end == third.end
    assert [r.rows for r in wal.read(0, wal.end)] == [rows("a", 2), rows("c", 2)]
    assert drops == [("damaged", second.end - second.start, 1)]
    list(wal.read(0, wal.end))
    assert len(drops) == 1  # reported once per process
    wal.close()


def test_state_survives_and_trim_keeps_unloaded_segments(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, segment_bytes=200)
    recs = []
    for i in range(8):
        recs += wal.append([("metrics", rows(f"m{i}", 3), 3)])
    assert wal.state() == State(0, None)
    wal.save_state(State(recs[2].end, (recs[2].end, recs[5].end)))
    wal.close()
    wal = WriteAheadLog(tmp_path, segment_bytes=200)
    assert wal.state() == State(recs[2].end, (recs[2].end, recs[5].end))
    done = recs[5].end
    wal.trim(done)
    starts = sorted(int(p.name[:-4]) for p in tmp_path.glob("*.wal"))
    assert starts[0] <= done  # the segment holding `done` is kept
    assert [r.rows for r in wal.read(done, wal.end)] == [r.rows for r in recs[6:]]
    wal.close()


class Recorder:
    """Stands in for the warehouse as the loader's sink: keeps every insert's table, rows and
    token, and refuses nothing."""

    checker = None

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes, str]] = []

    def insert(self, table: str, data: bytes, dedup_token: str) -> None:
        self.calls.append((table, data, dedup_token))

    def refuses(self, exc: BaseException) -> bool:
        return False


def test_loader_inserts_by_table_and_replays_an_interrupted_range_with_its_tokens(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    wal = WriteAheadLog(tmp_path)
    recs = wal.append([("metrics", rows("a", 2), 2), ("rejected", b'{"r":1}\n', 1)])
    recs += wal.append([("metrics", rows("b", 1), 1)])
    # an earlier run recorded the range and may have inserted part of it before dying
    wal.save_state(State(0, (recs[0].start, recs[-1].end)))
    later = wal.append([("metrics", rows("c", 1), 1)])
    insert = Recorder()
    loader = WalLoader(wal, insert, interval_ms=10_000)
    with caplog.at_level(logging.INFO, logger="vitrina.load.wal_loader"):
        loader.start()  # counted before its thread starts inserting (which may be at once)
    assert "5 rows left by the previous run" in caplog.text
    loader.close()
    first, last = recs[0].start, recs[-1].end
    assert insert.calls[:2] == [
        ("metrics", rows("a", 2) + rows("b", 1), token(first, last, "metrics")),
        ("rejected", b'{"r":1}\n', token(first, last, "rejected")),
    ]
    assert insert.calls[2:] == [("metrics", rows("c", 1), token(later[0].start, later[0].end, "metrics"))]
    assert wal.state() == State(later[0].end, None)
    assert loader.unloaded_rows == 0
    wal.close()


def test_loader_batches_by_interval_and_size(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, durable=False)
    insert = Recorder()
    loader = WalLoader(wal, insert, interval_ms=60_000, batch_rows=10)
    loader.start()
    loader.add(wal.append([("metrics", rows("a", 4), 4)]))
    loader.add(wal.append([("metrics", rows("b", 4), 4)]))
    assert insert.calls == []  # neither bound reached
    loader.add(wal.append([("metrics", rows("c", 4), 4)]))  # 12 rows >= 10: inserted now, in one
    wait_until(lambda: insert.calls, 10, "the size-bound insert")
    assert [c[1] for c in insert.calls] == [rows("a", 4) + rows("b", 4) + rows("c", 4)]
    loader.close()
    wal.close()


def test_loader_inserts_a_lone_record_once_the_interval_passes(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, durable=False)
    insert = Recorder()
    loader = WalLoader(wal, insert, interval_ms=50, batch_rows=1_000_000)
    loader.start()
    loader.add(wal.append([("metrics", rows("a", 1), 1)]))
    wait_until(lambda: insert.calls, 10, "the interval-bound insert")
    loader.close()
    assert wal.state().done == wal.end
    wal.close()


def test_a_backlog_goes_in_as_several_bounded_inserts(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, durable=False)
    for i in range(5):
        wal.append([("metrics", rows(f"m{i}", 4), 4)])  # left by a previous run
    insert = Recorder()
    loader = WalLoader(wal, insert, interval_ms=60_000, batch_rows=10, max_insert_rows=10)
    loader.start()
    wait_until(lambda: len(insert.calls) == 3, 10, "three inserts")
    assert [c[1].count(b"\n") for c in insert.calls] == [8, 8, 4]
    assert len({c[2] for c in insert.calls}) == 3  # each range its own token
    loader.close()
    assert wal.state().done == wal.end
    wal.close()


def test_damage_to_records_already_loaded_is_not_read_at_all(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    first = wal.append([("metrics", rows("a", 2), 2)])[0]
    second = wal.append([("metrics", rows("b", 2), 2)])[0]
    wal.append([("metrics", rows("c", 2), 2)])
    wal.save_state(State(second.end, None))
    wal.close()
    segment = next(tmp_path.glob("*.wal"))
    data = bytearray(segment.read_bytes())
    data[len(SEGMENT_HEADER) + first.start + 30] ^= 0xFF
    segment.write_bytes(bytes(data))
    drops: list[tuple[str, int, int]] = []
    wal = WriteAheadLog(tmp_path, on_drop=lambda *d: drops.append(d))
    assert [r.rows for r in wal.read(wal.state().done, wal.end)] == [rows("c", 2)]
    assert drops == []
    wal.close()
