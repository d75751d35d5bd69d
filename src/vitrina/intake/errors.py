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


# The error body's schema, for the OpenAPI document (serve/openapi.py) and for routes that
# declare their error answers with error_responses().
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["index", "field", "message"],
    "properties": {
        "index": {"type": ["integer", "null"], "description": "The item's position in the batch; null for a single object"},
        "field": {"type": ["string", "null"]},
        "message": {"type": "string"},
    },
}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "A code: malformed_body, invalid_items, query_refused, ..."},
        "message": {"type": "string"},
        "detail": {"type": "array", "items": PROBLEM_SCHEMA},
    },
}


def error_responses(statuses: dict[str, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for error statuses ({"404": "what it means"}), all in the error shape."""
    ref = {"$ref": "#/components/schemas/Error"}
    return {status: {"description": text, "content": {"application/json": {"schema": ref}}} for status, text in statuses.items()}
