"""On a cluster, every query a stage builds reads vitrina's tables through their `_all` twins
(the whole cluster), never a shard's local table: rollups, dashboard panels, models, alert
figures and samples, reports, model runs, batch plans and migrations. Each query is rendered
with the cluster policy and its tables are read from ClickHouse's own syntax tree."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pytest

from tests.warehouse.clickhouse_parser import Parser
from vitrina.alerts.figures import BUILTIN_FIGURES, render
from vitrina.alerts.source import SqlFigures
from vitrina.load.plans import Plans
from vitrina.models.db import Db
from vitrina.models.runner import model_select
from vitrina.models.settings import ModelSettings
from vitrina.models.spec import builtin_models
from vitrina.models.state import last_ok_run_at, last_runs
from vitrina.models.window import Window
from vitrina.reports.content import SOURCE_MODEL, read_content
from vitrina.reports.periods import Period
from vitrina.serve.dashboards.grafana import dashboard_json, default_catalog
from vitrina.serve.dashboards.render import QueryWindow, panel_template, render_vitrina
from vitrina.streams.builtin import BUILTIN
from vitrina.streams.declare import RESOLUTIONS
from vitrina.warehouse.client import Warehouse
from vitrina.warehouse.cluster import ClusterPolicy
from vitrina.warehouse.engine import EnginePolicy
from vitrina.warehouse.rollups import read_raw, read_rollup
from vitrina.warehouse.schema import applied_versions

POLICY = ClusterPolicy("vitrina", "vitrina")
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
Query = tuple[str, dict[str, Any]]


@pytest.fixture(scope="module")
def parser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Parser]:
    p = Parser(tmp_path_factory.mktemp("parser"))
    yield p
    p.close()


class RecordingDb(Db):
    """A Db that keeps the queries it is given instead of sending them (no cluster runs here),
    and answers with no rows, or the one row a report needs to go on."""

    sent: list[Query]

    def __init__(self, policy: EnginePolicy) -> None:
        self.database, self.policy, self.sent = policy.database, policy, []

    def command(self, sql: str) -> None:
        pass  # DDL: the policy's, checked in test_cluster_policy.py

    def ensure(self, statements: list[str]) -> None:
        pass

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        self.sent.append((sql, {}))
        return [(SOURCE_MODEL, NOW)] if "max(run_at)" in sql else []

    def columns_rows(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        self.sent.append((sql, {}))
        return ["value"], []

    def arrow(self, sql: str, parameters: dict[str, Any] | None = None) -> pa.Table:
        self.sent.append((sql, parameters or {}))
        return pa.table({"company_id": pa.array([], pa.uint64()), "seller": pa.array([], pa.uint64())})


class NoRows:
    def __init__(self) -> None:
        self.result_rows: list[tuple[Any, ...]] = []


class RecordingWarehouse(Warehouse):
    """The same, for the queries built on a Warehouse (migrations, batch plans)."""

    sent: list[Query]

    def __init__(self, policy: EnginePolicy) -> None:
        self.database, self.policy, self.sent = policy.database, policy, []

    def ensure(self, statements: list[str]) -> None:
        pass

    def query(self, sql: str, **kw: Any) -> Any:
        self.sent.append((sql, kw.get("parameters") or {}))
        return NoRows()

    def insert_json_rows(self, table: str, rows: bytes, token: str | None = None) -> None:
        pass


def rollup_queries(policy: EnginePolicy) -> list[Query]:
    out = []
    for s in BUILTIN:
        for r in s.rollups:
            for res in RESOLUTIONS:
                for build in (read_rollup, read_raw):
                    q = build(s, r, res, policy.database, NOW, NOW, read=policy.read)
                    out.append((q.sql, q.parameters))
    return out


DASHBOARDS = default_catalog().dashboards


def dashboard_queries(policy: EnginePolicy) -> list[Query]:
    window = QueryWindow(1772409600, 1772496000, 300)
    out = []
    for d in DASHBOARDS:
        variables = {v.name: "x" for v in d.variables}
        out += [render_vitrina(v.query, policy.database, window, {}, read=policy.read) for v in d.variables]
        out += [render_vitrina(panel_template(p), policy.database, window, variables, read=policy.read) for p in d.panels if p.sql]
    return out


def model_queries(policy: EnginePolicy) -> list[Query]:
    windows = (Window.full(), Window.incremental(NOW, NOW, 86400))
    return [(model_select(m, w, policy, ModelSettings()), {}) for m in builtin_models() for w in windows]


def figure_queries(policy: EnginePolicy) -> list[Query]:
    out = [(render(policy.reads(f.sql), policy.database, NOW), {}) for f in BUILTIN_FIGURES.values()]
    db = RecordingDb(policy)
    figures = SqlFigures(db, BUILTIN_FIGURES)
    figures.values(list(BUILTIN_FIGURES)[:1], NOW)
    figures.baseline(next(iter(BUILTIN_FIGURES)), "{}", NOW, NOW)
    return out + db.sent


def bookkeeping_queries(policy: EnginePolicy) -> list[Query]:
    """Reports (the upload models, raw uploads), model runs, migrations, batch plans."""
    db = RecordingDb(policy)
    last_ok_run_at(db)
    last_runs(db)
    read_content(db, Period("day", date(2026, 3, 3), date(2026, 3, 4)), (), 10)
    wh = RecordingWarehouse(policy)
    applied_versions(wh)
    plans = Plans(wh)
    plans.lookup_many([("vitrina.uploads", 0, 1)])
    plans.lookup("vitrina.uploads", 0, 1)
    return db.sent + wh.sent


STAGES = {
    "rollups": rollup_queries,
    "dashboards": dashboard_queries,
    "models": model_queries,
    "alert figures": figure_queries,
    "reports and bookkeeping": bookkeeping_queries,
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_every_read_on_a_cluster_names_only_all_tables(parser: Parser, stage: str) -> None:
    named = 0
    for sql, params in STAGES[stage](POLICY):
        ours = [t for t in parser.tables_read(sql, params) if not t.startswith("system.")]  # a node's own state
        local = [t for t in ours if not (t.startswith("vitrina.") and t.endswith("_all"))]
        assert not local, f"{stage}: reads {local} (a shard's own table) in:\n{sql}"
        named += len(ours)
    assert named >= 3


@pytest.mark.parametrize("stage", list(STAGES))
def test_on_one_server_the_same_queries_read_the_tables_themselves(parser: Parser, stage: str) -> None:
    queries = STAGES[stage](EnginePolicy("vitrina"))
    named = [t for sql, params in queries for t in parser.tables_read(sql, params)]
    assert named and not [t for t in named if t.endswith("_all")]


def test_grafana_panels_read_all_tables_on_a_cluster() -> None:
    """Grafana's panels keep the plugin's macros, which are no SQL yet: their table names are
    found in the text."""
    named = []
    for d in DASHBOARDS:
        names = re.findall(r"\bvitrina\.`?(\w+)", str(dashboard_json(d, "vitrina", read=POLICY.read)))
        assert [n for n in names if not n.endswith("_all")] == [], d.name
        named += names
    assert len(named) > 10
    assert not re.findall(r"\bvitrina\.\w+_all", str([dashboard_json(d, "vitrina") for d in DASHBOARDS]))


def _sharded_all() -> set[str]:
    rollups = {r.table(s.name, res) for s in BUILTIN for r in s.rollups for res in RESOLUTIONS}
    return {f"vitrina.{t}_all" for t in {s.table for s in BUILTIN} | rollups | {"rejected"}}


def _tables_under(node: Any) -> list[str]:
    return [n.name for n, _ in node.walk() if n.kind == "TableIdentifier"]


def _double_distributed(tree: Any, sharded: set[str]) -> list[str]:
    """A sharded table read in an IN or a JOIN of a query whose FROM is itself a sharded table:
    ClickHouse refuses those by default (distributed_product_mode = 'deny')."""
    out = []
    for query, _ in tree.walk():
        if query.kind != "SelectQuery":
            continue
        elements = next((c.children for c in query.children if c.kind == "TablesInSelectQuery"), [])
        first = elements[0].children[0].children[0] if elements and elements[0].children[0].children else None
        if first is None or first.kind != "TableIdentifier" or first.name not in sharded:
            continue
        joined = [t for e in elements[1:] for t in _tables_under(e)]
        tested = [t for n, _ in query.walk() if n.kind == "Function" and n.name in ("in", "notIn") for t in _tables_under(n)]
        out += [f"{first.name} with {t}" for t in joined + tested if t in sharded]
    return out


@pytest.mark.parametrize("stage", list(STAGES))
def test_no_query_joins_one_sharded_table_inside_another(parser: Parser, stage: str) -> None:
    sharded = _sharded_all()
    for sql, params in STAGES[stage](POLICY):
        assert _double_distributed(parser.ast(sql, params), sharded) == [], sql


def test_the_double_distributed_check_finds_joins_and_ins(parser: Parser) -> None:
    sql = (
        "SELECT 1 FROM vitrina.uploads_all AS u JOIN vitrina.probes_all AS p ON 1 "
        "WHERE u.item_id IN (SELECT item_id FROM vitrina.uploads_all)"
    )
    found = _double_distributed(parser.ast(sql), _sharded_all())
    assert found == ["vitrina.uploads_all with vitrina.probes_all", "vitrina.uploads_all with vitrina.uploads_all"]
