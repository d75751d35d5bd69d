"""`/v1/sql`, GET and POST: one read-only query (warehouse/readonly.py checks and runs it), the
cross-site check in front of it, and the routes' OpenAPI description."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import msgspec
from fastapi import APIRouter, Query, Request, Response

from vitrina.auth.scopes import Scope, needs
from vitrina.errors import HttpError, not_ready
from vitrina.serve.routes.deps import Running
from vitrina.warehouse.readonly import QueryRefused, retry_after


def cross_site(request: Request) -> HttpError | None:
    """A browser request that another site's page made is refused (CSRF: with auth off, any
    page a user visits could make their browser run queries here; it could not read the
    answers, but it could load the server). Browsers name the requesting site in
    Sec-Fetch-Site and, on a POST, in Origin; vitrina's own pages and Swagger UI are
    same-origin, and curl, scripts and the CLI send neither header."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if site not in (None, "same-origin", "none") or (origin is not None and urlsplit(origin).netloc != request.headers.get("host")):
        message = f"SQL is not answered to another site's page (Sec-Fetch-Site: {site}, Origin: {origin})"
        return HttpError(403, "cross_site", message)
    return None


_ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "additionalProperties": False,
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}, "detail": {"type": "array", "items": {"type": "string"}}},
}
_COLUMN = {"name": {"type": "string"}, "type": {"type": "string", "description": "The ClickHouse type"}}
_RESULT = {
    "type": "object",
    "required": ["meta", "data", "rows", "truncated"],
    "properties": {
        "meta": {"type": "array", "items": {"type": "object", "required": ["name", "type"], "properties": _COLUMN}},
        "data": {"type": "array", "items": {"type": "object"}, "description": "A row per object; values as ClickHouse writes them in JSON"},
        "rows": {"type": "integer"},
        "truncated": {"type": "boolean", "description": "More rows than [sql] max_rows: the rest are cut off"},
    },
}


def _error(text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": _ERROR}}}


SQL_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The rows", "content": {"application/json": {"schema": _RESULT}}},
    400: _error("Empty, not one statement, a syntax error, a failed query, or a limit ([sql]) exceeded"),
    403: _error("Not a read (the refused statement, clause, function or table is named), or another site's page"),
    408: _error("The query ran longer than [sql] timeout_s"),
    503: _error("[sql] concurrency queries were running for [sql] queue_timeout_s; retry after Retry-After seconds"),
}
SQL_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object", "required": ["query"], "properties": {"query": {"type": "string"}}}},
        },
    }
}


router = APIRouter()


async def run_sql(request: Request, pipeline: Running, query: str) -> Response:
    refused = cross_site(request)
    if refused is not None:
        raise refused
    if pipeline.sql is None:
        raise not_ready()
    try:
        result = await pipeline.sql.run_async(query)
    except QueryRefused as exc:
        headers = [(k.encode(), v.encode()) for k, v in retry_after(exc).items()]
        raise HttpError(exc.status, exc.error, exc.message, headers, exc.detail) from None
    return Response(result.body(), media_type="application/json")


@router.get("/v1/sql", tags=["read"], responses=SQL_RESPONSES, openapi_extra=needs(Scope.READ))
async def sql_get(request: Request, pipeline: Running, query: str = Query(..., description="One read-only ClickHouse query.")) -> Response:
    """Run one read-only query (docs/SQL.md): SELECT, WITH, DESCRIBE, SHOW or EXPLAIN; anything
    else, and INTO OUTFILE, FORMAT, SETTINGS, file/URL functions, is refused with 403."""
    return await run_sql(request, pipeline, query)


@router.post("/v1/sql", tags=["read"], responses=SQL_RESPONSES, openapi_extra={**needs(Scope.READ), **SQL_BODY})
async def sql_post(request: Request, pipeline: Running) -> Response:
    """The query as the text body, or as JSON `{"query": "..."}`."""
    raw = await request.body()
    text = raw.decode("utf-8", "replace")
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            text = msgspec.json.decode(raw, type=dict[str, str])["query"]
        except (msgspec.DecodeError, msgspec.ValidationError, KeyError):
            raise HttpError(400, "malformed_body", 'send {"query": "SELECT ..."} or the query as text') from None
    return await run_sql(request, pipeline, text)
