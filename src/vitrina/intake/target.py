"""What the intake needs of the running pipeline (pipeline.py: Pipeline): its settings, the
key store, the metrics, a validator per stream, and `store()`. A protocol rather than an
import, so that the intake stays below the pipeline that composes it."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Protocol

from vitrina.auth.keys import KeyStore
from vitrina.config import Settings
from vitrina.intake.validate import Checked, StreamValidator
from vitrina.selfmetrics import PipelineMetrics


class Pipeline(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def keys(self) -> KeyStore | None: ...

    @property
    def metrics(self) -> PipelineMetrics: ...

    @property
    def validators(self) -> Mapping[str, StreamValidator]: ...

    def store(self, stream: str, checked: Checked, source: str = "http", key: bytes | None = None) -> Awaitable[None]:
        """Hand the checked rows (and the rejected items) to the log; done once durable.
        Raises Overloaded; the awaitable may fail with StorageError (core.py)."""

    def count_stored(self, stream: str, checked: Checked) -> None:
        """Count the accepted and rejected events, once stored."""
