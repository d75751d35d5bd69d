"""What the route handlers take from the app: the running pipeline (set by serve/api.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from vitrina.pipeline import Pipeline


def pipeline_of(request: Request) -> Pipeline:
    pipeline: Pipeline = request.app.state.pipeline
    return pipeline


Running = Annotated[Pipeline, Depends(pipeline_of)]
