"""`/v1/tail/{stream}`: the latest raw events of a stream and its latest rejects with
their reasons, newest first (the dashboard's live tail). The queries go through the read-only
reader of `/v1/sql`, so the same guard, limits and concurrency apply."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query

from vitrina.auth.scopes import Scope, needs
from vitrina.core import REJECTED_TABLE
from vitrina.errors import HttpError, error_responses, not_ready
from vitrina.pipeline import Pipeline
from vitrina.serve.routes.deps import Running
from vitrina.warehouse.readonly import QueryRefused

router = APIRouter()
MAX_TAIL = 200


def _rows(pipeline: Pipeline, sql: str) -> dict[str, Any]:
    assert pipeline.sql is not None
    try:
        body: dict[str, Any] = json.loads(pipeline.sql.run(sql).body())
    except QueryRefused as exc:
        raise HttpError(exc.status, exc.error, exc.message, None, exc.detail) from None
    return {"columns": [m["name"] for m in body["meta"]], "rows": body["data"]}


def _read(pipeline: Pipeline, table: str) -> str:
    wh = pipeline.warehouse
    assert wh is not None
    return f"{pipeline.settings.database}.`{wh.policy.read(table)}`"


@router.get(
    "/v1/tail/{stream}",
    tags=["streams"],
    openapi_extra=needs(Scope.READ),
    responses=error_responses({"404": "Unknown stream", "503": "Starting"}),
)
def tail(pipeline: Running, stream: str, limit: int = Query(20, ge=1, le=MAX_TAIL, description="Rows of each kind.")) -> dict[str, Any]:
    """The stream's latest `limit` stored events (by its time field) and its latest `limit`
    rejected items with their reasons, newest first."""
    declared = pipeline.streams.get(stream)
    if declared is None:
        known = ", ".join(sorted(pipeline.streams))
        raise HttpError(404, "unknown_stream", f"no stream named {stream!r}; streams: {known}")
    if pipeline.sql is None or pipeline.warehouse is None:
        raise not_ready()
    events = _rows(pipeline, f"SELECT * FROM {_read(pipeline, declared.table)} ORDER BY `{declared.time_field}` DESC LIMIT {limit}")
    quoted = "'" + stream.replace("\\", "\\\\").replace("'", "\\'") + "'"
    rejects = _rows(
        pipeline,
        f"SELECT time, source, position, reason, raw FROM {_read(pipeline, REJECTED_TABLE)} "
        f"WHERE stream = {quoted} ORDER BY time DESC LIMIT {limit}",
    )
    return {"stream": stream, "time_field": declared.time_field, "events": events, "rejects": rejects}
