"""The baseline: a bare ASGI app that only parses and validates the same JSON (vitrina's own
validator for the stream) and answers, storing nothing. Run by bench/intake.py."""

from __future__ import annotations

import time
from typing import Any

from vitrina.intake.validate import StreamValidator
from vitrina.streams.builtin import METRICS

_validator = StreamValidator(METRICS)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    checked = _validator.check_json(body, time.time_ns())
    answer = b'{"accepted":%d,"rejected":[]}' % checked.count
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": answer})
