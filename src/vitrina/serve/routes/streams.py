"""`/v1/streams`: the declared streams, their fields and rollups."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from vitrina.auth.scopes import Scope, needs
from vitrina.serve.routes.deps import Running
from vitrina.streams.declare import RESOLUTIONS, Stream

router = APIRouter()


@router.get("/v1/streams", tags=["streams"], openapi_extra=needs(Scope.READ))
def streams(pipeline: Running) -> list[dict[str, Any]]:
    """Declared streams with their fields and rollups."""
    return [describe(s) for s in pipeline.streams.values()]


def describe(s: Stream) -> dict[str, Any]:
    return {
        "name": s.name,
        "description": s.description,
        "builtin": s.builtin,
        "time_field": s.time_field,
        "strict": s.strict,
        "fields": [
            {
                "name": f.name,
                "type": f.kind,
                "required": f.required,
                "clickhouse_type": f.clickhouse_type(),
                "description": f.description,
            }
            for f in s.fields
        ],
        "rollups": [
            {
                "name": r.name,
                "tables": [r.table(s.name, res) for res in RESOLUTIONS],
                "keys": [k for k, _ in r.keys],
                "aggregates": [a.name for a in r.aggregates],
                "figures": [k for k, _ in r.figures],
                "description": r.description,
            }
            for r in s.rollups
        ],
    }
