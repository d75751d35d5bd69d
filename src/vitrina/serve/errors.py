"""Every error the API answers, in vitrina's one shape (vitrina/errors.py: `{"error",
"message", "detail"}`): the routes' own (they raise HttpError), the framework's (parameter
validation, unknown paths and methods, not `{"detail": ...}`) and a bug's 500."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.routing import Match

from vitrina.errors import HttpError

log = logging.getLogger(__name__)

CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 409: "conflict", 503: "not_ready"}
INTERNAL = HttpError(500, "internal", "internal error; the server log has the details")


def error_answer(exc: HttpError) -> Response:
    response = Response(exc.body(), status_code=exc.status, media_type="application/json")
    response.raw_headers.extend(exc.headers)
    return response


def _allowed(app: FastAPI, scope: MutableMapping[str, Any]) -> str:
    """Every method some route takes on this path: the router's own 405 names only the first
    route that matched the path (GET /v1/sql, not POST). Included routers opened up: a walk
    over `app.routes` would see one node per router, without methods."""
    methods: set[str] = set()
    for route in iter_route_contexts(app.router.routes):
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


def invalid_request(exc: RequestValidationError) -> HttpError:
    """The framework's parameter and body validation, each problem named in `detail`."""
    detail = [{"index": None, "field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
    first = detail[0] if detail else {"field": "", "message": "invalid request"}
    message = f"{len(detail)} problem(s); {first['field']}: {first['message']}"
    return HttpError(422, "invalid_request", message, detail=detail)


def framework_error(app: FastAPI, request: Request, exc: HTTPException) -> HttpError:
    """The router's 404 and 405 (with every method the path takes in Allow)."""
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (exc.headers or {}).items() if k.lower() != "allow"]
    if exc.status_code == 405:
        headers.append((b"allow", _allowed(app, request.scope).encode("latin-1")))
    return HttpError(exc.status_code, CODES.get(exc.status_code, f"http_{exc.status_code}"), str(exc.detail), headers)


def install_error_handlers(app: FastAPI) -> None:
    async def raised(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HttpError)
        return error_answer(exc)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_answer(invalid_request(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error_answer(framework_error(app, request, exc))

    async def unexpected(request: Request, exc: Exception) -> Response:
        """A bug, not the caller's fault: answer 500 and log the traceback (nothing else does
        under `vitrina up`'s logging)."""
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_answer(INTERNAL)

    app.add_exception_handler(HttpError, raised)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
