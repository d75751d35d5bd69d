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
    typer.Option("--key", envvar=KEY_ENV, show_envvar=True, help="API key, for a server with \\[auth] enabled."),
]


def call(method: str, url: str, *, key: str | None = None, timeout: float = 120, **kw: Any) -> Any:
    """The JSON answer of a 200; anything else is printed and exits 1. `key` is sent as a
    bearer token."""
    if key:
        kw["headers"] = {**(kw.get("headers") or {}), "authorization": f"Bearer {key}"}
    try:
        resp = httpx.request(method, url, timeout=timeout, **kw)
    except httpx.HTTPError as exc:
        _console.print(f"[red]cannot reach {url}:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    if resp.status_code != 200:
        hint = f" (pass --key or set {KEY_ENV})" if resp.status_code == 401 and not key else ""
        _console.print(f"[red]{resp.status_code}:[/red] {escape(_reason(resp))}{hint}")
        raise typer.Exit(1)
    return resp.json()


def _reason(resp: httpx.Response) -> str:
    """vitrina's errors carry a `message`; anything else (a proxy's page) is shown as sent."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text
    return str(body.get("message", resp.text)) if isinstance(body, dict) else resp.text
