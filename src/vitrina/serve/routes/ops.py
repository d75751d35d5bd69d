"""Operations: health, readiness, flushing the write-ahead log, the Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST

from vitrina.auth.scopes import Scope, needs
from vitrina.errors import HttpError, error_responses, not_ready
from vitrina.serve.responses import Flushed, FlushPending, Health, MsgspecJSON, Ready
from vitrina.serve.routes.deps import Running

# Each route says what a key needs to call it when [auth] is on (auth/scopes.py); the
# default is a read key.
router = APIRouter()


@router.get("/healthz", tags=["operations"], response_model=Health, openapi_extra=needs(Scope.OPEN))
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    tags=["operations"],
    response_model=Ready,
    responses=error_responses({"503": "Starting or stopping, or the key file cannot be read"}),
    openapi_extra=needs(Scope.OPEN),
)
def readyz(pipeline: Running) -> Response:
    """The warehouse is open, the writer runs and storage works, and with [auth] the key
    file can be read: intake can take events."""
    if not pipeline.ready:
        raise not_ready()
    keys_problem = pipeline.keys.problem() if pipeline.keys is not None else None
    if keys_problem is not None:
        raise HttpError(503, "keys_unavailable", f"no API key can be checked: {keys_problem.public}")
    problem = pipeline.health.problem()
    if problem is not None:
        raise HttpError(503, "storage_failing", problem)
    return MsgspecJSON({"status": "ready"})


@router.post(
    "/v1/flush",
    tags=["operations"],
    response_model=Flushed,
    responses={
        202: {"model": FlushPending, "description": "Not all in ClickHouse within `timeout`; the insert goes on"},
        **error_responses({"409": "A Kafka or Redis transport: the loaders insert", "503": "Starting"}),
    },
    openapi_extra=needs(Scope.OPERATE),
)
def flush(pipeline: Running, timeout: float = Query(30.0, gt=0, le=300, description="Seconds to wait at most.")) -> Response:
    """Insert now what the write-ahead log holds (`ack = "wal"` inserts it within
    `wal_interval_ms` anyway) and answer once every event acknowledged before this call
    is in ClickHouse: for scripts that load, then query or report."""
    if pipeline.log is None or not pipeline.ready:
        raise not_ready()
    kind = pipeline.settings.transport.kind
    if kind != "direct":  # acknowledged events are in Kafka / Redis, loaded by the loaders
        raise HttpError(409, "not_direct", f"with transport {kind} the loaders insert; watch vitrina_loader_lag instead")
    if not pipeline.log.flush(timeout):
        # Not a server error: the client's wait ended first (a 504 said the server failed).
        return MsgspecJSON({"status": "pending", "message": f"not all in ClickHouse within {timeout:g} s; still inserting"}, 202)
    return MsgspecJSON({"status": "flushed"})


def metrics(pipeline: Running) -> Response:
    """The pipeline's own metrics in Prometheus text format."""
    return Response(pipeline.metrics_text(), media_type=CONTENT_TYPE_LATEST)


def metrics_router(access: str) -> APIRouter:
    """/metrics, open or for a read key as `[auth] metrics` says: a setting, so the route is
    added when the app is built rather than when this module is imported."""
    metrics_only = APIRouter()
    metrics_only.add_api_route(
        "/metrics", metrics, methods=["GET"], tags=["operations"], response_class=PlainTextResponse, openapi_extra=needs(access)
    )
    return metrics_only
