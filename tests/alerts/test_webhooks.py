"""The evaluator inside a real `vitrina up`: uploads drive the shipped failure-rate rule through
pending → firing → resolved under a clock the test sets, across a restart, with the
notifications received on a real local HTTP receiver and the figures on /metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.alerts.receiver import Receiver
from tests.conftest import wait_until

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
RULE = "UploadFailureRateHigh"  # shipped: failure ratio > 0.5 for 5m, critical


def uploads_in_minute(k: int, failed: int, total: int = 10) -> list[dict[str, Any]]:
    """`total` attempts 10 s into minute k, `failed` of them not created."""
    t = int((T0 + timedelta(minutes=k, seconds=10)).timestamp()) * 10**9
    out = []
    for i in range(total):
        created = i >= failed
        out.append(
            {
                "ts_ns": t + i,
                "item_id": 10_000 * (k + 1) + i,
                "company_id": 1000 + i,
                "category_id": 1,
                "origin": "upload/api",
                "country": "DE",
                "event": "SAVE" if created else "UPDATE",
                "is_created": int(created),
                "up_ts": t + 5 * 10**9 if created else 0,
            }
        )
    return out


def evaluate(v: Any, k: int) -> dict[str, Any]:
    """One round at 30 s into minute k: the figures see that minute's attempts."""
    resp = v.post("/v1/alerts/evaluate", {"now": (T0 + timedelta(minutes=k, seconds=30)).isoformat()})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def state(body: dict[str, Any]) -> str:
    rule = next(r for r in body["rules"] if r["name"] == RULE)
    return str(rule["instances"][0]["state"]) if rule["instances"] else "inactive"


def test_pending_firing_resolved_across_a_restart_with_webhooks(make_vitrina: Any, tmp_folder: Any) -> None:
    with Receiver() as hook:
        config = f'[models]\nenabled = false\n[alerts]\nenabled = false\nwebhooks = ["{hook.url}"]\n'
        v = make_vitrina(config)
        for k in range(8):  # 80% failed for minutes 0..6, then none
            assert v.post("/v1/streams/uploads", uploads_in_minute(k, failed=8 if k < 7 else 0)).status_code == 200
        assert state(evaluate(v, 0)) == "pending"
        assert state(evaluate(v, 2)) == "pending"
        metrics = httpx.get(f"{v.url}/metrics").text
        assert "vitrina_upload_failure_ratio 0.8" in metrics and 'vitrina_upload_items_created{segment="rest"} 2.0' in metrics

        v.stop()  # the pending timer must survive a restart
        v.start()
        listed = httpx.get(f"{v.url}/v1/alerts").json()
        assert next(r for r in listed if r["name"] == RULE)["instances"][0]["state"] == "pending"
        assert state(evaluate(v, 4)) == "pending"  # 4 minutes since 12:00:30
        assert not hook.messages(RULE)
        body = evaluate(v, 5)  # 5 minutes: firing
        assert state(body) == "firing" and [a["labels"]["alertname"] for a in body["notified"]] == [RULE]

        firing = wait_until(lambda: hook.messages(RULE), 10, "the firing webhook")[0]
        assert firing["version"] == "4" and firing["status"] == "firing" and firing["receiver"] == "vitrina"
        alert = firing["alerts"][0]
        assert alert["labels"] == {"alertname": RULE, "severity": "critical"}
        assert alert["startsAt"] == "2026-05-01T12:00:30Z" and alert["endsAt"] == "0001-01-01T00:00:00Z"
        assert alert["annotations"]["description"] == "Share of the items first seen in the last minute that were not created: 0.8"

        assert state(evaluate(v, 6)) == "firing"
        assert state(evaluate(v, 7)) == "resolved"  # minute 7: everything created
        msgs = wait_until(lambda: len(hook.messages(RULE)) == 2 and hook.messages(RULE), 10, "the resolved webhook")
        resolved = msgs[1]
        assert resolved["status"] == "resolved" and resolved["alerts"][0]["endsAt"] == "2026-05-01T12:07:30Z"
        # the other shipped rules saw their figures too; none of them fired in 7 minutes
        assert {b["groupLabels"]["alertname"] for b in hook.bodies} == {RULE}


def test_control_chart_over_samples_kept_in_clickhouse(make_vitrina: Any) -> None:
    config = (
        "[models]\nenabled = false\n[alerts]\nenabled = false\ndefault_rules = false\n"
        '[[alerts.rules]]\nname = "AttemptsOutOfControl"\nkind = "control"\nfigure = "vitrina_upload_attempts"\n'
        'k = 1.5\nbaseline = "10m"\nfor = "0s"\n'
    )
    v = make_vitrina(config)
    counts = [10, 12, 10, 12, 20]
    for k, n in enumerate(counts):
        assert v.post("/v1/streams/uploads", uploads_in_minute(k, failed=0, total=n)).status_code == 200
    for k in range(4):
        body = evaluate(v, k)
        assert not body["notified"]
    body = evaluate(v, 4)
    # window holds the five samples: mean 12.8, population sigma 3.709 → limit 18.36 < 20
    assert [a["labels"]["alertname"] for a in body["notified"]] == ["AttemptsOutOfControl"]
    assert v.scalar("SELECT count() FROM vitrina._alert_samples WHERE figure = 'vitrina_upload_attempts'") == 5
    check = v.post("/v1/alerts/evaluate", {"now": (T0 + timedelta(minutes=4, seconds=30)).isoformat(), "dry_run": True}).json()
    window = [float(c) for c in counts]
    mean = sum(window) / 5
    sigma = (sum((x - mean) ** 2 for x in window) / 5) ** 0.5
    assert abs(check["checks"][0]["limit"] - (mean + 1.5 * sigma)) < 1e-9
