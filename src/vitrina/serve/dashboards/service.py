"""The built-in dashboard inside `vitrina up`: the page at `/` (and `/d/{name}`), its static
files (plotly.js from the installed `plotly` package: no CDN) and a JSON endpoint that runs a
dashboard's panels for a time range."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import plotly
from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from vitrina import __version__
from vitrina.alerts.service import AlertsService
from vitrina.auth.scopes import Scope, needs
from vitrina.errors import HttpError, error_responses, not_ready
from vitrina.pipeline import Pipeline
from vitrina.serve.dashboards.catalog import catalog_of
from vitrina.serve.dashboards.data import DEFAULT_RANGE, RANGES, PanelRunner, RangeError, alert_rows, parse_window
from vitrina.serve.dashboards.panels import Dashboard
from vitrina.serve.responses import MsgspecJSON

STATIC = Path(__file__).parent / "static"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
MAX_ROWS = 100_000
AUTO_RANGE = "auto"  # the page's first load without a range: the shortest one holding the data


def describe(d: Dashboard) -> dict[str, Any]:
    """What the page needs to lay a dashboard out (the SQL stays on the server)."""
    return {
        "name": d.name,
        "title": d.title,
        "description": d.description,
        "variables": [{"name": v.name, "label": v.label} for v in d.variables],
        "panels": [
            {
                "id": p.id,
                "title": p.title,
                "kind": p.kind,
                "unit": p.unit,
                "columns": list(p.columns),
                "series": p.series,
                "width": p.width,
                "height": p.rows,
                "description": p.description,
                "thresholds": [
                    {"value": t.value, "color": t.color, "label": t.label, "above": t.above, "rule": t.rule} for t in p.thresholds
                ],
                "figure": p.figure,
                "control": {"column": p.control.column, "sigma": p.control.sigma} if p.control else None,
            }
            for p in d.panels
        ],
    }


class DashboardService:
    name = "dashboards"

    def __init__(self, pipeline: Pipeline, alerts: AlertsService | None = None) -> None:
        self.pipeline = pipeline
        self.alert_service = alerts
        self.runner: PanelRunner | None = None
        self.catalog = catalog_of(pipeline.settings)
        self.by_name = self.catalog.by_name
        self._page = (STATIC / "index.html").read_text()
        boot = {
            "version": __version__,
            "ranges": list(RANGES),
            "dashboards": [describe(d) for d in self.catalog.dashboards],
            "guide": self.catalog.guide(),
            "streams": sorted(self.catalog.streams),
        }
        # `</` cannot end the inline script early once escaped.
        self._page = self._page.replace("__BOOT__", json.dumps(boot).replace("</", "<\\/")).replace("__VERSION__", __version__)

    async def start(self) -> None:
        wh = self.pipeline.warehouse
        assert wh is not None
        client = await asyncio.to_thread(wh.reader, replace(self.pipeline.settings.sql, max_rows=MAX_ROWS))
        self.runner = PanelRunner(client, self.pipeline.settings.database, self.catalog.streams, wh.policy.read)

    async def stop(self) -> None:
        if self.runner is not None:
            self.runner.client.close()
            self.runner = None

    async def alerts(self) -> dict[str, Any]:
        """The alert rows, from the evaluator's table (what `GET /v1/alerts` answers); none
        while the evaluator has not started."""
        evaluator = self.alert_service.evaluator if self.alert_service is not None else None
        if evaluator is None:
            return {"available": False, "alerts": []}
        return {"available": True, "alerts": alert_rows(await asyncio.to_thread(evaluator.table))}

    def _fitting_range(self) -> str:
        """The shortest named range that holds every stored event (1h when none is): a fresh
        install's data fills the chart instead of a sliver at its right edge."""
        assert self.runner is not None
        firsts = []
        for stream in self.catalog.streams.values():
            table = f"{self.pipeline.settings.database}.`{self.runner.read(stream.table)}`"
            _, rows = self.runner.query(f"SELECT toUnixTimestamp(min({stream.time_sql})) FROM {table}", {})
            if rows and rows[0][0]:
                firsts.append(int(rows[0][0]))
        if not firsts:
            return DEFAULT_RANGE
        span = (time.time() - min(firsts)) * 1.1
        return next((name for name, seconds in RANGES.items() if seconds >= span), list(RANGES)[-1])

    def _run(self, d: Dashboard, request: Request) -> dict[str, Any]:
        q = request.query_params
        range_name = q.get("range")
        if range_name == AUTO_RANGE and not (q.get("from") or q.get("to")):
            range_name = self._fitting_range()
        window = parse_window(range_name, q.get("from"), q.get("to"))
        assert self.runner is not None
        options = self.runner.variable_options(d, window)
        chosen = {}
        for name, values in options.items():
            asked = q.get(f"var-{name}")
            chosen[name] = asked if asked is not None else (values[0] if values else "")
        wanted = set(q["panels"].split(",")) if q.get("panels") else None
        panels = {
            p.id: self.runner.run(p, window, chosen).as_json()
            for p in d.panels
            if p.kind != "alerts" and (wanted is None or p.id in wanted)
        }
        return {
            "dashboard": d.name,
            "stored": self.runner.stored_rows(self.catalog.raw_tables),  # 0: the first-event guide
            "range": {"from": window.start, "to": window.end, "interval_s": window.interval_s, "name": range_name},
            "variables": {n: {"options": options[n], "value": chosen[n]} for n in options},
            "panels": panels,
        }

    async def answer(self, name: str, request: Request) -> dict[str, Any]:
        d = self.by_name.get(name)
        if d is None:
            raise HttpError(404, "unknown_dashboard", f"no dashboard named {name!r}")
        if self.runner is None:
            raise not_ready()
        started = time.perf_counter()
        try:
            body = await asyncio.to_thread(self._run, d, request)
        except RangeError as exc:
            raise HttpError(400, "bad_range", str(exc)) from None
        if any(p.kind == "alerts" for p in d.panels):
            body["alerts"] = await self.alerts()
        body["ms"] = round((time.perf_counter() - started) * 1000, 2)
        return body

    def routes(self, api: FastAPI) -> None:
        @api.get("/", include_in_schema=False, openapi_extra=needs(Scope.READ))
        def index() -> HTMLResponse:
            return HTMLResponse(self._page)

        @api.get("/d/{name}", include_in_schema=False, openapi_extra=needs(Scope.READ))
        def page(name: str) -> Response:
            if name not in self.by_name:
                return RedirectResponse("/")
            return HTMLResponse(self._page)

        @api.get("/explore", include_in_schema=False, openapi_extra=needs(Scope.READ))
        def explore() -> HTMLResponse:
            return HTMLResponse(self._page)

        @api.get("/tail", include_in_schema=False, openapi_extra=needs(Scope.READ))
        def tail() -> HTMLResponse:
            return HTMLResponse(self._page)

        api.add_api_route("/dashboards/static/{file}", static, methods=["GET"], include_in_schema=False, openapi_extra=needs(Scope.OPEN))

        @api.get("/v1/dashboards", tags=["dashboards"], openapi_extra=needs(Scope.READ))
        def dashboards() -> list[dict[str, Any]]:
            """Every dashboard of this install (built-in, generated for a stream, declared in the config) and its panels."""
            return [describe(d) for d in self.catalog.dashboards]

        @api.get(
            "/v1/dashboards/{name}/data",
            openapi_extra=needs(Scope.READ),
            tags=["dashboards"],
            responses=error_responses({"400": "A bad range", "404": "Unknown dashboard", "503": "Starting"}),
        )
        async def data(name: str, request: Request) -> Response:
            """Every panel of a dashboard for `range` (5m, 15m, 1h, 6h, 24h, 7d, 30d) or `from`/`to`
            (epoch seconds or ISO 8601); `var-NAME` sets a variable, `panels` picks some panels."""
            return MsgspecJSON(await self.answer(name, request))


def static(file: str) -> Response:
    """The page's own files, and plotly.js from the installed package."""
    if file == "plotly.min.js":
        # 4.6 MB that changes only with the package: let the browser keep it.
        return FileResponse(PLOTLY_JS, media_type="text/javascript", headers={"cache-control": "public, max-age=86400"})
    path = STATIC / file
    if file not in {"app.js", "style.css"} or not path.is_file():
        raise HttpError(404, "not_found", f"no dashboard file named {file!r}")
    return FileResponse(path, headers={"cache-control": "no-cache"})
