"""The rounds of the model, alert and report schedulers (vitrina/periodic.py): repeated, a failed
round logged and followed by the next, the first one after a pause or at once, and stop()
ends the repetition."""

from __future__ import annotations

import asyncio
import logging

import pytest

from vitrina.periodic import Periodic

log = logging.getLogger("tests.periodic")


def run_rounds(wait_first: bool, every_s: float) -> tuple[list[float], float]:
    """Three rounds, the first of which fails; the rounds' times, from start(), and when stop() returned."""

    async def main() -> tuple[list[float], float]:
        loop = asyncio.get_running_loop()
        times: list[float] = []
        third = asyncio.Event()

        async def round_() -> None:
            times.append(loop.time() - started)
            if len(times) == 3:
                third.set()
            if len(times) == 1:
                raise RuntimeError("the first round fails")

        timer = Periodic("test rounds", round_, every_s, wait_first=wait_first, log=log)
        started = loop.time()
        timer.start()
        await asyncio.wait_for(third.wait(), 10)
        await timer.stop()
        stopped = len(times)
        await asyncio.sleep(every_s * 3)  # no more rounds after stop()
        assert len(times) == stopped
        return times, loop.time() - started

    return asyncio.run(main())


def test_rounds_go_on_after_a_failure_and_stop(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, "tests.periodic")
    times, _ = run_rounds(wait_first=True, every_s=0.05)
    assert times[0] >= 0.05  # the first round waited one pause
    assert [r.getMessage() for r in caplog.records] == ["test rounds"]
    assert "the first round fails" in caplog.text


def test_without_wait_first_the_first_round_is_at_once() -> None:
    times, _ = run_rounds(wait_first=False, every_s=0.5)
    assert times[0] < 0.25
