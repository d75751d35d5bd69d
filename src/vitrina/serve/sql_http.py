"""The HTTP side of `/v1/sql`: the cross-site check and the routes' OpenAPI description."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import JSONResponse


def cross_site(request: Request) -> JSONResponse | None:
    """A browser request that another site's page made is refused (CSRF: with auth off, any
    page a user visits could make their browser run queries here; it could not read the
    answers, but it could load the server). Browsers name the requesting site in
    Sec-Fetch-Site and, on a POST, in Origin; vitrina's own pages and Swagger UI are
    same-origin, and curl, scripts and the CLI send neither header."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if site not in (None, "same-origin", "none") or (origin is not None and urlsplit(origin).netloc != request.headers.get("host")):
        message = f"SQL is not answered to another site's page (Sec-Fetch-Site: {site}, Origin: {origin})"
        return JSONResponse({"error": "cross_site", "message": message}, status_code=403)
    return None


_ERROR = {
    "type": "object",
    "required": ["error", "message"],
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
