"""Calling a running `vitrina up` from the command line, with errors a person can read."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import httpx
import typer
from rich.console import Console
from rich.markup import escape

_console = Console(stderr=True)

KEY_ENV = "VITRINA_API_KEY"
KeyOpt = Annotated[
    Optional[str],
    typer.Option("--key", envvar=KEY_ENV, show_envvar=True, help="API key, for a server with [auth] enabled."),
]


def call(method: str, url: str, *, key: str | None = None, timeout: float = 120, **kw: Any) -> Any:
    """The JSON answer of a 200; anything else is printed and exits: 2 for a 404 (the command
    named a model, stream or seller the server does not have, a usage error as it is offline),
    1 otherwise. `key` is sent as a bearer token."""
    if key:
        kw["headers"] = {**(kw.get("headers") or {}), "authorization": f"Bearer {key}"}
    try:
        resp = httpx.request(method, url, timeout=timeout, **kw)
    except httpx.HTTPError as exc:
        _console.print(f"[red]cannot reach {url}:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    if resp.status_code != 200:
        hint = f" (pass --key or set {KEY_ENV})" if resp.status_code == 401 and not key else ""
        _console.print(f"[red]{resp.status_code}:[/red] {escape(_reason(resp))}{hint}", soft_wrap=True)  # one line, however wide
        raise typer.Exit(2 if resp.status_code == 404 else 1)
    return resp.json()


def _reason(resp: httpx.Response) -> str:
    """vitrina's error in one line: its `message`, then each `detail` item; anything else (a
    proxy's page) is shown as sent."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return resp.text
    detail = body.get("detail")
    items = [_item(d) for d in detail] if isinstance(detail, list) else []
    line = f"{body['message']} ({'; '.join(items)})" if items else body["message"]
    return " ".join(line.split())  # one line: ClickHouse's messages hold line breaks


def _item(problem: Any) -> str:
    """A detail item: a problem `{index, field, message}` (intake, parameters) or a text."""
    if not isinstance(problem, dict):
        return str(problem)
    where = [f"item {problem['index']}" if problem.get("index") is not None else "", str(problem.get("field") or "")]
    return ": ".join([*(w for w in where if w), str(problem.get("message", ""))])
