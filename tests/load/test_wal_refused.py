"""Rows that pass validation but that ClickHouse refuses (here: a table altered by hand) are
found by halving against a Null copy of the table and kept in `rejected`; the good rows of the
same range are stored; a replay of the range stores nothing twice. A failure that is not a
refusal is retried whole, under the same token, and never makes a row "refused". In-process,
against a real chdb folder."""

from __future__ import annotations

import asyncio
from pathlib import Path

from vitrina.core import StorageError
from vitrina.load.commit import Committer
from vitrina.load.group_commit import GroupCommit
from vitrina.load.storing import BatchInserter
from vitrina.load.wal_loader import WalLoader
from vitrina.log.wal import State, WriteAheadLog
from vitrina.streams.builtin import METRICS
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.schema import migrate
from vitrina.warehouse.sink import CHECK_PREFIX, WarehouseSink


def test_refused_rows_go_to_rejected_and_the_rest_is_stored_once(tmp_folder: Path) -> None:
    wh = Warehouse(parse_dsn(f"chdb://{tmp_folder / 'ch'}", "vitrina"))
    try:
        migrate(wh, [METRICS])
        wh.command(
            "CREATE TABLE vitrina.narrow (x UInt8) ENGINE = MergeTree ORDER BY x SETTINGS non_replicated_deduplication_window = 1000"
        )
        good = [b'{"x":%d}\n' % i for i in range(40)]
        bad = {7: b'{"x":"seven"}\n', 29: b'{"x":"twenty-nine"}\n'}
        lines = [bad.get(i, row) for i, row in enumerate(good)]
        wal = WriteAheadLog(tmp_folder / "wal", durable=False)
        first = wal.append([("narrow", b"".join(lines[:20]), 20)])
        wal.append([("narrow", b"".join(lines[20:]), 20)])
        wal.save_state(State(0, (first[0].start, wal.end)))  # as if a run died inside this range
        loader = WalLoader(wal, WarehouseSink(wh), interval_ms=10)
        loader.start()
        loader.close()
        stored = sorted(r[0] for r in wh.query("SELECT x FROM vitrina.narrow").result_rows)
        assert stored == [i for i in range(40) if i not in bad]
        rejected = wh.query("SELECT stream, source, reason, raw FROM vitrina.rejected ORDER BY raw").result_rows
        assert [(r[0], r[1], r[3]) for r in rejected] == [("narrow", "wal", '{"x":"seven"}'), ("narrow", "wal", '{"x":"twenty-nine"}')]
        assert all("ClickHouse refused the row" in r[2] for r in rejected)
        assert wh.query(f"SELECT count() FROM system.tables WHERE name = '{CHECK_PREFIX}narrow'").result_rows == [(0,)]  # dropped
        assert wal.state() == State(wal.end, None)

        # the same range again (a crash before `done` was recorded): nothing is stored twice
        wal.save_state(State(0, (first[0].start, wal.end)))
        again = WalLoader(wal, WarehouseSink(wh), interval_ms=10)
        again.start()
        again.close()
        assert wh.query("SELECT count() FROM vitrina.narrow").result_rows[0][0] == 38
        assert wh.query("SELECT count() FROM vitrina.rejected").result_rows[0][0] == 2
        wal.close()
    finally:
        wh.close()


def test_a_failure_that_is_not_a_refusal_is_retried_whole_under_the_same_token(tmp_folder: Path) -> None:
    wh = Warehouse(parse_dsn(f"chdb://{tmp_folder / 'ch'}", "vitrina"))
    try:
        migrate(wh, [METRICS])
        calls: list[str] = []
        failures = [ConnectionError("warehouse down"), TimeoutError("no answer")]

        class Failing(WarehouseSink):
            def insert(self, table: str, rows: bytes, token: str) -> None:
                calls.append(token)
                if failures:
                    raise failures.pop(0)
                super().insert(table, rows, token)

        rows = b'{"metric_name":"a","metric_value":1}\n{"metric_name":"b","metric_value":2}\n'
        refused = BatchInserter(Failing(wh)).store("metrics", rows, "t")
        assert refused == []
        assert calls == ["t", "t", "t"]  # retried whole, never split
        assert wh.query("SELECT count() FROM vitrina.metrics").result_rows[0][0] == 2
        assert wh.query("SELECT count() FROM vitrina.rejected").result_rows[0][0] == 0
    finally:
        wh.close()


def test_ack_insert_a_request_with_a_refused_row_is_stored_not_at_all_and_the_others_are(tmp_folder: Path) -> None:
    """Group commit: three requests in one batch, the second holding a row ClickHouse
    refuses; the second is answered StorageError and nothing of it is stored."""
    wh = Warehouse(parse_dsn(f"chdb://{tmp_folder / 'ch'}", "vitrina"))
    try:
        wh.command("CREATE TABLE vitrina.narrow (x UInt8) ENGINE = MergeTree ORDER BY x")
        writer = GroupCommit(Committer(WarehouseSink(wh)), linger_ms=300)
        requests = [b'{"x":1}\n{"x":2}\n', b'{"x":3}\n{"x":"four"}\n{"x":5}\n', b'{"x":6}\n']

        async def send() -> list[BaseException | None]:
            writer.start(asyncio.get_running_loop())
            futures = [writer.submit("narrow", rows, rows.count(b"\n")) for rows in requests]
            return await asyncio.gather(*futures, return_exceptions=True)

        answers = asyncio.run(send())
        writer.close()
        assert answers[0] is None and answers[2] is None
        assert isinstance(answers[1], StorageError) and "nothing of this request was stored" in str(answers[1])
        assert sorted(r[0] for r in wh.query("SELECT x FROM vitrina.narrow").result_rows) == [1, 2, 6]
    finally:
        wh.close()
