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
from rich.table import Table

from vitrina import __version__
from vitrina.cli.config_file import settings_from
from vitrina.cli.remote import KeyOpt, call
from vitrina.config import Settings

app = typer.Typer(help="vitrina: marketplace telemetry into ClickHouse, with rollups, SQL and a simulator.", no_args_is_help=True)
console = Console(stderr=True)
out = Console()

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="TOML settings file (streams, writer, limits).")]
DataDirOpt = Annotated[Optional[Path], typer.Option("--data-dir", help="Data folder (default ./vitrina-data).")]


@app.command()
def version() -> None:
    """Print the version."""
    out.print(__version__)


@app.command()
def up(
    host: Annotated[Optional[str], typer.Option(help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default 8000).")] = None,
    data_dir: DataDirOpt = None,
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


def _print_result(result: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        out.print_json(json.dumps(result, default=str))
        return
    table = Table(*[m["name"] for m in result["meta"]])
    for row in result["data"]:
        table.add_row(*[str(v) for v in row.values()])
    out.print(table)
    console.print(f"{result['rows']} rows" + (" (truncated)" if result.get("truncated") else ""))


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="One read-only ClickHouse query.")],
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    url: Annotated[Optional[str], typer.Option(help="A running vitrina (default: the one on the data folder).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    key: KeyOpt = None,
) -> None:
    """Run a read-only query against a running `vitrina up` (with \\[auth]: a --read key), or the
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
    acknowledged before is in ClickHouse (with \\[auth]: an --operate key)."""
    from vitrina.serve.server import running_url

    settings = settings_from(config, data_dir=data_dir)
    target = url or running_url(settings.data_dir)
    if not target:
        console.print(f"[red]no vitrina runs on {escape(str(settings.data_dir))}[/red] (pass --url for another one)")
        raise typer.Exit(1)
    call("POST", f"{target}/v1/flush", key=key, params={"timeout": timeout}, timeout=timeout + 5)
    console.print("flushed")


@app.command()
def streams(config: ConfigOpt = None) -> None:
    """List the declared streams and their fields."""
    settings = settings_from(config)
    for s in settings.streams.values():
        table = Table(
            "field", "type", "required", "ClickHouse", title=f"{s.name} ({'built-in' if s.builtin else 'config'}): {s.description}"
        )
        for f in s.fields:
            table.add_row(f.name, f.kind, "yes" if f.required else "", f.clickhouse_type())
        out.print(table)


# Command groups of other stages register here (each module: `def register(app) -> None`).
STAGE_COMMANDS: tuple[str, ...] = ("grafana", "transport", "models", "alerts", "reports", "keys", "deploy", "importing")
for _module in STAGE_COMMANDS:
    importlib.import_module(f"vitrina.cli.{_module}").register(app)


def main() -> None:
    app()
