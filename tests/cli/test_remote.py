"""The CLI's errors from a server: one line, the error's message and then each of its
`detail` items, whatever the route."""

from __future__ import annotations

import httpx

from tests.conftest import VitrinaProcess, cli
from vitrina.cli.remote import _reason


def _answer(status: int, body: object) -> httpx.Response:
    return httpx.Response(status, json=body)


def test_an_error_is_one_line_with_its_detail() -> None:
    items = {
        "error": "invalid_items",
        "message": "2 of 2 items rejected; item 0: metric_value: Expected `float`",
        "detail": [
            {"index": 0, "field": "metric_value", "message": "Expected `float`"},
            {"index": None, "field": None, "message": "not an object"},
        ],
    }
    assert _reason(_answer(422, items)) == (
        "2 of 2 items rejected; item 0: metric_value: Expected `float` (item 0: metric_value: Expected `float`; not an object)"
    )
    refused = {"error": "not_allowed", "message": "refused:\nFORMAT, SETTINGS", "detail": ["FORMAT: the API picks", "SETTINGS: fixed"]}
    assert _reason(_answer(403, refused)) == "refused: FORMAT, SETTINGS (FORMAT: the API picks; SETTINGS: fixed)"
    assert _reason(_answer(404, {"error": "unknown_model", "message": "unknown model 'x'"})) == "unknown model 'x'"
    assert _reason(httpx.Response(502, text="<html>Bad Gateway</html>")) == "<html>Bad Gateway</html>"  # not vitrina's
    assert _reason(_answer(404, {"detail": "Not Found"})) == '{"detail":"Not Found"}'


def test_the_cli_prints_a_servers_refusal_in_one_line(vitrina: VitrinaProcess) -> None:
    for args, says, code in (
        (["models", "run", "nosuch"], "404: unknown model 'nosuch'; models: ", 2),  # a usage error, as offline
        (["sql", "SELECT 1 FORMAT CSV"], "403: ", 1),
    ):
        done = cli(*args, "--url", vitrina.url)
        assert done.returncode == code, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(says), done.stderr
    refused = cli("sql", "SELECT 1 FORMAT CSV", "--url", vitrina.url).stderr
    assert "(" in refused and "FORMAT" in refused.split("(", 1)[1], refused  # the detail items follow the message
