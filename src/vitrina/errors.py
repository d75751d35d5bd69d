"""The one error every HTTP answer of vitrina is made of: `{"error": code, "message": text,
"detail": [...]}` (detail when there is a list of problems to name). Intake, the key checks,
the API routes, the services' routes and the framework's own errors (serve/errors.py) all
answer with it, so a client reads every refusal the same way.

It imports nothing of vitrina: every stage may raise it without depending on another."""

from __future__ import annotations

from typing import Any

import msgspec

_encode = msgspec.json.encode

Headers = list[tuple[bytes, bytes]]  # ASGI's raw (name, value) pairs, lower-case names


class HttpError(Exception):
    """Raise to answer `status` with the error body; `headers` go with it (Retry-After, Allow)."""

    def __init__(self, status: int, error: str, message: str, headers: Headers | None = None, detail: list[Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.headers = headers or []
        self.detail = detail

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.detail is not None:
            out["detail"] = self.detail
        return out

    def body(self) -> bytes:
        return _encode(self.as_dict())


def not_ready() -> HttpError:
    """Before the pipeline (or a service) has opened, or once it is closing."""
    return HttpError(503, "not_ready", "starting or stopping")


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
    "additionalProperties": False,
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
