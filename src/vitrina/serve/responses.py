"""What the API's routes answer on success: the response class they answer with, and the
models that declare the answers for the OpenAPI document (the routes build their answers with
msgspec; these models only describe them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict


class MsgspecJSON(JSONResponse):
    """JSON via msgspec: handles the datetimes, decimals and UUIDs that query results hold.
    A JSONResponse, so that the OpenAPI document shows the routes' answer types."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return msgspec.json.encode(content)


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Health(_Answer):
    status: Literal["ok"]


class Ready(_Answer):
    status: Literal["ready"]


class Flushed(_Answer):
    status: Literal["flushed"]


class FlushPending(_Answer):
    status: Literal["pending"]
    message: str


class RollupSeries(_Answer):
    stream: str
    resolution: str
    start: datetime
    end: datetime
    data: list[dict[str, Any]]
