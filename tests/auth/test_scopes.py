"""The scope table the key middleware decides by, read from the app's own routes (in-process,
nothing served): every operation of the OpenAPI document needs the scope it declares, the intake
paths a key that may send, the docs nothing, and anything else a read key. The API's routes sit
in included routers, which FastAPI keeps as one node each in `app.routes`: a table that missed
them would give /v1/flush a reader's scope and /healthz a key."""

from __future__ import annotations

import re
from pathlib import Path

from vitrina.auth.middleware import AuthMiddleware
from vitrina.auth.scopes import Scope
from vitrina.auth.settings import AuthSettings
from vitrina.config import Settings
from vitrina.serve.app import VitrinaApp

SAMPLE = {"stream": "metrics", "name": "overview"}


def test_every_route_has_the_scope_it_declares(tmp_path: Path) -> None:
    app = VitrinaApp(Settings(data_dir=tmp_path, auth=AuthSettings(enabled=True, metrics="read")))
    assert isinstance(app.app, AuthMiddleware)  # with keys on, in front of everything
    scopes = app.app.scopes
    spec = app.api.openapi()
    checked = 0
    for path, ops in spec["paths"].items():
        url = re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], path)
        for method, op in ops.items():
            declared = Scope(op.get("x-vitrina-scope", Scope.SEND))  # intake operations declare none
            assert scopes.of(method.upper(), url) is declared, (method, path)
            assert scopes.of("DELETE", url) is declared, path  # a 405, behind the same key
            checked += 1
    assert checked >= 20
    assert scopes.of("GET", "/metrics") is Scope.READ and scopes.of("POST", "/v1/flush") is Scope.OPERATE
    assert scopes.of("POST", "/v1/streams/nosuch") is Scope.SEND  # any key learns of the 404, no stranger
    for url in ("/docs", "/openapi.json", "/static/swagger/swagger-ui.css", "/dashboards/static/app.js", "/healthz", "/readyz"):
        assert scopes.of("GET", url) is Scope.OPEN, url
    for url in ("/", "/d/overview", "/v1/nothing-here"):
        assert scopes.of("GET", url) is Scope.READ, url
