"""`vitrina report`: write a period's per-seller reports now, through the running `vitrina up`
when there is one (it holds the chdb folder), else on the data folder directly. The upload
models run first, so the report includes everything stored so far."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from vitrina.cli.models import _call, _target, local_runner
from vitrina.cli.options import ConfigOpt, DataDirOpt, UrlOpt
from vitrina.cli.remote import KeyOpt

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        when: Annotated[Optional[str], typer.Argument(help="A day (YYYY-MM-DD) or week (YYYY-Www); default: the last closed one.")] = None,
        every: Annotated[Optional[str], typer.Option("--every", help="day or week (default: [reports] period).")] = None,
        seller: Annotated[
            Optional[list[int]], typer.Option("--seller", min=0, help="This seller (repeatable); added to the period's index.")
        ] = None,
        partial: Annotated[bool, typer.Option("--partial", help="Allow a period that has not ended yet (today, this week).")] = False,
        data_dir: DataDirOpt = None,
        config: ConfigOpt = None,
        url: UrlOpt = None,
        key: KeyOpt = None,
    ) -> None:
        """Write per-seller reports (CSV, Parquet, HTML) for one period to [reports] destination
        (through a server: an --operate key)."""
        from vitrina.reports.content import SOURCE_MODEL, ModelsMissing
        from vitrina.reports.periods import require_closed
        from vitrina.reports.service import destination_of, requested_period

        settings, target = _target(config, data_dir, url)
        sellers = list(seller or [])
        try:  # checked here too, so an open period is a usage error with or without a server
            now = datetime.now(UTC)
            period = requested_period(settings.reports, every, when, now)
            require_closed(period, now, partial)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        if target:
            _call("POST", f"{target}/v1/models/run", key, json={"names": [SOURCE_MODEL]})
            written: dict[str, Any] = _call(
                "POST", f"{target}/v1/reports/run", key, json={"period": when, "kind": every, "sellers": sellers, "partial": partial}
            )
        else:
            from vitrina.reports.writer import write_period

            with local_runner(settings) as runner:
                runner.run([SOURCE_MODEL])
                db = runner.db
                try:
                    written = write_period(db, settings.reports, destination_of(settings), period, tuple(sellers)).as_dict()
                except ModelsMissing as exc:  # the model run just now failed
                    console.print(f"[red]{escape(str(exc))}[/red]")
                    raise typer.Exit(2) from None
        _summary(written)


def _summary(written: dict[str, Any]) -> None:
    where = f"{written['destination'].rstrip('/')}/{written['folder']}"
    typer.echo(f"{written['sellers']} sellers, {written['files']} files in {where} (its index lists {written['indexed']} sellers)")
    if written["empty"]:
        typer.echo(f"no uploads in this period for {len(written['empty'])} sellers: {', '.join(map(str, written['empty']))}")
