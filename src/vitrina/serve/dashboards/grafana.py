"""Grafana provisioning from the same panel declarations: a datasource for the ClickHouse plugin
(grafana-clickhouse-datasource), one dashboard JSON per dashboard, the dashboard provider, and a
ClickHouse users.d snippet with the read-only `grafana` user the seed's dashboards used.

Everything is deterministic (stable uids and panel ids, sorted keys) so re-exporting into a
folder under version control changes nothing unless a declaration changed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from vitrina.serve.dashboards.catalog import Catalog, build_catalog
from vitrina.serve.dashboards.panels import Dashboard, Panel
from vitrina.serve.dashboards.render import BUILTIN_STREAMS, panel_template, render_grafana
from vitrina.streams.declare import Stream
from vitrina.warehouse.cluster import policy_for
from vitrina.warehouse.engine import as_is

PLUGIN = "grafana-clickhouse-datasource"
DATASOURCE_UID = "vitrina-clickhouse"
DATASOURCE = {"type": PLUGIN, "uid": DATASOURCE_UID}
PASSWORD_ENV = "VITRINA_GRAFANA_PASSWORD"  # read by Grafana and by ClickHouse: no secret in the files
FORMAT_TIMESERIES, FORMAT_TABLE = 0, 1  # the plugin's numeric query formats
GRAFANA_TYPES = {
    "timeseries": "timeseries",
    "bar": "barchart",
    "histogram": "barchart",
    "table": "table",
    "stat": "stat",
    "alerts": "alertlist",
}
# Grafana's default palette names for the colours panels declare.
COLORS = {"red": "red", "orange": "orange", "green": "green", "yellow": "yellow"}
UID_MAX = 40  # Grafana's limit on a dashboard uid


def uid(d: Dashboard) -> str:
    """`vitrina-NAME`, or for a long name its start and a hash of it (stable across exports)."""
    full = f"vitrina-{d.name}"
    if len(full) <= UID_MAX:
        return full
    digest = hashlib.sha256(d.name.encode()).hexdigest()[:8]
    return f"{full[: UID_MAX - 9]}-{digest}"


def default_catalog() -> Catalog:
    """The dashboards of an install without a config file (shipped streams and rules)."""
    from vitrina.alerts.rules import load_rules
    from vitrina.alerts.settings import AlertSettings

    return build_catalog(BUILTIN_STREAMS, load_rules(AlertSettings()))


def _thresholds(panel: Panel) -> dict[str, Any]:
    # Without thresholds a value is neither good nor bad: Grafana's text colour, as on vitrina's page.
    steps: list[dict[str, Any]] = [{"color": "green" if panel.thresholds else "text", "value": None}]
    for t in sorted(panel.thresholds, key=lambda t: t.value):
        if t.above:
            steps.append({"color": COLORS.get(t.color, t.color), "value": t.value})
        else:  # bad below: the base colour is the alarm, green from the value up
            steps = [{"color": COLORS.get(t.color, t.color), "value": None}, {"color": "green", "value": t.value}]
    return {"mode": "absolute", "steps": steps}


def _field_config(panel: Panel) -> dict[str, Any]:
    custom: dict[str, Any] = {}
    if panel.kind == "timeseries":
        custom = {"drawStyle": "line", "lineWidth": 1, "showPoints": "never", "spanNulls": True}
        if panel.thresholds:
            custom["thresholdsStyle"] = {"mode": "dashed"}
    defaults: dict[str, Any] = {"unit": panel.unit, "thresholds": _thresholds(panel), "custom": custom}
    if panel.unit == "percentunit":
        defaults |= {"min": 0, "max": 1}  # a share: never an axis from -100 % to 400 %
    overrides: list[dict[str, Any]] = []
    if panel.control:
        # The limit columns come from the query; draw them dashed, the centre line dotted.
        for col, colour, dash in (("cl_upper", "red", [10, 10]), ("cl_lower", "red", [10, 10]), ("cl_mean", "text", [2, 6])):
            overrides.append(
                {
                    "matcher": {"id": "byName", "options": col},
                    "properties": [
                        {"id": "color", "value": {"fixedColor": colour, "mode": "fixed"}},
                        {"id": "custom.lineStyle", "value": {"dash": dash, "fill": "dash"}},
                    ],
                }
            )
        overrides.append(
            {
                "matcher": {"id": "byName", "options": "cl_beyond"},
                "properties": [
                    {"id": "displayName", "value": "beyond limits"},
                    {"id": "color", "value": {"fixedColor": "red", "mode": "fixed"}},
                    {"id": "custom.drawStyle", "value": "points"},
                    {"id": "custom.pointSize", "value": 10},
                    {"id": "custom.showPoints", "value": "always"},
                ],
            }
        )
    return {"defaults": defaults, "overrides": overrides}


def _options(panel: Panel) -> dict[str, Any]:
    if panel.kind == "stat":
        return {"colorMode": "value", "graphMode": "none", "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}
    if panel.kind == "alerts":
        return {"maxItems": 20, "sortOrder": 1, "stateFilter": {"firing": True, "pending": True, "normal": True}, "viewMode": "list"}
    if panel.kind in ("bar", "histogram"):
        return {
            "xField": panel.columns[0],
            "orientation": "vertical",
            "showValue": "never",
            "legend": {"showLegend": len(panel.columns) > 2},
        }
    if panel.kind == "table":
        return {"showHeader": True}
    return {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}, "tooltip": {"mode": "multi"}}


def _grid(panels: tuple[Panel, ...]) -> list[dict[str, int]]:
    """Left to right on Grafana's 24-column grid, wrapping like the built-in page does."""
    out, x, y, row_h = [], 0, 0, 0
    for p in panels:
        if x + p.width > 24:
            x, y, row_h = 0, y + row_h, 0
        out.append({"h": p.rows, "w": p.width, "x": x, "y": y})
        x, row_h = x + p.width, max(row_h, p.rows)
    return out


def panel_json(
    panel: Panel,
    panel_id: int,
    grid: dict[str, int],
    database: str,
    streams: Mapping[str, Stream] = BUILTIN_STREAMS,
    read: Callable[[str], str] = as_is,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": panel_id,
        "title": panel.title,
        "type": GRAFANA_TYPES[panel.kind],
        "gridPos": grid,
        "description": panel.description,
        "fieldConfig": _field_config(panel),
        "options": _options(panel),
    }
    if panel.kind == "alerts":
        return out  # Grafana's own alert list: it reads Grafana alerting, not a query
    fmt = FORMAT_TIMESERIES if panel.kind == "timeseries" else FORMAT_TABLE
    out["datasource"] = DATASOURCE
    out["targets"] = [
        {
            "datasource": DATASOURCE,
            "editorType": "sql",
            "format": fmt,
            "queryType": "timeseries" if fmt == FORMAT_TIMESERIES else "table",
            "rawSql": render_grafana(panel_template(panel), database, streams, read),
            "refId": "A",
        }
    ]
    return out


def dashboard_json(
    d: Dashboard, database: str = "vitrina", catalog: Catalog | None = None, read: Callable[[str], str] = as_is
) -> dict[str, Any]:
    catalog = catalog or default_catalog()
    grids = _grid(d.panels)
    return {
        "uid": uid(d),
        "title": f"vitrina · {d.title}",
        "description": d.description,
        "tags": ["vitrina"],
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {"refresh_intervals": ["1s", "5s", "30s", "1m", "5m"]},
        "timezone": "utc",
        "panels": [panel_json(p, i, g, database, catalog.streams, read) for i, (p, g) in enumerate(zip(d.panels, grids, strict=True), 1)],
        "templating": {
            "list": [
                {
                    "name": v.name,
                    "label": v.label,
                    "type": "query",
                    "datasource": DATASOURCE,
                    "query": render_grafana(v.query, database, catalog.streams, read),
                    "definition": render_grafana(v.query, database, catalog.streams, read),
                    "refresh": 2,  # on time-range change
                    "sort": 7,  # natural order, as on vitrina's page (metric_2 before metric_10)
                    "multi": False,
                    "includeAll": False,
                }
                for v in d.variables
            ]
        },
        "links": [
            {"title": o.title, "type": "link", "url": f"/d/{uid(o)}", "targetBlank": False, "tags": [], "asDropdown": False}
            for o in catalog.dashboards
            if o.name != d.name
        ],
    }


def datasource_yaml(host: str, port: int, protocol: str, database: str) -> str:
    # Written by hand (no YAML library needed); every value is quoted JSON, which YAML reads.
    q = json.dumps
    return (
        "apiVersion: 1\n"
        "datasources:\n"
        f"  - name: {q('vitrina ClickHouse')}\n"
        f"    type: {q(PLUGIN)}\n"
        f"    uid: {q(DATASOURCE_UID)}\n"
        "    editable: false\n"
        "    isDefault: true\n"
        "    jsonData:\n"
        f"      defaultDatabase: {q(database)}\n"
        f"      host: {q(host)}\n"
        f"      port: {port}\n"
        f"      protocol: {q(protocol)}\n"
        "      secure: false\n"
        f"      username: {q('grafana')}\n"
        "    secureJsonData:\n"
        f"      password: {q('$' + PASSWORD_ENV)}\n"
    )


def provider_yaml(path: str) -> str:
    return (
        "apiVersion: 1\n"
        "providers:\n"
        '  - name: "vitrina"\n'
        '    folder: "vitrina"\n'
        '    type: "file"\n'
        "    disableDeletion: false\n"
        "    allowUiUpdates: false\n"
        "    options:\n"
        f"      path: {json.dumps(path)}\n"
    )


def users_xml(database: str) -> str:
    """The read-only `grafana` user with the seed's limits; max_execution_time stays changeable
    because the plugin's client sets it on every query."""
    return f"""<clickhouse>
    <profiles>
        <grafana_readonly>
            <readonly>1</readonly>
            <max_result_rows>100000</max_result_rows>
            <result_overflow_mode>break</result_overflow_mode>
            <max_execution_time>600</max_execution_time>
            <constraints>
                <max_execution_time>
                    <max>600</max>
                    <changeable_in_readonly/>
                </max_execution_time>
            </constraints>
        </grafana_readonly>
    </profiles>
    <users>
        <grafana>
            <password from_env="{PASSWORD_ENV}"/>
            <profile>grafana_readonly</profile>
            <quota>default</quota>
            <networks>
                <ip>::/0</ip>
            </networks>
            <allow_databases>
                <database>{database}</database>
                <database>system</database>
            </allow_databases>
        </grafana>
    </users>
</clickhouse>
"""


def export(
    folder: Path,
    *,
    database: str = "vitrina",
    host: str = "clickhouse",
    port: int = 9000,
    protocol: str = "native",
    dashboards_path: str = "",
    cluster: str | None = None,
    catalog: Catalog | None = None,
) -> list[Path]:
    """Writes the provisioning tree under `folder`; returns the files written. With `cluster`,
    the panels read the `_all` tables of that cluster's layout (warehouse/cluster.py).
    `catalog`: the dashboards of a config file (default: an install without one)."""
    read = policy_for(database, cluster).read
    catalog = catalog or default_catalog()
    files: dict[str, str] = {
        "provisioning/datasources/vitrina-clickhouse.yaml": datasource_yaml(host, port, protocol, database),
        "provisioning/dashboards/vitrina.yaml": provider_yaml(dashboards_path or "/var/lib/grafana/dashboards/vitrina"),
        "clickhouse/users.d/grafana.xml": users_xml(database),
    }
    for d in catalog.dashboards:
        doc = dashboard_json(d, database, catalog, read)
        files[f"dashboards/{uid(d)}.json"] = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return write_tree(folder, files)


def write_tree(folder: Path, files: dict[str, str]) -> list[Path]:
    """Writes each text at its path under `folder` (folders made as needed), in path order."""
    written = []
    for rel, text in sorted(files.items()):
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
