"""Figures computed in ClickHouse, and their samples (`_alert_samples`) for the baselines of
control charts and p-charts."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from vitrina.alerts.evaluator import Values
from vitrina.alerts.figures import Figure, render
from vitrina.alerts.state import labels_key
from vitrina.models.db import Db
from vitrina.warehouse.ddl import SAMPLES_TABLE

log = logging.getLogger(__name__)


def _lit(t: datetime) -> str:
    return f"toDateTime64('{t.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f')}', 6, 'UTC')"


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace("'", "\\'")


class SqlFigures:
    def __init__(self, db: Db, figures: Mapping[str, Figure]) -> None:
        self.db = db
        self.figures = dict(figures)
        db.ensure(db.policy.alert_samples_table())

    def values(self, figures: Sequence[str], now: datetime) -> Values:
        out: Values = {}
        for name in figures:
            sql = render(self.db.policy.reads(self.figures[name].sql), self.db.database, now)
            try:
                cols, rows = self.db.columns_rows(sql)
            except Exception as exc:  # one broken figure must not stop the others
                log.error("figure %s failed: %s", name, exc)
                continue
            got: dict[str, tuple[dict[str, str], float]] = {}
            for row in rows:
                labels = {c: str(v) for c, v in zip(cols, row, strict=True) if c != "value"}
                value = row[cols.index("value")]
                if value is None or (isinstance(value, float) and math.isnan(value)):
                    continue
                got[labels_key(labels)] = (labels, float(value))
            out[name] = got
        return out

    def record(self, now: datetime, values: Values) -> None:
        rows = [[now, figure, key, v] for figure, got in values.items() for key, (_, v) in got.items()]
        if rows:
            self.db.insert(SAMPLES_TABLE, rows, ("time", "figure", "labels", "value"))

    def baseline(self, figure: str, key: str, since: datetime, now: datetime) -> tuple[float, float] | None:
        rows = self.db.rows(
            f"SELECT avg(value), stddevPop(value), count() FROM {self.db.database}.{self.db.policy.read(SAMPLES_TABLE)} "
            f"WHERE figure = '{_esc(figure)}' AND labels = '{_esc(key)}' AND time > {_lit(since)} AND time <= {_lit(now)}"
        )
        if not rows or not rows[0][2]:
            return None
        return float(rows[0][0]), float(rows[0][1])
