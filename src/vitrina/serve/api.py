"""The HTTP API around the intake: one router per concern (serve/routes/), vitrina's error
shape for every error (serve/errors.py), and an OpenAPI document that also describes the
intake routes and every error answer (serve/openapi.py)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from vitrina import __version__
from vitrina.pipeline import Pipeline
from vitrina.serve.errors import install_error_handlers
from vitrina.serve.openapi import complete_openapi
from vitrina.serve.responses import MsgspecJSON
from vitrina.serve.routes import docs, ops, rollups, sql, streams, tail


class VitrinaAPI(FastAPI):
    """The FastAPI app of one pipeline (its routes take it from `state.pipeline`)."""

    def __init__(self, pipeline: Pipeline) -> None:
        super().__init__(
            title="vitrina",
            version=__version__,
            description="Marketplace telemetry: intake, rollups, read-only SQL.",
            docs_url=None,
            redoc_url=None,
            default_response_class=MsgspecJSON,
        )
        self.state.pipeline = pipeline
        self.pipeline = pipeline

    def openapi(self) -> dict[str, Any]:
        """The framework's document, completed with the intake routes and error answers."""
        if self.openapi_schema is None:
            schema = get_openapi(title=self.title, version=self.version, description=self.description, routes=self.routes)
            complete_openapi(schema, self.pipeline)
            self.openapi_schema = schema
        return self.openapi_schema


def build_api(pipeline: Pipeline) -> VitrinaAPI:
    app = VitrinaAPI(pipeline)
    docs.mount_static(app)
    for router in (
        docs.router,
        ops.router,
        ops.metrics_router(pipeline.settings.auth.metrics),
        sql.router,
        streams.router,
        tail.router,
        rollups.router,
    ):
        app.include_router(router)
    install_error_handlers(app)
    return app
