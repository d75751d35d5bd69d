"""Writing one period's reports: read the content, render every seller's files, upload them,
then the index and, last, the manifest that marks the period complete."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import plotly

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

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def folder_of(period: Period) -> str:
    return f"{period.kind}/{period.label}"


def is_written(destination: str, period: Period) -> bool:
    return exists(open_store(destination), f"{folder_of(period)}/manifest.json")


def write_period(db: Db, settings: ReportSettings, destination: str, period: Period, sellers: tuple[int, ...] = ()) -> Written:
    started = datetime.now(UTC)
    content = read_content(db, period, sellers or settings.sellers, settings.max_sellers)
    store = open_store(destination)
    folder = folder_of(period)
    files: dict[str, bytes] = {}
    for report in content.sellers:
        files.update(seller_files(report, content, settings.formats, started))
    if "html" in settings.formats:
        files["index.html"] = index_page(content, started, settings.formats).encode()
        if not exists(store, "plotly.min.js"):
            put_all(store, {"plotly.min.js": PLOTLY_JS.read_bytes()})
    put_all(store, {f"{folder}/{name}": data for name, data in files.items()})
    put_all(store, {f"{folder}/manifest.json": manifest(content, started, list(files))})
    seconds = (datetime.now(UTC) - started).total_seconds()
    return Written(destination, folder, len(content.sellers), len(files) + 1, seconds)
