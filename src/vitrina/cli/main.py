"""The `vitrina` command."""

from __future__ import annotations

import importlib
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from vitrina import __version__
from vitrina.cli.config_file import settings_from
from vitrina.cli.options import DataDirOpt, NewDataDirOpt, PortOpt
from vitrina.cli.output import Format, FormatOpt, emit
from vitrina.cli.remote import KeyOpt, call
from vitrina.config import Settings

# No Rich markup in help: it would eat config sections such as [[alerts.rules]] and [auth].
app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="TOML settings file (streams, writer, limits).")]
DEBUG = {"on": False}


@app.callback()
def options(debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an unexpected error.")] = False) -> None:
    """vitrina: marketplace telemetry into ClickHouse, with rollups, SQL and a simulator.

    Exit codes: 0 done, 1 failed (an error the server or the data gave), 2 bad usage or settings."""
    DEBUG["on"] = debug


@app.command()
def version() -> None:
    """Print the version."""
    out.print(__version__)


@app.command()
def up(
    host: Annotated[Optional[str], typer.Option(help="Address to listen on (default 127.0.0.1).")] = None,
    port: PortOpt = None,
    data_dir: NewDataDirOpt = None,
    config: ConfigOpt = None,
    demo: Annotated[bool, typer.Option("--demo", help="Feed the stack with the simulator (all streams).")] = False,
    demo_rate: Annotated[float, typer.Option(help="Events per second the demo simulator sends.")] = 200.0,
    transport: Annotated[Optional[str], typer.Option("--transport", help="direct, kafka or redis (intake acks after the log).")] = None,
    kafka: Annotated[Optional[str], typer.Option("--kafka", help="Kafka bootstrap servers; implies --transport kafka.")] = None,
    redis: Annotated[Optional[str], typer.Option("--redis", help="Redis URL; implies --transport redis.")] = None,
    loaders: Annotated[Optional[int], typer.Option("--loaders", help="Loader members run in this process.")] = None,
    loader: Annotated[Optional[bool], typer.Option("--loader/--no-loader", help="Run the loader beside intake.")] = None,
) -> None:
    """Start the embedded stack: intake, ClickHouse (chdb), rollups, SQL, metrics."""
    from vitrina.cli.transport import with_transport
    from vitrina.serve.server import run

    settings = with_transport(settings_from(config, host=host, port=port, data_dir=data_dir), transport, kafka, redis, loaders, loader)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the demo simulator's requests

    async def ready(url: str) -> None:
        console.print(f"[bold green]vitrina {__version__} is up[/bold green] (data in {settings.data_dir.resolve()})")
        for label, path in (
            ("dashboard", "/"),
            ("API docs", "/docs"),
            ("intake", "/v1/streams/{stream}"),
            ("SQL", "/v1/sql"),
            ("metrics", "/metrics"),
        ):
            console.print(f"  {label:<10} {url}{path}")
        console.print("  Ctrl-C stops and flushes everything accepted.")
        sys.stderr.flush()
        if demo:
            from vitrina.sim.runner import simulate

            console.print(f"  demo: simulator sending {demo_rate:g} events/s in total across the built-in streams")
            await simulate(url, [s for s in settings.streams if settings.streams[s].builtin], demo_rate, None)

    run(settings, ready)


def _print_result(result: dict[str, Any], fmt: Format) -> None:
    """A query's answer: json prints the server's body as sent (meta, data, rows, statistics)."""
    columns = [m["name"] for m in result["meta"]]
    emit(columns, [[row.get(c) for c in columns] for row in result["data"]], fmt, records=result)
    if fmt is Format.table:
        console.print(f"{result['rows']} rows" + (" (truncated)" if result.get("truncated") else ""))


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="One read-only ClickHouse query.")],
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    url: Annotated[Optional[str], typer.Option(help="A running vitrina (default: the one on the data folder).")] = None,
    fmt: FormatOpt = Format.table,
    key: KeyOpt = None,
) -> None:
    """Run a read-only query against a running `vitrina up` (with [auth]: a --read key), or the
    data folder if none runs (the same checks and limits either way: docs/SQL.md)."""
    from vitrina.serve.server import running_url

    settings = settings_from(config, data_dir=data_dir)
    target = url or running_url(settings.data_dir)
    if target:
        wait = settings.sql.timeout_s + settings.sql.queue_timeout_s + 5
        body = call("POST", f"{target}/v1/sql", key=key, json={"query": query}, timeout=wait)
        _print_result(body, fmt)
        return
    _print_result(_sql_offline(settings, query), fmt)


def _sql_offline(settings: Settings, query: str) -> dict[str, Any]:
    """The query on the data folder, through the same guard and limits as the server's."""
    from vitrina.warehouse.client import Warehouse, parse_dsn
    from vitrina.warehouse.readonly import QueryRefused, ReadOnlySql

    wh = Warehouse(parse_dsn(settings.warehouse_dsn, settings.database, settings.warehouse.cluster))
    reader = ReadOnlySql(wh, replace(settings.sql, concurrency=1))
    try:
        result = reader.run(query)
    except QueryRefused as exc:
        console.print(f"[red]{exc.status}:[/red] {escape(exc.message)}")
        raise typer.Exit(1) from None
    finally:
        reader.close()
        wh.close()
    body: dict[str, Any] = json.loads(result.body())  # the server's answer, byte for byte
    return body


@app.command()
def simulate(
    stream: Annotated[str, typer.Option(help="A stream name, or 'all'.")] = "all",
    rate: Annotated[float, typer.Option(help="Events per second in total.")] = 100.0,
    duration: Annotated[float, typer.Option(help="Seconds to run.")] = 10.0,
    url: Annotated[str, typer.Option(help="The vitrina to send to.")] = "http://127.0.0.1:8000",
    batch: Annotated[Optional[int], typer.Option(help="Events per request (default: by rate).")] = None,
    bad_fraction: Annotated[float, typer.Option(help="Share of deliberately invalid events.")] = 0.0,
    seed: Annotated[Optional[int], typer.Option(help="Random seed for repeatable traffic.")] = None,
    key: KeyOpt = None,
) -> None:
    """Send realistic traffic (the seeds' distributions) and print a summary."""
    from vitrina.sim.generators import GENERATORS
    from vitrina.sim.runner import run_with_progress

    streams = sorted(GENERATORS) if stream == "all" else [stream]
    unknown = [s for s in streams if s not in GENERATORS]
    if unknown:
        console.print(f"[red]no simulator for {unknown}[/red]; streams: {', '.join(sorted(GENERATORS))}")
        raise typer.Exit(2)
    summary = run_with_progress(url, streams, rate, duration, batch=batch, seed=seed, console=console, bad_fraction=bad_fraction, key=key)
    out.print(summary.table())


@app.command()
def flush(
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    url: Annotated[Optional[str], typer.Option(help="A running vitrina (default: the one on the data folder).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait at most.")] = 30.0,
    key: KeyOpt = None,
) -> None:
    """Insert what the running server's write-ahead log holds now, and return once everything
    acknowledged before is in ClickHouse (with [auth]: an --operate key)."""
    from vitrina.serve.server import running_url

    settings = settings_from(config, data_dir=data_dir)
    target = url or running_url(settings.data_dir)
    if not target:
        console.print(f"[red]no vitrina runs on {escape(str(settings.data_dir))}[/red] (pass --url for another one)")
        raise typer.Exit(1)
    call("POST", f"{target}/v1/flush", key=key, params={"timeout": timeout}, timeout=timeout + 5)
    console.print("flushed")


@app.command()
def streams(config: ConfigOpt = None, fmt: FormatOpt = Format.table) -> None:
    """List the declared streams and their fields (a row per field)."""
    settings = settings_from(config)
    rows = [
        [s.name, "built-in" if s.builtin else "config", f.name, f.kind, f.required, f.clickhouse_type()]
        for s in settings.streams.values()
        for f in s.fields
    ]
    if fmt is Format.table:
        rows = [[*r[:4], "yes" if r[4] else "", r[5]] for r in rows]
    emit(("stream", "declared", "field", "type", "required", "ClickHouse"), rows, fmt)


# Command groups of other stages register here (each module: `def register(app) -> None`).
STAGE_COMMANDS: tuple[str, ...] = ("grafana", "transport", "models", "alerts", "reports", "keys", "deploy", "roles", "importing")
for _module in STAGE_COMMANDS:
    importlib.import_module(f"vitrina.cli.{_module}").register(app)


def main() -> None:
    """The command, with an unexpected error as one line (the traceback with --debug)."""
    try:
        app()
    except Exception as exc:
        if DEBUG["on"]:
            raise
        console.print(
            f"[red]error:[/red] {escape(type(exc).__name__)}: {escape(' '.join(str(exc).split()))} (--debug shows where)", soft_wrap=True
        )
        sys.exit(1)
