"""`vitrina models run|list`: through the running `vitrina up` when there is one (it holds the
chdb folder), else on the data folder directly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from vitrina.cli.options import ConfigOpt, DataDirOpt, UrlOpt
from vitrina.cli.output import Format, FormatOpt, emit
from vitrina.cli.remote import KeyOpt, call
from vitrina.config import Settings

console = Console(stderr=True)


def _target(config: Path | None, data_dir: Path | None, url: str | None) -> tuple[Settings, str | None]:
    from vitrina.cli.config_file import settings_from
    from vitrina.serve.server import running_url

    settings = settings_from(config, data_dir=data_dir)
    return settings, url or running_url(settings.data_dir)


@contextmanager
def local_runner(settings: Settings) -> Iterator[Any]:
    from vitrina.models.db import Db
    from vitrina.models.runner import ModelRunner
    from vitrina.models.spec import builtin_models
    from vitrina.warehouse.client import Warehouse, parse_dsn
    from vitrina.warehouse.schema import migrate

    wh = Warehouse(parse_dsn(settings.warehouse_dsn, settings.database, settings.warehouse.cluster))
    try:
        migrate(wh, settings.streams.values(), settings.retention)  # the raw tables models read
        runner = ModelRunner(Db.of(wh), [*builtin_models(), *settings.extra_models], settings.models)
        yield runner
        runner.close()
    finally:
        wh.close()


LIST_COLUMNS = ("model", "depends on", "cadence", "last run", "mode", "rows", "seconds", "status")


def _status_row(m: dict[str, Any]) -> list[Any]:
    run = m["last_run"] or {}
    return [
        m["name"],
        ", ".join(m["depends"]),
        f"{m['cadence_s']:g}s",
        (run.get("started") or "never")[:19],
        run.get("mode", ""),
        run.get("rows", ""),
        f"{run['duration_s']:.3f}" if run else "",
        run.get("status", ""),
    ]


def _call(method: str, url: str, key: str | None, **kw: Any) -> Any:
    return call(method, url, key=key, timeout=600, **kw)


def register(app: typer.Typer) -> None:
    models = typer.Typer(help="SQL models: sessions, active users, popularity, stability, upload dynamics.", no_args_is_help=True)

    @models.command("run")
    def run(
        name: Annotated[Optional[str], typer.Argument(help="One model (after its dependencies); all when omitted.")] = None,
        full: Annotated[bool, typer.Option("--full", help="Rebuild from all raw data instead of the look-back window.")] = False,
        data_dir: DataDirOpt = None,
        config: ConfigOpt = None,
        url: UrlOpt = None,
        key: KeyOpt = None,
        fmt: FormatOpt = Format.table,
    ) -> None:
        """Run models now and print what each wrote (through a server: an --operate key)."""
        from vitrina.models.spec import ModelError

        settings, target = _target(config, data_dir, url)
        names = [name] if name else None
        if target:
            results = _call("POST", f"{target}/v1/models/run", key, json={"names": names, "full": full})
        else:
            with local_runner(settings) as runner:
                try:
                    results = [r.as_dict() for r in runner.run(names, full=full)]
                except ModelError as exc:
                    console.print(f"[red]{exc}[/red]")
                    raise typer.Exit(2) from None
        rows = [
            [r["name"], r["mode"], r["window_start"][:10], r["rows"], f"{r['duration_s']:.3f}", r["status"], r["error"]] for r in results
        ]
        emit(("model", "mode", "window from", "rows", "seconds", "status", "error"), rows, fmt, records=results)
        if any(r["status"] != "ok" for r in results):
            raise typer.Exit(1)

    @models.command("list")
    def list_(
        data_dir: DataDirOpt = None, config: ConfigOpt = None, url: UrlOpt = None, key: KeyOpt = None, fmt: FormatOpt = Format.table
    ) -> None:
        """Models with their dependencies, cadence and last run (when, rows, duration)."""
        settings, target = _target(config, data_dir, url)
        if target:
            status = _call("GET", f"{target}/v1/models", key)
        else:
            with local_runner(settings) as runner:
                status = runner.status()
        emit(LIST_COLUMNS, [_status_row(m) for m in status], fmt, records=status)

    app.add_typer(models, name="models")
