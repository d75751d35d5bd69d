"""`vitrina deploy render DIR [--cluster]`: the compose file, ClickHouse, Keeper, Prometheus,
Alertmanager and Grafana configs and the Dockerfile, from one topology (src/vitrina/deploy/)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    deploy = typer.Typer(help="Deployment files: compose, ClickHouse and Keeper, Prometheus, Alertmanager, Grafana, Dockerfile.")

    @deploy.command("render")
    def render_cmd(
        folder: Annotated[Path, typer.Argument(help="Folder to write into, e.g. deploy (created if missing; files are overwritten).")],
        cluster: Annotated[bool, typer.Option("--cluster", help="The 2-shard x 2-replica cluster with 3 Keeper nodes.")] = False,
        config: Annotated[
            Optional[Path], typer.Option("--config", "-c", help="TOML settings: its alert rules and database go into the files.")
        ] = None,
    ) -> None:
        """Write one topology's files; the committed deploy/ is `render deploy` plus `render deploy --cluster`."""
        from vitrina.alerts.rules import load_rules
        from vitrina.cli.config_file import settings_from
        from vitrina.deploy.render import render
        from vitrina.deploy.topology import CLUSTER, SINGLE
        from vitrina.serve.dashboards.grafana import write_tree

        settings = settings_from(config)
        topology = CLUSTER if cluster else SINGLE
        written = write_tree(folder, render(topology, load_rules(settings.alerts), settings.database))
        console.print(f"wrote {len(written)} files for the {topology.name} topology into {folder}")
        console.print(f"  next: cp {folder}/env.example {folder}/.env and set the secrets (docs/DEPLOYMENT.md), then")
        console.print(f"  docker compose -p vitrina-{topology.name} -f {folder}/{topology.compose_file} up -d")

    app.add_typer(deploy, name="deploy")
