"""`vitrina alerts list|check|export-prometheus`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from vitrina.cli.options import DataDirOpt, UrlOpt
from vitrina.cli.output import Format, FormatOpt, emit
from vitrina.cli.remote import KeyOpt, call

console = Console(stderr=True)

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="TOML settings file (rules under [[alerts.rules]]).")]


def _call(method: str, url: str, key: str | None, **kw: Any) -> Any:
    return call(method, url, key=key, timeout=120, **kw)


def register(app: typer.Typer) -> None:
    alerts = typer.Typer(help="Alert rules: states, a check now, Prometheus export.", no_args_is_help=True)

    @alerts.command("list")
    def list_(
        data_dir: DataDirOpt = None, config: ConfigOpt = None, url: UrlOpt = None, key: KeyOpt = None, fmt: FormatOpt = Format.table
    ) -> None:
        """The rules, their PromQL equivalent and the state of their alerts."""
        from vitrina.alerts.prometheus import expr
        from vitrina.alerts.rules import load_rules
        from vitrina.alerts.service import STATE_FILE
        from vitrina.alerts.state import StateStore
        from vitrina.cli.config_file import settings_from
        from vitrina.serve.server import running_url

        settings = settings_from(config, data_dir=data_dir)
        target = url or running_url(settings.data_dir)
        states: dict[str, list[dict[str, Any]]] = {}
        if target:
            for rule in _call("GET", f"{target}/v1/alerts", key):
                states[rule["name"]] = [{"state": i["state"], "labels": i["labels"]} for i in rule["instances"]]
        else:
            for inst in StateStore(settings.data_dir / STATE_FILE).load().values():
                states.setdefault(inst.rule, []).append({"state": inst.state, "labels": inst.labels})
        records: list[dict[str, Any]] = [
            {"rule": r.name, "kind": r.kind, "condition": expr(r), "for": r.for_, "labels": r.labels, "alerts": states.get(r.name, [])}
            for r in load_rules(settings.alerts)
        ]
        rows = [
            [
                *(r[c] for c in ("rule", "kind", "condition", "for")),
                ", ".join(f"{k}={v}" for k, v in r["labels"].items()),
                "; ".join(f"{a['state']} {json.dumps(a['labels'])}" for a in r["alerts"]) or "inactive",
            ]
            for r in records
        ]
        emit(("rule", "kind", "condition", "for", "labels", "alerts"), rows, fmt, records=records)

    @alerts.command("check")
    def check(
        data_dir: DataDirOpt = None, config: ConfigOpt = None, url: UrlOpt = None, key: KeyOpt = None, fmt: FormatOpt = Format.table
    ) -> None:
        """Validate the rules and test them now (no state change, no notification; through a
        server: an --operate key)."""
        from vitrina.alerts.rules import load_rules
        from vitrina.cli.config_file import settings_from
        from vitrina.serve.server import running_url

        settings = settings_from(config, data_dir=data_dir)  # a bad rule stops here with its reason
        rules = load_rules(settings.alerts)
        target = url or running_url(settings.data_dir)
        checks = _call("POST", f"{target}/v1/alerts/evaluate", key, json={"dry_run": True})["checks"] if target else _check_local(settings)
        rows = [[c["rule"], json.dumps(c["labels"]), c["value"], c["limit"], "true" if c["active"] else "false"] for c in checks]
        emit(("rule", "labels", "value", "limit", "condition"), rows, fmt, records=checks)
        console.print(f"{len(rules)} rules valid; {sum(1 for c in checks if c['active'])} conditions true now")

    @alerts.command("export-prometheus")
    def export_prometheus(
        file: Annotated[Path, typer.Argument(help="Rules file to write (a promtool test file is written beside it).")],
        config: ConfigOpt = None,
    ) -> None:
        """Write the rules as a Prometheus rules file over the gauges vitrina exports at /metrics."""
        from vitrina.alerts.prometheus import export
        from vitrina.alerts.rules import load_rules
        from vitrina.cli.config_file import settings_from

        settings = settings_from(config)
        test = export(load_rules(settings.alerts), file)
        console.print(f"wrote {file} and {test}; check with: promtool check rules {file} && promtool test rules {test}")

    app.add_typer(alerts, name="alerts")


def _check_local(settings: Any) -> list[dict[str, Any]]:
    from vitrina.alerts.service import build_evaluator
    from vitrina.models.db import Db
    from vitrina.warehouse.client import Warehouse, parse_dsn
    from vitrina.warehouse.schema import migrate

    wh = Warehouse(parse_dsn(settings.warehouse_dsn, settings.database, settings.warehouse.cluster))
    try:
        migrate(wh, settings.streams.values(), settings.retention)
        db = Db.of(wh)
        checks = build_evaluator(db, settings.alerts, settings.data_dir).check()
        db.close()
        return [c.__dict__ for c in checks]
    finally:
        wh.close()
