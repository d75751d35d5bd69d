"""A round run again and again on the event loop of `vitrina up`: the model scheduler, the
alert evaluator and the report scheduler each keep one. A failed round is logged and the
next one retries; stop() cancels the wait (a round running in a thread finishes there)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


class Periodic:
    def __init__(
        self, what: str, round_: Callable[[], Awaitable[None]], every_s: float, *, wait_first: bool = True, log: logging.Logger
    ) -> None:
        """`round_()` every `every_s` seconds; `wait_first`: the first round only after one
        pause, so that startup (and intake's first requests) do not wait behind it."""
        self.what = what
        self.round = round_
        self.every_s = every_s
        self.wait_first = wait_first
        self.log = log
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"vitrina-{self.what}")

    async def _loop(self) -> None:
        if self.wait_first:
            await asyncio.sleep(self.every_s)
        while True:
            try:
                await self.round()
            except Exception:  # keep going; the next round retries
                self.log.exception(self.what)
            await asyncio.sleep(self.every_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
