"""Two `vitrina schedule` processes against a real Tansu broker: exactly one is active, never
both; the standby publishes no alert figures; killing or stopping the active one hands over
within the group's session timeout."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import wait_until
from tests.log.services import Tansu
from tests.roles.helpers import Role, metric_value

SESSION_TIMEOUT_S = 6.0
FIGURE = "vitrina_test_scheduler_figure"


def _config(folder: Path) -> Path:
    path = folder / "schedule.toml"
    path.write_text(
        f"[transport]\nsession_timeout_ms = {int(SESSION_TIMEOUT_S * 1000)}\n"
        "[alerts]\ninterval_s = 0.5\ndefault_rules = false\n"
        f'[alerts.figures.{FIGURE}]\nsql = "SELECT 1 AS value"\n'
        f'[[alerts.rules]]\nname = "TestFigureHigh"\nkind = "threshold"\nfigure = "{FIGURE}"\nop = ">"\nvalue = 5\nfor = "1m"\n'
    )
    return path


def _scheduler(roles: Callable[..., Role], tansu: Tansu, folder: Path, name: str) -> Role:
    env = {"VITRINA_TRANSPORT__KIND": "kafka", "VITRINA_TRANSPORT__KAFKA": tansu.bootstrap}
    return roles("schedule", "--data-dir", str(folder / name), env=env, config=_config(folder))


def _active(role: Role) -> bool:
    return metric_value(role, "vitrina_scheduler_active") == 1.0


class Watch:
    """Samples every scheduler's gauge until stopped; remembers any moment two said active."""

    def __init__(self, members: list[Role]) -> None:
        self.members = members
        self.both: list[float] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            actives = 0
            for role in self.members:
                with contextlib.suppress(Exception):  # a killed member answers nothing: not active
                    actives += _active(role)
            self.samples += 1
            if actives > 1:
                self.both.append(time.monotonic())
            self._stop.wait(0.02)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def _one_active(members: list[Role]) -> Role | None:
    active = [r for r in members if _active(r)]
    return active[0] if len(active) == 1 else None


def test_one_active_and_the_other_takes_over_when_it_is_killed(tansu: Tansu, roles: Callable[..., Role], tmp_folder: Path) -> None:
    a = _scheduler(roles, tansu, tmp_folder, "a").start()
    b = _scheduler(roles, tansu, tmp_folder, "b").start()
    watch = Watch([a, b])
    try:
        first = wait_until(lambda: _one_active([a, b]), 60, "one active scheduler")
        other = b if first is a else a
        wait_until(lambda: metric_value(first, FIGURE) == 1.0, 30, "the active one publishing its figure")
        assert FIGURE not in other.get("/metrics").text, "the standby publishes alert figures"
        assert other.get("/readyz").json() == {"status": "ready", "active": False}
        assert first.get("/readyz").json() == {"status": "ready", "active": True}

        assert first.proc is not None
        first.proc.kill()  # SIGKILL: the broker notices when the session times out
        killed_at = time.monotonic()
        first.proc.wait(30)
        wait_until(lambda: _active(other), SESSION_TIMEOUT_S + 15, "the standby to take over")
        took = time.monotonic() - killed_at
        wait_until(lambda: metric_value(other, FIGURE) == 1.0, 30, "the new active one publishing the figure")
    finally:
        watch.stop()
    assert watch.samples >= 10, "too few samples to say"
    assert not watch.both, f"both schedulers were active at {len(watch.both)} samples"
    assert took <= SESSION_TIMEOUT_S + 15


def test_a_stopped_active_one_hands_over_at_once(tansu: Tansu, roles: Callable[..., Role], tmp_folder: Path) -> None:
    a = _scheduler(roles, tansu, tmp_folder, "a").start()
    b = _scheduler(roles, tansu, tmp_folder, "b").start()  # ready: in the group
    watch = Watch([a, b])
    try:
        first = wait_until(lambda: _one_active([a, b]), 60, "one active scheduler")
        other = b if first is a else a
        assert first.stop() == 0, first.tail()  # SIGTERM: stops its rounds, leaves the group
        stopped_at = time.monotonic()
        wait_until(lambda: _active(other), 30, "the standby to take over")
        took = time.monotonic() - stopped_at
    finally:
        watch.stop()
    assert not watch.both, f"both schedulers were active at {len(watch.both)} samples"
    assert took < SESSION_TIMEOUT_S
