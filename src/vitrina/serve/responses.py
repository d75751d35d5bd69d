"""What the API's routes answer on success, declared for the OpenAPI document (the routes
build their answers with msgspec; these models only describe them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


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


class Column(_Answer):
    name: str
    type: str


class SqlResult(_Answer):
    meta: list[Column]
    data: list[dict[str, Any]]
    rows: int
    truncated: bool


class RollupSeries(_Answer):
    stream: str
    resolution: str
    start: datetime
    end: datetime
    data: list[dict[str, Any]]
