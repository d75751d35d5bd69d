"""What a route needs from a key. Each API route declares its scope where it is registered
(`openapi_extra=needs(Scope.OPERATE)`), so the OpenAPI document shows it (`x-vitrina-scope`)
and the guard reads it from the routes themselves; a route that declares none needs a read key,
and so does a path no route serves (a caller without a key learns nothing, not even a 404)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

SCOPE_FIELD = "x-vitrina-scope"
# The API docs' static files (a mounted folder, not a route that can declare a scope).
OPEN_PREFIXES = ("/static/swagger/",)


class Scope(StrEnum):
    OPEN = "open"  # no key: health, readiness, the API docs
    READ = "read"  # SQL, rollups, streams, dashboards, the states of models and alerts
    OPERATE = "operate"  # actions: run models, reports and alert rounds, flush the log
    # (Intake routes are not API routes: intake/http.py asks for a key that may send the stream.)


def needs(scope: Scope | str) -> dict[str, Any]:
    """A route's `openapi_extra`: the scope it needs."""
    return {SCOPE_FIELD: Scope(scope).value}


def _declared(route: object) -> Scope:
    extra = getattr(route, "openapi_extra", None) or {}
    return Scope(extra.get(SCOPE_FIELD, Scope.READ))


class RouteScopes:
    """The scope of a request, from the routes of the API app (FastAPI or Starlette)."""

    def __init__(self, app: object) -> None:
        self._routes: list[tuple[re.Pattern[str], set[str] | None, Scope]] = []
        for route in getattr(app, "routes", ()):
            regex = getattr(route, "path_regex", None)
            if regex is not None:
                self._routes.append((regex, getattr(route, "methods", None), _declared(route)))
        openapi_url = getattr(app, "openapi_url", None)
        self._open = {openapi_url} if openapi_url else set()  # the API document: FastAPI's own route

    def of(self, method: str, path: str) -> Scope:
        if path in self._open or path.startswith(OPEN_PREFIXES):
            return Scope.OPEN
        other_method: Scope | None = None  # the path exists for another method: 405 then, same scope
        for regex, methods, scope in self._routes:
            if regex.match(path):
                if methods is None or method in methods:
                    return scope
                other_method = other_method or scope
        return other_method or Scope.READ

    def table(self) -> list[tuple[str, str, Scope]]:
        """(methods, path pattern, scope) of every route: for docs and tests."""
        return [(",".join(sorted(m or ())), r.pattern, s) for r, m, s in self._routes]
