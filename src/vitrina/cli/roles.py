"""`vitrina api` and `vitrina schedule`, the roles of a deployment in processes of their own
(`vitrina load` is in cli/transport.py), and `vitrina config show`."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from vitrina.cli.config_file import settings_from
from vitrina.cli.transport import KafkaOpt, RedisOpt, TransportOpt, with_transport
from vitrina.config import Settings

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="TOML settings file.")]
DataDirOpt = Annotated[Optional[Path], typer.Option("--data-dir", help="Data folder.")]
HostOpt = Annotated[Optional[str], typer.Option(help="Address to listen on (default: the settings' host, 127.0.0.1).")]


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")


def register(app: typer.Typer) -> None:
    @app.command()
    def api(
        host: HostOpt = None,
        port: Annotated[Optional[int], typer.Option(help="Port (default: the settings' port, 8000).")] = None,
        workers: Annotated[int, typer.Option(help="Worker processes on the one port.")] = 1,
        transport: TransportOpt = None,
        kafka: KafkaOpt = None,
        redis: RedisOpt = None,
        data_dir: DataDirOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Intake, the read API and the dashboard; no loader, model, alert or report. With a
        Kafka or Redis transport stateless, so any number of workers and hosts can run it."""
        from vitrina.roles.workers import refuse_direct, run_api

        settings = with_transport(settings_from(config, host=host, port=port, data_dir=data_dir), transport, kafka, redis)
        refused = refuse_direct(settings, workers)
        if refused:
            typer.echo(f"vitrina api: {refused}", err=True)
            raise typer.Exit(2)
        _logging()
        run_api(settings, workers)

    @app.command()
    def schedule(
        host: Annotated[str, typer.Option(help="Address of /healthz, /readyz and /metrics.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port of /healthz, /readyz and /metrics.")] = 9102,
        kafka: KafkaOpt = None,
        data_dir: DataDirOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Models, alerts and reports. Any number may run: one is active, elected through a
        Kafka consumer group; the others take over when it stops or dies."""
        from vitrina.roles.schedule import run_schedule

        settings = with_transport(settings_from(config, data_dir=data_dir), None, kafka)
        _logging()
        run_schedule(settings, host, port)

    config_app = typer.Typer(help="The effective settings.", no_args_is_help=True)
    app.add_typer(config_app, name="config")

    @config_app.command("show")
    def show(
        config: ConfigOpt = None,
        fmt: Annotated[str, typer.Option("--format", help="toml or json")] = "toml",
    ) -> None:
        """The settings in effect (defaults, the file, VITRINA_* variables), secrets masked."""
        if fmt not in ("toml", "json"):
            raise typer.BadParameter("--format is toml or json")
        typer.echo(effective_text(settings_from(config), fmt))


def effective(settings: Settings) -> dict[str, Any]:
    """The settings as plain data, secrets masked; declarations (streams, models,
    dashboards) stay in the file they came from and are not repeated."""
    from vitrina.envsettings import masked

    data = {f.name: _plain(getattr(settings, f.name)) for f in dataclasses.fields(settings)}
    for declared in ("extra_streams", "extra_models", "dashboards"):
        data.pop(declared)
    data["dsn"] = settings.warehouse_dsn
    result: dict[str, Any] = masked(data)
    return result


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _without_none(value: Any) -> Any:
    """TOML has no null: an unset optional setting is left out."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def effective_text(settings: Settings, fmt: str) -> str:
    data = effective(settings)
    if fmt == "json":
        return json.dumps(data, indent=2)
    import tomli_w

    top = {k: v for k, v in data.items() if not isinstance(v, dict)}
    sections = {k: v for k, v in data.items() if isinstance(v, dict)}
    return tomli_w.dumps(_without_none({**top, **sections}))
