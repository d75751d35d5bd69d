"""`/v1/rollups/{stream}`: a stream's rollup merged per bucket over a time range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Query, Request, Response

from vitrina.auth.scopes import Scope, needs
from vitrina.errors import HttpError, error_responses, not_ready
from vitrina.pipeline import Pipeline
from vitrina.serve.responses import MsgspecJSON, RollupSeries
from vitrina.serve.routes.deps import Running
from vitrina.streams.declare import Rollup, Stream
from vitrina.warehouse.rollups import read_rollup

# The route's own parameters; every other query parameter filters on a key.
RESERVED = {"rollup", "resolution", "last", "start", "end", "merge_keys"}

router = APIRouter()


def _time_range(last: float | None, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    # Whole seconds, so a bucket is in the range entirely or not at all; the open end includes
    # the current second.
    now = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    end = end or now
    if start is None:
        start = end - timedelta(seconds=last or 3600)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    return start, end


def _rollup_of(pipeline: Pipeline, stream: str, rollup: str) -> tuple[Stream, Rollup]:
    s = pipeline.streams.get(stream)
    if s is None:
        raise HttpError(404, "unknown_stream", f"no stream named {stream!r}")
    match = [r for r in s.rollups if r.name == rollup]
    if not match:
        raise HttpError(404, "unknown_rollup", f"stream {stream!r} has no rollup {rollup!r}")
    return s, match[0]


@router.get(
    "/v1/rollups/{stream}",
    tags=["read"],
    response_model=RollupSeries,
    responses=error_responses({"400": "A bad parameter", "404": "Unknown stream or rollup", "503": "Starting or stopping"}),
    openapi_extra=needs(Scope.READ),
)
def rollups(
    request: Request,
    pipeline: Running,
    stream: str,
    rollup: str = "",
    resolution: str = Query("1s", description="1s or 1m"),
    last: float | None = Query(None, description="Seconds back from now (default 3600)."),
    start: datetime | None = None,
    end: datetime | None = None,
    merge_keys: bool = Query(False, description="Merge all keys into one series."),
) -> Response:
    """Per-bucket figures of a stream's rollup; other query parameters filter on keys."""
    s, r = _rollup_of(pipeline, stream, rollup)
    filters = {k: v for k, v in request.query_params.items() if k not in RESERVED}
    t0, t1 = _time_range(last, start, end)
    if pipeline.warehouse is None:
        raise not_ready()
    read = pipeline.warehouse.policy.read  # on a cluster, the rollup's _all table
    try:
        q = read_rollup(s, r, resolution, pipeline.settings.database, t0, t1, filters, by_keys=not merge_keys, read=read)
    except KeyError as exc:
        raise HttpError(400, "bad_parameter", str(exc.args[0])) from None
    result = pipeline.warehouse.query(q.sql, parameters=q.parameters)
    names = list(result.column_names)
    return MsgspecJSON(
        {
            "stream": stream,
            "resolution": resolution,
            "start": t0,
            "end": t1,
            "data": [dict(zip(names, row, strict=False)) for row in result.result_rows],
        }
    )
