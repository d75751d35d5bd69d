"""The exact window exactly-once must cover: the loader dies after a batch's insert and before
its commit (Kafka offsets) or XACK (Redis). The restarted loader replays the same batch with
the same token, and ClickHouse drops it, in the raw table and in every rollup."""

from __future__ import annotations

from typing import Any

import pytest

from tests.faults import VITRINA, launcher
from tests.log.helpers import assert_exactly_once, produce, transport_config, wait_for
from tests.log.services import Redis, Tansu


@pytest.mark.parametrize("kind", ["kafka", "redis"])
def test_crash_between_insert_and_commit(kind: str, services: Any, make_vitrina: Any) -> None:
    log_args = ["--kafka", services(Tansu).bootstrap] if kind == "kafka" else ["--redis", services(Redis).url]
    v = make_vitrina(transport_config(), extra_args=[*log_args, "--no-loader"])
    total = produce(v, "c", 40)  # in the log, not loaded yet
    v.stop()
    v.launcher = launcher(exit_after_inserts=3)
    v.extra_args = log_args
    v.spawn()  # not v.start(): it may die before it is ready, that is the point
    wait_for(v, lambda: v.proc.poll() is not None, 60, "the loader to die after its third insert")
    assert v.proc.returncode == 137
    v.proc = None
    v.launcher = VITRINA
    v.start()
    assert_exactly_once(v, "c", total)
