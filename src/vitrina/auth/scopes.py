"""What a route needs from a key. Each API route declares its scope where it is registered
(`openapi_extra=needs(Scope.OPERATE)`), so the OpenAPI document shows it (`x-vitrina-scope`)
and the middleware reads it from the routes themselves; the intake declares its paths as
`Declared` routes that need a key that may send (which stream is the intake's check). A route
that declares none needs a read key, and so does a path no route serves (a caller without a key
learns nothing, not even a 404)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi.routing import iter_route_contexts

SCOPE_FIELD = "x-vitrina-scope"
# The API docs' static files (a mounted folder, not a route that can declare a scope).
OPEN_PREFIXES = ("/static/swagger/",)


class Scope(StrEnum):
    OPEN = "open"  # no key: health, readiness, the API docs
    READ = "read"  # SQL, rollups, streams, dashboards, the states of models and alerts
    OPERATE = "operate"  # actions: run models, reports and alert rounds, flush the log
    SEND = "send"  # intake: any known key; the intake asks whether it may send this stream


def needs(scope: Scope | str) -> dict[str, Any]:
    """A route's `openapi_extra`: the scope it needs."""
    return {SCOPE_FIELD: Scope(scope).value}


@dataclass(frozen=True)
class Declared:
    """A route that no framework serves (the intake's): its pattern, methods and scope; `path`
    when the pattern matches that one path only."""

    path_regex: re.Pattern[str]
    methods: frozenset[str] | None
    scope: Scope
    path: str | None = None


def _declared(route: object) -> Declared | None:
    """A framework route (FastAPI or Starlette) as the scope table needs it."""
    if isinstance(route, Declared):
        return route
    regex = getattr(route, "path_regex", None)
    if regex is None:
        return None
    extra = getattr(route, "openapi_extra", None) or {}
    methods = getattr(route, "methods", None)
    one_path = getattr(route, "param_convertors", None) == {}  # no {parameter} in it
    path = getattr(route, "path", None) if one_path else None
    return Declared(regex, frozenset(methods) if methods else None, Scope(extra.get(SCOPE_FIELD, Scope.READ)), path)


class RouteScopes:
    """The scope of a request, from the routes of the apps in front of which the middleware
    stands, in the order they answer (the intake first, then the API)."""

    def __init__(self, *apps: object) -> None:
        self._routes: list[Declared] = []
        self._open: set[str] = set()  # the API document: FastAPI's own route
        for app in apps:
            self._routes += [d for d in map(_declared, _routes_of(app)) if d is not None]
            openapi_url = getattr(app, "openapi_url", None)
            if openapi_url:
                self._open.add(openapi_url)
        # One lookup instead of a walk over every pattern for the paths that are one path
        # (intake's hot path among them); bounded by those paths times the methods seen.
        self._static = {d.path for d in self._routes if d.path is not None}
        self._known: dict[tuple[str, str], Scope] = {}

    def of(self, method: str, path: str) -> Scope:
        known = self._known.get((method, path))
        if known is not None:
            return known
        scope = self._walk(method, path)
        if path in self._static:
            self._known[(method, path)] = scope
        return scope

    def _walk(self, method: str, path: str) -> Scope:
        if path in self._open or path.startswith(OPEN_PREFIXES):
            return Scope.OPEN
        other_method: Scope | None = None  # the path exists for another method: 405 then, same scope
        for route in self._routes:
            if route.path_regex.match(path):
                if route.methods is None or method in route.methods:
                    return route.scope
                other_method = other_method or route.scope
        return other_method or Scope.READ


def _routes_of(app: object) -> Iterable[object]:
    """Every route of an app, a FastAPI app's included routers opened up: since FastAPI 0.137
    `app.routes` holds a node per included router, whose routes a plain walk would miss (and
    so give them the default scope)."""
    for route in getattr(app, "routes", ()):
        if isinstance(route, Declared):
            yield route
        else:
            yield from iter_route_contexts([route])
