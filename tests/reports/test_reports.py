"""Per-seller reports from a real `vitrina up`: the figures in CSV, Parquet and HTML match the
events sent, through the server and offline; weeks; bad periods are 400s; the page draws its
charts in Chromium; and the scheduler writes the last closed day to S3 (moto) once the models
have run past its end."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import obstore
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from obstore.store import from_url
from playwright.sync_api import Browser

from tests.conftest import cli, wait_until
from tests.log.services import Moto

QUIET = "[models]\nenabled = false\n[alerts]\nenabled = false\n[reports]\nenabled = false\n"


def upload(seller: int, item: int, category: int, at: str, created: int = 0) -> dict[str, Any]:
    ts = datetime.fromisoformat(at).replace(tzinfo=UTC)
    return {
        "ts_ns": int(ts.timestamp()) * 10**9,
        "item_id": item,
        "company_id": seller,
        "category_id": category,
        "origin": "upload/ui",
        "event": "SAVE" if created else "UPDATE",
        "is_created": created,
    }


EVENTS = [
    upload(7, 1, 10, "2026-01-05 09:00:00", created=1),
    upload(7, 1, 10, "2026-01-05 09:05:00"),  # the same item again: 2 attempts, 1 item
    upload(7, 2, 10, "2026-01-05 10:00:00", created=1),
    upload(7, 3, 10, "2026-01-05 11:00:00"),
    upload(7, 4, 20, "2026-01-05 12:00:00"),
    upload(7, 5, 10, "2026-01-06 08:00:00", created=1),
    *(upload(8, 100 + i, 30, "2026-01-05 13:00:00") for i in range(5)),
]


def csv_rows(path: Path) -> list[dict[str, Any]]:
    return pacsv.read_csv(path).to_pylist()


def test_reports_through_the_server_and_offline(make_vitrina: Any) -> None:
    v = make_vitrina(QUIET)
    assert v.post("/v1/streams/uploads", EVENTS).status_code == 200
    done = cli("report", "2026-01-05", "--data-dir", str(v.data_dir))
    assert done.returncode == 0, done.stderr
    assert "2 sellers, 12 files" in done.stdout  # 2 x (2 CSV + 2 Parquet + 1 HTML) + index + manifest
    folder = v.data_dir / "reports" / "day" / "2026-01-05"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["sellers"] == [8, 7]  # most items first
    assert (manifest["period"], manifest["start"], manifest["end"]) == ("day", "2026-01-05", "2026-01-06")
    days = csv_rows(folder / "7.days.csv")
    assert len(days) == 1
    assert {k: days[0][k] for k in ("attempts", "items", "created_items", "items_rank")} == {
        "attempts": 5,
        "items": 4,
        "created_items": 2,
        "items_rank": 2,  # seller 8 uploaded 5 items that day
    }
    categories = [(r["category_id"], r["attempts"], r["items"], r["created_items"]) for r in csv_rows(folder / "7.categories.csv")]
    assert categories == [(10, 4, 3, 2), (20, 1, 1, 0)]
    assert pq.read_table(folder / "7.categories.parquet").to_pylist() == csv_rows(folder / "7.categories.csv")
    assert pq.read_table(folder / "8.days.parquet").column("items").to_pylist() == [5]
    page = (folder / "7.html").read_text()
    assert "Seller 7" in page and '"y": [4]' in page and "../../plotly.min.js" in page
    assert (v.data_dir / "reports" / "plotly.min.js").stat().st_size > 1_000_000
    index = (folder / "index.html").read_text()
    assert index.index('href="8.html"') < index.index('href="7.html"')

    week = cli("report", "2026-W02", "--every", "week", "--seller", "7", "--data-dir", str(v.data_dir))
    assert week.returncode == 0, week.stderr
    wdays = csv_rows(v.data_dir / "reports" / "week" / "2026-W02" / "7.days.csv")
    assert [(str(r["day"]), r["items"]) for r in wdays] == [("2026-01-05", 4), ("2026-01-06", 1)]

    bad = v.post("/v1/reports/run", {"period": "2026-13-01"})
    assert bad.status_code == 400 and "is not a day" in bad.text
    assert v.post("/v1/reports/run", {"kind": "month"}).status_code == 400

    v.stop()  # offline: the CLI opens the data folder itself
    offline = cli("report", "2026-01-06", "--data-dir", str(v.data_dir))
    assert offline.returncode == 0, offline.stderr
    assert "1 sellers" in offline.stdout
    assert csv_rows(v.data_dir / "reports" / "day" / "2026-01-06" / "7.days.csv")[0]["items"] == 1


def test_the_page_draws_its_charts(make_vitrina: Any, browser: Browser) -> None:
    v = make_vitrina(QUIET)
    assert v.post("/v1/streams/uploads", EVENTS).status_code == 200
    assert cli("report", "2026-W02", "--every", "week", "--data-dir", str(v.data_dir)).returncode == 0
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto((v.data_dir / "reports" / "week" / "2026-W02" / "7.html").as_uri())
    page.wait_for_function("document.querySelectorAll('.main-svg').length >= 2", timeout=20_000)
    assert page.evaluate("document.querySelectorAll('#days .bars .point').length") == 7  # a bar a day
    assert page.evaluate("document.getElementById('days').data[0].y") == [4, 1, 0, 0, 0, 0, 0]
    assert page.evaluate("document.querySelectorAll('#categories .bars .point').length") == 2
    assert errors == []
    page.close()


def test_scheduler_writes_the_last_closed_day_to_s3(make_vitrina: Any, moto: Moto, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    for name, value in {**env, "AWS_ENDPOINT": moto.url, "AWS_ALLOW_HTTP": "true"}.items():
        monkeypatch.setenv(name, value)  # the server inherits them
    config = (
        "[models]\nenabled = false\n[alerts]\nenabled = false\n"
        f'[reports]\ndestination = "s3://{moto.bucket}/reports"\ndelay_s = 0\ntick_s = 0.2\n'
    )
    v = make_vitrina(config)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    assert v.post("/v1/streams/uploads", [upload(5, i, 1, f"{yesterday} 12:00:00") for i in range(3)]).status_code == 200
    store = from_url(f"s3://{moto.bucket}/reports")
    manifest_path = f"day/{yesterday}/manifest.json"

    def written() -> bool:
        try:
            obstore.head(store, manifest_path)
        except FileNotFoundError:
            return False
        return True

    assert not written()  # due only once the models have run past the day's end
    assert v.post("/v1/models/run", {"names": ["uploads_seller_anomalies"]}).status_code == 200
    wait_until(written, 30, "the scheduled report in S3")
    manifest = json.loads(bytes(obstore.get(store, manifest_path).bytes()))
    assert manifest["sellers"] == [5] and "5.days.parquet" in manifest["files"]
    parquet = bytes(obstore.get(store, f"day/{yesterday}/5.days.parquet").bytes())
    assert pq.read_table(pa.BufferReader(parquet)).column("items").to_pylist() == [3]
    assert obstore.head(store, "plotly.min.js")["size"] > 1_000_000
