"""Every dashboard of this install, from its declarations: the built-in pages, a generated page
for each stream with rollups that has none, and the dashboards declared in the config file
(`[dashboards.NAME]`). The page, its data endpoint and the Grafana export all read one
`Catalog`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vitrina.alerts.rules import Rule, load_rules
from vitrina.serve.dashboards.builtin import builtin_dashboards
from vitrina.serve.dashboards.declared import declared_dashboards
from vitrina.serve.dashboards.generated import stream_dashboard
from vitrina.serve.dashboards.panels import Dashboard
from vitrina.serve.dashboards.sources import Context
from vitrina.streams.declare import Stream
from vitrina.streams.examples import curl_line

if TYPE_CHECKING:
    from vitrina.config import Settings

ORIGIN = "__ORIGIN__"  # the page puts its own address in the curl lines


@dataclass(frozen=True)
class Catalog:
    dashboards: tuple[Dashboard, ...]
    streams: Mapping[str, Stream]
    needs_key: bool = False  # [auth] enabled: the guide's lines send $VITRINA_API_KEY

    def __post_init__(self) -> None:
        names = [d.name for d in self.dashboards]
        if len(set(names)) != len(names):
            raise ValueError(f"dashboard names must be unique: {names}")

    @property
    def by_name(self) -> dict[str, Dashboard]:
        return {d.name: d for d in self.dashboards}

    def guide(self) -> list[dict[str, Any]]:
        """The first-event guide: a curl line for each stream that sends a valid example."""
        return [{"stream": s.name, "curl": curl_line(s, ORIGIN, self.needs_key)} for s in self.streams.values()]

    @property
    def raw_tables(self) -> list[str]:
        return [s.table for s in self.streams.values()]


def _page_name(stream: str, taken: set[str]) -> str:
    return stream if stream not in taken else f"{stream}-stream"


def build_catalog(
    streams: Mapping[str, Stream], rules: Sequence[Rule], declared: Mapping[str, Any] | None = None, needs_key: bool = False
) -> Catalog:
    ctx = Context.of(streams, rules)
    pages = list(builtin_dashboards(ctx))
    covered = {s for d in pages for s in d.streams}
    taken = {d.name for d in pages}
    for name, stream in ctx.streams.items():
        if stream.rollups and name not in covered:
            page = stream_dashboard(stream, _page_name(name, taken))
            taken.add(page.name)
            pages.append(page)
    pages += declared_dashboards(declared or {}, ctx, taken)
    return Catalog(tuple(pages), ctx.streams, needs_key)


def catalog_of(settings: Settings) -> Catalog:
    return build_catalog(settings.streams, load_rules(settings.alerts), settings.dashboards, settings.auth.enabled)
