"""The API docs: Swagger UI at /docs, served from the installed package, so the docs work
offline (the OpenAPI document itself is the app's: serve/api.py)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from vitrina.auth.scopes import OPEN_PREFIXES, Scope, needs

STATIC = OPEN_PREFIXES[0].rstrip("/")  # open to all: a mount cannot declare a scope

router = APIRouter()


@router.get("/docs", include_in_schema=False, openapi_extra=needs(Scope.OPEN))
def docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="vitrina API",
        swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
        swagger_css_url=f"{STATIC}/swagger-ui.css",
        swagger_favicon_url=f"{STATIC}/favicon-32x32.png",
    )


def mount_static(app: FastAPI) -> None:
    """Swagger UI's files (a router cannot carry a mount)."""
    app.mount(STATIC, StaticFiles(directory=swagger_ui_path), name="swagger")
