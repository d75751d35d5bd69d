"""Writing one period's reports: read the content, render every seller's files, upload them,
then the index and, last, the manifest that marks the period complete."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import obstore
import plotly
from obstore.store import ObjectStore

from vitrina.models.db import Db
from vitrina.reports.content import read_content
from vitrina.reports.periods import Period
from vitrina.reports.render import index_page, manifest, seller_files
from vitrina.reports.settings import ReportSettings
from vitrina.reports.store import exists, open_store, put_all

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


@dataclass
class Written:
    destination: str
    folder: str
    sellers: int
    files: int
    seconds: float
    empty: list[int]  # sellers asked for that have no uploads in the period
    indexed: int  # sellers the period's index lists: these and those written before

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def folder_of(period: Period) -> str:
    return f"{period.kind}/{period.label}"


def is_written(destination: str, period: Period) -> bool:
    return exists(open_store(destination), f"{folder_of(period)}/manifest.json")


def _previous(store: ObjectStore, folder: str) -> tuple[list[int], list[str]]:
    """The sellers and files of the period's manifest already written (none the first time)."""
    path = f"{folder}/manifest.json"
    if not exists(store, path):
        return [], []
    doc = json.loads(bytes(obstore.get(store, path).bytes()))
    return [int(s) for s in doc.get("sellers", [])], [str(f) for f in doc.get("files", [])]


def write_period(db: Db, settings: ReportSettings, destination: str, period: Period, sellers: tuple[int, ...] = ()) -> Written:
    """Write the reports of `sellers` (default: [reports] sellers, or the most active ones).
    The index and manifest list these and every seller written for the period before, so a
    run for a few sellers adds to the period's reports and never shrinks them."""
    started = datetime.now(UTC)
    store = open_store(destination)
    folder = folder_of(period)
    asked = sellers or settings.sellers
    before, files_before = _previous(store, folder)
    content = read_content(db, period, asked, settings.max_sellers)
    written_now = [r.seller for r in content.sellers]
    extra = [s for s in before if s not in set(written_now)]
    listed = read_content(db, period, (*written_now, *extra), settings.max_sellers) if extra else content
    files: dict[str, bytes] = {}
    for report in content.sellers:
        files.update(seller_files(report, content, settings.formats, started))
    if "html" in settings.formats:
        files["index.html"] = index_page(listed, started, settings.formats).encode()
        if not exists(store, "plotly.min.js"):
            put_all(store, {"plotly.min.js": PLOTLY_JS.read_bytes()})
    put_all(store, {f"{folder}/{name}": data for name, data in files.items()})
    put_all(store, {f"{folder}/manifest.json": manifest(listed, started, sorted({*files_before, *files}))})
    seconds = (datetime.now(UTC) - started).total_seconds()
    empty = [r.seller for r in content.sellers if r.days.num_rows == 0 and r.categories.num_rows == 0]
    return Written(destination, folder, len(content.sellers), len(files) + 1, seconds, empty, len(listed.sellers))
