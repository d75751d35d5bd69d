"""Reading rollups: per-bucket figures from the AggregatingMergeTree tables, and the same
figures computed from the raw table (used to check rollups and to read ranges they lack)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from vitrina.streams.declare import RESOLUTIONS, Rollup, Stream
from vitrina.warehouse.engine import as_is


@dataclass(frozen=True)
class RollupQuery:
    sql: str
    parameters: dict[str, object]


def _filters(rollup: Rollup, filters: dict[str, str], time_col: str) -> tuple[list[str], dict[str, object]]:
    where = [f"{time_col} >= {{start:DateTime64(3, 'UTC')}}", f"{time_col} < {{end:DateTime64(3, 'UTC')}}"]
    params: dict[str, object] = {}
    keys = dict(rollup.keys)
    for i, (name, value) in enumerate(sorted(filters.items())):
        if name not in keys:
            raise KeyError(f"{name!r} is not a key of this rollup; keys: {sorted(keys)}")
        where.append(f"toString({name}) = {{k{i}:String}}")
        params[f"k{i}"] = value
    return where, params


def read_rollup(
    stream: Stream,
    rollup: Rollup,
    resolution: str,
    database: str,
    start: datetime,
    end: datetime,
    filters: dict[str, str] | None = None,
    by_keys: bool = True,
    read: Callable[[str], str] = as_is,
) -> RollupQuery:
    """Figures per bucket (and per key unless `by_keys` is False, which merges all keys);
    `read` is the engine policy's (on a cluster, the rollup's `_all` table)."""
    if resolution not in RESOLUTIONS:
        raise KeyError(f"resolution must be one of {sorted(RESOLUTIONS)}")
    where, params = _filters(rollup, filters or {}, "t")
    keys = [f"`{name}`" for name, _ in rollup.keys] if by_keys else []
    cols = ["t", *keys, *(f"{a.merge_sql(f'`{a.name}`')} AS `{a.name}`" for a in rollup.aggregates)]
    cols += [f"{expr} AS `{name}`" for name, expr in rollup.figures]
    sql = (
        f"SELECT {', '.join(cols)}\nFROM {database}.`{read(rollup.table(stream.name, resolution))}`\n"
        f"WHERE {' AND '.join(where)}\nGROUP BY {', '.join(['t', *keys])}\nORDER BY {', '.join(['t', *keys])}"
    )
    return RollupQuery(sql, {"start": start, "end": end, **params})


def read_raw(
    stream: Stream,
    rollup: Rollup,
    resolution: str,
    database: str,
    start: datetime,
    end: datetime,
    filters: dict[str, str] | None = None,
    by_keys: bool = True,
    read: Callable[[str], str] = as_is,
) -> RollupQuery:
    """The same figures as `read_rollup`, aggregated straight from the raw table."""
    bucket = f"toDateTime({RESOLUTIONS[resolution]}({stream.time_sql}), 'UTC')"
    inner_where, params = _filters(rollup, filters or {}, stream.time_sql)
    if rollup.where:
        inner_where.append(f"({rollup.where})")
    keys = [(name, expr) for name, expr in rollup.keys] if by_keys else []
    cols = [f"{bucket} AS t", *(f"{expr} AS `{name}`" for name, expr in keys)]
    cols += [f"{a.raw_sql()} AS `{a.name}`" for a in rollup.aggregates]
    cols += [f"{expr} AS `{name}`" for name, expr in rollup.figures]
    group = ", ".join(["t", *(f"`{name}`" for name, _ in keys)])
    sql = (
        f"SELECT {', '.join(cols)}\nFROM {database}.`{read(stream.table)}`\n"
        f"WHERE {' AND '.join(inner_where)}\nGROUP BY {group}\nORDER BY {group}"
    )
    return RollupQuery(sql, {"start": start, "end": end, **params})
