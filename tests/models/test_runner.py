"""The runner: late events inside and outside the look-back, re-runs that change nothing, a
full rebuild equal to the incremental result, the CLI, and the model declarations."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.conftest import cli, wait_until
from tests.models.conftest import QUIET
from tests.models.helpers import at, post, rows, run_models, snapshot
from vitrina.models.spec import ModelError, builtin_models, ordered, parse_model
from vitrina.models.window import Window, render
from vitrina.sim.generators import generator

MODELS = [m.name for m in builtin_models()]


def view(user: int, dt: str) -> dict[str, Any]:
    return {"dt": at(dt).isoformat(), "name": "view", "user_id": user, "url": "https://shop/p", "obj": "page"}


def users_by_day(v: Any) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for r in rows(v, "SELECT toString(day) AS d, user_id FROM vitrina.site_user_daily"):
        out.setdefault(r["d"], set()).add(r["user_id"])
    return out


def test_late_events_inside_the_lookback_count_and_outside_do_not(make_vitrina: Any) -> None:
    v = make_vitrina(QUIET)  # look-back 1 day
    post(v, "site_events", [view(1, "2026-01-10 12:00:00"), view(1, "2026-01-12 10:00:00")])
    first = run_models(v, ["site_user_daily"], now="2026-01-12 12:00:00")
    assert first[0]["mode"] == "full"  # nothing ran before: everything
    # late arrivals: the 11th is inside the look-back of the next run (a day before the last
    # run, 2026-01-11 12:00, floored to its day); the 10th is outside
    post(v, "site_events", [view(2, "2026-01-11 08:00:00"), view(3, "2026-01-10 20:00:00")])
    second = run_models(v, ["site_user_daily"], now="2026-01-12 18:00:00")
    assert second[0]["mode"] == "incremental" and second[0]["window_start"].startswith("2026-01-11")
    assert users_by_day(v) == {"2026-01-10": {1}, "2026-01-11": {2}, "2026-01-12": {1}}
    run_models(v, ["site_user_daily"], full=True, now="2026-01-12 18:00:00")  # a rebuild takes everything
    assert users_by_day(v) == {"2026-01-10": {1, 3}, "2026-01-11": {2}, "2026-01-12": {1}}


def test_rerun_is_identical_and_full_rebuild_equals_incremental(make_vitrina: Any) -> None:
    v = make_vitrina(QUIET)
    rng = random.Random(5)
    start = at("2026-01-05 00:00:00").timestamp()
    sizes = {"site_events": 400, "store_events": 300, "probes": 200, "uploads": 400, "quotes": 50}
    gens = {s: generator(s) for s in sizes}
    for day in range(3):  # data arrives day by day, and models run at the end of each day
        for stream, n in sizes.items():
            post(v, stream, [gens[stream](rng, start + day * 86400 + i * 86400 / n) for i in range(n)])
        run_models(v, now=f"2026-01-0{5 + day} 23:30:00")
    incremental = {t: snapshot(v, t) for t in MODELS}
    assert all(incremental[t] for t in MODELS), [t for t in MODELS if not incremental[t]]
    run_models(v, now="2026-01-07 23:30:00")
    assert {t: snapshot(v, t) for t in MODELS} == incremental  # the same run again changes nothing
    run_models(v, full=True, now="2026-01-07 23:30:00")
    assert {t: snapshot(v, t) for t in MODELS} == incremental


def test_cli_run_and_list_live_and_offline(make_vitrina: Any) -> None:
    v = make_vitrina(QUIET)
    post(v, "site_events", [view(1, "2026-01-10 12:00:00")])
    live = cli("models", "run", "site_active_users", "--data-dir", str(v.data_dir))
    assert live.returncode == 0, live.stderr
    assert "site_user_daily" in live.stdout and "site_active_users" in live.stdout  # with its dependency
    listed = cli("models", "list", "--data-dir", str(v.data_dir))
    assert listed.returncode == 0 and "site_sessions" in listed.stdout and "never" in listed.stdout
    v.stop()
    offline = cli("models", "run", "site_user_daily", "--full", "--data-dir", str(v.data_dir))
    assert offline.returncode == 0, offline.stderr
    assert "full" in offline.stdout
    unknown = cli("models", "run", "nope", "--data-dir", str(v.data_dir))
    assert unknown.returncode == 2 and "unknown model" in unknown.stderr


def test_declarations_order_and_windows() -> None:
    names = [m.name for m in ordered(builtin_models())]
    for m in builtin_models():
        assert all(names.index(d) < names.index(m.name) for d in m.depends)
    assert [m.name for m in ordered(builtin_models(), ["site_active_users"])] == ["site_user_daily", "site_active_users"]
    a = parse_model("a", "-- depends: b\n-- time: t\n-- order_by: t\nSELECT 1")
    b = parse_model("b", "-- depends: a\n-- time: t\n-- order_by: t\nSELECT 1")
    with pytest.raises(ModelError, match="cycle"):
        ordered([a, b])
    with pytest.raises(ModelError, match="missing"):
        parse_model("c", "-- time: t\nSELECT 1")
    with pytest.raises(ModelError, match="unknown header"):
        parse_model("c", "-- tim: t\nSELECT 1")
    now = datetime(2026, 1, 12, 18, tzinfo=UTC)
    assert Window.incremental(now, None, 86400) == Window.full()
    assert Window.incremental(now, datetime(2026, 1, 12, 12, tzinfo=UTC), 86400).start == datetime(2026, 1, 11, tzinfo=UTC)
    # a scheduler that was down catches up from its last run, not from now
    assert Window.incremental(now, datetime(2026, 1, 2, tzinfo=UTC), 3600).start == datetime(2026, 1, 1, tzinfo=UTC)
    sql = render("$start $start_ns $ctx_start_day $our_hosts", Window(datetime(2026, 1, 2, tzinfo=UTC)), 86400, "db", ("a'b",))
    assert (
        sql == "toDateTime64('2026-01-02 00:00:00.000', 3, 'UTC') 1767312000000000000 toDate('2026-01-01') CAST(['a\\'b'], 'Array(String)')"
    )


def test_scheduler_runs_every_model_on_its_cadence(make_vitrina: Any) -> None:
    v = make_vitrina("[models]\ntick_s = 0.2\n[alerts]\nenabled = false\n")
    post(v, "site_events", [view(1, "2026-01-10 12:00:00")])

    def all_ran() -> bool:
        status = httpx.get(f"{v.url}/v1/models", timeout=10).json()
        return all(m["last_run"] and m["last_run"]["status"] == "ok" for m in status)

    wait_until(all_ran, 60, "every model's first scheduled run")
    assert v.scalar("SELECT count() FROM vitrina._model_runs WHERE status = 'ok'") >= len(MODELS)
