"""One error shape on every route: the test walks every operation of the OpenAPI document,
provokes the errors it can (an unknown name, a bad parameter or body, a method the path does not
take, no key or the wrong key under `[auth]`, an unreadable key file, a pipeline not open yet)
and checks that each answer has the status the document names for it and a body of exactly
`{"error": code, "message": text, "detail": [...]}` (detail optional)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.auth.helpers import AUTH, key
from tests.conftest import VitrinaProcess, wait_until

UNKNOWN = "nosuch"
SAMPLE = {"stream": "metrics", "name": "overview"}  # a known value of each path parameter
INTAKE = re.compile(r"^(intake|seed)_")  # operationIds of the intake routes (serve/openapi.py)
METHODS = ("get", "post", "put", "delete", "patch")
# What a valid request needs beyond the document's defaults.
VALID: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/v1/sql"): {"params": {"query": "SELECT 1"}},
    ("post", "/v1/sql"): {"content": b"SELECT 1"},
}
# Bad requests the document cannot tell (what a string parameter or a body field means), each
# a whole request.
SPECIFIC: dict[tuple[str, str], list[tuple[dict[str, Any], int]]] = {
    ("get", "/v1/rollups/{stream}"): [({"params": {"resolution": "2h"}}, 400), ({"params": {"rollup": UNKNOWN}}, 404)],
    ("get", "/v1/dashboards/{name}/data"): [({"params": {"range": "2h"}}, 400), ({"params": {"from": "yesterday", "to": "1"}}, 400)],
    ("post", "/v1/models/run"): [({"json": {"names": [UNKNOWN]}}, 404)],
    ("post", "/v1/reports/run"): [({"json": {"period": "someday"}}, 400)],
    ("get", "/v1/sql"): [({"params": {"query": ""}}, 400), ({"params": {"query": "INSERT INTO metrics VALUES (1)"}}, 403)],
    ("post", "/v1/sql"): [({"content": b"SELECT 1; SELECT 2"}, 400), ({"json": {"query": 1}}, 400)],
}


def assert_error_shape(resp: httpx.Response, status: int, where: str) -> dict[str, Any]:
    assert resp.status_code == status, f"{where}: {resp.status_code} {resp.text[:300]}"
    assert resp.headers.get("content-type") == "application/json", f"{where}: {resp.headers.get('content-type')}"
    body = resp.json()
    assert isinstance(body, dict) and {"error", "message"} <= set(body) <= {"error", "message", "detail"}, f"{where}: {body}"
    assert re.fullmatch(r"[a-z0-9_]+", body["error"]), f"{where}: {body}"
    assert isinstance(body["message"], str) and body["message"], f"{where}: {body}"
    if "detail" in body:
        assert isinstance(body["detail"], list) and body["detail"], f"{where}: {body}"
    return body


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            yield method, path, op


def url_of(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), SAMPLE[m.group(1)]), path)


def valid(method: str, path: str, op: dict[str, Any]) -> dict[str, Any]:
    """A request that passes the checks the framework makes (a JSON body: `{}`, all defaults)."""
    if (method, path) in VALID:
        return VALID[(method, path)]
    return {"json": {}} if "requestBody" in op and not INTAKE.match(op["operationId"]) else {}


def _typed(schema: dict[str, Any]) -> set[str]:
    return {schema["type"]} if "type" in schema else {t for s in schema.get("anyOf", []) for t in _typed(s)}


def _invalid_items_status(op: dict[str, Any]) -> int:
    """The status the document names for a body whose every item is refused (422; 400 on the
    seed metrics path)."""
    return next(int(s) for s, r in op["responses"].items() if r["description"].startswith("Every item was refused"))


def intake_provocations(path: str, op: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], int]]:
    out = [
        ("POST", path, {"content": b"{", "headers": {"content-type": "application/json"}}, 400),
        ("POST", path, {"json": [1]}, _invalid_items_status(op)),
        ("POST", path, {"content": b"a,b", "headers": {"content-type": "text/csv"}}, 415),
    ]
    if path.startswith("/v1/streams/"):
        out.append(("POST", f"/v1/streams/{UNKNOWN}", {"json": {}}, 404))
    return out


def api_provocations(method: str, path: str, op: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], int]]:
    base = valid(method, path, op)
    out = [(method, url_of(path, {name: UNKNOWN}), base, 404) for name in re.findall(r"\{(\w+)\}", path)]
    for param in op.get("parameters", []):
        if param["in"] == "query" and _typed(param["schema"]) & {"number", "integer", "boolean"}:
            out.append((method, url_of(path, {}), {**base, "params": {**base.get("params", {}), param["name"]: "x"}}, 422))
        if param["in"] == "query" and param.get("required"):
            out.append((method, url_of(path, {}), {}, 422))
    if "json" in base:  # a JSON object is documented: an array is not one
        out.append((method, url_of(path, {}), {"json": []}, 422))
    out += [(method, url_of(path, {}), request, status) for request, status in SPECIFIC.get((method, path), [])]
    return out


def provocations(method: str, path: str, op: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], int]]:
    """(method, url, request, status) for each error the document lets a caller provoke."""
    if INTAKE.match(op["operationId"]):
        return intake_provocations(path, op)
    return api_provocations(method, path, op)


def test_every_route_answers_its_errors_in_one_shape(vitrina: VitrinaProcess) -> None:
    spec = httpx.get(f"{vitrina.url}/openapi.json").json()
    seen: dict[int, int] = {}
    for method, path, op in operations(spec):
        for verb, url, request, status in provocations(method, path, op):
            where = f"{verb} {url} {request}"
            assert str(status) in op["responses"], f"{where}: {status} is not documented for {method} {path}"
            assert_error_shape(httpx.request(verb, f"{vitrina.url}{url}", timeout=60, **request), status, where)
            seen[status] = seen.get(status, 0) + 1
    for path, ops in spec["paths"].items():  # a method the path does not take
        other = next(m for m in METHODS if m not in ops)
        resp = httpx.request(other, f"{vitrina.url}{url_of(path, {})}", timeout=30)
        assert_error_shape(resp, 405, f"{other.upper()} {path}")
        assert {m.upper() for m in ops} <= set(resp.headers["allow"].replace(" ", "").split(",")), resp.headers
        seen[405] = seen.get(405, 0) + 1
    for url in ("/v1/nothing-here", "/dashboards/static/index.html"):  # no route, no file
        assert_error_shape(httpx.get(f"{vitrina.url}{url}"), 404, url)
    print("errors provoked, by status:", dict(sorted(seen.items())))
    assert {400, 403, 404, 405, 415, 422} <= set(seen)


def test_every_route_answers_before_the_pipeline_opens_in_one_shape(tmp_path: Path) -> None:
    """The app in-process, its pipeline not open (as while starting or stopping): every route
    that needs it answers 503 `not_ready`, none a 500. (Intake is left out: a store on an
    unopened pipeline stands for a bug in tests/intake/test_stored_as_sent.py.)"""
    from vitrina.config import Settings
    from vitrina.serve.app import VitrinaApp

    app = VitrinaApp(Settings(data_dir=tmp_path))
    spec = app.api.openapi()

    async def walk() -> list[tuple[str, dict[str, Any], httpx.Response]]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vitrina") as client:
            out = []
            for method, path, op in operations(spec):
                if not INTAKE.match(op["operationId"]):
                    out.append((f"{method.upper()} {path}", op, await client.request(method, url_of(path, {}), **valid(method, path, op))))
            return out

    answers = asyncio.run(walk())
    not_ready = [where for where, op, resp in answers if "503" in op["responses"]]
    assert len(not_ready) >= 9, not_ready
    for where, op, resp in answers:
        if "503" in op["responses"]:
            assert assert_error_shape(resp, 503, where)["error"] == "not_ready", where
        else:
            assert resp.status_code == 200, f"{where}: {resp.status_code} {resp.text[:300]}"


def test_every_route_refuses_keys_in_one_shape(make_vitrina: Any) -> None:
    """Under `[auth]`: no key (401), a key without the route's scope (403), a key that may not
    send the stream (403), and the key file gone (503): each documented, each in the one shape.
    A stranger learns nothing, not even that a path is an intake path (401, not 405)."""
    v = make_vitrina(AUTH, start=False)
    tokens = {"sender": key(v.data_dir, "sender", "--stream", "*"), "reader": key(v.data_dir, "reader", "--read")}
    v.start()
    spec = httpx.get(f"{v.url}/openapi.json").json()

    def call(method: str, path: str, op: dict[str, Any], who: str | None) -> httpx.Response:
        headers = {"x-api-key": tokens[who]} if who else {}
        request = valid(method, path, op) if not INTAKE.match(op["operationId"]) else {"json": {}}
        return httpx.request(method, f"{v.url}{url_of(path, {})}", headers=headers, timeout=60, **request)

    guarded = [(m, p, op) for m, p, op in operations(spec) if op.get("x-vitrina-scope") != "open"]
    assert len(guarded) >= 20, guarded
    for method, path, op in guarded:
        wrong = "reader" if INTAKE.match(op["operationId"]) else "sender"
        for who, status in ((None, 401), (wrong, 403)):
            where = f"{method.upper()} {path} as {who}"
            assert str(status) in op["responses"], f"{where}: {status} is not documented"
            assert_error_shape(call(method, path, op, who), status, where)
    assert_error_shape(httpx.get(f"{v.url}/v1/streams/metrics"), 401, "GET on an intake path without a key")
    assert_error_shape(httpx.get(f"{v.url}/v1/streams/metrics", headers={"x-api-key": tokens["sender"]}), 405, "GET on an intake path")

    (v.data_dir / "keys.json").unlink()
    first = guarded[0]
    wait_until(lambda: call(*first, "reader").status_code == 503, 10, "the key file's loss noticed")
    for method, path, op in guarded:
        where = f"{method.upper()} {path} with no key file"
        assert "503" in op["responses"], f"{where}: 503 is not documented"
        body = assert_error_shape(call(method, path, op, "reader"), 503, where)
        assert body["error"] == "keys_unavailable", where
