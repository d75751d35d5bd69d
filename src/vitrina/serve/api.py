"""The HTTP API around the intake: SQL, rollups, streams, health, metrics and docs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from fastapi import FastAPI, Query, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from swagger_ui_bundle import swagger_ui_path

from vitrina import __version__
from vitrina.auth.scopes import Scope, needs
from vitrina.intake.errors import error_responses
from vitrina.pipeline import Pipeline
from vitrina.serve.errors import install_error_handlers
from vitrina.serve.openapi import complete_openapi
from vitrina.serve.responses import Flushed, FlushPending, Health, Ready, RollupSeries
from vitrina.serve.sql_http import SQL_BODY, SQL_RESPONSES, cross_site
from vitrina.streams.declare import RESOLUTIONS
from vitrina.warehouse.readonly import QueryRefused, retry_after
from vitrina.warehouse.rollups import read_rollup

log = logging.getLogger(__name__)


class MsgspecJSON(JSONResponse):
    """JSON via msgspec: handles the datetimes, decimals and UUIDs that query results hold.
    A JSONResponse, so that the OpenAPI document shows the routes' answer types."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return msgspec.json.encode(content)


def _error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


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


def build_api(pipeline: Pipeline) -> FastAPI:
    app = FastAPI(
        title="vitrina",
        version=__version__,
        description="Marketplace telemetry: intake, rollups, read-only SQL.",
        docs_url=None,
        redoc_url=None,
        default_response_class=MsgspecJSON,
    )
    # Swagger UI is served from the installed package: the docs work offline.
    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_path), name="swagger")

    # Each route says what a key needs to call it when [auth] is on (auth/scopes.py); the
    # default is a read key.
    @app.get("/docs", include_in_schema=False, openapi_extra=needs(Scope.OPEN))
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="vitrina API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            complete_openapi(schema, pipeline)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    install_error_handlers(app)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        """A bug, not the caller's fault: answer 500 and log the traceback (nothing else does
        under `vitrina up`'s logging)."""
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"error": "internal", "message": "internal error; the server log has the details"}, status_code=500)

    @app.get("/healthz", tags=["operations"], response_model=Health, openapi_extra=needs(Scope.OPEN))
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        response_model=Ready,
        responses=error_responses({"503": "Starting or stopping, or the key file cannot be read"}),
        openapi_extra=needs(Scope.OPEN),
    )
    def readyz() -> Response:
        """The warehouse is open, the writer runs and storage works, and with [auth] the key
        file can be read: intake can take events."""
        if not pipeline.ready:
            return _error(503, "not_ready", "starting or stopping")
        keys_problem = pipeline.keys.problem() if pipeline.keys is not None else None
        if keys_problem is not None:
            return _error(503, "keys_unavailable", f"no API key can be checked: {keys_problem.public}")
        problem = pipeline.health.problem()
        if problem is not None:
            return _error(503, "storage_failing", problem)
        return MsgspecJSON({"status": "ready"})

    @app.post(
        "/v1/flush",
        tags=["operations"],
        response_model=Flushed,
        responses={
            202: {"model": FlushPending, "description": "Not all in ClickHouse within `timeout`; the insert goes on"},
            **error_responses({"409": "A Kafka or Redis transport: the loaders insert", "503": "Starting"}),
        },
        openapi_extra=needs(Scope.OPERATE),
    )
    def flush(timeout: float = Query(30.0, gt=0, le=300, description="Seconds to wait at most.")) -> Response:
        """Insert now what the write-ahead log holds (`ack = "wal"` inserts it within
        `wal_interval_ms` anyway) and answer once every event acknowledged before this call
        is in ClickHouse: for scripts that load, then query or report."""
        if pipeline.log is None or not pipeline.ready:
            return _error(503, "not_ready", "starting or stopping")
        kind = pipeline.settings.transport.kind
        if kind != "direct":  # acknowledged events are in Kafka / Redis, loaded by the loaders
            return _error(409, "not_direct", f"with transport {kind} the loaders insert; watch vitrina_loader_lag instead")
        if not pipeline.log.flush(timeout):
            # Not a server error: the client's wait ended first (a 504 said the server failed).
            return MsgspecJSON({"status": "pending", "message": f"not all in ClickHouse within {timeout:g} s; still inserting"}, 202)
        return MsgspecJSON({"status": "flushed"})

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse, openapi_extra=needs(pipeline.settings.auth.metrics))
    def metrics() -> Response:
        """The pipeline's own metrics in Prometheus text format."""
        return Response(generate_latest(pipeline.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def run_sql(request: Request, query: str) -> Response:
        refused = cross_site(request)
        if refused is not None:
            return refused
        assert pipeline.sql is not None
        try:
            result = await pipeline.sql.run_async(query)
        except QueryRefused as exc:
            return JSONResponse(exc.body(), status_code=exc.status, headers=retry_after(exc))
        return Response(result.body(), media_type="application/json")

    @app.get("/v1/sql", tags=["read"], responses=SQL_RESPONSES, openapi_extra=needs(Scope.READ))
    async def sql_get(request: Request, query: str = Query(..., description="One read-only ClickHouse query.")) -> Response:
        """Run one read-only query (docs/SQL.md): SELECT, WITH, DESCRIBE, SHOW or EXPLAIN; anything
        else, and INTO OUTFILE, FORMAT, SETTINGS, file/URL functions, is refused with 403."""
        return await run_sql(request, query)

    @app.post("/v1/sql", tags=["read"], responses=SQL_RESPONSES, openapi_extra={**needs(Scope.READ), **SQL_BODY})
    async def sql_post(request: Request) -> Response:
        """The query as the text body, or as JSON `{"query": "..."}`."""
        raw = await request.body()
        text = raw.decode("utf-8", "replace")
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                text = msgspec.json.decode(raw, type=dict[str, str])["query"]
            except (msgspec.DecodeError, msgspec.ValidationError, KeyError):
                return _error(400, "malformed_body", 'send {"query": "SELECT ..."} or the query as text')
        return await run_sql(request, text)

    @app.get("/v1/streams", tags=["streams"], openapi_extra=needs(Scope.READ))
    def streams() -> list[dict[str, Any]]:
        """Declared streams with their fields and rollups."""
        return [describe(name) for name in pipeline.streams]

    def describe(name: str) -> dict[str, Any]:
        s = pipeline.streams[name]
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

    @app.get(
        "/v1/rollups/{stream}",
        tags=["read"],
        response_model=RollupSeries,
        responses=error_responses({"400": "A bad parameter", "404": "Unknown stream or rollup"}),
        openapi_extra=needs(Scope.READ),
    )
    def rollups(
        request: Request,
        stream: str,
        rollup: str = "",
        resolution: str = Query("1s", description="1s or 1m"),
        last: float | None = Query(None, description="Seconds back from now (default 3600)."),
        start: datetime | None = None,
        end: datetime | None = None,
        merge_keys: bool = Query(False, description="Merge all keys into one series."),
    ) -> Response:
        """Per-bucket figures of a stream's rollup; other query parameters filter on keys."""
        s = pipeline.streams.get(stream)
        if s is None:
            return _error(404, "unknown_stream", f"no stream named {stream!r}")
        match = [r for r in s.rollups if r.name == rollup]
        if not match:
            return _error(404, "unknown_rollup", f"stream {stream!r} has no rollup {rollup!r}")
        reserved = {"rollup", "resolution", "last", "start", "end", "merge_keys"}
        filters = {k: v for k, v in request.query_params.items() if k not in reserved}
        t0, t1 = _time_range(last, start, end)
        assert pipeline.warehouse is not None
        read = pipeline.warehouse.policy.read  # on a cluster, the rollup's _all table
        try:
            q = read_rollup(s, match[0], resolution, pipeline.settings.database, t0, t1, filters, by_keys=not merge_keys, read=read)
        except KeyError as exc:
            return _error(400, "bad_parameter", str(exc.args[0]))
        result = pipeline.warehouse.query(q.sql, parameters=q.parameters)
        names = list(result.column_names)
        return MsgspecJSON(
            {
                "stream": stream,
                "resolution": resolution,
                "start": t0,
                "end": t1,
                "data": [dict(zip(names, r, strict=False)) for r in result.result_rows],
            }
        )

    return app
