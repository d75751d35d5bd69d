"""The API's own error answers in vitrina's error shape ({"error", "message", "detail"}), not
the framework's ({"detail": ...}): parameter validation, unknown paths and methods."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 409: "conflict", 503: "not_ready"}


def _allowed(app: FastAPI, scope: MutableMapping[str, Any]) -> str:
    """Every method some route takes on this path: the router's own 405 names only the first
    route that matched the path (GET /v1/sql, not POST)."""
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [{"index": None, "field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        first = detail[0] if detail else {"field": "", "message": "invalid request"}
        message = f"{len(detail)} problem(s); {first['field']}: {first['message']}"
        return JSONResponse({"error": "invalid_request", "message": message, "detail": detail}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() != "allow"}
        if exc.status_code == 405:
            headers["allow"] = _allowed(app, request.scope)
        body = {"error": CODES.get(exc.status_code, f"http_{exc.status_code}"), "message": str(exc.detail)}
        return JSONResponse(body, status_code=exc.status_code, headers=headers)
