"""/metrics of `vitrina api --workers N`: one answer for all the workers, whichever of them
the scrape reaches.

Each worker writes its registry's text to `<dir>/live-<pid>.prom` every second (and just
before it answers a scrape); the answer sums the files. When a worker ends, the supervisor
turns its file into `dead-<pid>.prom` without its gauges: its counters and histograms stay in
the sums (so they never go down when a worker is replaced), its gauges (rows waiting, storage
failing) go with it. This is prometheus_client's multiprocess idea ("livesum" gauges), done
on the text so that the pipeline's callback gauges and collectors work unchanged, which the
library's own multiprocess mode cannot read.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

SNAPSHOT_EVERY_S = 1.0


def live_file(folder: Path, pid: int) -> Path:
    return folder / f"live-{pid}.prom"


def write_snapshot(folder: Path, registry: CollectorRegistry, pid: int | None = None) -> None:
    """This worker's metrics, replaced whole (a reader never sees half a file)."""
    path = live_file(folder, pid or os.getpid())
    tmp = path.with_suffix(f".tmp{threading.get_ident()}")
    tmp.write_bytes(generate_latest(registry))
    os.replace(tmp, path)


def retire(folder: Path, pid: int) -> None:
    """A worker ended: keep its counters and histograms, drop its gauges."""
    live = live_file(folder, pid)
    try:
        text = live.read_text()
    except FileNotFoundError:
        return
    kept = [f for f in text_string_to_metric_families(text) if f.type != "gauge"]
    registry = CollectorRegistry()
    registry.register(_Families(kept))
    tmp = folder / f"dead-{pid}.tmp"
    tmp.write_bytes(generate_latest(registry))
    os.replace(tmp, folder / f"dead-{pid}.prom")
    live.unlink()


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def merged(folder: Path) -> list[Metric]:
    """Every worker's families, samples of the same name and labels summed (`_created`, a
    start time, takes the earliest)."""
    families: dict[str, Metric] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for path in sorted(folder.glob("*.prom")):
        with contextlib.suppress(FileNotFoundError):  # a worker retired meanwhile: its dead file is read instead
            text = path.read_text()
            for family in text_string_to_metric_families(text):
                families.setdefault(family.name, Metric(family.name, family.documentation, family.type))
                into = values.setdefault(family.name, {})
                for s in family.samples:
                    key = (s.name, tuple(sorted(s.labels.items())))
                    old = into.get(key)
                    into[key] = s.value if old is None else min(old, s.value) if s.name.endswith("_created") else old + s.value
    for name, family in families.items():
        for (sample, labels), value in values[name].items():
            family.add_sample(sample, dict(labels), value)
    return list(families.values())


def merged_text(folder: Path, registry: CollectorRegistry) -> bytes:
    """The answer to a scrape: this worker's fresh snapshot, then the sum of every file."""
    write_snapshot(folder, registry)
    out = CollectorRegistry()
    out.register(_Families(merged(folder)))
    return generate_latest(out)


class Snapshots:
    """A thread writing this worker's snapshot every second, until stop()."""

    def __init__(self, folder: Path, registry: CollectorRegistry) -> None:
        self.folder, self.registry = folder, registry
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vitrina-metrics-snapshot", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SNAPSHOT_EVERY_S):
            with contextlib.suppress(OSError):
                write_snapshot(self.folder, self.registry)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        with contextlib.suppress(OSError):
            write_snapshot(self.folder, self.registry)  # the last counts, before the supervisor retires the file
