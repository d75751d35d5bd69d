"""`vitrina grafana export`: the provisioning files, their structure, byte-identical re-export, and
every panel query run (macros expanded the way the ClickHouse plugin does) against a real
`vitrina up` holding data."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.conftest import ROOT, VitrinaProcess
from vitrina.serve.dashboards.grafana import default_catalog

PLUGIN = "grafana-clickhouse-datasource"
DASHBOARDS = default_catalog().dashboards


def export(folder: Path) -> dict[str, bytes]:
    run = subprocess.run(
        [sys.executable, "-m", "vitrina", "grafana", "export", str(folder)], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert run.returncode == 0, run.stderr
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _args(text: str) -> tuple[list[str], int]:
    """The plugin's argument scan: a bracketed list right after the macro name, nesting counted,
    split on commas at the top level. Returns the args and the length consumed."""
    if not text.startswith("("):
        return [], 0
    depth, args, current = 0, [], ""
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
            if depth == 1:
                continue
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append(current.strip())
                return args, i + 1
        elif ch == "," and depth == 1:
            args.append(current.strip())
            current = ""
            continue
        current += ch
    raise AssertionError(f"unclosed macro arguments in {text[:80]!r}")


def expand_like_plugin(sql: str, start: int, end: int, interval_s: int, variables: dict[str, str]) -> str:
    """grafana-clickhouse-datasource's macros (pkg/macros) applied to a panel's rawSql, after
    Grafana's template variables (`${name:sqlstring}`: quoted, quotes doubled)."""
    sql = re.sub(r"\$\{(\w+):sqlstring\}", lambda m: "'" + variables[m.group(1)].replace("'", "''") + "'", sql)
    frm, to, step = f"toDateTime({start})", f"toDateTime({end})", max(interval_s, 1)
    macros = {
        "timeFilter": lambda a: f"{a[0]} >= {frm} AND {a[0]} <= {to}",
        "timeInterval": lambda a: f"toStartOfInterval(toDateTime({a[0]}), INTERVAL {step} second)",
        "fromTime": lambda a: frm,
        "toTime": lambda a: to,
        "interval_s": lambda a: str(step),
    }
    pattern = re.compile(r"\$__(" + "|".join(macros) + r")\b")
    while m := pattern.search(sql):
        args, length = _args(sql[m.end() :])
        if m.group(1) in ("timeFilter", "timeInterval"):
            assert len(args) == 1, f"$__{m.group(1)} takes one argument, got {args} (commas split arguments)"
        sql = sql[: m.start()] + macros[m.group(1)](args) + sql[m.end() + length :]
    assert "$__" not in sql, f"an unexpanded macro is left: {sql}"
    return sql


def test_export_is_deterministic_and_structured(tmp_path: Path) -> None:
    first, second = export(tmp_path / "a"), export(tmp_path / "b")
    assert first == second, "re-export must be byte-identical"
    names = {f"dashboards/vitrina-{d.name}.json" for d in DASHBOARDS}
    assert names <= set(first)

    ds = yaml.safe_load(first["provisioning/datasources/vitrina-clickhouse.yaml"])
    (source,) = ds["datasources"]
    assert source["type"] == PLUGIN and source["uid"] == "vitrina-clickhouse"
    assert source["jsonData"]["username"] == "grafana" and source["jsonData"]["defaultDatabase"] == "vitrina"
    assert source["secureJsonData"]["password"].startswith("$")  # from the environment, not the file
    provider = yaml.safe_load(first["provisioning/dashboards/vitrina.yaml"])
    assert provider["providers"][0]["type"] == "file"

    profile = ET.fromstring(first["clickhouse/users.d/grafana.xml"]).find("profiles/grafana_readonly")
    assert profile is not None
    assert {c.tag: c.text for c in profile if c.tag != "constraints"} == {
        "readonly": "1",
        "max_result_rows": "100000",
        "result_overflow_mode": "break",
        "max_execution_time": "600",
    }
    user = ET.fromstring(first["clickhouse/users.d/grafana.xml"]).find("users/grafana")
    assert user is not None and user.findtext("profile") == "grafana_readonly"

    uids = set()
    for d in DASHBOARDS:
        raw = first[f"dashboards/vitrina-{d.name}.json"].decode()
        doc = json.loads(raw)
        assert raw == json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"  # sorted keys
        assert doc["title"] and doc["uid"] == f"vitrina-{d.name}" and len(doc["uid"]) <= 40
        uids.add(doc["uid"])
        assert len(doc["panels"]) == len(d.panels)
        ids = [p["id"] for p in doc["panels"]]
        assert len(set(ids)) == len(ids)
        for panel, decl in zip(doc["panels"], d.panels, strict=True):
            assert panel["title"] == decl.title
            grid = panel["gridPos"]
            assert set(grid) == {"h", "w", "x", "y"} and grid["x"] + grid["w"] <= 24
            if decl.kind == "alerts":
                assert panel["type"] == "alertlist"
                continue
            assert panel["datasource"] == {"type": PLUGIN, "uid": "vitrina-clickhouse"}
            (target,) = panel["targets"]
            assert target["datasource"]["type"] == PLUGIN and target["refId"] == "A" and target["rawSql"]
            assert target["format"] == (0 if decl.kind == "timeseries" else 1)
            if decl.thresholds:
                steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
                assert {s["value"] for s in steps} >= {t.value for t in decl.thresholds}
    assert len(uids) == len(DASHBOARDS)


def _sql(v: VitrinaProcess, query: str) -> dict[str, Any]:
    resp = httpx.post(f"{v.url}/v1/sql", content=query.encode(), timeout=60)
    assert resp.status_code == 200, f"{resp.text}\n--- query ---\n{query}"
    return dict(resp.json())


def test_every_panel_query_runs_with_plugin_macros(fed: VitrinaProcess, tmp_path: Path) -> None:
    files = export(tmp_path)
    metric = _sql(fed, "SELECT any(metric_name) AS m FROM vitrina.metrics")["data"][0]["m"]
    end = int(time.time()) + 1
    checked = 0
    # 15 s buckets read the 1-second rollups; 60 s buckets the 1-minute ones.
    for interval in (15, 60):
        for d in DASHBOARDS:
            doc = json.loads(files[f"dashboards/vitrina-{d.name}.json"])
            for var in doc["templating"]["list"]:
                options = _sql(fed, expand_like_plugin(var["query"], end - 3600, end, interval, {}))
                assert metric in [next(iter(r.values())) for r in options["data"]]
            for panel, decl in zip(doc["panels"], d.panels, strict=True):
                if decl.kind == "alerts":
                    continue
                query = expand_like_plugin(panel["targets"][0]["rawSql"], end - 3600, end, interval, {"metric": metric})
                result = _sql(fed, query)
                assert [m["name"] for m in result["meta"]] == list(decl.output_columns), f"{d.name}/{decl.id}"
                checked += 1
    assert checked > 100
    # With data in the warehouse the figures are there, not just the columns.
    uploads = json.loads(files["dashboards/vitrina-uploads.json"])
    attempts = next(p for p in uploads["panels"] if p["title"] == "Attempts")
    rows = _sql(fed, expand_like_plugin(attempts["targets"][0]["rawSql"], end - 3600, end, 15, {}))["data"]
    assert rows[0]["attempts"] == _sql(fed, "SELECT count() AS n FROM vitrina.uploads")["data"][0]["n"] > 0
