"""Choosing sellers adds to a period's reports and never shrinks them; a period that has not
ended is refused unless `--partial`; a chosen seller without uploads is named in the summary."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tests.conftest import cli
from tests.reports.test_reports import EVENTS, QUIET, upload


def test_selected_sellers_add_to_the_index(make_vitrina: Any) -> None:
    v = make_vitrina(QUIET)
    assert v.post("/v1/streams/uploads", EVENTS).status_code == 200
    folder = v.data_dir / "reports" / "day" / "2026-01-05"
    whole = cli("report", "2026-01-05", "--data-dir", str(v.data_dir))
    assert whole.returncode == 0, whole.stderr
    assert json.loads((folder / "manifest.json").read_text())["sellers"] == [8, 7]

    # one seller again, and one that uploaded nothing that day: both are added, none dropped
    again = cli("report", "2026-01-05", "--seller", "7", "--seller", "99", "--data-dir", str(v.data_dir))
    assert again.returncode == 0, again.stderr
    manifest = json.loads((folder / "manifest.json").read_text())
    assert sorted(manifest["sellers"]) == [7, 8, 99]
    assert {"8.days.csv", "7.days.csv", "99.days.csv", "index.html"} <= set(manifest["files"])
    index = (folder / "index.html").read_text()
    assert all(f'href="{s}.html"' in index for s in (7, 8, 99))
    assert "index lists 3 sellers" in again.stdout
    assert "no uploads in this period for 1 sellers: 99" in again.stdout
    assert "no uploads" not in whole.stdout


def test_an_open_period_needs_partial(make_vitrina: Any) -> None:
    v = make_vitrina(QUIET)
    today = datetime.now(UTC).date().isoformat()
    now = upload(7, 1, 10, datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"))
    assert v.post("/v1/streams/uploads", [now]).status_code == 200
    refused = cli("report", today, "--data-dir", str(v.data_dir))
    assert refused.returncode == 2 and "still open" in refused.stderr and "--partial" in refused.stderr
    assert not (v.data_dir / "reports" / "day" / today).exists()
    api = v.post("/v1/reports/run", {"period": today})
    assert api.status_code == 400 and api.json()["error"] == "bad_period" and "still open" in api.json()["message"]
    week = cli("report", "--every", "week", datetime.now(UTC).strftime("%G-W%V"), "--data-dir", str(v.data_dir))
    assert week.returncode == 2 and "still open" in week.stderr

    partial = cli("report", today, "--partial", "--data-dir", str(v.data_dir))
    assert partial.returncode == 0, partial.stderr
    assert json.loads((v.data_dir / "reports" / "day" / today / "manifest.json").read_text())["sellers"] == [7]
