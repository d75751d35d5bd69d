"""The one retry policy of every loader path: try again, with a doubling pause (50 ms up to
2 s), until the step succeeds or the loader stops. The warehouse may be down for a while;
acknowledged rows wait in their log meanwhile, so giving up is never the answer."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

# stopping() turns true when the loader is asked to stop: a step left undone is done again,
# the same way, by the next run (the same range, the same token).
Stopping = Callable[[], bool]
# failed(what, exc): one attempt failed (logged, counted); the step is tried again.
Failed = Callable[[str, BaseException], None]

FIRST_DELAY_S = 0.05
MAX_DELAY_S = 2.0
T = TypeVar("T")


def never() -> bool:
    return False


class Stopped(Exception):
    """The loader is stopping; the batch is left for the next run (same range, same token)."""


class Backoff:
    def __init__(self, first: float = FIRST_DELAY_S) -> None:
        self.delay = first

    def wait(self, stopping: Stopping) -> None:
        """Pause before the next attempt; raises Stopped instead if the loader is stopping."""
        if stopping():
            raise Stopped()
        time.sleep(self.delay)
        self.delay = min(self.delay * 2, MAX_DELAY_S)


def retry(what: str, step: Callable[[], T], stopping: Stopping, failed: Failed) -> T:
    """`step()`'s result, once it succeeds; every failure is reported to `failed` and tried
    again after a pause. Raises Stopped if the loader stops meanwhile."""
    backoff = Backoff()
    while True:
        try:
            return step()
        except Exception as exc:  # the warehouse's and the file system's errors are many; all are retried
            failed(what, exc)
            backoff.wait(stopping)
