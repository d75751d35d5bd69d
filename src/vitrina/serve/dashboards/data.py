"""Running a dashboard's panel queries for a time range and shaping the results for the page."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.client import Client

from vitrina.serve.dashboards.panels import Dashboard, Panel
from vitrina.serve.dashboards.render import BUILTIN_STREAMS, QueryWindow, panel_template, render_vitrina
from vitrina.streams.declare import Stream
from vitrina.warehouse.client import drain
from vitrina.warehouse.engine import as_is

RANGES = {"5m": 300, "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800, "30d": 2592000}
DEFAULT_RANGE = "1h"


class RangeError(ValueError):
    pass


def _epoch(text: str) -> int:
    try:
        return int(float(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RangeError(f"not a time: {text!r} (epoch seconds or ISO 8601)") from None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def parse_window(range_: str | None, start: str | None, end: str | None, now: float | None = None) -> QueryWindow:
    """A named range back from now (the current second included), or an absolute start and end."""
    if start or end:
        if not (start and end):
            raise RangeError("a custom range needs both from and to")
        t0, t1 = _epoch(start), _epoch(end)
        if t1 <= t0:
            raise RangeError("from must be before to")
        return QueryWindow.of(t0, t1)
    name = range_ or DEFAULT_RANGE
    if name not in RANGES:
        raise RangeError(f"range must be one of {', '.join(RANGES)}")
    t1 = math.floor(time.time() if now is None else now) + 1
    return QueryWindow.of(t1 - RANGES[name], t1)


def natural(text: str) -> list[Any]:
    """Sort key: digit runs compare as numbers (metric_2 before metric_10)."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text) if part]


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value
        return moment.strftime("%Y-%m-%d %H:%M:%S")  # UTC wall time: plotly draws it as given
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_cell(v) for v in value]
    return value


@dataclass
class PanelResult:
    columns: list[str]
    values: dict[str, list[Any]]  # column-oriented: what plotly takes
    rows: int
    ms: float
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"columns": self.columns, "values": self.values, "rows": self.rows, "ms": round(self.ms, 2)}
        if self.error:
            out["error"] = self.error
        return out


class PanelRunner:
    """Runs panel queries on a read-only session (one at a time: a chdb handle is not shared)."""

    def __init__(
        self, client: Client, database: str, streams: Mapping[str, Stream] = BUILTIN_STREAMS, read: Callable[[str], str] = as_is
    ) -> None:
        self.client = client
        self.database = database
        self.streams = streams
        self.read = read  # the engine policy's: the table each panel's table is read through
        self._lock = threading.Lock()

    def query(self, sql: str, params: dict[str, object]) -> tuple[list[str], list[Sequence[Any]]]:
        with self._lock:
            try:
                result = self.client.query(sql, parameters=params)
            except Exception:
                drain(self.client)  # or the next panel's query gets this one's leftovers
                raise
        return list(result.column_names), list(result.result_rows)

    def variable_options(self, dashboard: Dashboard, window: QueryWindow) -> dict[str, list[str]]:
        out = {}
        for var in dashboard.variables:
            sql, params = render_vitrina(var.query, self.database, window, {}, self.streams, self.read)
            _, rows = self.query(sql, params)
            out[var.name] = sorted((str(r[0]) for r in rows), key=natural)
        return out

    def stored_rows(self, tables: Sequence[str]) -> int:
        """Rows in the raw tables (from the parts' counts: no table is read)."""
        _, rows = self.query(
            "SELECT sum(rows) FROM system.parts WHERE database = {db:String} AND active AND has({tables:Array(String)}, table)",
            {"db": self.database, "tables": list(tables)},
        )
        return int(rows[0][0] or 0) if rows else 0

    def run(self, panel: Panel, window: QueryWindow, variables: dict[str, str]) -> PanelResult:
        started = time.perf_counter()
        try:
            sql, params = render_vitrina(panel_template(panel), self.database, window, variables, self.streams, self.read)
            names, rows = self.query(sql, params)
        except Exception as exc:  # one broken panel must not blank the dashboard
            return PanelResult([], {}, 0, (time.perf_counter() - started) * 1000, str(exc).split("\n")[0][:500])
        values = {n: [_cell(r[i]) for r in rows] for i, n in enumerate(names)}
        return PanelResult(names, values, len(rows), (time.perf_counter() - started) * 1000)


def _when(value: Any) -> str:
    if isinstance(value, (int, float)) and value > 0:
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return str(value or "")


def _alert_row(rule: Mapping[str, Any], inst: Mapping[str, Any]) -> dict[str, Any]:
    own = inst.get("labels") or {}
    labels = {**rule["labels"], **own}
    extra = ", ".join(f"{k}={v}" for k, v in sorted(own.items()))
    return {
        "name": f"{rule['name']} {{{extra}}}" if extra else str(rule["name"]),
        "state": str(inst.get("state") or "inactive"),
        "severity": str(labels.get("severity") or ""),
        "value": _cell(inst.get("value")),
        "since": _when(inst.get("active_since")),
        "summary": str(rule.get("figure") or ""),
    }


def alert_rows(table: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The alerts panel's rows from the evaluator's table (alerts/evaluator.py: `table()`, what
    `GET /v1/alerts` answers): one per instance of a rule, a rule without instances as one
    inactive row; firing first."""
    out = [_alert_row(rule, inst) for rule in table for inst in rule["instances"] or [{}]]
    order = {"firing": 0, "pending": 1, "resolved": 2}
    return sorted(out, key=lambda r: (order.get(r["state"], 3), r["name"]))
