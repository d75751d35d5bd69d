"""`vitrina grafana export DIR`: Grafana provisioning from the built-in dashboard declarations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    grafana = typer.Typer(help="Grafana provisioning: ClickHouse datasource, dashboards, read-only user.", no_args_is_help=True)

    @grafana.command("export")
    def export_cmd(
        folder: Annotated[Path, typer.Argument(help="Folder to write into (created if missing).")],
        database: Annotated[str, typer.Option(help="ClickHouse database the streams live in.")] = "vitrina",
        host: Annotated[str, typer.Option(help="ClickHouse host as Grafana reaches it.")] = "clickhouse",
        port: Annotated[int, typer.Option(help="ClickHouse port (9000 native, 8123 http).")] = 9000,
        protocol: Annotated[str, typer.Option(help="native or http.")] = "native",
        cluster: Annotated[Optional[str], typer.Option(help="The panels read the `_all` tables of this ClickHouse cluster.")] = None,
        dashboards_path: Annotated[
            Optional[str], typer.Option(help="Where Grafana will find the dashboards folder (default /var/lib/grafana/dashboards/vitrina).")
        ] = None,
        config: Annotated[
            Optional[Path], typer.Option("--config", "-c", help="TOML settings file: its streams, alert rules and dashboards.")
        ] = None,
    ) -> None:
        """Write the datasource, the dashboard provider, one JSON per dashboard and users.d/grafana.xml."""
        from vitrina.cli.config_file import settings_from
        from vitrina.serve.dashboards.catalog import catalog_of
        from vitrina.serve.dashboards.grafana import PASSWORD_ENV, export

        if protocol not in ("native", "http"):
            console.print("[red]--protocol must be native or http[/red]")
            raise typer.Exit(2)
        catalog = catalog_of(settings_from(config)) if config is not None else None
        written = export(
            folder,
            database=database,
            host=host,
            port=port,
            protocol=protocol,
            dashboards_path=dashboards_path or "",
            cluster=cluster,
            catalog=catalog,
        )
        for path in written:
            console.print(f"  wrote {path}")
        console.print(f"Set {PASSWORD_ENV} for both Grafana and ClickHouse: the files reference it, they hold no password.")

    app.add_typer(grafana, name="grafana")
