"""Materializes models into ClickHouse tables.

Why vitrina's own runner and not dbt or sqlmesh: neither can target the embedded engine (chdb
runs in-process and locks its folder; their ClickHouse adapters only speak to a server) without
patching them, and vitrina needs the same models on both. What it needs is small: render a
SELECT for a window, order models by their declared dependencies, and swap partitions.

Idempotence: a run computes its window into a staging table, then for every day partition from
the window start on either replaces the model's partition with the staged one or drops it when
the window produced nothing for that day. The partition swap is atomic per partition on
MergeTree (readers see the old day or the new day, never half of it), and re-running the
same window gives the same rows. ReplacingMergeTree would need FINAL on every read and cannot
delete rows that disappear (a session that merges into another); insert deduplication tokens
cannot replace data. A full rebuild is the same code path with the window starting at the
epoch. The statements come from the warehouse's engine policy (on a cluster a model is a table
on every node: docs/DEPLOYMENT.md, "Cluster").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from vitrina.models.db import Db
from vitrina.models.settings import ModelSettings
from vitrina.models.spec import Model, ordered
from vitrina.models.state import RunRecord, ensure_runs_table, last_ok_run_at, last_runs, record
from vitrina.models.window import Window, render, sql_time
from vitrina.warehouse.engine import EnginePolicy

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class ModelRunner:
    def __init__(self, db: Db, models: Sequence[Model], settings: ModelSettings, clock: Callable[[], datetime] = _now) -> None:
        self.db = db
        self.models = list(models)
        self.settings = settings
        self.clock = clock
        self._lock = threading.Lock()  # one run at a time: the scheduler and an API call never overlap
        ensure_runs_table(db)

    def _q(self, name: str) -> str:
        return f"{self.db.database}.`{name}`"

    def _run(self, statements: Iterable[str]) -> None:
        for sql in statements:
            self.db.command(sql)

    def run(self, names: Iterable[str] | None = None, *, full: bool = False, now: datetime | None = None) -> list[RunRecord]:
        """Run `names` (all when None) after their upstream dependencies."""
        plan = ordered(self.models, names)
        with self._lock:
            now = now or self.clock()
            last = {} if full else last_ok_run_at(self.db)
            results: list[RunRecord] = []
            failed: set[str] = set()
            starts: dict[str, datetime] = {}
            for model in plan:
                if failed & set(model.depends):
                    failed.add(model.name)  # its input is stale: leave its table as it is
                    continue
                # a dependency rewritten further back in this run: follow it that far back
                floor = min((starts[d] for d in model.depends if d in starts), default=None)
                result = self._run_one(model, full, now, last.get(model.name), floor)
                starts[model.name] = result.window_start
                results.append(result)
                if result.status != "ok":
                    failed.add(model.name)
            log.info("models run: %d ok, %d failed", sum(r.status == "ok" for r in results), len(failed))
            return results

    def _run_one(self, model: Model, full: bool, now: datetime, last_run_at: datetime | None, floor: datetime | None) -> RunRecord:
        started, t0 = datetime.now(UTC), time.perf_counter()
        window = Window.full() if full else Window.incremental(now, last_run_at, self.settings.lookback_s)
        if floor is not None and floor < window.start:
            window = Window(floor)
        mode = "full" if window.start == Window.full().start else "incremental"
        try:
            select = self._select(model, window)
            if self._ensure_table(model, select):
                window, mode = Window.full(), "full"  # the table was (re)created: fill all of it
                select = self._select(model, window)
            rows = self._materialize(model, select, window)
            result = RunRecord(model.name, mode, now, started, window.start, rows, time.perf_counter() - t0, "ok")
        except Exception as exc:  # a broken model must not stop the scheduler; the error is recorded
            log.error("model %s failed: %s", model.name, exc)
            result = RunRecord(model.name, mode, now, started, window.start, 0, time.perf_counter() - t0, "error", str(exc)[:2000])
        record(self.db, result)
        log.debug("model %s: %s %s rows in %.3fs", model.name, result.status, result.rows, result.duration_s)
        return result

    def _select(self, model: Model, window: Window) -> str:
        return model_select(model, window, self.db.policy, self.settings)

    def _ensure_table(self, model: Model, select: str) -> bool:
        """Create the table; recreate it when the model's columns changed. True if created."""
        wanted = [(r[0], r[1]) for r in self.db.rows(f"DESCRIBE ({select})")]
        have = self.db.rows(
            f"SELECT name, type FROM system.columns WHERE database = '{self.db.database}' AND table = '{model.name}' ORDER BY position"
        )
        if have and [(n, t) for n, t in have] == wanted:
            return False
        if have:
            log.warning("model %s changed its columns: rebuilding its table", model.name)
            self._run(self.db.policy.drop_model(model.name))
        self._run(self.db.policy.model_table(model.name, model.time, model.order_by, select))
        return True

    def _partitions(self, table: str) -> set[str]:
        rows = self.db.rows(
            f"SELECT DISTINCT partition_id FROM system.parts WHERE database = '{self.db.database}' AND table = '{table}' AND active"
        )
        return {r[0] for r in rows}

    def _materialize(self, model: Model, select: str, window: Window) -> int:
        stage, policy = f"_stage_{model.name}", self.db.policy
        self.db.command(policy.drop_scratch(stage))
        self.db.command(policy.stage_table(stage, model.name, model.time, model.order_by))
        try:
            self.db.command(f"INSERT INTO {self._q(stage)} {select}")
            staged = self._partitions(stage)
            self._run(policy.sync_replica(model.name))  # every day this node's copy of the model has
            current = {p for p in self._partitions(model.name) if p >= window.start_partition}
            self._run(policy.replace_partition(model.name, pid, stage) for pid in sorted(staged))
            self._run(policy.drop_partition(model.name, pid) for pid in sorted(current - staged))
            return int(self.db.rows(f"SELECT count() FROM {self._q(stage)}")[0][0])
        finally:
            self.db.command(policy.drop_scratch(stage))

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def due(self, now: datetime) -> list[str]:
        """Models whose cadence has passed since their last run (by the wall clock)."""
        last = last_runs(self.db)
        return [m.name for m in self.models if m.name not in last or (now - last[m.name].started).total_seconds() >= m.cadence_s]

    def status(self) -> list[dict[str, object]]:
        last = last_runs(self.db)
        out: list[dict[str, object]] = []
        for m in ordered(self.models):
            run = last.get(m.name)
            out.append(
                {
                    "name": m.name,
                    "depends": list(m.depends),
                    "cadence_s": m.cadence_s,
                    "description": m.description,
                    "last_run": run.as_dict() if run else None,
                }
            )
        return out


def model_select(model: Model, window: Window, policy: EnginePolicy, settings: ModelSettings) -> str:
    """The model's SELECT over `window`, reading the tables the policy reads through."""
    body = render(policy.reads(model.sql), window, model.context_s, policy.database, settings.our_media_hosts)
    # The window filter on the output, so a model can never write outside its partitions.
    return f"SELECT * FROM (\n{body}\n) WHERE `{model.time}` >= {sql_time(window.start)} AND `{model.time}` < {sql_time(window.end)}"


def model_tables(models: Sequence[Model], policy: EnginePolicy, settings: ModelSettings) -> list[str]:
    """The statements making every model's table, dependencies first (`vitrina ddl schema`)."""
    out: list[str] = []
    for m in ordered(models):
        out += policy.model_table(m.name, m.time, m.order_by, model_select(m, Window.full(), policy, settings))
    return out
