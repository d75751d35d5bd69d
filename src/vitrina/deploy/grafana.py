"""Grafana provisioning as `vitrina grafana export` writes it, pointed at the topology's first
ClickHouse node; the export's ClickHouse users.d file goes beside the other ClickHouse files."""

from __future__ import annotations

import tempfile
from pathlib import Path

from vitrina.deploy.clickhouse import GRAFANA_USERS_FILE
from vitrina.deploy.topology import Topology
from vitrina.serve.dashboards.grafana import export

PROVISIONING_DIR = "/etc/grafana/provisioning"
DASHBOARDS_DIR = "/etc/grafana/dashboards/vitrina"  # outside /var/lib/grafana, which is Grafana's own volume


def files(t: Topology) -> dict[str, str]:
    node = t.clickhouse_nodes[0]
    out: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        written = export(
            root, database=t.database, host=node.host, port=t.ports.clickhouse_native, protocol="native", dashboards_path=DASHBOARDS_DIR
        )
        for path in written:
            rel = path.relative_to(root).as_posix()
            if rel == f"clickhouse/{GRAFANA_USERS_FILE}":
                out[rel] = path.read_text()
            else:
                out[f"grafana/{rel}"] = path.read_text()
    if f"clickhouse/{GRAFANA_USERS_FILE}" not in out:
        raise RuntimeError(f"`vitrina grafana export` no longer writes clickhouse/{GRAFANA_USERS_FILE}; update the deploy layout")
    return out
