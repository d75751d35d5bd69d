"""The error an intake request (or the key check in front of any request) answers with."""

from __future__ import annotations

from typing import Any

import msgspec

_encode = msgspec.json.encode


class HttpError(Exception):
    def __init__(self, status: int, error: str, message: str, headers: list[tuple[bytes, bytes]] | None = None, detail: Any = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.headers = headers or []
        self.detail = detail

    def body(self) -> bytes:
        out: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.detail is not None:
            out["detail"] = self.detail
        return _encode(out)
