"""OpenAPI paths for the intake routes, generated from the stream declarations (the intake
is a bare ASGI handler, so the framework does not see these routes by itself)."""

from __future__ import annotations

from typing import Any

import msgspec

from vitrina.pipeline import Pipeline

_ERROR: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": ["integer", "null"]},
                    "field": {"type": ["string", "null"]},
                    "message": {"type": "string"},
                },
            },
        },
    },
}


def _responses(ok: dict[str, Any], invalid_status: str) -> dict[str, Any]:
    def err(text: str) -> dict[str, Any]:
        return {"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IntakeError"}}}}

    return {
        "200": {"description": "Stored (every accepted item is durable in ClickHouse)", "content": {"application/json": {"schema": ok}}},
        "400": err("Malformed body (not JSON, not gzip)"),
        invalid_status: err("Every item was rejected; each bad item named by index and field, and kept in the `rejected` table"),
        "404": err("Unknown stream"),
        "413": err("Body over the size limit"),
        "415": err("Media type or content encoding not accepted"),
        "503": err("Intake is behind or storage is unavailable; retry after Retry-After seconds"),
    }


def intake_openapi(schema: dict[str, Any], pipeline: Pipeline) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["IntakeError"] = _ERROR
    paths = schema.setdefault("paths", {})
    accepted = {
        "type": "object",
        "properties": {"accepted": {"type": "integer"}, "rejected": {"type": "array", "items": _ERROR["properties"]["detail"]["items"]}},
    }
    for name, validator in pipeline.validators.items():
        item_schema, defs = msgspec.json.schema_components([validator.item_type], ref_template="#/components/schemas/{name}")
        components.update(defs)
        item = item_schema[0]
        stream = pipeline.streams[name]
        body = {
            "required": True,
            "content": {
                "application/json": {"schema": {"oneOf": [item, {"type": "array", "items": item}]}},
                "application/x-ndjson": {"schema": {"type": "string", "description": f"One {name} object per line"}},
            },
        }
        paths[f"/v1/streams/{name}"] = {
            "post": {
                "tags": ["intake"],
                "summary": f"Send {name} events",
                "description": f"{stream.description}\n\nOne JSON object, a JSON array or NDJSON; gzip with `Content-Encoding: gzip`. "
                "A missing time means the arrival time. In a batch, bad items are rejected alone.",
                "operationId": f"intake_{name}",
                "requestBody": body,
                "responses": _responses(accepted, "422"),
            }
        }
    ok = {"type": "object", "properties": {"message": {"type": "string", "enum": ["ok"]}}}
    for path, stream_name, status in (("/upload/metrics/", "metrics", "400"), ("/events/", "site_events", "422")):
        ref = {"$ref": f"#/components/schemas/{stream_name}_event"}
        paths[path] = {
            "post": {
                "tags": ["intake (seed paths)"],
                "summary": f"The seed service's path, stored into `{stream_name}`",
                "operationId": f"seed_{stream_name}",
                "requestBody": {"required": True, "content": {"application/json": {"schema": ref}}},
                "responses": _responses(ok, status),
            }
        }
