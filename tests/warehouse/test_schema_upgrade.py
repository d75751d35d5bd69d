"""A data folder created by the previous schema version (raw tables, no rollups) is upgraded
by the current vitrina: migrations are recorded once and the new rollups are backfilled."""

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
    assert v.sql("SELECT version FROM vitrina._vitrina_migrations ORDER BY version") == [{"version": 1}, {"version": 2}]
    rolled = v.sql("SELECT countMerge(count) AS n, sumMerge(sum) AS s FROM vitrina.metrics_1s WHERE metric_name = 'old'")
    assert rolled == [{"n": 50, "s": sum(range(50))}]
    assert v.scalar("SELECT countMerge(count) FROM vitrina.metrics_1m WHERE metric_name = 'old'") == 50
    # new rows flow into the backfilled rollups, and a restart applies nothing twice
    assert v.post("/v1/streams/metrics", {"metric_name": "old", "metric_value": 1, "time": 1700000000}).status_code == 200
    v.stop()
    v.start()
    assert v.scalar("SELECT count() FROM vitrina._vitrina_migrations") == 2
    assert v.scalar("SELECT countMerge(count) FROM vitrina.metrics_1s WHERE metric_name = 'old'") == 51
