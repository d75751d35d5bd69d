"""Run history of the models, kept in ClickHouse (`_model_runs`): the last successful run of a
model gives the next incremental window; `vitrina models list` shows it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vitrina.models.db import Db
from vitrina.models.window import as_utc
from vitrina.warehouse.ddl import RUNS_TABLE


@dataclass(frozen=True)
class RunRecord:
    name: str
    mode: str  # "full" or "incremental"
    run_at: datetime  # the run's clock (injectable), which windows are computed from
    started: datetime  # wall clock
    window_start: datetime
    rows: int
    duration_s: float
    status: str  # "ok" or "error"
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "mode": self.mode,
            "run_at": self.run_at.isoformat(),
            "started": self.started.isoformat(),
            "window_start": self.window_start.isoformat(),
            "rows": self.rows,
            "duration_s": round(self.duration_s, 4),
            "status": self.status,
            "error": self.error,
        }


_COLUMNS = ("name", "mode", "run_at", "started", "window_start", "rows", "duration_s", "status", "error")


def ensure_runs_table(db: Db) -> None:
    db.ensure(db.policy.model_runs_table())


def record(db: Db, run: RunRecord) -> None:
    db.insert(RUNS_TABLE, [[getattr(run, c) for c in _COLUMNS]], _COLUMNS)


def last_ok_run_at(db: Db) -> dict[str, datetime]:
    rows = db.rows(f"SELECT name, max(run_at) FROM {db.database}.{db.policy.read(RUNS_TABLE)} WHERE status = 'ok' GROUP BY name")
    return {name: as_utc(t) for name, t in rows}


def last_runs(db: Db) -> dict[str, RunRecord]:
    cols = ", ".join(f"argMax({c}, started)" for c in _COLUMNS[1:])
    rows = db.rows(f"SELECT name, {cols} FROM {db.database}.{db.policy.read(RUNS_TABLE)} GROUP BY name")
    out = {}
    for name, mode, run_at, started, start, n, seconds, status, error in rows:
        out[name] = RunRecord(name, mode, as_utc(run_at), as_utc(started), as_utc(start), int(n), float(seconds), status, error)
    return out
