"""Producing through the API, killing a loader at random points, counting what landed."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.conftest import wait_until
from tests.log.services import metric

PER_REQUEST = 100


def transport_config(**extra: Any) -> str:
    """Small batches (many of them, so kills land mid-load) and quick group joins."""
    settings = {"session_timeout_ms": 6000, "batch_linger_ms": 20, "batch_rows": 100, "claim_idle_ms": 1000, "consumer": "t"}
    settings.update(extra)
    lines = ["[transport]"] + [f"{k} = {v!r}".replace("'", '"') for k, v in settings.items()]
    # The loader is under test: the model scheduler and alert evaluator would only compete for
    # the two cores (a full-suite run once saw a restarted loader idle for 65 s beside them).
    lines += ["[models]", "enabled = false", "[alerts]", "enabled = false"]
    return "\n".join(lines) + "\n"


def produce(v: Any, prefix: str, requests: int, start: int = 0) -> int:
    """POST `requests` batches of metrics (names `prefix-i`); all must be acknowledged."""

    def one(i: int) -> int:
        batch = [{"metric_name": f"{prefix}-{i}", "metric_value": j} for j in range(PER_REQUEST)]
        resp = httpx.post(f"{v.url}/v1/streams/metrics", json=batch, timeout=30)
        assert resp.status_code == 200, resp.text
        return PER_REQUEST

    with ThreadPoolExecutor(8) as pool:
        return sum(pool.map(one, range(start, start + requests)))


def wait_for(v: Any, check: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    """wait_until, with the tail of the server's log in the failure."""
    try:
        return wait_until(check, timeout, what, interval)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- {v.log_path} ---\n{v.log_path.read_text()[-4000:]}") from None


def loaded(v: Any) -> float:
    return metric(httpx.get(f"{v.url}/metrics", timeout=5).text, "vitrina_loaded_events_total", stream="metrics")


def restart(v: Any, *, loader: bool) -> None:
    """SIGKILL the process and start it again, with or without its loader members."""
    v.kill()
    v.extra_args = [a for a in v.extra_args if a != "--no-loader"] + ([] if loader else ["--no-loader"])
    v.start()


def produce_and_kill(v: Any, prefix: str, rng: random.Random, rounds: int, requests: int = 80) -> int:
    """Each round: produce through the API with the loader off (so the log holds the whole
    round), SIGKILL, start the loader, SIGKILL it again once it loaded a random share of the
    round, and start it once more. Returns the events produced.

    Producing with the loader running let a fast loader finish before the kill (a CI run once
    killed only after all 5,000 events were in), so the test would not test a mid-load crash."""
    total = 0
    partial = []
    for round_ in range(rounds):
        restart(v, loader=False)
        total += produce(v, prefix, requests, start=round_ * requests)
        backlog = total - loaded_rows(v, prefix)  # nothing loads while the loader is off
        restart(v, loader=True)
        at = rng.randint(1, backlog // 2)
        n = wait_for(v, lambda at=at: (n := loaded(v)) >= at and n, 60, f"{at} events loaded", interval=0.01)
        partial.append((n, backlog))
        v.kill()
        v.start()
    assert any(n < backlog for n, backlog in partial), f"every kill came after loading finished: {partial}"
    return total


def loaded_rows(v: Any, prefix: str) -> int:
    return int(v.scalar(f"SELECT count() FROM vitrina.metrics WHERE startsWith(metric_name, '{prefix}-')"))


def assert_exactly_once(v: Any, prefix: str, total: int, timeout: float = 90) -> None:
    """Every event once in the raw table and in both rollups. Waits for all three first: the
    loader inserts asynchronously, and within one insert the raw part and each view's part
    become visible one after another (a check right after the raw count was once 100 short
    in metrics_1s). Rows that never arrive time out; rows stored twice fail the exact checks."""
    where = f"WHERE startsWith(metric_name, '{prefix}-')"
    queries = {
        "metrics": f"SELECT count() FROM vitrina.metrics {where}",
        **{t: f"SELECT countMerge(count) FROM vitrina.{t} {where}" for t in ("metrics_1s", "metrics_1m")},
    }
    seen: dict[str, int] = {}

    def arrived() -> bool:
        seen.update({table: v.scalar(q) for table, q in queries.items()})
        return all(n >= total for n in seen.values())

    try:
        wait_for(v, arrived, timeout, f"{total} events in raw and rollups")
    except AssertionError as exc:  # how many did arrive, per table: lost rows, or a stalled loader
        raise AssertionError(f"last seen {seen}: {exc}") from None
    counts = v.sql(f"SELECT metric_name, count() AS n FROM vitrina.metrics {where} GROUP BY metric_name")
    assert sum(r["n"] for r in counts) == total, "rows stored twice"
    assert all(r["n"] == PER_REQUEST for r in counts), [r for r in counts if r["n"] != PER_REQUEST][:5]
    assert len(counts) == total // PER_REQUEST
    for table, q in queries.items():
        assert v.scalar(q) == total, f"{table}: {v.scalar(q)} != {total}"
