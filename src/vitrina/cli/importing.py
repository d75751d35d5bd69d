"""`vitrina import FILE... --stream S`: history from files into a stream (load/importing.py).

It writes to the warehouse itself, not through a running server's intake: exactly once needs
each batch's insert token (the file's hash and the batch's number), which HTTP intake does not
take. So on the embedded engine it runs on a data folder no server holds (it takes the
folder's lock, as `vitrina up` does, and names the server that holds it otherwise); with a
ClickHouse server (`dsn = "http://..."`) it runs beside a live vitrina, at `--rate`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from vitrina.cli.options import ConfigOpt, DataDirOpt
from vitrina.config import Settings
from vitrina.load.importing import BATCH_ROWS, DEFAULT_RATE, Imported, Importer

console = Console(stderr=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[red]{escape(message)}[/red]")
    return typer.Exit(code)


def _run_files(settings: Settings, files: list[Path], stream: str, rate: float, batch_rows: int) -> list[Imported]:
    from vitrina.load.files import UnreadableFile
    from vitrina.warehouse.client import Warehouse, parse_dsn
    from vitrina.warehouse.schema import migrate
    from vitrina.warehouse.sink import WarehouseSink

    # Owner: on the embedded engine the folder's lock is held (_lock), so a crashed import's
    # rerun stores what the crash lost.
    wh = Warehouse(parse_dsn(settings.warehouse_dsn, settings.database, settings.warehouse.cluster), owner=True)
    try:
        migrate(wh, settings.streams.values(), settings.retention)
        importer = Importer(settings.streams[stream], WarehouseSink(wh), batch_rows, rate)
        results = []
        for path in files:
            try:
                results.append(_one(importer, path))
            except UnreadableFile as exc:
                raise _fail(f"vitrina import: {exc}") from None
        return results
    finally:
        wh.close()


def _one(importer: Importer, path: Path) -> Imported:
    """One file, with a progress bar (bytes of the file read) when stderr is a terminal."""
    if not console.is_terminal:
        result = importer.run(path)
    else:
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TextColumn("{task.fields[events]:,} events"))
        with Progress(*columns, TimeRemainingColumn(), console=console, transient=False) as bar:
            task = bar.add_task(escape(path.name), total=path.stat().st_size, events=0)
            result = importer.run(path, lambda events, done: bar.update(task, completed=done, events=events))
            bar.update(task, completed=path.stat().st_size)
    rate = result.events / result.seconds if result.seconds > 0 else 0.0
    console.print(
        f"{escape(str(path))}: {result.events:,} events ({result.format}, {result.compression}), "
        f"{result.stored:,} valid, {result.rejected:,} rejected, in {result.seconds:.1f} s: {rate:,.0f} events/s"
    )
    return result


def register(app: typer.Typer) -> None:
    @app.command("import")
    def import_files(
        files: Annotated[list[Path], typer.Argument(help="JSON (array), NDJSON, CSV or Parquet files; plain, gzip, xz or zstd.")],
        stream: Annotated[str, typer.Option("--stream", "-s", help="The stream the events belong to.")],
        data_dir: DataDirOpt = None,
        config: ConfigOpt = None,
        rate: Annotated[float, typer.Option(help="Events per second at most (0: no limit).", min=0)] = DEFAULT_RATE,
        batch_rows: Annotated[int, typer.Option(help="Events per insert (part of each batch's token).", min=1)] = BATCH_ROWS,
    ) -> None:
        """Load history from files into a stream, validated like intake: bad rows go to
        `rejected` with their reasons, and importing the same file again stores nothing twice.
        Format and compression are told from the content."""
        from vitrina.cli.config_file import settings_from

        settings = settings_from(config, data_dir=data_dir)
        if stream not in settings.streams:
            raise _fail(f"vitrina import: no stream {stream!r}; streams: {', '.join(sorted(settings.streams))}", 2)
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise _fail(f"vitrina import: no such file: {', '.join(missing)}")
        lock = _lock(settings)
        try:
            results = _run_files(settings, files, stream, rate, batch_rows)
        finally:
            if lock is not None:
                import os

                os.close(lock)
        events = sum(r.events for r in results)
        seconds = sum(r.seconds for r in results)
        stored, rejected = sum(r.stored for r in results), sum(r.rejected for r in results)
        rate_done = events / seconds if seconds > 0 else 0.0
        print(f"imported {events} events into {stream}: {stored} valid, {rejected} rejected, {seconds:.1f} s, {rate_done:.0f} events/s")
        sys.stdout.flush()


def _lock(settings: Settings) -> int | None:
    """The data folder's lock, on the embedded engine (one process per folder): a running
    server on it is named, and the import refused."""
    if not settings.warehouse_dsn.startswith("chdb://"):
        return None
    from vitrina.serve.server import lock_data_dir

    if not settings.data_dir.exists():
        raise _fail(f"vitrina import: the data folder {settings.data_dir} does not exist (run `vitrina up` once, or name it)")
    return lock_data_dir(settings.data_dir)
