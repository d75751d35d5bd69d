"""Consumer-group membership against a real Tansu broker: a member that cannot get its
partitions says so (log and /readyz) within a bounded time; after a member SIGKILLed while it
held every partition a fresh `vitrina up` loads within 30 s; a start-up that fails right after
the loader started leaves the group, so the next `vitrina up` loads within 30 s."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Consumer

from tests.log.helpers import loaded_rows, produce, transport_config, wait_for
from tests.log.services import Tansu
from vitrina.log.kafka import ensure_topics

TOPIC = "vitrina.metrics"


def readyz(v: Any) -> httpx.Response:
    return httpx.get(f"{v.url}/readyz", timeout=5)


def test_a_member_without_partitions_says_so(tansu: Tansu, make_vitrina: Any) -> None:
    """A member that closed while its join was in flight (it has no member id to leave with)
    stays in Tansu's group, and no later member gets partitions (40 s measured). vitrina's
    member says so in the log and on /readyz after `assign_wait_s`, while intake still takes
    events into the broker."""
    ensure_topics(tansu.bootstrap, [TOPIC], 4)
    poison = Consumer({"bootstrap.servers": tansu.bootstrap, "group.id": "vitrina-loader", "session.timeout.ms": 6000})
    got: list[Any] = []
    poison.subscribe([TOPIC], on_assign=lambda c, p: got.append(p))
    poison.consume(10, 0.5)  # the JoinGroup is sent; its answer has not come yet
    assert not got
    poison.close()
    v = make_vitrina(transport_config(assign_wait_s=3), extra_args=["--kafka", tansu.bootstrap])
    started = time.monotonic()  # ready: its loader member has been waiting since before
    assert produce(v, "grp", 2) == 200  # acknowledged: in the broker
    line = "loader-0: no partitions assigned in group 'vitrina-loader'"
    wait_for(v, lambda: line in v.log_path.read_text(), 15, "the warning")
    assert time.monotonic() - started < 15
    answer = readyz(v)
    assert answer.status_code == 503 and "no partitions assigned" in answer.json()["message"], answer.text
    assert v.log_path.read_text().count(line) == 1  # said once, not once a second


def test_sigkilled_member_then_fresh_up_loads_within_30s(tansu: Tansu, make_vitrina: Any, tmp_folder: Path) -> None:
    """The default session timeout (10 s), as a deployment has it: a member SIGKILLed while it
    holds every partition, then a fresh `vitrina up` (another data folder) on the same broker."""
    config = transport_config(session_timeout_ms=10_000)
    old = make_vitrina(config, data_dir=tmp_folder / "old", extra_args=["--kafka", tansu.bootstrap])
    wait_for(old, lambda: "loader-0: assigned" in old.log_path.read_text(), 30, "the first member's assignment")
    old.kill()
    started = time.monotonic()
    fresh = make_vitrina(config, data_dir=tmp_folder / "fresh", extra_args=["--kafka", tansu.bootstrap])
    sent = produce(fresh, "fresh", 10)
    wait_for(fresh, lambda: loaded_rows(fresh, "fresh") == sent, 30 - (time.monotonic() - started), "loading within 30 s")
    assert time.monotonic() - started < 30


def test_failed_start_after_joining_leaves_the_group(tansu: Tansu, make_vitrina: Any, tmp_folder: Path) -> None:
    """A service after the loader fails to start (here: the alert state file is unreadable):
    the started services are stopped in reverse order, so the loader's consumer leaves the
    group, and the process exits at once with the reason. A fresh `vitrina up` then loads."""
    config = transport_config(session_timeout_ms=10_000)
    broken = tmp_folder / "broken"
    broken.mkdir()
    (broken / "alerts-state.json").mkdir()  # reading it fails: AlertsService.start() raises
    v = make_vitrina(config, data_dir=broken, start=False, extra_args=["--kafka", tansu.bootstrap])
    proc = v.spawn()
    code = proc.wait(60)
    log = v.log_path.read_text()
    assert code != 0 and "startup failed" in log, log[-3000:]
    v.proc = None
    started = time.monotonic()
    fresh = make_vitrina(config, data_dir=tmp_folder / "fresh", extra_args=["--kafka", tansu.bootstrap])
    sent = produce(fresh, "after", 10)
    wait_for(fresh, lambda: loaded_rows(fresh, "after") == sent, 30 - (time.monotonic() - started), "loading within 30 s")
