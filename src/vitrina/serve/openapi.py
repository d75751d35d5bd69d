"""The OpenAPI document: the intake routes, generated from the stream declarations (the intake
is a bare ASGI handler, so the framework does not see them), and the error answers every
route can give, so that a client (or a fuzzer) can check each response against it."""

from __future__ import annotations

from typing import Any

from vitrina.errors import ERROR_SCHEMA, PROBLEM_SCHEMA, error_responses
from vitrina.pipeline import Pipeline
from vitrina.streams.declare import Stream

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ACCEPTED = {
    "type": "object",
    "required": ["accepted", "rejected"],
    "additionalProperties": False,
    "properties": {
        "accepted": {"type": "integer", "minimum": 0, "description": "Items stored"},
        "rejected": {"type": "array", "items": PROBLEM_SCHEMA, "description": "Items refused, each kept in `rejected`"},
    },
}
SEED_OK = {"type": "object", "required": ["message"], "additionalProperties": False, "properties": {"message": {"const": "ok"}}}
_BODY_ERRORS = {
    "400": "The body is not valid JSON",
    "408": "The body did not arrive within `[limits] body_timeout_s`",
    "413": "Body over `[limits] max_body_bytes`",
}
_AUTH_ERRORS = {
    "401": "No key, or an unknown one",
    "403": "The key may not do this",
    "429": "The key's rate limit; retry later",
    "503": "The key file cannot be read, so no key can be checked; retry after Retry-After seconds",
}


def item_schema(stream: Stream) -> dict[str, Any]:
    """One event of the stream, from its field declarations."""
    return {
        "title": f"{stream.name} event",
        "type": "object",
        "properties": {f.name: f.json_schema() for f in stream.fields},
        "required": [f.name for f in stream.fields if f.required],
        "additionalProperties": not stream.strict,
    }


def _intake_operation(stream: Stream, ok: dict[str, Any], invalid_status: str, seed: bool) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{stream.name}_event"}
    # In an array each item is checked alone: a bad one is refused in the 200 answer, so the
    # array takes any items (one object alone is refused with a 422).
    batch = {"type": "array", "items": {"anyOf": [ref, {}]}, "description": f"{stream.name} events; bad items are refused alone"}
    content: dict[str, Any] = {"application/json": {"schema": {"oneOf": [ref, batch]}}}
    if not seed:
        content["application/x-ndjson"] = {"schema": {"type": "string", "description": f"One {stream.name} object per line"}}
    statuses = {
        "400": "Malformed body: not JSON, not gzip, or bytes after the gzip data",
        invalid_status: "Every item was refused; each named by index and field, and kept in the `rejected` table",
        "413": "Body over the size limit (after gzip decoding too)",
        "415": "Media type or content encoding not accepted",
        "503": "Intake is behind or storage is unavailable; retry after Retry-After seconds",
    }
    if not seed:
        statuses["404"] = "Unknown stream"
    return {
        "requestBody": {"required": True, "content": content},
        "responses": {
            "200": {"description": "Stored: every accepted item is durable", "content": {"application/json": {"schema": ok}}},
            **error_responses(statuses),
        },
    }


def _intake_paths(paths: dict[str, Any], pipeline: Pipeline) -> None:
    for name, stream in pipeline.streams.items():
        operation = _intake_operation(stream, ACCEPTED, "422", seed=False)
        paths[f"/v1/streams/{name}"] = {
            "post": {
                "tags": ["intake"],
                "summary": f"Send {name} events",
                "description": f"{stream.description}\n\nOne JSON object, a JSON array or NDJSON; gzip with `Content-Encoding: gzip`. "
                "A missing time means the arrival time. In a batch, bad items are rejected alone. The schema of a time "
                "string is narrower than what is accepted (docs/STREAMS.md).",
                "operationId": f"intake_{name}",
                **operation,
            }
        }
    for path, stream_name, status in (("/upload/metrics/", "metrics", "400"), ("/events/", "site_events", "422")):
        paths[path] = {
            "post": {
                "tags": ["intake (seed paths)"],
                "summary": f"The seed service's path, stored into `{stream_name}`",
                "operationId": f"seed_{stream_name}",
                # a batch with bad items answers as /v1/streams does (the seeds took no batches)
                **_intake_operation(pipeline.streams[stream_name], {"oneOf": [SEED_OK, ACCEPTED]}, status, seed=True),
            }
        }


def _every_operation_errors(paths: dict[str, Any], auth: bool) -> None:
    """Answers any route can give whatever its handler does: the framework's own 422 in the
    error shape (serve/errors.py answers it so), the body limits, the key checks, and 500."""
    for ops in paths.values():
        for op in ops.values():
            responses = op.setdefault("responses", {})
            extra: dict[str, str] = {"500": "A bug: the server log has the traceback"}
            if "requestBody" in op:
                extra.update(_BODY_ERRORS)
            if auth:
                extra.update(_AUTH_ERRORS)
            if "422" in responses and "HTTPValidationError" in str(responses["422"]):
                extra["422"] = "A parameter or the body does not match this document; `detail` names each"
            for status, text in error_responses(extra).items():
                if status == "422" or status not in responses:
                    responses[status] = text


def complete_openapi(schema: dict[str, Any], pipeline: Pipeline) -> None:
    """Add the intake routes and the error answers to the framework's document."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["Error"] = ERROR_SCHEMA
    for name, stream in pipeline.streams.items():
        components[f"{name}_event"] = item_schema(stream)
    paths = schema.setdefault("paths", {})
    _intake_paths(paths, pipeline)
    _every_operation_errors(paths, pipeline.settings.auth.enabled)
