"""A data folder created by a previous schema version is upgraded by the current vitrina:
migrations are recorded once, new rollups are backfilled, and the rejected table gains its
`key` column."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

OLD_VERSION_SCRIPT = """
import sys
from vitrina.streams.builtin import BUILTIN
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.schema import migrate
wh = Warehouse(parse_dsn("chdb://" + sys.argv[1]))
assert migrate(wh, BUILTIN, upto=1) == [1]
rows = b"".join(b'{"time":"1700000000.%03d","metric_name":"old","metric_value":%d}\\n' % (i, i) for i in range(50))
wh.insert_json_rows("metrics", rows)
print(sorted(r[0] for r in wh.query("SELECT name FROM system.tables WHERE database = 'vitrina'").result_rows))
"""


def test_upgrade_from_schema_version_1(make_vitrina: Any, tmp_folder: Any) -> None:
    data = tmp_folder / "data"
    out = subprocess.run(
        [sys.executable, "-c", OLD_VERSION_SCRIPT, str((data / "clickhouse").resolve())], capture_output=True, text=True, check=True
    )
    assert "metrics_1s" not in out.stdout and "'metrics'" in out.stdout
    v = make_vitrina(data_dir=data)
    assert v.sql("SELECT version FROM vitrina._vitrina_migrations ORDER BY version") == [{"version": n} for n in (1, 2, 3)]
    rolled = v.sql("SELECT countMerge(count) AS n, sumMerge(sum) AS s FROM vitrina.metrics_1s WHERE metric_name = 'old'")
    assert rolled == [{"n": 50, "s": sum(range(50))}]
    assert v.scalar("SELECT countMerge(count) FROM vitrina.metrics_1m WHERE metric_name = 'old'") == 50
    # new rows flow into the backfilled rollups, and a restart applies nothing twice
    assert v.post("/v1/streams/metrics", {"metric_name": "old", "metric_value": 1, "time": 1700000000}).status_code == 200
    v.stop()
    v.start()
    assert v.scalar("SELECT count() FROM vitrina._vitrina_migrations") == 3
    assert v.scalar("SELECT countMerge(count) FROM vitrina.metrics_1s WHERE metric_name = 'old'") == 51


# Version 2: the rejected table as it was before rejected rows named their key.
VERSION_2_SCRIPT = """
import sys
from vitrina.streams.builtin import BUILTIN
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.schema import migrate
wh = Warehouse(parse_dsn("chdb://" + sys.argv[1]))
assert migrate(wh, BUILTIN, upto=2) == [1, 2]
wh.command("ALTER TABLE vitrina.rejected DROP COLUMN IF EXISTS key")
wh.insert_json_rows("rejected", b'{"stream":"metrics","source":"http","position":"0","reason":"old","raw":"{}"}\\n')
print(sorted(r[0] for r in wh.query("SELECT name FROM system.columns WHERE database = 'vitrina' AND table = 'rejected'").result_rows))
"""


def test_upgrade_from_schema_version_2_adds_the_rejected_key(make_vitrina: Any, tmp_folder: Any) -> None:
    data = tmp_folder / "data"
    out = subprocess.run(
        [sys.executable, "-c", VERSION_2_SCRIPT, str((data / "clickhouse").resolve())], capture_output=True, text=True, check=True
    )
    assert "'key'" not in out.stdout and "'reason'" in out.stdout
    v = make_vitrina(data_dir=data)
    assert v.scalar("SELECT max(version) FROM vitrina._vitrina_migrations") == 3
    columns = [
        r["name"] for r in v.sql("SELECT name FROM system.columns WHERE database = 'vitrina' AND table = 'rejected' ORDER BY position")
    ]
    assert columns == ["time", "stream", "source", "key", "position", "reason", "raw"]  # where a new table has it
    assert v.post("/v1/streams/metrics", [{"metric_name": "new", "metric_value": "x"}]).status_code == 422
    assert v.sql("SELECT reason = 'old' AS old, key FROM vitrina.rejected ORDER BY time") == [{"old": 1, "key": ""}, {"old": 0, "key": ""}]
