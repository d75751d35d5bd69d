"""The figures of the last evaluation as Prometheus gauges on vitrina's /metrics; a collector
that serves one snapshot, so a scrape never sees half an update."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from vitrina.alerts.evaluator import Values
from vitrina.alerts.figures import Figure


class FigureGauges(Collector):
    def __init__(self, figures: Mapping[str, Figure]) -> None:
        self.figures = dict(figures)
        self._snapshot: Values = {}

    def update(self, values: Values) -> None:
        self._snapshot = dict(values)  # replaced whole: collect() reads one consistent dict

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # names are known only after the first evaluation

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, got in sorted(self._snapshot.items()):
            if not got:
                continue
            label_names = sorted({k for labels, _ in got.values() for k in labels})
            family = GaugeMetricFamily(name, self.figures[name].help or name, labels=label_names)
            for labels, value in got.values():
                family.add_metric([labels.get(k, "") for k in label_names], value)
            yield family
